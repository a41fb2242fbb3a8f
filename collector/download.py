"""Fetch one photo, prove it is a whole image, and file it under its label.

Retries happen at two levels. The session (urllib3 `Retry`) retries connection errors, timeouts
waiting for the reply, 429 with its Retry-After, and 5xx. A body that breaks off half-way
(a truncated transfer) is only seen while reading, after urllib3 is done, so that is retried here.
A deleted Flickr photo redirects to a "photo unavailable" image; that is a failure, not a photo.
A whole image that copies a photo already kept (`copies.KeptPictures`) is not written either: it
fails as a `CopyFound`, which says what it copied.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from .candidate import Candidate
from .copies import Copy, KeptPictures
from .dataset import write_atomically
from .http import USER_AGENT, HostPauses, RetryPolicy, make_session
from .imagecheck import BadImage, ImageInfo, inspect

MAX_BYTES = 50 * 1024 * 1024
PLACEHOLDER_MARK = "photo_unavailable"
_BODY_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError, requests.ConnectionError, requests.Timeout)


class DownloadFailed(Exception):
    """One photo could not be had; `reason` is the column it is counted under in the summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CopyFound(DownloadFailed):
    """The picture is one already kept (another size, a re-encode, another service's copy)."""

    def __init__(self, copy: Copy, downloaded: Downloaded) -> None:
        super().__init__("copy")
        self.copy = copy
        self.downloaded = downloaded


class _BodyBroken(Exception):
    """The reply started but its body broke off; worth asking again."""


class _NotServed(Exception):
    """This size is missing (404/410) or too large; another size of the same photo may still be served."""


@dataclass(frozen=True)
class Downloaded:
    candidate: Candidate
    label: str
    size: str
    url: str
    path: Path
    info: ImageInfo
    bytes: int
    sha256: str


class Downloader:
    """Thread-safe: each worker thread gets its own session, as requests does not promise sharing one."""

    def __init__(
        self,
        root: Path,
        policy: RetryPolicy,
        journal: Callable[[Downloaded], None] = lambda item: None,
        max_bytes: int | None = None,
        kept: KeptPictures | None = None,
        pauses: HostPauses | None = None,
        agent: str = USER_AGENT,
        slots: Mapping[str, int] | None = None,
    ) -> None:
        self.root = root
        self.journal = journal
        self.policy = policy
        self.max_bytes = max_bytes or MAX_BYTES
        self.kept = kept or KeptPictures(max_distance=-1)
        self.pauses = pauses
        self.agent = agent
        #: at most this many downloads at once from a source's photos (Commons asks for "a few")
        self._slots = {source: threading.BoundedSemaphore(n) for source, n in (slots or {}).items()}
        self._local = threading.local()

    def fetch(self, candidate: Candidate, label: str) -> Downloaded:
        last_status = "http-404"
        for size, url in candidate.urls:
            try:
                with self._slots.get(candidate.source) or contextlib.nullcontext():
                    data = self._get(url)
            except _NotServed as missing:
                last_status = str(missing)
                continue
            try:
                info = inspect(data)
            except BadImage as bad:
                raise DownloadFailed(bad.reason) from None
            name = f"{candidate.photo_id}.{info.extension}"
            item = Downloaded(candidate, label, size, url, self.root / label / name, info, len(data), hashlib.sha256(data).hexdigest())
            copy = self.kept.claim(info.phash, f"{label}/{name}")
            if copy is not None:
                raise CopyFound(copy, item)
            self.journal(item)  # provenance first: a kill after this leaves a record, never an unexplained file
            write_atomically(self.root, label, name, data)
            self.kept.remember(self.root, f"{label}/{name}", info.phash)
            return item
        raise DownloadFailed(last_status)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = make_session(self.policy, pool_size=2, pauses=self.pauses, agent=self.agent)
        return session

    def _get(self, url: str) -> bytes:
        for attempt in range(self.policy.retries + 1):
            try:
                return self._get_once(url)
            except _BodyBroken:
                if attempt == self.policy.retries:
                    raise DownloadFailed("truncated") from None
                time.sleep(self.policy.delay(attempt))
        raise AssertionError("unreachable")

    def _get_once(self, url: str) -> bytes:
        try:
            response = self._session().get(url, timeout=self.policy.timeout, stream=True)
        except requests.Timeout:
            raise DownloadFailed("timeout") from None
        except requests.RequestException:
            raise DownloadFailed("connection") from None
        with response:
            if _is_placeholder(response):
                raise DownloadFailed("unavailable")
            if response.status_code in (404, 410):
                raise _NotServed(f"http-{response.status_code}")
            if response.status_code != 200:
                raise DownloadFailed(f"http-{response.status_code}")
            return self._read_body(response)

    def _read_body(self, response: requests.Response) -> bytes:
        if int(response.headers.get("Content-Length") or 0) > self.max_bytes:
            raise _NotServed("too-large")  # a smaller size of the same photo (a thumbnail) may still do
        chunks, received = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                received += len(chunk)
                if received > self.max_bytes:
                    raise _NotServed("too-large")
                chunks.append(chunk)
        except _BODY_ERRORS:
            raise _BodyBroken() from None
        return b"".join(chunks)


def _is_placeholder(response: requests.Response) -> bool:
    """Deleted photos redirect to Flickr's placeholder; the redirect chain gives it away."""
    hops = [response.url] + [r.headers.get("Location", "") for r in response.history]
    return any(PLACEHOLDER_MARK in hop for hop in hops)
