"""The dataset tree as every stage sees it: labels are top-level folders, dot-names are never data.

Files in nested folders of a label belong to that label (`rose/garden/1.jpg` is a rose); any
folder or file whose name starts with `.` is skipped at every depth, which keeps `.collect/`,
`.curate/`, `.quarantine/`, `.cache/` and editors' debris out of the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import CurateError

CURATE_DIR = ".curate"
QUARANTINE_DIR = ".quarantine"


@dataclass(frozen=True)
class FileEntry:
    path: str  # "label/sub/file.jpg"
    bytes: int
    mtime_ns: int


def check_dataset(root: str | os.PathLike) -> Path:
    """The one place that refuses a path that is not a dataset, with a message that says why."""
    root = Path(root)
    if not root.exists():
        raise CurateError(f"{root}: no such folder")
    if not root.is_dir():
        raise CurateError(f"{root}: not a folder (give the dataset folder that holds one sub-folder per label)")
    if not labels(root):
        raise CurateError(f"{root}: no label folders inside (expected {root}/<label>/<image files>)")
    return root


def data_path_parts(relative: str) -> list[str] | None:
    """The parts of "label/.../file" when that path is a data file of a tree, else None: beside the
    labels, under a dot-name, or not a plain relative path ("", "..", absolute). For paths that come
    from elsewhere than a walk of the folder (a Beam listing, a shard row)."""
    parts = relative.split("/")
    if len(parts) < 2 or any(not part or part.startswith(".") for part in parts):
        return None
    return parts


def labels(root: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith("."))


def list_files(root: Path) -> list[FileEntry]:
    """Every candidate image file under the label folders, with what the cache needs to spot changes."""
    found: list[FileEntry] = []
    for label in labels(root):
        _walk(root, label, found)
    return found


def _walk(root: Path, relative: str, found: list[FileEntry]) -> None:
    with os.scandir(root / relative) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            child = f"{relative}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                _walk(root, child, found)
            elif entry.is_file():
                stat = entry.stat()
                found.append(FileEntry(child, stat.st_size, stat.st_mtime_ns))
