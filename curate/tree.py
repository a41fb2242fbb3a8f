"""The dataset tree as curation lists it, by the rules of `retrainkit.dataset_layout` (labels are
top-level folders, files at any depth under them are data, dot-names never are).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from retrainkit.dataset_layout import data_entries, is_reserved, label_folders

from .errors import CurateError


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
    if len(parts) < 2 or any(not part or is_reserved(part) for part in parts):
        return None
    return parts


def labels(root: Path) -> list[str]:
    return [folder.name for folder in label_folders(root)]


def list_files(root: Path) -> list[FileEntry]:
    """Every candidate image file under the label folders, with what the cache needs to spot changes."""
    found: list[FileEntry] = []
    for folder in label_folders(root):
        for entry in data_entries(folder):
            stat = entry.stat()
            found.append(FileEntry(Path(entry.path).relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return found
