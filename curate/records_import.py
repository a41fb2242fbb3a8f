"""Records from a scale-out run (scaleout/, Parquet shards) into the scan cache of a local tree.

Why check every file: the scan cache is keyed by path + size + mtime, and a record from a cluster
describes the content it read there. A record is taken only for a local file with the same size
and sha256, under the local file's mtime, so the next scan uses it as its own and never serves it
for other content; hashing is a small fraction of a scan's decode. Files that differ, or that the
shards do not name, are simply scanned as usual.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from retrainkit.shards import read_rows

from .cache import SCAN_VERSION, ScanCache
from .record import ImageRecord
from .tree import check_dataset, data_path_parts

_COLUMNS = ("path", "size", "sha256", "problem", "record", "scan_version")


@dataclass
class RecordsImport:
    #: records now in the scan cache
    imported: int = 0
    #: rows whose file here is missing or holds other content (scanned as usual)
    differ: int = 0
    #: rows made by another version of the decoder, or for a file the cluster could not read
    stale: int = 0

    def summary(self) -> str:
        line = f"Imported {self.imported} scan records"
        extra = []
        if self.differ:
            extra.append(f"{self.differ} rows name files that are missing here or differ (those are scanned)")
        if self.stale:
            extra.append(f"{self.stale} rows made by another version or unreadable there (scanned again)")
        return line + (f" ({'; '.join(extra)})" if extra else "") + "."


def import_records(dataset: str | os.PathLike, shards: str, *, progress: bool = True, workers: int = 4) -> RecordsImport:
    """Put the shards' records into DATASET's scan cache where the local file is the one they describe."""
    root = check_dataset(dataset)
    result = RecordsImport()
    cache = ScanCache(root)
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="verify") as pool, \
                tqdm(desc="import records", unit="img", disable=not progress) as bar:
            for columns in read_rows(shards, _COLUMNS):
                rows = [dict(zip(_COLUMNS, values)) for values in zip(*(columns[c] for c in _COLUMNS))]
                usable = []
                for row in rows:
                    if row["scan_version"] != SCAN_VERSION or row["problem"] == "unreadable":
                        result.stale += 1
                    else:
                        usable.append(row)
                matched = [record for record in pool.map(lambda row: _matching(root, row), usable) if record]
                result.differ += len(usable) - len(matched)
                result.imported += len(matched)
                cache.store(matched)
                bar.update(len(rows))
    finally:
        cache.close()
    return result


def _matching(root: Path, row: dict) -> ImageRecord | None:
    """The row's record under the local file's mtime, when that file is the content the row describes."""
    relative = row["path"]
    parts = data_path_parts(relative)
    if parts is None:
        return None  # not a data file of a tree (and never a way out of it: no "..", no absolute path)
    local = root.joinpath(*parts)
    try:
        stat = local.stat()
        if stat.st_size != row["size"]:
            return None
        digest = hashlib.sha256()
        with local.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    if digest.hexdigest() != row["sha256"]:
        return None
    record = ImageRecord.from_json(row["record"])
    record.path, record.label, record.mtime_ns, record.bytes = relative, parts[0], stat.st_mtime_ns, stat.st_size
    return record
