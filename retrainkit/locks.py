"""One rule for commands that write into a dataset: a per-dataset lock that says who holds it.

People open a second terminal. Two `collect` runs into one folder would download every photo
twice and write two provenance records per file; `curate apply` would move files under a
running `collect`. So every command that changes the files of a dataset holds
`DATASET/.retrainkit.lock` while it runs, and `DATASET/.retrainkit.lock.json` says who: command,
pid, host, since when. A second writer either waits with a visible message (`collect`: its work
is still wanted afterwards) or stops at once with one line naming the holder (`curate apply`,
`curate restore`: moving files under a running command is never what was meant).

The lock itself is `filelock`'s: an OS lock (flock) on the lock file, which the kernel releases
when its process ends in any way, kill -9 included. A lock left by a killed process is
therefore free to take; the holder note it left is recognised as stale (its pid is gone) and
replaced. Short edits that may happen beside a long writer (the reject list, edited by `curate
reject` and the review page while `collect` runs) take their own small lock: `file_lock`.

Readers (`train`, `curate review`) take no lock: they tolerate files that vanish or change
under them instead (see train.features.extraction and curate.scan).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from .atomic import write_atomically
from .dataset_layout import LOCK, LOCK_HOLDER
from .errors import UserError

#: datasets this process holds, with how deeply: the lock is re-entrant within a process
_held: dict[Path, int] = {}
_HELD_LOCK = threading.Lock()


class DatasetBusy(UserError):
    """Another command holds the dataset and this one does not wait."""


@contextmanager
def dataset_lock(root: str | os.PathLike, command: str, wait: bool,
                 say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> Iterator[None]:
    """Hold DATASET's writer lock for the block. `wait`: block until it is free, saying once whom we
    wait for; else raise DatasetBusy naming the holder. The folder must exist."""
    root = Path(root)
    key = root.resolve()
    with _HELD_LOCK:
        nested = key in _held
        if nested:
            _held[key] += 1
    if nested:  # this process holds it already (a command calling a function that locks too)
        try:
            yield
        finally:
            with _HELD_LOCK:
                _held[key] -= 1
        return
    lock = FileLock(root / LOCK, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_holder(root)
        if not wait:
            raise DatasetBusy(f"{root} is in use by {holder}; wait for it to finish (or stop it), then run this again") from None
        say(f"waiting for {holder} to finish with {root} ...")
        while True:
            try:
                lock.acquire(timeout=1.0)  # in steps, so Ctrl-C is answered within a second
                break
            except Timeout:
                continue
    try:
        stale = read_holder(root)
        if stale and stale.get("pid") != os.getpid() and stale.get("host") == socket.gethostname() and not _alive(stale["pid"]):
            say(f"note: took over the lock left by {_who(stale)}, which is no longer running")
        _write_holder(root, command)
        with _HELD_LOCK:
            _held[key] = 1
        yield
    finally:
        with _HELD_LOCK:
            _held.pop(key, None)
        (root / LOCK_HOLDER).unlink(missing_ok=True)
        lock.release()


@contextmanager
def file_lock(path: Path, what: str, timeout: float = 30.0) -> Iterator[None]:
    """A short exclusive section around one file's read-modify-write (`path` + ".lock")."""
    lock = FileLock(f"{path}.lock", thread_local=False)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise DatasetBusy(f"{what} has been locked by another command for {timeout:.0f} s; try again") from None
    try:
        yield
    finally:
        lock.release()


def read_holder(root: Path) -> dict | None:
    try:
        return json.loads((root / LOCK_HOLDER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def describe_holder(root: Path) -> str:
    holder = read_holder(root)
    return _who(holder) if holder else "another command (it has not said which yet)"


def _who(holder: dict) -> str:
    since = datetime.fromtimestamp(holder.get("since", 0)).strftime("%Y-%m-%d %H:%M:%S")
    where = "" if holder.get("host") == socket.gethostname() else f" on {holder.get('host')}"
    return f"`{holder.get('command', '?')}` (pid {holder.get('pid', '?')}{where}, since {since})"


def _write_holder(root: Path, command: str) -> None:
    note = {"command": command, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    write_atomically(root / LOCK_HOLDER, json.dumps(note))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
