"""The dataset folder as every stage reads and writes it: the reserved names, what a label is, which files are data.

One module spells them so that `collect`, `curate`, `train` and `retrainkit-beam` cannot drift
apart: a label is a top-level folder whose name passes `label_name_problem`; the data files of a
label are the files under its folder at any depth (`rose/garden/1.jpg` is a rose); a file or folder
whose name starts with `.` is never data, at any depth, which keeps the stages' own folders below
(and editors' debris) out of the photos. docs/dataset-layout.md draws the tree.
"""

from __future__ import annotations

import os
from pathlib import Path

#: collect's records: provenance, conflicts, copies, the perceptual-hash cache, credits, downloads in progress
COLLECT_DIR = ".collect"
COLLECT_TMP_DIR = f"{COLLECT_DIR}/tmp"
PHOTOS = "photos.jsonl"
CONFLICTS = "conflicts.jsonl"
COPIES = "copies.jsonl"
PHASHES = "phashes.sqlite"
ATTRIBUTION = "ATTRIBUTION.md"
LICENSES = "licenses.json"

#: curate's records: the reject list, the scan cache, the review report, the move ledger, the review page's state
CURATE_DIR = ".curate"
REJECTS = "rejects.txt"
SCAN_CACHE = "scan.sqlite"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
MOVES = "moves.jsonl"
REVIEWED = "reviewed.json"
THUMBS_DIR = "thumbs"
#: train's out-of-fold suspects, read by the review page and `curate move`
SUSPECTS = "suspects.json"

#: train's vector caches (the default of --cache-dir)
CACHE_DIR = ".cache"
#: photos curation moved out, by label; never collected again, restorable
QUARANTINE_DIR = ".quarantine"
#: the writer lock, and who holds it since when
LOCK = ".retrainkit.lock"
LOCK_HOLDER = ".retrainkit.lock.json"


def is_reserved(name: str) -> bool:
    """A name that is never data: the stages' own folders and files, hidden files, editors' debris."""
    return name.startswith(".")


def label_name_problem(name: str) -> str | None:
    """Why `name` cannot be a label (a top-level folder every stage reads the same way), or None when it can."""
    if not name or name != name.strip():
        return "a label is a folder name without spaces around it"
    if is_reserved(name):
        return "a label cannot start with '.' (those names are the stages' own folders)"
    if "/" in name or "\\" in name or "\0" in name:
        return "a label is one folder name: no '/' or '\\'"
    return None


def label_folders(root: Path) -> list[Path]:
    """The label folders of a dataset (none when `root` is no folder), sorted by name."""
    try:
        with os.scandir(root) as entries:
            return sorted(Path(entry.path) for entry in entries if entry.is_dir() and not is_reserved(entry.name))
    except (FileNotFoundError, NotADirectoryError):
        return []


def data_entries(folder: Path) -> list[os.DirEntry]:
    """The data files under a label folder (or a quarantined label's), at any depth, sorted by path; as
    directory entries, whose stat the scan cache reads without another system call."""
    found: list[os.DirEntry] = []
    _walk(folder, found)
    return found


def data_files(folder: Path) -> list[Path]:
    return [Path(entry.path) for entry in data_entries(folder)]


def _walk(folder: Path | str, found: list[os.DirEntry]) -> None:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if is_reserved(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            _walk(entry.path, found)
        elif entry.is_file():
            found.append(entry)
