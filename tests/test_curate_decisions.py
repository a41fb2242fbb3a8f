"""Reject list, quarantine and restore: decisions that never lose a file; the usable-image view."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import curate
from curate.rejects import RejectList
from tests.images import encode, picture, write


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "dataset"
    original = picture(1)
    write(root / "rose" / "a.jpg", encode(original))
    write(root / "rose" / "a-copy.jpg", encode(original))
    write(root / "rose" / "b.jpg", encode(picture(2)))
    write(root / "rose" / "broken.jpg", encode(picture(3))[:3000])
    write(root / "tulip" / "c.jpg", encode(picture(4)))
    write(root / "tulip" / "d.jpg", encode(picture(5)))
    write(root / "tulip" / "in-rose-too.jpg", encode(picture(6)))
    write(root / "rose" / "in-tulip-too.jpg", encode(picture(6)))
    return root


def inventory(root: Path) -> dict[str, str]:
    """Every data file under the tree (quarantine included), path -> sha256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith((".curate/", ".collect/", ".retrainkit.lock"))
    }


def test_reject_list_keeps_hand_written_lines(tree):
    rejects_file = tree / ".curate" / "rejects.txt"
    write(rejects_file, b"# my notes\n\nrose/b.jpg  # blurry, by hand\n# keep this comment\n")
    rejects = RejectList(tree)
    assert rejects.entries == {"rose/b.jpg": "blurry, by hand"}
    rejects.add(["tulip/c.jpg", "rose/b.jpg"], "not a tulip")
    rejects.save()
    rejects = RejectList(tree)
    rejects.remove(["rose/b.jpg"])
    rejects.save()
    assert rejects_file.read_text() == "# my notes\n\n# keep this comment\ntulip/c.jpg  # not a tulip\n"


def test_usable_images_leave_out_rejected_corrupt_and_quarantined(tree):
    rejects = RejectList(tree)
    rejects.add(["tulip/c.jpg"], "wrong")
    rejects.save()
    (tree / ".quarantine" / "tulip").mkdir(parents=True)
    (tree / "tulip" / "d.jpg").rename(tree / ".quarantine" / "tulip" / "d.jpg")
    usable = {r.path for r in curate.usable_images(tree)}
    assert usable == {"rose/a.jpg", "rose/a-copy.jpg", "rose/b.jpg", "rose/in-tulip-too.jpg", "tulip/in-rose-too.jpg"}
    assert all(r.sha256 for r in curate.usable_images(tree))


def test_dry_run_changes_nothing(tree):
    before = inventory(tree)
    report = curate.apply(curate.analyse(tree, progress=False), ["corrupt", "duplicates", "conflicts"], dry_run=True)
    assert {m.source for m in report.moves} == {"rose/a.jpg", "rose/broken.jpg", "rose/in-tulip-too.jpg", "tulip/in-rose-too.jpg"}
    assert inventory(tree) == before


def test_apply_then_restore_gives_back_every_byte(tree):
    rejects = RejectList(tree)
    rejects.add(["tulip/c.jpg"], "not a tulip")
    rejects.save()
    before = inventory(tree)

    report = curate.apply(curate.analyse(tree, progress=False), ["corrupt", "duplicates", "conflicts", "tiny"])
    moved = {m.source for m in report.moves}
    assert moved == {"rose/a.jpg", "rose/broken.jpg", "rose/in-tulip-too.jpg", "tulip/in-rose-too.jpg", "tulip/c.jpg"}
    after_apply = inventory(tree)
    assert sorted(after_apply.values()) == sorted(before.values())
    assert all(f".quarantine/{path}" in after_apply for path in moved)
    assert {r.path for r in curate.usable_images(tree)} == {"rose/a-copy.jpg", "rose/b.jpg", "tulip/d.jpg"}
    log = (tree / ".curate" / "moves.jsonl").read_text()
    assert log.count('"action": "quarantine"') == 5

    restored = curate.restore(tree)
    assert len(restored.moves) == 5
    assert inventory(tree) == before
    assert "tulip/c.jpg" not in RejectList(tree).entries


def test_restore_one_file_by_its_label_path(tree):
    curate.apply(curate.analyse(tree, progress=False), ["corrupt"])
    assert not (tree / "rose" / "broken.jpg").exists()
    curate.restore(tree, ["rose/broken.jpg"])
    assert (tree / "rose" / "broken.jpg").exists()


def test_a_taken_name_is_never_overwritten(tree):
    curate.apply(curate.analyse(tree, progress=False), ["corrupt"])
    write(tree / "rose" / "broken.jpg", b"a new file with the old name")
    curate.restore(tree)
    assert (tree / "rose" / "broken.jpg").read_bytes() == b"a new file with the old name"
    assert (tree / "rose" / "broken~1.jpg").exists()


def test_restore_of_something_not_quarantined_is_refused(tree):
    with pytest.raises(curate.CurateError, match="not in quarantine"):
        curate.restore(tree, ["rose/b.jpg"])
