"""The small pieces whose mistakes would be hard to see end to end: rate limit, licences, sizes."""

from __future__ import annotations

import pytest

from collector import CollectError, licenses, sizes
from collector.ratelimit import SlidingWindowLimiter
from tests.fake_flickr import LICENSES


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_limiter_lets_a_burst_through_then_waits_for_the_window():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, window_s=3600, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert clock.now == 1000.0
    limiter.acquire()
    assert clock.now == pytest.approx(4600.0)
    assert limiter.waited_s == pytest.approx(3600.0)


def test_limiter_never_allows_more_than_the_quota_in_any_hour():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(10, window_s=3600, clock=clock, sleep=clock.sleep)
    stamps = []
    for i in range(45):
        clock.now += 100 if i % 7 == 0 else 1
        limiter.acquire()
        stamps.append(clock.now)
    for start in stamps:
        assert sum(start <= s < start + 3600 for s in stamps) <= 10


def table() -> dict[str, licenses.License]:
    return licenses.parse_licenses({"licenses": {"license": [{"id": i, "name": n, "url": u} for i, n, u in LICENSES]}})


def test_presets_come_from_the_licence_urls_including_the_cc4_ones():
    assert licenses.select_ids("cc", table()) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "14"]
    assert licenses.select_ids("commercial", table()) == ["4", "5", "6", "7", "8", "9", "10", "11"]
    assert licenses.select_ids("any", table())[0] == "0"
    assert licenses.select_ids(" 4, 9 ", table()) == ["4", "9"]


@pytest.mark.parametrize("spec", ["", "cc-by", "4;5", "-1"])
def test_malformed_licence_specs_are_refused_before_any_call(spec):
    with pytest.raises(CollectError, match="--license"):
        licenses.check_spec_syntax(spec)


def test_size_ladder_prefers_the_nearest_size():
    assert sizes.preference("c")[:4] == ["c", "z", "l", "m"]
    assert sizes.parse_size(800) == "c"
    assert sizes.parse_size("1000") == "l"
    assert sizes.parse_size("Z") == "z"
    photo = {"url_m": "m.jpg", "width_m": "500", "height_m": 375, "url_h": "h.jpg"}
    assert sizes.choose(photo, "c") == ("m", "m.jpg", 500, 375)
    assert sizes.choose({}, "c") is None
