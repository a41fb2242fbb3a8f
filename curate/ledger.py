"""The move log, `dataset/.curate/moves.jsonl`: every file curation moved, and where it was collected.

One JSON line per move (`quarantine`, `relabel` or `restore`), shared by `curate apply`, `curate
move`, the review page and `curate restore`, so one `restore` undoes all of them and the tree as
collected can always be rebuilt.

Why the line is written before the rename: a kill between the two then leaves a line whose target
does not exist, which `origins` reads as "not done" (the file is still at its source), where a
line written after would be missing for a file already moved, and `restore` would never find it.
A move counts as done when its target exists or a later line moves the file on from there. Each
line is one `write()` to a file opened O_APPEND, so concurrent writers never tear a line; a line
a crash left damaged is skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from retrainkit.dataset_layout import CURATE_DIR, MOVES

QUARANTINE, RELABEL, RESTORE = "quarantine", "relabel", "restore"


@dataclass(frozen=True)
class Entry:
    action: str
    source: str  # relative to the dataset root
    target: str
    reason: str = ""
    time: str = ""


def record(root: Path, entry: Entry) -> None:
    folder = root / CURATE_DIR
    folder.mkdir(exist_ok=True)
    line = json.dumps({"time": entry.time or now(), "action": entry.action, "from": entry.source, "to": entry.target,
                       "reason": entry.reason}) + "\n"
    descriptor = os.open(folder / MOVES, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)


def entries(root: Path) -> list[Entry]:
    log = root / CURATE_DIR / MOVES
    if not log.exists():
        return []
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
            found.append(Entry(item["action"], item["from"], item["to"], item.get("reason", ""), item.get("time", "")))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def origins(root: Path) -> dict[str, str]:
    """Where each moved file is now -> where `collect` (or the user) first put it, for every file
    that is not there any more; follows chains (daisy -> roses -> quarantine) to the first place."""
    log = entries(root)
    moved_on = [False] * len(log)  # per line: a later line moves the file on from its target
    last_into: dict[str, int] = {}
    for index, entry in enumerate(log):
        if entry.source in last_into:
            moved_on[last_into[entry.source]] = True
        last_into[entry.target] = index
    origin: dict[str, str] = {}
    for index, entry in enumerate(log):
        if not (moved_on[index] or (root / entry.target).exists()):
            continue  # interrupted before its rename: the file is still at entry.source
        first = origin.pop(entry.source, entry.source)
        if entry.action != RESTORE and entry.target != first:
            origin[entry.target] = first
    return origin


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
