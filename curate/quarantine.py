"""Move files out of the tree and back. Nothing is ever deleted.

`apply` moves rejected and flagged files to `dataset/.quarantine/<same path>`; `restore` moves
them back. Every move is a rename on the same filesystem (atomic) and is logged, one JSON line
each, in `dataset/.curate/moves.jsonl`. If a name is taken at the destination, the file gets a
`~N` suffix instead of overwriting anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from retrainkit.locks import dataset_lock

from .analysis import Analysis
from .errors import CurateError
from .flags import MOVABLE
from .rejects import RejectList, relative_to_dataset, resolve
from .tree import CURATE_DIR, QUARANTINE_DIR

MOVES_NAME = "moves.jsonl"


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
            reasons[path] = f"rejected: {reason}" if reason else "rejected"
    for record in analysis.flagged(what):
        reasons.setdefault(record.path, ", ".join(record.flags))
    return [Move(path, f"{QUARANTINE_DIR}/{path}", reason) for path, reason in sorted(reasons.items())]


def apply(analysis: Analysis, what: tuple[str, ...] | list[str], dry_run: bool = False) -> MoveReport:
    moves = plan_apply(analysis, what)
    if dry_run:
        return MoveReport(moves, dry_run=True)
    with dataset_lock(analysis.root, "curate apply", wait=False):
        done = [m for m in (_move(analysis.root, move, "quarantine") for move in moves) if m is not None]
    return MoveReport(done)


def restore(root: Path, paths: list[str] | None = None) -> MoveReport:
    """Put quarantined files back (all of them, or those named) and take them off the reject list."""
    with dataset_lock(root, "curate restore", wait=False):
        return _restore(root, paths)


def _restore(root: Path, paths: list[str] | None) -> MoveReport:
    quarantined = _quarantined(root)
    if paths:
        by_original = {original: key for key, original in quarantined.items()}
        chosen: dict[str, str] = {}
        for given in paths:
            key = _quarantine_key(root, given)
            key = key if key in quarantined else by_original.get(key.removeprefix(f"{QUARANTINE_DIR}/"), "")
            if not key:
                raise CurateError(f"{given}: not in quarantine (see {root}/{QUARANTINE_DIR}/)")
            chosen[key] = quarantined[key]
        quarantined = chosen
    done = [m for m in (_move(root, Move(q, original, "restore"), "restore") for q, original in sorted(quarantined.items()))
            if m is not None]
    with RejectList.editing(root) as rejects:
        rejects.remove([m.target for m in done])
    return MoveReport(done)


def _quarantined(root: Path) -> dict[str, str]:
    """quarantine path -> original path, from the move log, else by mirroring the folder layout."""
    origin: dict[str, str] = {}
    log = root / CURATE_DIR / MOVES_NAME
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("action") == "quarantine":
                origin[entry["to"]] = entry["from"]
    found: dict[str, str] = {}
    base = root / QUARANTINE_DIR
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            if path.is_file():
                key = path.relative_to(root).as_posix()
                found[key] = origin.get(key, path.relative_to(base).as_posix())
    return found


def _quarantine_key(root: Path, given: str) -> str:
    """`.quarantine/label/file` for any way of naming it: that path, `label/file`, or a filesystem path."""
    relative = relative_to_dataset(root, given)
    if relative.startswith(f"{QUARANTINE_DIR}/"):
        return relative
    return f"{QUARANTINE_DIR}/{resolve(root, relative)}"


def _move(root: Path, move: Move, action: str) -> Move | None:
    """The move done, or None when the file is no longer there (deleted by hand since the scan)."""
    source = root / move.source
    target = _free_name(root / move.target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except FileNotFoundError:
        return None
    done = Move(move.source, target.relative_to(root).as_posix(), move.reason)
    _log(root, {"time": _now(), "action": action, "from": done.source, "to": done.target, "reason": move.reason})
    return done


def _free_name(target: Path) -> Path:
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}~{n}{target.suffix}")
    return candidate


def _log(root: Path, entry: dict) -> None:
    folder = root / CURATE_DIR
    folder.mkdir(exist_ok=True)
    with (folder / MOVES_NAME).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
