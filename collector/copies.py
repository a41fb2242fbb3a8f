"""No photo twice, whatever the route: each download's perceptual hash against the photos kept.

Why: an id tells only whether this source's photo is here. The same picture also arrives as
another size, a re-encode, or another service's copy (many Flickr photos were copied to Commons,
and Openverse indexes both), and a dataset with the same photo twice leaks it across the split.
The hash and the distance rule are curate's (`retrainkit.phash`, `[collect] near_distance`
defaulting to curate's `near_distance`). The hashes of files already in the dataset (label folders
and the quarantine) are cached in `.collect/phashes.sqlite`, keyed by path, size and mtime, so a
top-up hashes only what is new. bench/collect_sources.py measures the check's share of a download.

    >>> kept = KeptPictures(max_distance=10)
    >>> kept.claim(0b1011, "rose/1.jpg") is None
    True
    >>> kept.claim(0b1010, "tulip/2.jpg")
    Copy(of='rose/1.jpg', distance=1)
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from retrainkit.dataset_layout import COLLECT_DIR, PHASHES, QUARANTINE_DIR, data_files, label_folders
from retrainkit.phash import hash_of_bytes

_SIGNED = 1 << 63


class Copy(NamedTuple):
    """The kept photo (dataset-relative path) a download copies, and how far apart their hashes are."""

    of: str
    distance: int

    @property
    def label(self) -> str:
        parts = self.of.split("/")
        return parts[1] if parts[0] == QUARANTINE_DIR and len(parts) > 2 else parts[0]


class KeptPictures:
    """Thread-safe: `claim` checks a hash and, when it copies nothing, keeps it, in one step."""

    def __init__(self, max_distance: int, cache: sqlite3.Connection | None = None) -> None:
        self.max_distance = max_distance
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._paths: list[str] = []
        self._cache = cache
        self._lock = threading.Lock()

    @classmethod
    def of_dataset(cls, root: Path, max_distance: int, progress: bool = True) -> KeptPictures:
        """The hashes of every file in the label folders and the quarantine, from the cache where it has them."""
        kept = cls(max_distance, _open_cache(root / COLLECT_DIR / PHASHES))
        if max_distance < 0:
            return kept
        known = {row[0]: (row[1], row[2], row[3]) for row in kept._cache.execute("SELECT path, size, mtime_ns, phash FROM phashes")}
        files = [path for folder in label_folders(root) + label_folders(root / QUARANTINE_DIR) for path in data_files(folder)]
        fresh = []
        for path in tqdm(files, desc="hashing photos already here", unit="photo", disable=not progress or len(files) < 200, leave=False):
            relpath = path.relative_to(root).as_posix()
            stat = path.stat()
            row = known.get(relpath)
            if row is not None and row[:2] == (stat.st_size, stat.st_mtime_ns):
                kept._add(_unsigned(row[2]), relpath)
                continue
            try:
                phash = hash_of_bytes(path.read_bytes())
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                continue  # not a picture: nothing can copy it
            kept._add(phash, relpath)
            fresh.append((relpath, stat.st_size, stat.st_mtime_ns, _signed(phash)))
        with kept._cache:
            kept._cache.executemany("INSERT OR REPLACE INTO phashes VALUES (?, ?, ?, ?)", fresh)
        return kept

    def claim(self, phash: int, relpath: str) -> Copy | None:
        """The kept photo `phash` copies, or None after keeping it under `relpath`."""
        if self.max_distance < 0:
            return None
        with self._lock:
            count = len(self._paths)
            if count:
                distances = np.bitwise_count(self._hashes[:count] ^ np.uint64(phash))
                nearest = int(np.argmin(distances))
                if distances[nearest] <= self.max_distance:
                    return Copy(self._paths[nearest], int(distances[nearest]))
            self._add(phash, relpath)
            return None

    def remember(self, root: Path, relpath: str, phash: int) -> None:
        """Cache a file just written, so the next run does not hash it again."""
        if self._cache is None or self.max_distance < 0:
            return
        try:
            stat = (root / relpath).stat()
        except OSError:
            return
        with self._lock:
            self._cache.execute("INSERT OR REPLACE INTO phashes VALUES (?, ?, ?, ?)", (relpath, stat.st_size, stat.st_mtime_ns, _signed(phash)))

    def close(self) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache.commit()
                self._cache.close()
            self._cache = None

    def _add(self, phash: int, relpath: str) -> None:
        if len(self._paths) == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._hashes[len(self._paths)] = phash
        self._paths.append(relpath)


def _open_cache(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30)
    connection.execute("CREATE TABLE IF NOT EXISTS phashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, phash INTEGER)")
    return connection


def _signed(phash: int) -> int:
    """SQLite integers are signed 64-bit."""
    return phash - (1 << 64) if phash >= _SIGNED else phash


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
