"""`dataset/.curate/rejects.txt`: the reject list people edit by hand and by command.

One `label/file  # reason` a line; comments and blank lines are kept exactly as written, so a
command never destroys what a person wrote there. Writes are atomic (temp file + rename), and
every change is a read-modify-write under a small file lock (`RejectList.editing`), so `curate
reject` and the review page deciding at the same moment both keep their decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.dataset_layout import CURATE_DIR, REJECTS
from retrainkit.locks import file_lock

from .errors import CurateError
from .tree import data_path_parts

_ENTRY = re.compile(r"^(?P<path>.*?)(?:\s+#\s?(?P<reason>.*))?$")
HEADER = "# Rejected images: one `label/file  # reason` a line. `curate apply` moves them to .quarantine/.\n"


@dataclass
class _Line:
    text: str
    path: str = ""  # "" for comments and blank lines
    reason: str = ""


class RejectList:
    def __init__(self, root: Path) -> None:
        self.file = root / CURATE_DIR / REJECTS
        self._lines: list[_Line] = []
        if self.file.exists():
            self._lines = [_parse(text) for text in self.file.read_text(encoding="utf-8").splitlines()]

    @classmethod
    @contextmanager
    def editing(cls, root: Path) -> Iterator[RejectList]:
        """The list as it is on disk now, saved when the block ends (if it changed), no other editor in between."""
        file = root / CURATE_DIR / REJECTS
        file.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(file, str(file)):
            rejects = cls(root)
            before = [line.text for line in rejects._lines]
            yield rejects
            if [line.text for line in rejects._lines] != before:
                rejects.save()

    @property
    def entries(self) -> dict[str, str]:
        """path -> reason, in file order."""
        return {line.path: line.reason for line in self._lines if line.path}

    def add(self, paths: list[str], reason: str) -> list[str]:
        present = self.entries
        added = [p for p in dict.fromkeys(paths) if p not in present]
        for path in added:
            self._lines.append(_Line(f"{path}  # {reason}" if reason else path, path, reason))
        return added

    def remove(self, paths: list[str]) -> list[str]:
        wanted = set(paths)
        removed = [line.path for line in self._lines if line.path in wanted]
        self._lines = [line for line in self._lines if line.path not in wanted]
        return removed

    def rename(self, moves: list[tuple[str, str]]) -> list[str]:
        """Entries follow files that moved to another label (the reason and any comment stay)."""
        new_path = dict(moves)
        renamed = []
        for index, line in enumerate(self._lines):
            if line.path in new_path:
                target = new_path[line.path]
                self._lines[index] = _Line(line.text.replace(line.path, target, 1), target, line.reason)
                renamed.append(target)
        return renamed

    def save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        lines = [line.text for line in self._lines]
        if not any(text.startswith("#") for text in lines):
            lines.insert(0, HEADER.rstrip("\n"))
        write_atomically(self.file, "\n".join(lines) + "\n")


def _parse(text: str) -> _Line:
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return _Line(text)
    match = _ENTRY.match(stripped)
    return _Line(text, normalise(match.group("path").strip()), (match.group("reason") or "").strip())


def normalise(path: str) -> str:
    return path.replace("\\", "/").strip("/")


def relative_to_dataset(root: Path, given: str) -> str:
    """A path as the user typed it (`label/file`, `dataset/label/file`, absolute) -> relative to the dataset."""
    candidate = Path(given)
    if candidate.is_absolute() or candidate.exists():
        try:
            return candidate.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise CurateError(f"{given}: not inside the dataset {root}") from None
    return normalise(given)


def resolve(root: Path, given: str) -> str:
    """Accept `label/file` or a path to the file (e.g. `dataset/label/file`); return `label/file`."""
    relative = relative_to_dataset(root, given)
    if data_path_parts(relative) is None:  # beside the labels, under a dot-name (. and .. too), or not relative
        raise CurateError(f"{given}: give an image as label/file inside {root}")
    return relative
