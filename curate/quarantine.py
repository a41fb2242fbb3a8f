"""Move files out of the tree and back. Nothing is ever deleted.

`apply` moves rejected and flagged files to `dataset/.quarantine/<same path>`; `restore` moves
them back, and the files `curate move` gave another label too. Every move is a rename on the same
filesystem (atomic) and is logged, one JSON line each, in `dataset/.curate/moves.jsonl`
(`ledger.py`). If a name is taken at the destination, the file gets a `~N` suffix instead of
overwriting anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from retrainkit.dataset_layout import CURATE_DIR, MOVES, QUARANTINE_DIR
from retrainkit.locks import dataset_lock

from .analysis import Analysis
from .errors import CurateError
from .flags import MOVABLE
from .ledger import QUARANTINE, RESTORE, origins
from .rejects import RejectList, relative_to_dataset
from .relabel import follow, move_file

#: how moves.jsonl's reason starts for a file moved because it was on the reject list (train's suspects
#: learn from those: curate/rejected.py)
REJECTED = "rejected"


@dataclass
class Move:
    source: str  # relative to the dataset root
    target: str
    reason: str


@dataclass
class MoveReport:
    moves: list[Move] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "would move" if self.dry_run else "moved"
        return [f"{verb} {m.source} -> {m.target}  ({m.reason})" for m in self.moves]


def plan_apply(analysis: Analysis, what: tuple[str, ...] | list[str]) -> list[Move]:
    unknown = [kind for kind in what if kind not in MOVABLE]
    if unknown:
        raise CurateError(f"--what {','.join(unknown)}: choose from {', '.join(MOVABLE)}")
    reasons: dict[str, str] = {}
    present = {r.path for r in analysis.records}
    for path, reason in analysis.rejected.items():
        if path in present:
            reasons[path] = f"{REJECTED}: {reason}" if reason else REJECTED
    for record in analysis.flagged(what):
        reasons.setdefault(record.path, ", ".join(record.flags))
    return [Move(path, f"{QUARANTINE_DIR}/{path}", reason) for path, reason in sorted(reasons.items())]


def apply(analysis: Analysis, what: tuple[str, ...] | list[str], dry_run: bool = False) -> MoveReport:
    moves = plan_apply(analysis, what)
    if dry_run:
        return MoveReport(moves, dry_run=True)
    with dataset_lock(analysis.root, "curate apply", wait=False):
        done = [m for m in (_move(analysis.root, move, QUARANTINE) for move in moves) if m is not None]
    return MoveReport(done)


def restore(root: Path, paths: list[str] | None = None) -> MoveReport:
    """Put files back where they were collected (all of them, or those named): quarantined ones, and
    those `curate move` gave another label. Restored quarantined files leave the reject list."""
    with dataset_lock(root, "curate restore", wait=False):
        return _restore(root, paths)


def _restore(root: Path, paths: list[str] | None) -> MoveReport:
    moved = moved_files(root)
    if paths:
        moved = {key: moved[key] for key in (_pick(root, moved, given) for given in paths)}
    done: list[Move] = []
    for current, original in sorted(moved.items()):
        target = move_file(root, current, original, RESTORE, "restore")
        if target is not None:
            done.append(Move(current, target, "restore"))
    quarantined = [m for m in done if m.source.startswith(f"{QUARANTINE_DIR}/")]
    with RejectList.editing(root) as rejects:
        rejects.remove([m.target for m in quarantined] + [_before_quarantine(m.source) for m in quarantined])
    follow(root, [(_before_quarantine(m.source), m.target) for m in done if _before_quarantine(m.source) != m.target], "curate restore")
    return MoveReport(done)


def moved_files(root: Path) -> dict[str, str]:
    """Where each file curation moved is now -> where it was collected. Quarantined files the log
    does not know (moved by hand) go back to the same path outside `.quarantine/`."""
    found = {current: original for current, original in origins(root).items() if (root / current).is_file()}
    base = root / QUARANTINE_DIR
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            key = path.relative_to(root).as_posix()
            if path.is_file() and key not in found:
                found[key] = path.relative_to(base).as_posix()
    return found


def _pick(root: Path, moved: dict[str, str], given: str) -> str:
    """The moved file a user means by any of its names: where it is now, its quarantine path as
    `label/file`, or where it was collected."""
    relative = relative_to_dataset(root, given)
    by_original = {original: current for current, original in moved.items()}
    for candidate in (relative, f"{QUARANTINE_DIR}/{relative}"):
        if candidate in moved:
            return candidate
    if relative in by_original:
        return by_original[relative]
    raise CurateError(f"{given}: not in quarantine and not moved by curate move (see {root}/{QUARANTINE_DIR}/ "
                      f"and {root}/{CURATE_DIR}/{MOVES})")


def _before_quarantine(path: str) -> str:
    return path.removeprefix(f"{QUARANTINE_DIR}/")


def _move(root: Path, move: Move, action: str) -> Move | None:
    """The move done, or None when the file is no longer there (deleted by hand since the scan)."""
    target = move_file(root, move.source, move.target, action, move.reason)
    return Move(move.source, target, move.reason) if target else None
