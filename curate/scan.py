"""Scan a dataset: read new and changed files on every core, take the rest from the cache.

Results are committed to the cache in batches while the scan runs, so an interrupted scan of a
large tree keeps most of its work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

from tqdm import tqdm

from .cache import ScanCache
from .decode import inspect_file
from .record import ImageRecord
from .tree import check_dataset, list_files

#: Below this many files a process pool costs more to start than it saves.
POOL_THRESHOLD = 48
COMMIT_EVERY = 256


@dataclass
class ScanResult:
    root: Path
    records: list[ImageRecord]
    #: files read and decoded by this scan (the rest came from the cache)
    decoded: int
    seconds: float
    #: files listed but gone when read: moved or deleted by another command meanwhile (not in `records`)
    vanished: list[str] = field(default_factory=list)

    def by_path(self) -> dict[str, ImageRecord]:
        return {r.path: r for r in self.records}


def scan(dataset: str | os.PathLike, *, workers: int | None = None, progress: bool = True) -> ScanResult:
    """Describe every file of the tree; only files whose size or mtime changed are read again.

    >>> result = scan("dataset")            # doctest: +SKIP
    >>> [r.path for r in result.records if not r.ok]   # doctest: +SKIP
    ['rose/123.jpg']
    """
    started = time.perf_counter()
    root = check_dataset(dataset)
    entries = list_files(root)
    cache = ScanCache(root)
    try:
        known = cache.load()
        current, todo = [], []
        for entry in entries:
            hit = known.get(entry.path)
            if hit and hit[0] == entry.bytes and hit[1] == entry.mtime_ns:
                current.append(hit[2])
            else:
                todo.append(entry.path)
        cache.forget(set(known) - {e.path for e in entries})
        batch: list[ImageRecord] = []
        vanished: list[str] = []
        for record in tqdm(_decode(root, todo, workers), total=len(todo), desc="scan", unit="img", disable=not progress or not todo):
            if record.problem == "unreadable" and not (root / record.path).exists():
                vanished.append(record.path)  # another command moved it away meanwhile: not a problem of the photo
                continue
            current.append(record)
            batch.append(record)
            if len(batch) >= COMMIT_EVERY:
                cache.store(batch)
                batch.clear()
        cache.store(batch)
    finally:
        cache.close()
    current.sort(key=lambda r: r.path)
    return ScanResult(root, current, decoded=len(todo), seconds=time.perf_counter() - started, vanished=vanished)


def _decode(root: Path, paths: list[str], workers: int | None) -> Iterator[ImageRecord]:
    workers = workers or os.cpu_count() or 1
    if len(paths) < POOL_THRESHOLD or workers == 1:
        yield from map(inspect_file, repeat(str(root)), paths)
        return
    chunk = max(1, min(64, len(paths) // (workers * 8)))
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(inspect_file, repeat(str(root)), paths, chunksize=chunk)
