"""Stay under Flickr's 3,600 API calls per hour per key.

Why a sliding window rather than a fixed pace: a typical run makes a handful of calls and should
not wait at all; only a run that would really exceed the quota is slowed, by exactly as much as
the window requires.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


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
