"""Scan and flags on generated trees: every kind of damage, every kind of copy, and the cache."""

from __future__ import annotations

import os
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

import curate
from retrainkit.phash import phash_bits
from tests.images import (
    crop,
    encode,
    exif_rotated_png,
    picture,
    placeholder_png,
    png_bomb,
    write,
)


@pytest.fixture
def tree(tmp_path) -> Path:
    """A tree with one of everything curation must notice, plus clean photos."""
    root = tmp_path / "dataset"
    rose, tulip = root / "rose", root / "tulip"
    original = picture(1)
    write(rose / "original.jpg", encode(original))
    write(rose / "exact-copy.jpg", encode(original))
    write(rose / "resized.jpg", encode(original.resize((320, 240), Image.LANCZOS)))
    write(rose / "recompressed.jpg", encode(original, quality=30))
    write(rose / "cropped.jpg", encode(crop(original, 0.04)))
    write(rose / "png-named.jpg", encode(picture(2), "PNG"))
    write(rose / "truncated.jpg", encode(picture(3))[:4000])
    write(rose / "empty.jpg", b"")
    write(rose / "text.jpg", b"this is not an image\n")
    write(rose / "bomb.png", png_bomb())
    write(rose / "tiny.jpg", encode(picture(4, 100, 90)))
    write(rose / "panorama.jpg", encode(picture(5, 1200, 300)))
    write(rose / "unavailable.png", placeholder_png())
    write(rose / "dark.jpg", encode(Image.new("RGB", (400, 300), (5, 5, 8))))
    write(rose / "nested" / "deeper.jpg", encode(picture(6)))
    write(rose / ".thumbs" / "hidden.jpg", encode(picture(7)))
    write(root / ".collect" / "not-a-label.jpg", encode(picture(8)))
    write(tulip / "tulip-1.jpg", encode(picture(9)))
    write(tulip / "also-in-rose.jpg", encode(picture(10)))
    write(rose / "also-in-tulip.jpg", encode(picture(10)))
    photo = picture(11)
    write(tulip / "upright.png", encode(photo, "PNG"))
    write(tulip / "sideways-exif.png", exif_rotated_png(photo))
    return root


def flags_of(analysis: curate.Analysis) -> dict[str, list[str]]:
    return {r.path: r.flags for r in analysis.records}


def test_every_file_under_the_labels_is_seen_and_dot_folders_are_not(tree):
    paths = {r.path for r in curate.scan(tree, progress=False).records}
    assert "rose/nested/deeper.jpg" in paths
    assert not any(".thumbs" in p or ".collect" in p for p in paths)
    assert {p.split("/")[0] for p in paths} == {"rose", "tulip"}


@pytest.mark.parametrize(
    ("path", "flag"),
    [
        ("rose/truncated.jpg", "corrupt"),
        ("rose/empty.jpg", "empty"),
        ("rose/text.jpg", "not-an-image"),
        ("rose/bomb.png", "bomb"),
        ("rose/tiny.jpg", "tiny"),
        ("rose/panorama.jpg", "aspect"),
        ("rose/unavailable.png", "placeholder"),
        ("rose/dark.jpg", "dark"),
        ("rose/dark.jpg", "uniform"),
    ],
)
def test_damaged_and_unfit_files_are_flagged(tree, path, flag):
    assert flag in flags_of(curate.analyse(tree, progress=False))[path]


def test_format_is_sniffed_not_taken_from_the_extension(tree):
    records = curate.scan(tree, progress=False).by_path()
    assert records["rose/png-named.jpg"].format == "PNG"
    assert records["rose/png-named.jpg"].ok
    assert flags_of(curate.analyse(tree, progress=False))["rose/png-named.jpg"] == []


