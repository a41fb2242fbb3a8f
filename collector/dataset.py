"""What a dataset folder already holds, and how new files enter it without ever being half-written.

Labels are the sub-folders whose names do not start with `.`. A collected file is named by its
Flickr photo id, so the id alone tells whether a photo is already here, under which label, or
was moved to `.quarantine/` by curation (then it must not come back with the next collect).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CollectError

META_DIR = ".collect"
TMP_DIR = ".collect/tmp"
QUARANTINE_DIR = ".quarantine"


@dataclass
class DatasetIndex:
    root: Path
    #: photo id -> label folder it is filed under
    filed: dict[str, str] = field(default_factory=dict)
    #: label -> number of files in its folder (any image counts towards --count)
    counts: dict[str, int] = field(default_factory=dict)
    #: ids curation moved out; they are never downloaded again
    quarantined: set[str] = field(default_factory=set)

    @classmethod
    def scan(cls, root: Path) -> DatasetIndex:
        index = cls(root)
        for label_dir in _label_dirs(root):
            files = [p for p in label_dir.iterdir() if p.is_file() and not p.name.startswith(".")]
            index.counts[label_dir.name] = len(files)
            for path in files:
                if photo_id(path):
                    index.filed.setdefault(photo_id(path), label_dir.name)
        for label_dir in _label_dirs(root / QUARANTINE_DIR):
            index.quarantined.update(photo_id(p) for p in label_dir.iterdir() if photo_id(p))
        return index


def photo_id(path: Path) -> str:
    """The Flickr id a file is named by, "" for a file named otherwise. Curation keeps a taken name
    as `<id>~N.jpg` (it never overwrites), and that file is still photo <id>: collect must not fetch it again."""
    stem = path.stem.split("~", 1)[0]
    return stem if stem.isdigit() else ""


def _label_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def prepare(root: Path) -> None:
    """Create the output tree, prove it is writable, and clear temp files a killed run left."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / TMP_DIR
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
    tmp = root / TMP_DIR / f"{name}.{threading.get_ident()}.part"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        target = target_dir / name
        os.replace(tmp, target)
        return target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
