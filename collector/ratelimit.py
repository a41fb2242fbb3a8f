"""Stay under a service's pace: Flickr's 3,600 API calls per hour per key, iNaturalist's 60 a minute
and 10,000 a day.

Why a sliding window rather than a fixed pace: a typical run makes a handful of calls and should
not wait at all; only a run that would really exceed the quota is slowed, by exactly as much as
the window requires.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from retrainkit.atomic import write_atomically
from retrainkit.user_cache import user_cache_folder


class SlidingWindowLimiter:
    def __init__(
        self,
        calls: int,
        window_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls <= 0:
            raise ValueError("calls must be positive")
        self.calls = calls
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Block until one more call fits in the window, then count it."""
        with self._lock:
            now = self._clock()
            self._forget_before(now - self.window_s)
            if len(self._stamps) >= self.calls:
                wait = self._stamps[0] + self.window_s - now
                if wait > 0:
                    self.waited_s += wait
                    self._sleep(wait)
                now = self._clock()
                self._forget_before(now - self.window_s)
            self._stamps.append(now)

    def _forget_before(self, cutoff: float) -> None:
        while self._stamps and self._stamps[0] <= cutoff:
            self._stamps.popleft()


class SharedWindowLimiter:
    """The same sliding window, shared by every process on this machine that uses the same API key.

    Flickr counts calls per key, not per process: two `collect` runs (or a collect and a script)
    with one key must share the 3,600 an hour. The window's timestamps live in a small file under
    the user's cache folder, named by a hash of the key (never the key itself), and each call is a
    read-modify-write of it under a file lock. Where that folder cannot be written, the limit
    falls back to this process alone, as before.
    """

    def __init__(self, calls: int, api_key: str, window_s: float = 3600.0, folder: Path | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep, service: str = "flickr") -> None:
        if calls <= 0:
            raise ValueError("calls must be positive")
        self.calls, self.window_s, self._clock, self._sleep = calls, window_s, clock, sleep
        folder = folder or user_cache_folder()
        self.file = folder / f"{service}-calls-{hashlib.sha256(api_key.encode()).hexdigest()[:16]}.json"
        self._threads = threading.Lock()
        self.waited_s = 0.0
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._fallback: SlidingWindowLimiter | None = None
        except OSError:
            self._fallback = SlidingWindowLimiter(calls, window_s, clock=time.monotonic, sleep=sleep)

    def acquire(self) -> None:
        """Block until one more call fits in the shared window, then count it."""
        if self._fallback is not None:
            self._fallback.acquire()
            return
        with self._threads:
            while True:
                with FileLock(f"{self.file}.lock", thread_local=False):
                    now = self._clock()
                    stamps = [t for t in self._load() if t > now - self.window_s]
                    if len(stamps) < self.calls:
                        self._save(stamps + [now])
                        return
                    wait = min(stamps) + self.window_s - now
                self.waited_s += wait  # sleep outside the file lock: the other process may count its own calls
                self._sleep(max(wait, 0.001))

    def _load(self) -> list[float]:
        try:
            stamps = json.loads(self.file.read_text())
            return [float(t) for t in stamps] if isinstance(stamps, list) else []
        except (OSError, ValueError, TypeError):
            return []

    def _save(self, stamps: list[float]) -> None:
        write_atomically(self.file, json.dumps(stamps))