def test_copies_are_grouped_and_the_best_copy_is_kept(tree):
    analysis = curate.analyse(tree, progress=False)
    group = next(g for g in analysis.groups if "rose/original.jpg" in {m.path for m in g.members})
    members = {m.path for m in group.members}
    assert members == {"rose/original.jpg", "rose/exact-copy.jpg", "rose/resized.jpg", "rose/recompressed.jpg", "rose/cropped.jpg"}
    # equal resolution and size: the name decides, so the keep is stable from run to run
    assert group.keep.path == "rose/exact-copy.jpg"
    flags = flags_of(analysis)
    assert flags["rose/original.jpg"] == ["duplicate"]
    assert flags["rose/exact-copy.jpg"] == []
    for copy in ("rose/resized.jpg", "rose/recompressed.jpg", "rose/cropped.jpg"):
        assert flags[copy] == ["near-duplicate"]


def test_keep_prefers_more_pixels_then_more_bytes(tmp_path):
    root = tmp_path / "d"
    image = picture(21)
    write(root / "a" / "small.jpg", encode(image.resize((320, 240))))
    write(root / "a" / "big.jpg", encode(image.resize((800, 600))))
    write(root / "a" / "big-heavier.jpg", encode(image.resize((800, 600)), quality=98))
    group = curate.analyse(root, progress=False).groups[0]
    assert group.keep.path == "a/big-heavier.jpg"


def test_exif_rotated_copy_is_the_same_picture(tree):
    analysis = curate.analyse(tree, progress=False)
    records = analysis.scan.by_path()
    sideways = records["tulip/sideways-exif.png"]
    assert (sideways.width, sideways.height) == (640, 480)
    assert sideways.exif_rotated
    group = next(g for g in analysis.groups if "tulip/upright.png" in {m.path for m in g.members})
    assert group.kind == "exact"  # same pixels once upright, different bytes


def test_same_pixels_in_another_container_is_an_exact_duplicate(tmp_path):
    root = tmp_path / "d"
    image = picture(31)
    write(root / "a" / "one.png", encode(image, "PNG"))
    write(root / "a" / "two.bmp", encode(image, "BMP"))
    group = curate.analyse(root, progress=False).groups[0]
    assert group.kind == "exact" and len(group.identical) == 1


def test_a_copy_under_two_labels_is_a_conflict_on_both_sides(tree):
    flags = flags_of(curate.analyse(tree, progress=False))
    assert "conflict" in flags["rose/also-in-tulip.jpg"]
    assert "conflict" in flags["tulip/also-in-rose.jpg"]


def test_different_pictures_are_not_duplicates(tmp_path):
    root = tmp_path / "d"
    for seed in range(40):
        write(root / f"label{seed % 2}" / f"{seed}.jpg", encode(picture(100 + seed)))
    assert curate.analyse(root, progress=False).groups == []


def test_second_scan_reads_nothing_and_a_change_is_read_again(tree):
    first = curate.scan(tree, progress=False)
    assert first.decoded == len(first.records)
    second = curate.scan(tree, progress=False)
    assert second.decoded == 0
    assert [r.to_json() for r in second.records] == [r.to_json() for r in first.records]

    changed = tree / "tulip" / "tulip-1.jpg"
    changed.write_bytes(encode(picture(99)))
    os.utime(changed, ns=(1, 1))
    (tree / "rose" / "tiny.jpg").unlink()
    third = curate.scan(tree, progress=False)
    assert third.decoded == 1
    assert "rose/tiny.jpg" not in third.by_path()
    assert third.by_path()["tulip/tulip-1.jpg"].sha256 != first.by_path()["tulip/tulip-1.jpg"].sha256


def test_the_process_pool_gives_the_same_records_as_one_process(tmp_path):
    root = tmp_path / "d"
    for seed in range(60):
        write(root / "a" / f"{seed}.jpg", encode(picture(seed, 200, 150)))
    write(root / "a" / "broken.jpg", encode(picture(1))[:500])
    pooled = curate.scan(root, workers=2, progress=False).records
    (root / ".curate" / "scan.sqlite").unlink()
    single = curate.scan(root, workers=1, progress=False).records
    assert [r.to_json() for r in pooled] == [r.to_json() for r in single]


def test_our_phash_is_imagehash_phash():
    for seed in range(20):
        gray = picture(seed, 32, 32).convert("L")
        expected = int.from_bytes(np.packbits(imagehash.phash(gray).hash.flatten()).tobytes(), "big")
        assert phash_bits(np.asarray(gray, dtype=np.float64)) == expected
