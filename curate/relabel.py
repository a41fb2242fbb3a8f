"""`curate move`: fix a photo's label by moving it into another label's folder, logged and undoable.

Every move is a rename on the same filesystem and a line in the move log that quarantine uses
too (`ledger.py`), so `curate restore` puts a moved photo back where it was collected. A name
already taken in the target label is never overwritten: the photo keeps both, as `name~N.ext`
(quarantine's rule). What other stages keep about a file follows it (`follow`): the scan cache row
(no re-decode), its reject-list entry, and the provenance record (a new line with the new label,
so ATTRIBUTION.md lists the photo where it now is); its suspects.json row, judged against the old
label, is dropped. Bottleneck caches are keyed by content, so `train` reuses them as they are.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from retrainkit.atomic import write_atomically
from retrainkit.dataset_layout import CURATE_DIR, QUARANTINE_DIR, SUSPECTS, label_name_problem
from retrainkit.locks import dataset_lock
from retrainkit.provenance import note_moves

from . import ledger
from .cache import ScanCache
from .errors import CurateError
from .rejects import RejectList, relative_to_dataset, resolve


@dataclass(frozen=True)
class Relabel:
    source: str  # label/file, relative to the dataset root
    target: str


@dataclass
class RelabelReport:
    moves: list[Relabel] = field(default_factory=list)
    label: str = ""
    new_label: bool = False

    def lines(self) -> list[str]:
        return [f"moved {m.source} -> {m.target}" for m in self.moves]


def check_label(name: str) -> str:
    """A label is a top-level folder name every stage reads the same way (retrainkit.dataset_layout's rule)."""
    problem = label_name_problem(name)
    if problem:
        raise CurateError(f"--to {name!r}: not a label name ({problem})")
    return name


def plan(root: Path, given: list[str], label: str) -> list[Relabel]:
    """Every file checked before any moves, so bad input moves nothing."""
    check_label(label)
    if not given:
        raise CurateError("name at least one LABEL/FILE to move")
    planned, seen = [], set()
    for name in given:
        if relative_to_dataset(root, name).removeprefix("./").startswith(f"{QUARANTINE_DIR}/"):
            raise CurateError(f"{name}: quarantined; curate restore it first")
        relative = resolve(root, name)
        if not (root / relative).is_file():
            quarantined = root / QUARANTINE_DIR / relative
            raise CurateError(f"{name}: quarantined; curate restore it first" if quarantined.is_file()
                              else f"{name}: no such image in {root}")
        if relative.split("/", 1)[0] == label or relative in seen:
            continue  # already there
        seen.add(relative)
        planned.append(Relabel(relative, f"{label}/{relative.rsplit('/', 1)[-1]}"))
    return planned


def move(root: Path, given: list[str], label: str, reason: str = "") -> RelabelReport:
    """Move the named files into `label` (created when new) under the dataset's writer lock."""
    with dataset_lock(root, "curate move", wait=False):
        planned = plan(root, given, label)
        new_label = not (root / label).is_dir()
        done = [m for m in (_move_one(root, m, ledger.RELABEL, reason or f"relabelled to {label}") for m in planned) if m]
        follow(root, [(m.source, m.target) for m in done], f"curate move --to {label}")
    return RelabelReport(done, label, new_label)


def undo(root: Path, current: str) -> Relabel:
    """Move a relabelled file back to exactly where its last move took it from (the review page's `u`)."""
    with dataset_lock(root, "curate review (undo a move)", wait=False):
        last = next((e for e in reversed(ledger.entries(root)) if e.target == current and e.action == ledger.RELABEL), None)
        if last is None or not (root / current).is_file():
            raise CurateError(f"{current}: not moved by curate move, nothing to undo")
        done = _move_one(root, Relabel(current, last.source), ledger.RELABEL, "move undone on the review page")
        if done is None:
            raise CurateError(f"{current}: no longer there, nothing to undo")
        follow(root, [(done.source, done.target)], "move undone on the review page")
    return done


def move_file(root: Path, source: str, target: str, action: str, reason: str) -> str | None:
    """One logged rename; the target's name is made free first. Returns where the file went, or None
    when it is no longer at `source` (moved or deleted since it was listed)."""
    done = _move_one(root, Relabel(source, target), action, reason)
    return done.target if done else None


def follow(root: Path, moves: list[tuple[str, str]], why: str) -> None:
    """What the scan cache, the reject list, suspects.json and provenance hold about a file, at its new path."""
    if not moves:
        return
    cache = ScanCache(root)
    try:
        cache.rename(moves)
    finally:
        cache.close()
    with RejectList.editing(root) as rejects:
        rejects.rename(moves)
    _drop_suspects(root, {old for old, _ in moves})
    note_moves(root, moves, why)


def _move_one(root: Path, planned: Relabel, action: str, reason: str) -> Relabel | None:
    source = root / planned.source
    if not source.is_file():
        return None
    target = free_name(root / planned.target)
    target.parent.mkdir(parents=True, exist_ok=True)
    relative = target.relative_to(root).as_posix()
    ledger.record(root, ledger.Entry(action, planned.source, relative, reason))  # before the rename: see ledger.py
    try:
        os.replace(source, target)
    except FileNotFoundError:
        return None
    return Relabel(planned.source, relative)


def free_name(target: Path) -> Path:
    """`target`, or `name~N.ext` with the first free N: nothing is ever overwritten."""
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}~{n}{target.suffix}")
    return candidate


def _drop_suspects(root: Path, paths: set[str]) -> None:
    """A suspect judged against the label a photo has left no longer applies (train writes it anew)."""
    file = root / CURATE_DIR / SUSPECTS
    try:
        rows = json.loads(file.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(rows, list):
        return
    kept = [row for row in rows if not (isinstance(row, dict) and row.get("path") in paths)]
    if len(kept) != len(rows):
        write_atomically(file, json.dumps(kept, indent=1))
