"""What a dataset folder already holds, and how new files enter it without ever being half-written.

Labels are the sub-folders whose names do not start with `.`. A collected file is named by its
photo id (the Flickr id, or `<source>-<id>` for the other sources), so the id alone tells whether
a photo is already here, under which label, or was moved to `.quarantine/` by curation (then it
must not come back with the next collect).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from retrainkit.dataset_layout import COLLECT_DIR, COLLECT_TMP_DIR, COPIES, QUARANTINE_DIR, data_files, label_folders

from .errors import CollectError

#: downloads found to copy a kept photo (collector.copies); never fetched again
_SOURCE_ID = re.compile(r"(openverse|commons|inaturalist)-[A-Za-z0-9-]+")


@dataclass
class DatasetIndex:
    root: Path
    #: photo id -> label folder it is filed under
    filed: dict[str, str] = field(default_factory=dict)
    #: label -> number of data files in its folder, at any depth (any image counts towards --count)
    counts: dict[str, int] = field(default_factory=dict)
    #: ids curation moved out; they are never downloaded again
    quarantined: set[str] = field(default_factory=set)
    #: ids whose download copied a kept photo; not downloaded again either
    copies: set[str] = field(default_factory=set)

    @classmethod
    def scan(cls, root: Path) -> DatasetIndex:
        index = cls(root)
        for label_dir in label_folders(root):
            files = data_files(label_dir)
            index.counts[label_dir.name] = len(files)
            for path in files:
                if photo_id(path):
                    index.filed.setdefault(photo_id(path), label_dir.name)
        for label_dir in label_folders(root / QUARANTINE_DIR):
            index.quarantined.update(photo_id(p) for p in data_files(label_dir) if photo_id(p))
        index.copies = _copy_ids(root / COLLECT_DIR / COPIES)
        return index


def _copy_ids(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    ids = set()
    for line in lines:
        try:
            ids.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def photo_id(path: Path) -> str:
    """The photo id a file is named by, "" for a file named otherwise. Curation keeps a taken name
    as `<id>~N.jpg` (it never overwrites), and that file is still photo <id>: collect must not fetch it again."""
    stem = path.stem.split("~", 1)[0]
    return stem if stem.isdigit() or _SOURCE_ID.fullmatch(stem) else ""


def ready_output_folder(root: Path) -> None:
    """Create the output tree, prove it is writable, and clear temp files a killed run left."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / COLLECT_TMP_DIR
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        with tempfile.NamedTemporaryFile(dir=tmp):
            pass
    except OSError as error:
        raise CollectError(f"cannot write to output folder {root}: {error.strerror or error}; choose another with --out") from None


def write_atomically(root: Path, label: str, name: str, data: bytes) -> Path:
    """Write into the temp folder, then rename into place: a kill leaves either nothing or the whole file."""
    target_dir = root / label
    target_dir.mkdir(exist_ok=True)
    # One writer per photo id at a time, so the id plus the thread names a unique temp file.
    tmp = root / COLLECT_TMP_DIR / f"{name}.{threading.get_ident()}.part"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        target = target_dir / name
        os.replace(tmp, target)
        return target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
