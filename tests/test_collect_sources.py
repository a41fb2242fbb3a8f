"""Collecting with no Flickr key: Openverse, Wikimedia Commons and iNaturalist, alone and mixed,
each client keeping its service's rules, against fakes that speak their JSON."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from collector import collect, download
from collector.errors import CollectError, SourceUnavailable
from collector.services import inaturalist as inaturalist_client  # the fixture `inaturalist` is the fake
from tests.fake_flickr import API_KEY, API_SECRET


def records(dataset: Path) -> list[dict]:
    path = dataset / ".collect" / "photos.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def files(dataset: Path, label: str) -> list[Path]:
    folder = dataset / label
    return sorted(folder.iterdir()) if folder.is_dir() else []


def sunflower(inat, n: int = 12, licences=("cc-by",)):
    taxon = inat.add_taxon(47148, "Helianthus annuus", "common sunflower", observations_count=80_000)
    inat.add_taxon(47147, "Helianthus", "sunflowers", rank="genus", observations_count=120_000)
    inat.add(taxon, n, licences=licences)
    return taxon


# -- exact counts, alone and mixed ---------------------------------------------------------------

@pytest.mark.parametrize("source", ["openverse", "commons"])
def test_each_keyless_source_alone_gives_exactly_count_verified_photos(openverse, commons, keyless_options, dataset, source):
    openverse.add("rose", 30)
    commons.add("rose", 30)
    summary = collect(["rose"], count=12, source=source, **keyless_options)
    label = summary.labels[0]
    assert (label.accepted, label.short, dict(label.by_source)) == (12, False, {source: 12})
    assert len(files(dataset, "rose")) == 12
    assert {r["source"] for r in records(dataset)} == {source}
    assert all(p.name.startswith(f"{source}-") for p in files(dataset, "rose"))


def test_inaturalist_alone_resolves_the_name_and_gives_exactly_count(inaturalist, keyless_options, dataset):
    sunflower(inaturalist, 20)
    summary = collect(["sunflower"], count=7, source="inaturalist", **keyless_options)
    assert summary.labels[0].accepted == 7 and len(files(dataset, "sunflower")) == 7
    assert "sunflower -> Helianthus annuus (species, common sunflower, taxon 47148, 20 research-grade observations)" in summary.report()
    lines = records(dataset)
    assert {(r["taxon_id"], r["taxon_name"]) for r in lines} == {("47148", "Helianthus annuus")}
    assert all(r["observation_url"].startswith("https://www.inaturalist.org/observations/") for r in lines)
    assert {r["size"] for r in lines} == {"large"}  # 800 px asked: iNaturalist's 1024 px `large` is nearest


def test_no_key_and_no_source_mixes_openverse_and_commons_and_says_so(openverse, commons, keyless_options, dataset, capsys):
    openverse.add("rose", 30)
    commons.add("rose", 30)
    summary = collect(["rose"], count=10, **{**keyless_options, "progress": True})
    assert summary.sources == ["openverse", "commons"]
    assert dict(summary.labels[0].by_source) == {"openverse": 5, "commons": 5}  # interleaved, not one source first
    assert "no Flickr key: collecting from openverse and commons" in capsys.readouterr().err
    assert "openverse 5, commons 5" in summary.table()


def test_when_one_source_runs_dry_the_others_fill_the_label(openverse, commons, keyless_options, dataset):
    openverse.add("tulip", 3)
    commons.add("tulip", 30)
    summary = collect(["tulip"], count=15, **keyless_options)
    label = summary.labels[0]
    assert (label.accepted, dict(label.by_source), label.dry) == (15, {"openverse": 3, "commons": 12}, ["openverse"])
    assert "tulip: no more candidates from openverse" in summary.report()


def test_a_flickr_key_and_auto_still_mean_flickr(fake, openverse, keyless_options, dataset, monkeypatch):
    monkeypatch.setenv("FLICKR_API_KEY", API_KEY)
    monkeypatch.setenv("FLICKR_API_SECRET", API_SECRET)
    fake.add("rose", 5)
    openverse.add("rose", 5)
    summary = collect(["rose"], count=4, endpoint=fake.rest_url, **{**keyless_options, "endpoints": {"openverse": openverse.endpoint}})
    assert summary.sources == ["flickr"] and not openverse.api_requests


# -- Openverse's rules -----------------------------------------------------------------------------

def test_openverse_anonymous_pages_of_20_and_never_past_result_240(openverse, keyless_options, dataset):
    openverse.add("daisy", 300)
    summary = collect(["daisy"], count=260, source="openverse", workers=16, **keyless_options)
    label = summary.labels[0]
    assert (label.accepted, label.short) == (240, True)
    assert openverse.violations == []
    pages = [r.params for r in openverse.api_requests]
    assert {p["page_size"] for p in pages} == {"20"} and max(int(p["page"]) for p in pages) == 12
    assert "daisy: only 240 of 260 photos" in summary.report()


def test_openverse_registered_app_gets_larger_pages_and_renews_its_token(openverse, keyless_options, dataset, tmp_path, monkeypatch):
    openverse.add("daisy", 300)
    openverse.token_lifetime = 60  # within a minute of expiry on arrival: renewed before each request
    monkeypatch.setenv("OPENVERSE_CLIENT_ID", openverse.CLIENT_ID)
    monkeypatch.setenv("OPENVERSE_CLIENT_SECRET", openverse.CLIENT_SECRET)
    summary = collect(["daisy"], count=280, source="openverse", workers=16, **keyless_options)
    assert summary.labels[0].accepted == 280
    searches = [r for r in openverse.api_requests if r.path == "/v1/images/"]
    assert {r.params["page_size"] for r in searches} == {"50"} and openverse.violations == []
    assert all(r.headers.get("Authorization", "").startswith("Bearer token-") for r in searches)
    assert len(openverse.tokens) == len(searches)


def test_openverse_wrong_client_secret_is_one_clear_error(openverse, keyless_options, monkeypatch):
    openverse.add("daisy", 3)
    monkeypatch.setenv("OPENVERSE_CLIENT_ID", openverse.CLIENT_ID)
    monkeypatch.setenv("OPENVERSE_CLIENT_SECRET", "wrong")
    with pytest.raises(CollectError, match="Openverse refused the client id and secret"):
        collect(["daisy"], count=2, source="openverse", **keyless_options)


def test_openverse_commercial_asks_for_commercial_licences_only(openverse, keyless_options, dataset):
    openverse.add("rose", 4, license="by-nc")
    openverse.add("rose", 4, license="by")
    collect(["rose"], count=8, source="openverse", license="commercial", **keyless_options)
    assert {r["license_code"] for r in records(dataset)} == {"by"}
    assert all(r.params.get("license_type") == "commercial" for r in openverse.api_requests)


# -- Commons' etiquette ----------------------------------------------------------------------------

def test_commons_one_request_at_a_time_with_maxlag_and_our_user_agent(commons, keyless_options, tmp_path):
    commons.add("fern", 120)
    commons.latency = 0.03
    runs = [threading.Thread(target=collect, args=(["fern"],),
                             kwargs={**keyless_options, "out": tmp_path / f"d{i}", "count": 110, "source": "commons", "contact": "ada@example.org"})
            for i in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert len(commons.api_requests) >= 9
    assert commons.most_at_once == 1
    assert commons.violations == []
    assert all(r.params["maxlag"] == "5" for r in commons.api_requests)
    assert all("retrainkit-collector/" in r.headers["User-Agent"] and "ada@example.org" in r.headers["User-Agent"] for r in commons.api_requests)
    assert all(len(files(tmp_path / f"d{i}", "fern")) == 110 for i in range(3))


def test_commons_maxlag_waits_retry_after_then_goes_on(commons, keyless_options, dataset):
    commons.add("fern", 10)
    commons.api_faults = ["maxlag"]
    summary = collect(["fern"], count=5, source="commons", **keyless_options)
    assert summary.labels[0].accepted == 5
    first, second = commons.api_requests[:2]
    assert second.at - first.at >= 0.95


def test_commons_standard_widths_follow_size(commons, keyless_options, dataset):
    commons.add("fern", 6)
    collect(["fern"], count=3, source="commons", size="500", **keyless_options)
    assert {r.params["iiurlwidth"] for r in commons.api_requests} == {"500"}
    assert {r["size"] for r in records(dataset)} == {"w500"}


def test_commons_licences_outside_cc_and_files_without_licence_are_passed_over(commons, keyless_options, dataset):
    commons.add("fern", 3, licence="gfdl")
    commons.add("fern", 2, licence="")
    commons.add("fern", 3, licence="cc0")
    summary = collect(["fern"], count=5, source="commons", **keyless_options)
    assert {r["license_code"] for r in records(dataset)} == {"cc0"}
    assert dict(summary.labels[0].skipped) == {"commons: licence": 3, "commons: no-licence": 2}


# -- iNaturalist's pace and licences ---------------------------------------------------------------

def test_inaturalist_pace_stays_within_its_limit_per_minute(inaturalist, keyless_options, dataset, monkeypatch):
    monkeypatch.setattr(inaturalist_client, "MINUTE_S", 1.0)
    monkeypatch.setattr(inaturalist_client, "REQUESTS_PER_MINUTE", 3)
    monkeypatch.setattr(inaturalist_client, "PER_PAGE", 4)
    sunflower(inaturalist, 22)
    summary = collect(["sunflower"], count=22, source="inaturalist", **keyless_options)
    assert summary.labels[0].accepted == 22
    stamps = [r.at for r in inaturalist.api_requests]
    assert len(stamps) >= 7
    assert all(sum(1 for t in stamps if start <= t < start + 0.9) <= 3 for start in stamps)


def test_an_all_rights_reserved_photo_is_never_kept_under_cc(inaturalist, keyless_options, dataset):
    taxon = inaturalist.add_taxon(47148, "Helianthus annuus", "common sunflower")
    closed = inaturalist.add(taxon, 4, licences=(None,))
    mixed = inaturalist.add(taxon, 4, licences=(None, "cc-by"))
    summary = collect(["sunflower"], count=8, source="inaturalist", **keyless_options)
    kept = {r["source_id"] for r in records(dataset)}
    assert kept == {str(o.photos[1][0]) for o in mixed}
    assert summary.labels[0].short
    closed_seeds = {str(seed) for o in closed + mixed for _, code, seed in o.photos if code is None}
    assert not any(request.split("/")[0] in closed_seeds for request in inaturalist.picture_requests)
    assert all("cc-by" in r.params["photo_license"] for r in inaturalist.api_requests if r.path == "/v1/observations")


def test_inaturalist_any_licence_keeps_all_rights_reserved_photos(inaturalist, keyless_options, dataset):
    taxon = inaturalist.add_taxon(47148, "Helianthus annuus", "common sunflower")
    inaturalist.add(taxon, 3, licences=(None,))
    collect(["sunflower"], count=3, source="inaturalist", license="any", **keyless_options)
    assert {r["license_code"] for r in records(dataset)} == {"all-rights-reserved"}


def test_taxon_id_names_one_taxon_exactly(inaturalist, keyless_options, dataset):
    sunflower(inaturalist, 5)
    summary = collect(["sunflower=taxon:47148"], count=3, source="inaturalist", **keyless_options)
    assert summary.labels[0].accepted == 3
    assert [r.path for r in inaturalist.api_requests][0] == "/v1/taxa/47148"


def test_a_name_with_no_taxon_fails_that_label_and_the_others_go_on(inaturalist, keyless_options, dataset):
    sunflower(inaturalist, 5)
    summary = collect(["sunflower", "helio=heliotrope"], count=3, source="inaturalist", **keyless_options)
    by_label = {s.label: s for s in summary.labels}
    assert by_label["sunflower"].accepted == 3 and by_label["helio"].accepted == 0
    assert by_label["helio"].has_error
    assert "helio: no iNaturalist taxon is named 'heliotrope'" in summary.report()


# -- one photo once, whatever the route ------------------------------------------------------------

def test_a_flickr_photo_found_through_openverse_is_the_same_file(fake, openverse, keyless_options, dataset, monkeypatch):
    monkeypatch.setenv("FLICKR_API_KEY", API_KEY)
    monkeypatch.setenv("FLICKR_API_SECRET", API_SECRET)
    photos = fake.add("rose", 4)
    for photo in photos:
        openverse.add_flickr_photo("rose", photo)
    summary = collect(["rose"], count=4, source="flickr,openverse", endpoint=fake.rest_url, **keyless_options)
    assert {p.stem for p in files(dataset, "rose")} == {p.id for p in photos}
    assert summary.labels[0].accepted == 4
    for photo in photos:
        assert sum(photo.id in path for path in fake.photo_requests) == 1
    again = collect(["rose"], count=4, source="openverse", **keyless_options)
    assert again.labels[0].accepted == 0 and len(files(dataset, "rose")) == 4


def test_a_flickr_photo_through_openverse_is_fetched_at_the_size_asked(fake, openverse, keyless_options, dataset):
    openverse.add_flickr_photo("rose", fake.add("rose", 1)[0])
    collect(["rose"], count=1, source="openverse", **keyless_options)
    (line,) = records(dataset)
    assert (line["size"], line["provider"], line["url"].endswith("_c.jpg")) == ("c", "flickr", True)
    assert line["page_url"].startswith("https://www.flickr.com/photos/")


def test_the_same_picture_from_two_sources_is_kept_once(openverse, commons, keyless_options, dataset):
    shared = openverse.add("rose", 6)
    twins = [commons.add("rose", 1, seed=image.seed)[0] for image in shared]  # the same pictures, at another size
    commons.add("rose", 6)
    summary = collect(["rose"], count=12, **keyless_options)
    label = summary.labels[0]
    assert label.accepted == 12 and label.copies == 6
    kept = {p.stem for p in files(dataset, "rose")}
    for image, twin in zip(shared, twins):
        assert (f"openverse-{image.id}" in kept) != (f"commons-{twin.pageid}" in kept)  # one of the two, whichever came first
    assert len({r["phash"] for r in records(dataset)}) == 12
    copies = [json.loads(line) for line in (dataset / ".collect" / "copies.jsonl").read_text().splitlines()]
    assert len(copies) == 6 and all(c["copy_of"].split("/")[1].split(".")[0] in kept for c in copies)
    before = len(commons.picture_requests)
    collect(["rose"], count=12, **keyless_options)
    assert len(commons.picture_requests) == before  # known copies are not fetched again


def test_a_copy_under_another_label_is_a_label_conflict(openverse, commons, keyless_options, dataset):
    image = openverse.add("rose", 1)[0]
    collect(["rose"], count=1, source="openverse", **keyless_options)
    commons.add("tulip", 1, seed=image.seed)
    commons.add("tulip", 2)
    summary = collect(["tulip"], count=2, source="commons", **keyless_options)
    assert (summary.labels[0].accepted, summary.labels[0].conflicts) == (2, 1)
    conflicts = [json.loads(line) for line in (dataset / ".collect" / "conflicts.jsonl").read_text().splitlines()]
    assert conflicts[0]["filed_under"] == "rose" and conflicts[0]["also_matched"] == "tulip"
    assert conflicts[0]["copy_of"] == f"rose/openverse-{image.id}.jpg"


# -- provenance ------------------------------------------------------------------------------------

def test_every_source_writes_one_provenance_and_credits_every_photo(openverse, commons, inaturalist, keyless_options, dataset):
    openverse.add("sunflower", 3)
    commons.add("sunflower", 3)
    sunflower(inaturalist, 3)
    collect(["sunflower"], count=9, source="openverse,commons,inaturalist", **keyless_options)
    lines = records(dataset)
    assert {r["source"] for r in lines} == {"openverse", "commons", "inaturalist"}
    for line in lines:
        for key in ("source", "source_id", "page_url", "url", "creator", "license_code", "license_version", "license_url", "attribution"):
            assert line[key], (key, line)
    credits = (dataset / ".collect" / "ATTRIBUTION.md").read_text()
    for path in files(dataset, "sunflower"):
        assert f"`sunflower/{path.name}`" in credits
    assert "via Wikimedia Commons" in credits and "via iNaturalist" in credits and "via Openverse" in credits
    assert "Ansel" in credits and "<a" not in credits  # Commons' HTML author, as text


def test_old_flickr_lines_stay_readable(dataset, openverse, keyless_options):
    (dataset / ".collect").mkdir(parents=True)
    (dataset / "rose").mkdir()
    (dataset / "rose" / "123.jpg").write_bytes(b"x")
    old = {"id": "123", "label": "rose", "file": "rose/123.jpg", "query": "rose", "title": "old", "owner": "o", "ownername": "Old Owner",
           "license": "4", "license_name": "Attribution License", "license_url": "https://creativecommons.org/licenses/by/2.0/",
           "page_url": "https://www.flickr.com/photos/o/123", "url": "u", "size": "c", "format": "JPEG", "width": 1, "height": 1,
           "bytes": 1, "sha256": "x", "time": "2024-01-01T00:00:00+00:00"}
    (dataset / ".collect" / "photos.jsonl").write_text(json.dumps(old) + "\n")
    openverse.add("rose", 2)
    collect(["rose"], count=3, source="openverse", **keyless_options)
    credits = (dataset / ".collect" / "ATTRIBUTION.md").read_text()
    assert "`rose/123.jpg`: [old](https://www.flickr.com/photos/o/123) by Old Owner" in credits


# -- faults ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["down", "html", "garbage"])
def test_a_broken_source_is_set_aside_and_the_other_fills_the_label(openverse, commons, keyless_options, dataset, fault):
    openverse.add("rose", 10)
    openverse.add("tulip", 10)
    commons.add("rose", 10)
    commons.add("tulip", 10)
    if fault == "down":
        openverse.down = True
    else:
        openverse.api_faults = [fault]
    summary = collect(["rose", "tulip"], count=6, **keyless_options)
    assert [(s.accepted, dict(s.by_source)) for s in summary.labels] == [(6, {"commons": 6}), (6, {"commons": 6})]
    assert "openverse" in summary.labels[0].unavailable
    assert "rose: openverse set aside:" in summary.report()
    assert not [r for r in openverse.api_requests if r.params.get("q") == "tulip"]  # not asked again for the next label


def test_every_source_down_is_one_clear_error(openverse, commons, keyless_options):
    openverse.down = commons.down = True
    with pytest.raises(SourceUnavailable, match="kept answering HTTP 503"):
        collect(["rose"], count=3, **keyless_options)


@pytest.mark.parametrize(("fault", "reason"), [("404", "http-404"), ("truncate", "truncated"), ("not-image", "not-an-image")])
def test_a_bad_picture_is_replaced_by_another_and_counted(commons, keyless_options, dataset, fault, reason):
    bad = commons.add("fern", 1)[0]
    commons.add("fern", 5)
    commons.picture_faults[bad.seed] = [fault] * 12
    summary = collect(["fern"], count=5, source="commons", **keyless_options)
    assert summary.labels[0].accepted == 5 and summary.labels[0].failed[reason] == 1
    assert f"commons-{bad.pageid}" not in {p.stem for p in files(dataset, "fern")}


def test_a_429_pauses_every_download_from_that_host(commons, keyless_options, dataset):
    slow = commons.add("fern", 1)[0]
    commons.add("fern", 23)
    commons.picture_faults[slow.seed] = ["429"]
    commons.latency = 0.1  # every reply takes 100 ms: downloads keep arriving unless the whole host pauses
    collect(["fern"], count=24, source="commons", workers=4, **keyless_options)
    pictures = [r for r in commons.requests if r.path.startswith("/img/")]
    refused = next(r for r in pictures if r.path.startswith(f"/img/{slow.seed}/"))
    # the 429 reaches the client 100 ms after its request arrived; from then on, for its Retry-After (1 s), nothing
    during = [r for r in pictures if refused.at + 0.25 < r.at < refused.at + 1.0]
    assert not during, [r.path for r in during]
    assert len(files(dataset, "fern")) == 24


def test_an_original_too_large_falls_back_to_the_thumbnail(openverse, keyless_options, dataset, monkeypatch):
    monkeypatch.setattr(download, "MAX_BYTES", 30_000)
    openverse.scale = 1.0  # originals of 1024 px (about 40 kB), thumbnails of 600 px (about 19 kB)
    openverse.add("rose", 3)
    summary = collect(["rose"], count=3, source="openverse", **keyless_options)
    assert summary.labels[0].accepted == 3
    assert {r["size"] for r in records(dataset)} == {"thumbnail"}


# -- top-up and kill -----------------------------------------------------------------------------

def test_a_second_keyless_run_tops_up_without_fetching_anything_twice(openverse, commons, keyless_options, dataset):
    openverse.add("rose", 20)
    commons.add("rose", 20)
    collect(["rose"], count=6, **keyless_options)
    first = set(openverse.picture_requests) | set(commons.picture_requests)
    summary = collect(["rose"], count=10, **keyless_options)
    assert (summary.labels[0].existing, summary.labels[0].accepted) == (6, 4)
    again = (set(openverse.picture_requests) | set(commons.picture_requests)) - first
    assert len(again) == 4
