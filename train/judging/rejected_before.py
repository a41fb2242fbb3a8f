"""The photos the user rejected in earlier reviews: examples of what none of the labels is, for suspects.

Why they help: keyword search brings a few photos of each of many other kinds, and a daisy-like
flower among the daisies lies as close to them as their own photos do, so the first review finds
only about half of such intruders. The ones the user rejected there are the best clue to the rest:
the next run's heads learn them as one more class (train.judging.suspects), and a photo like them
is flagged (bench/suspects.py --second-review).

Where they are: files listed in `.curate/rejects.txt` that are still in the tree (rejected, not
moved yet), and files `curate apply` moved to `.quarantine/` because they were rejected (their
line in `.curate/moves.jsonl` says so). Duplicates, corrupt and tiny files that curation moved
are no examples of anything, and a file the user restored is back in the tree: neither counts.
Their frozen vectors go to the same cache as the tree's, keyed by content, so each is extracted once.
"""

from __future__ import annotations

import numpy as np

import curate
from curate.decode import inspect_file
from curate.ledger import QUARANTINE, entries
from curate.quarantine import REJECTED

from ..features.cache import BottleneckCache, key_for
from ..features.decoding import job_for
from ..features.extraction import extract
from ..inputs import TrainingInputs


def rejected_records(analysis: curate.Analysis, kept: set[str]) -> list[curate.ImageRecord]:
    """The decodable rejected files, in the tree or quarantined, one per content; none whose content is in
    `kept` (the sha256 of the photos used: a rejected copy of a photo the user kept says nothing)."""
    root = analysis.root
    found = [r for r in analysis.records if r.path in analysis.rejected and r.ok]
    seen = {entry.target for entry in entries(root)
            if entry.action == QUARANTINE and entry.reason.startswith(REJECTED) and (root / entry.target).is_file()}
    found += [record for record in (inspect_file(str(root), target) for target in sorted(seen)) if record.ok]
    unique: dict[str, curate.ImageRecord] = {}
    for record in found:
        if record.sha256 not in kept:
            unique.setdefault(record.sha256, record)
    return list(unique.values())


def rejected_vectors(run: TrainingInputs) -> np.ndarray:
    """(rejected photos x features): their frozen vectors, as the tree's photos have them; files that
    cannot be read are left out, never fatal."""
    records = rejected_records(run.analysis, {r.sha256 for r in run.usable})
    width = run.plain.shape[1] if run.plain.ndim == 2 else 0
    if not records:
        return np.empty((0, width), np.float32)
    cache = BottleneckCache(run.settings.cache_folder(run.root), run.backbone.id)
    try:
        jobs = [job_for(run.root, record) for record in records]
        _, failed = extract(jobs, run.backbone, cache, run.settings.extract_batch, progress=False, what="rejected photos")
        failed_keys = {job.key for job in failed}
        keys = [key_for(record.sha256) for record in records if key_for(record.sha256) not in failed_keys]
        return cache.get(keys) if keys else np.empty((0, width), np.float32)
    finally:
        cache.close()

