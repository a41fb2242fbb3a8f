"""Concurrent requests become one model call: a small batching queue, as model servers do it.

Why: on a CPU the network's cost per image falls with the batch (one graph call, wider matrix
products), and a web server has several requests in flight at once. Each request puts its images
on the queue and waits; one worker thread takes whatever is queued, waiting at most `max_wait`
seconds for more (up to `max_batch` images), runs the model once and hands each request its rows.

Why a failed call is tried again request by request: uploads are checked by their header only, and
the model's own decoder refuses truncated or damaged data, so one bad upload must not fail the
requests that happened to share its call.

Why requests announce themselves (`arriving`): waiting for more is only worth it when more are on
the way. A request counts as arriving from the moment its body is read until it is queued (its
upload is being parsed and checked), so the worker waits only while some request is that close;
a lone client's photo goes to the model at once instead of sitting out `max_wait` every time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from retrainkit.model.folder import MAX_BATCH


class Batcher:
    def __init__(self, predict: Callable[[list[bytes]], Any], max_batch: int = MAX_BATCH, max_wait: float = 0.005) -> None:
        self._predict, self._max_batch, self._max_wait = predict, max_batch, max_wait
        self._queue: queue.Queue[tuple[list[bytes], Future]] = queue.Queue()
        self.calls = 0  # model calls so far: a test and the benchmark read it
        self._arriving = 0
        self._arriving_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._worker.start()

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Around a request's parsing and checking: tells the worker that photos are about to come."""
        with self._arriving_lock:
            self._arriving += 1
        try:
            yield
        finally:
            with self._arriving_lock:
                self._arriving -= 1

    def predict(self, images: list[bytes]) -> Any:
        """`predict`'s answer for `images` (anything sliced by rows: an array, retrainkit.model.classifier.Outputs),
        computed together with whatever else is waiting."""
        done: Future = Future()
        self._queue.put((images, done))
        return done.result()

    def _run(self) -> None:
        while True:
            pending = [self._queue.get()]
            count = len(pending[0][0])
            while count < self._max_batch:
                if self._arriving == 0 and self._queue.empty():
                    break  # nobody else is on the way: do not make this one wait
                try:
                    item = self._queue.get(timeout=self._max_wait)
                except queue.Empty:
                    break
                pending.append(item)
                count += len(item[0])
            self._answer(pending)

    def _answer(self, pending: list[tuple[list[bytes], Future]]) -> None:
        try:
            rows = self._predict([image for images, _ in pending for image in images])
            self.calls += 1
        except Exception as error:  # noqa: BLE001 - every waiting request learns of it
            if len(pending) == 1:
                pending[0][1].set_exception(error)
                return
            for one in pending:  # one bad photo fails its own request only: each again alone
                self._answer([one])
            return
        start = 0
        for images, done in pending:
            done.set_result(rows[start:start + len(images)])
            start += len(images)
