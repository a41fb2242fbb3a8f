"""Which photos suspects learn as "rejected before": the user's rejections, wherever they now are, and nothing else."""

from __future__ import annotations

import curate
from curate.rejected import rejected_photos
from curate.rejects import RejectList
from tests.images import COLOURS, coloured, encode, write


def tree(root):
    for label, colour in COLOURS.items():
        for i in range(4):
            write(root / label / f"{label}-{i}.jpg", encode(coloured(100 * len(label) + i, colour)))
    for name, seed in (("off-a.jpg", 1), ("off-b.jpg", 2), ("off-c.jpg", 3)):
        write(root / "red" / name, encode(coloured(seed, (128, 128, 128))))
    return root


def reject(root, paths: list[str]) -> None:
    with RejectList.editing(root) as rejects:
        rejects.add(paths, "not red")


def found(root) -> set[str]:
    analysis = curate.analyse(root, progress=False)
    kept = {r.sha256 for r in analysis.records if r.ok and r.path not in analysis.rejected}
    return {r.path for r in rejected_photos(analysis, kept)}


def test_rejected_photos_count_on_the_reject_list_and_in_the_quarantine(tmp_path):
    root = tree(tmp_path / "d")
    reject(root, ["red/off-a.jpg", "red/off-b.jpg"])
    curate.apply(curate.analyse(root, progress=False), what=())
    reject(root, ["red/off-c.jpg"])  # rejected later, not applied yet
    assert found(root) == {".quarantine/red/off-a.jpg", ".quarantine/red/off-b.jpg", "red/off-c.jpg"}


def test_duplicates_restored_files_copies_of_kept_photos_and_broken_files_do_not_count(tmp_path):
    root = tree(tmp_path / "d")
    (root / "red" / "copy.jpg").write_bytes((root / "red" / "red-0.jpg").read_bytes())
    curate.apply(curate.analyse(root, progress=False), what=("duplicates",))  # a copy quarantined: no rejection
    assert found(root) == set()
    reject(root, ["red/off-a.jpg", "red/off-b.jpg"])
    curate.apply(curate.analyse(root, progress=False), what=())
    curate.restore(root, [".quarantine/red/off-a.jpg"])  # the user changed their mind
    write(root / "blue" / "broken.jpg", b"\xff\xd8 not a whole jpeg")
    write(root / "blue" / "same-as-kept.jpg", (root / "blue" / "blue-1.jpg").read_bytes())
    reject(root, ["blue/broken.jpg", "blue/same-as-kept.jpg"])
    assert found(root) == {".quarantine/red/off-b.jpg"}
