"""The photos a person rejected, wherever they are now: examples of what none of the labels is.

`train` learns from them (train/judging/suspects.py, train/judging/novelty.py): keyword search brings
a few photos of each of many other kinds, and the ones a person threw out are the best clue to the
rest. They are the files on `.curate/rejects.txt` still in the tree (rejected, not moved yet) and the
files `curate apply` moved to `.quarantine/` because they were rejected (their line in
`.curate/moves.jsonl` says so). Duplicates, corrupt and tiny files that curation moved are no
examples of anything, and a file the person restored is back in the tree: neither counts.
"""

from __future__ import annotations

from .analysis import Analysis
from .decode import inspect_file
from .ledger import QUARANTINE, entries
from .quarantine import REJECTED
from .record import ImageRecord


def rejected_photos(analysis: Analysis, kept: set[str]) -> list[ImageRecord]:
    """The decodable rejected files, in the tree or quarantined, one per content; none whose content is in
    `kept` (the sha256 of the photos used: a rejected copy of a photo the person kept says nothing)."""
    root = analysis.root
    found = [r for r in analysis.records if r.path in analysis.rejected and r.ok]
    quarantined = {entry.target for entry in entries(root)
                   if entry.action == QUARANTINE and entry.reason.startswith(REJECTED) and (root / entry.target).is_file()}
    found += [record for record in (inspect_file(str(root), target) for target in sorted(quarantined)) if record.ok]
    unique: dict[str, ImageRecord] = {}
    for record in found:
        if record.sha256 not in kept:
            unique.setdefault(record.sha256, record)
    return list(unique.values())
