"""What goes wrong on a real network: 5xx and 429 bursts, truncated bodies, slow servers, deleted photos."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from collector import CollectError, collect


def filed_ids(dataset: Path, label: str = "rose") -> set[str]:
    return {p.stem for p in (dataset / label).iterdir()}


def requests_for(fake, photo_id: str) -> int:
    return sum(f"/{photo_id}_" in path for path in fake.photo_requests)


@pytest.mark.parametrize("burst", [["503", "503"], ["500"], ["truncate"], ["truncate", "503"]])
def test_transient_photo_failures_are_retried_until_the_photo_arrives(fake, fast_options, dataset, burst):
    photo = fake.add("rose", 1)[0]
    fake.photo_faults[photo.id] = list(burst)
    summary = collect(["rose"], count=1, **fast_options)
    assert summary.labels[0].accepted == 1
    assert filed_ids(dataset) == {photo.id}
    assert requests_for(fake, photo.id) == len(burst) + 1


def test_429_waits_as_long_as_retry_after_says(fake, fast_options, dataset):
    photo = fake.add("rose", 1)[0]
    fake.photo_faults[photo.id] = ["429"]
    started = time.monotonic()
    collect(["rose"], count=1, **fast_options)
    assert time.monotonic() - started >= 1.0
    assert filed_ids(dataset) == {photo.id}


def test_a_slow_server_times_out_and_the_retry_succeeds(fake, fast_options, dataset):
    photo = fake.add("rose", 1)[0]
    fake.photo_faults[photo.id] = ["slow:3"]
    started = time.monotonic()
    collect(["rose"], count=1, **{**fast_options, "timeout": 0.5})
    assert time.monotonic() - started < 2.9  # well before the 3 s reply: the timeout fired and the retry won
    assert filed_ids(dataset) == {photo.id}


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        (["placeholder"] * 5, "unavailable"),
        (["bad-bytes"] * 5, "corrupt"),
        (["html"] * 5, "not-an-image"),
        (["404"] * 5, "http-404"),
        (["503"] * 10, "http-503"),
        (["truncate"] * 10, "truncated"),
    ],
)
def test_a_bad_photo_is_replaced_by_another_and_counted_by_reason(fake, fast_options, dataset, faults, reason):
    bad, *good = fake.add("rose", 4)
    fake.photo_faults[bad.id] = list(faults)
    summary = collect(["rose"], count=3, **fast_options)

    label = summary.labels[0]
    assert label.accepted == 3 and not label.short
    assert dict(label.failed) == {reason: 1}
    assert filed_ids(dataset) == {p.id for p in good}
    assert bad.id not in (dataset / ".collect" / "photos.jsonl").read_text()
    assert not list((dataset / ".collect" / "tmp").iterdir())
    assert reason in summary.table()


def test_missing_size_tries_the_next_size_of_the_same_photo(fake, dataset):
    """The feed links one size; when the upgraded size is not served, the next one is tried."""
    photo = fake.add("rose", 1, sizes=("s", "z"))[0]
    collect(["rose"], count=1, out=dataset, feed=True, feed_url=fake.feed_url, progress=False, backoff=0.01)
    record = json.loads((dataset / ".collect" / "photos.jsonl").read_text())
    assert (record["id"], record["size"]) == (photo.id, "z")


@pytest.mark.parametrize("burst", [["503", "503"], ["429"], ["code105", "code105"], ["slow:3"]])
def test_transient_api_failures_are_retried(fake, fast_options, dataset, burst):
    fake.add("rose", 2)
    fake.rest_faults = list(burst)
    summary = collect(["rose"], count=2, **{**fast_options, "timeout": 1.0})
    assert summary.labels[0].accepted == 2


def test_an_api_that_keeps_failing_gives_a_clear_error(fake, fast_options):
    fake.add("rose", 2)
    fake.rest_faults = ["503"] * 20
    with pytest.raises(CollectError, match="kept failing"):
        collect(["rose"], count=2, **fast_options)


def test_an_endpoint_that_is_not_flickr_gives_a_clear_error(fake, fast_options):
    fake.rest_faults = ["garbage"]
    with pytest.raises(CollectError, match="did not answer with Flickr JSON"):
        collect(["rose"], count=2, **fast_options)
