"""The scan cache: one SQLite file under `dataset/.curate/`, keyed by path + size + mtime.

Why SQLite: one file, atomic commits (a killed scan keeps everything it committed), and fast
reads of many rows, so an unchanged tree rescans quickly (bench/curate.py times the cached second
scan; figures in bench/README.md). Records
are stored as JSON so a new field does not need a migration; SCAN_VERSION invalidates rows made
by an older decoder, whose hashes would not be comparable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from retrainkit.dataset_layout import CURATE_DIR, SCAN_CACHE

from .decode import INTERNAL_ERROR
from .record import ImageRecord

#: 2: every mode is read as RGB with transparency on white (retrainkit/pixels.py), so palette,
#: bilevel and 16-bit files once called corrupt are read again.
SCAN_VERSION = 2


class ScanCache:
    def __init__(self, root: Path) -> None:
        folder = root / CURATE_DIR
        folder.mkdir(exist_ok=True)
        self._db = sqlite3.connect(folder / SCAN_CACHE, timeout=60)  # train and curate may scan at once
        # A cache: WAL without a sync per commit keeps it consistent after a crash and makes commits cheap.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS images (path TEXT PRIMARY KEY, bytes INTEGER, mtime_ns INTEGER, version INTEGER, record TEXT)"
        )

    def load(self) -> dict[str, tuple[int, int, ImageRecord]]:
        rows = self._db.execute("SELECT path, bytes, mtime_ns, record FROM images WHERE version = ?", (SCAN_VERSION,))
        return {path: (size, mtime, ImageRecord.from_json(text)) for path, size, mtime, text in rows}

    def store(self, records: Iterable[ImageRecord]) -> None:
        """Our own decoding bugs are not stored: the next scan tries again (and logs it again)."""
        rows = [(r.path, r.bytes, r.mtime_ns, SCAN_VERSION, r.to_json()) for r in records if r.problem != INTERNAL_ERROR]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?)", rows)

    def rename(self, moves: Iterable[tuple[str, str]]) -> None:
        """Rows follow files that `curate move` or `restore` renamed: same bytes and mtime, so no re-decode."""
        with self._db:
            for old, new in moves:
                row = self._db.execute("SELECT bytes, mtime_ns, version, record FROM images WHERE path = ?", (old,)).fetchone()
                if row is None:
                    continue
                size, mtime, version, text = row
                moved = replace(ImageRecord.from_json(text), path=new, label=new.split("/", 1)[0])
                self._db.execute("DELETE FROM images WHERE path = ?", (old,))
                self._db.execute("INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?)", (new, size, mtime, version, moved.to_json()))

    def forget(self, paths: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM images WHERE path = ?", [(p,) for p in paths])

    def close(self) -> None:
        self._db.close()
