"""The vector cache: one SQLite file per backbone, one float32 vector per photo's content.

The key is the image's sha256 (plus the variant number for augmented copies), never its path:
renaming a file costs nothing, and a replaced file has a new hash, so a stale vector is never
served (retrain.py keys by path and serves stale ones). Each batch is committed as it is done, so a
killed run resumes where it stopped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from ..errors import TrainError

#: Part of the cache's file name; raised when the pixels reaching the backbone change (2: transparent,
#: palette and 16-bit images converted by retrainkit.pixels.to_rgb), so no vector from before is served.
PIXELS_VERSION = "-px2"


def key_for(sha256: str, variant: int = 0) -> str:
    return sha256 if variant == 0 else f"{sha256}#aug{variant}"


class BottleneckCache:
    """Vectors by key, one SQLite file per backbone; `kind` names other per-image arrays kept the same
    way (fine-tuning's activations at a cut point), which are stored flattened."""

    def __init__(self, folder: Path, backbone_id: str, kind: str = "bottlenecks") -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.file = folder / f"{kind}-{_safe(backbone_id)}{PIXELS_VERSION}.sqlite"
            self._db = sqlite3.connect(self.file, timeout=60)  # another train may be committing a batch
            # A cache: WAL without a sync per commit keeps it consistent after a crash and makes commits cheap.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vector BLOB)")
        except (OSError, sqlite3.Error) as error:
            raise TrainError(f"cannot use the bottleneck cache in {folder}: {error}; choose another with --cache-dir") from None

    def missing(self, keys: list[str]) -> set[str]:
        have = {row[0] for row in self._db.execute("SELECT key FROM vectors")}
        return {k for k in keys if k not in have}

    def put(self, keys: list[str], vectors: np.ndarray) -> None:
        rows = [(k, v.shape[0], v.astype(np.float32).tobytes()) for k, v in zip(keys, vectors)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def get(self, keys: list[str]) -> np.ndarray:
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, dim, blob in self._db.execute(f"SELECT key, dim, vector FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return np.stack([found[k] for k in keys]) if keys else np.empty((0, 0), np.float32)

    def close(self) -> None:
        self._db.close()


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]

