"""collect() end to end against the fake Flickr: counts, verification, sizes, licences, dedupe, resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from collector import collect
from collector.services import search as search_module

REQUIRED_FIELDS = {
    "id", "label", "query", "owner", "ownername", "license", "license_name", "page_url", "url",
    "size", "width", "height", "bytes", "sha256", "time",
}


def records(dataset: Path) -> list[dict]:
    return [json.loads(line) for line in (dataset / ".collect" / "photos.jsonl").read_text().splitlines()]


def label_files(dataset: Path, label: str) -> list[Path]:
    return sorted((dataset / label).iterdir())


def test_each_label_gets_exactly_count_verified_photos_with_provenance(fake, fast_options, dataset):
    for word in ("rose", "sunflower", "lilium"):
        fake.add(word, 12)
    summary = collect(["rose", "sunflower", "lilium"], count=5, **fast_options)

    assert [s.accepted for s in summary.labels] == [5, 5, 5]
    assert summary.complete
    by_id = {r["id"]: r for r in records(dataset)}
    for label in ("rose", "sunflower", "lilium"):
        files = label_files(dataset, label)
        assert len(files) == 5
        for path in files:
            with Image.open(path) as image:
                image.load()
            record = by_id[path.stem]
            assert REQUIRED_FIELDS <= record.keys()
            assert record["label"] == label
            assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert record["bytes"] == path.stat().st_size
            assert record["page_url"] == f"https://www.flickr.com/photos/{record['owner']}/{record['id']}"
            assert fake.photos[path.stem].words == (label,)
    credits = (dataset / ".collect" / "ATTRIBUTION.md").read_text()
    for label in ("rose", "sunflower", "lilium"):
        assert f"## {label}" in credits
    assert credits.count("Ada Lovelace") == 15
    assert "Attribution License" in credits


def test_search_asks_flickr_for_safe_photos_with_licence_owner_and_urls_in_one_call(fake, fast_options):
    fake.add("rose", 3)
    collect(["rose"], count=3, **fast_options)
    searches = [c for c in fake.rest_calls if c["params"]["method"] == "flickr.photos.search"]
    assert len(searches) == 1
    params = searches[0]["params"]
    assert params["text"] == "rose"
    assert params["safe_search"] == "1" and params["media"] == "photos" and params["sort"] == "relevance"
    extras = params["extras"].split(",")
    assert {"license", "owner_name", "url_c", "url_z", "url_o"} <= set(extras)
    assert 'oauth_consumer_key="' in searches[0]["authorization"]


def test_tags_mode_and_sort_are_passed_through(fake, fast_options):
    fake.add("rose", 3)
    collect(["rose"], count=2, tags=True, sort="interestingness-desc", **fast_options)
    params = next(c["params"] for c in fake.rest_calls if c["params"]["method"] == "flickr.photos.search")
    assert params["tags"] == "rose" and "text" not in params
    assert params["sort"] == "interestingness-desc"


def test_real_format_is_sniffed_so_a_png_is_saved_as_png(fake, fast_options, dataset):
    fake.add("rose", 2, format="PNG")
    collect(["rose"], count=2, **fast_options)
    files = label_files(dataset, "rose")
    assert [p.suffix for p in files] == [".png", ".png"]
    assert all(r["format"] == "PNG" for r in records(dataset))


def test_size_falls_back_down_then_up_the_ladder(fake, fast_options, dataset):
    no_c = fake.add("rose", 2, sizes=("s", "m", "z", "l"))
    only_big = fake.add("rose", 2, sizes=("s", "l", "h"))
    collect(["rose"], count=4, **fast_options)
    size_of = {r["id"]: r["size"] for r in records(dataset)}
    assert {size_of[p.id] for p in no_c} == {"z"}
    assert {size_of[p.id] for p in only_big} == {"l"}


def test_size_option_takes_pixels(fake, fast_options, dataset):
    fake.add("rose", 2)
    collect(["rose"], count=2, size="640", **fast_options)
    assert {r["size"] for r in records(dataset)} == {"z"}


@pytest.mark.parametrize(
    ("spec", "expected_licences"),
    [("cc", {4, 14, 9}), ("commercial", {4, 9}), ("any", {0, 4, 14, 9}), ("4,14", {4, 14})],
)
def test_licence_filter(fake, fast_options, dataset, spec, expected_licences):
    for licence in (0, 4, 14, 9):
        fake.add("rose", 3, license=licence)
    collect(["rose"], count=12, license=spec, **fast_options)
    got = {fake.photos[r["id"]].license for r in records(dataset)}
    assert got == expected_licences
    names = {r["license_name"] for r in records(dataset)}
    assert "All Rights Reserved" not in names or 0 in expected_licences


def test_a_photo_found_for_two_labels_is_downloaded_once_and_recorded_as_conflict(fake, fast_options, dataset):
    shared = fake.add(("rose", "flower"), 2)
    fake.add("rose", 3)
    fake.add("flower", 5)
    summary = collect(["rose", "flower"], count=4, **fast_options)

    rose_ids = {p.stem for p in label_files(dataset, "rose")}
    flower_ids = {p.stem for p in label_files(dataset, "flower")}
    assert {p.id for p in shared} <= rose_ids
    assert not rose_ids & flower_ids
    assert len(flower_ids) == 4
    assert summary.labels[1].conflicts == 2
    conflicts = [json.loads(line) for line in (dataset / ".collect" / "conflicts.jsonl").read_text().splitlines()]
    assert {(c["id"], c["filed_under"], c["also_matched"]) for c in conflicts} == {(p.id, "rose", "flower") for p in shared}
    for photo in shared:
        assert sum(photo.id in path for path in fake.photo_requests) == 1


def test_second_run_tops_up_without_downloading_anything_twice(fake, fast_options, dataset):
    fake.add("rose", 20)
    collect(["rose"], count=5, **fast_options)
    first_requests = list(fake.photo_requests)
    summary = collect(["rose"], count=8, **fast_options)

    assert (summary.labels[0].existing, summary.labels[0].accepted) == (5, 3)
    assert len(label_files(dataset, "rose")) == 8
    new_requests = fake.photo_requests[len(first_requests):]
    assert not set(new_requests) & set(first_requests)
    again = collect(["rose"], count=8, **fast_options)
    assert again.labels[0].accepted == 0 and len(fake.photo_requests) == len(first_requests) + 3


def test_quarantined_photos_are_not_collected_again(fake, fast_options, dataset):
    fake.add("rose", 10)
    collect(["rose"], count=4, **fast_options)
    moved = label_files(dataset, "rose")[0]
    (dataset / ".quarantine" / "rose").mkdir(parents=True)
    moved.rename(dataset / ".quarantine" / "rose" / moved.name)
    collect(["rose"], count=4, **fast_options)
    assert moved.stem not in {p.stem for p in label_files(dataset, "rose")}
    assert len(label_files(dataset, "rose")) == 4


def test_says_so_when_flickr_has_fewer_photos(fake, fast_options):
    fake.add("edelweiss", 3)
    summary = collect(["edelweiss"], count=5, **fast_options)
    label = summary.labels[0]
    assert (label.accepted, label.short) == (3, True)
    assert "only 3 of 5 photos" in summary.report()


def test_goes_past_the_result_cap_by_slicing_upload_dates(fake, fast_options, dataset, monkeypatch):
    """Flickr repeats pages past its cap; dates slices reach the rest. (The cap is 4,000; scaled down here.)"""
    monkeypatch.setattr(search_module, "RESULT_CAP", 100)
    fake.cap = 100
    fake.add("rose", 260)
    summary = collect(["rose"], count=240, **fast_options)

    assert summary.labels[0].accepted == 240
    assert len({p.stem for p in label_files(dataset, "rose")}) == 240
    sliced = [c for c in fake.rest_calls if "min_upload_date" in c["params"]]
    assert sliced, "expected upload-date slices once the plain query hit the cap"


@pytest.mark.slow
def test_goes_past_the_real_4000_cap(fake, fast_options, dataset):
    fake.scale = 0.02
    fake.add("rose", 4300)
    summary = collect(["rose"], count=4150, workers=16, **fast_options)
    assert summary.labels[0].accepted == 4150
    assert len(label_files(dataset, "rose")) == 4150


def test_public_feed_needs_no_key_and_upgrades_the_small_size(fake, dataset):
    fake.add("rose", 25)
    summary = collect(["rose"], count=30, out=dataset, feed=True, feed_url=fake.feed_url, progress=False, backoff=0.01)
    label = summary.labels[0]
    assert (label.accepted, label.short) == (20, True)
    assert {r["size"] for r in records(dataset)} == {"c"}
    assert {r["license_name"] for r in records(dataset)} == {"unknown (public feed)"}
    assert not fake.rest_calls
