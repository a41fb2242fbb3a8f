"""Which files of a tree on any Beam filesystem are data, and under which label: the tree rules of
curate.tree (labels are top-level folders, a name starting with "." is never data at any depth)
applied to URLs instead of a local folder walk."""

from __future__ import annotations

from dataclasses import dataclass

from curate.tree import data_path_parts


@dataclass(frozen=True)
class TreeFile:
    #: what the filesystem opens (a local path, gs://..., s3://..., hdfs://...)
    url: str
    #: "label/.../file.jpg", relative to the dataset root, with forward slashes
    path: str
    #: as the filesystem reports it; 0 when unknown (files given as a list)
    mtime_ns: int = 0


def dataset_root(dataset: str) -> str:
    """The root without a trailing slash, so that relative paths start right after it."""
    return dataset.rstrip("/") if dataset.rstrip("/") else "/"


def relative_data_path(root: str, url: str) -> str | None:
    """`url`'s path under `root` when it is a data file of the tree, else None (outside the root, a
    file beside the label folders, or inside a dot-folder such as .curate/ or .quarantine/)."""
    prefix = root if root.endswith("/") else root + "/"
    if not url.startswith(prefix):
        return None
    relative = url[len(prefix):].replace("\\", "/")
    return relative if data_path_parts(relative) else None


def listed_file(root: str, line: str) -> TreeFile | None:
    """A line of a --files list: a path relative to the dataset root, or a full URL under it."""
    entry = line.strip()
    if not entry or entry.startswith("#"):
        return None
    absolute = entry.startswith("/") or "://" in entry
    url = entry if absolute else f"{dataset_root(root)}/{entry}"
    relative = relative_data_path(dataset_root(root), url)  # None for a file outside the dataset
    return TreeFile(url, relative) if relative else None
