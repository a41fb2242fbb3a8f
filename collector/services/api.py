"""One JSON API request, the way every key-less source client makes it.

The session retries connection errors, timeouts, 429 and 5xx (waiting out Retry-After for the
whole host); what is left after that is a source that is down or is not the API we expect, and
becomes `SourceUnavailable` with the reason, so `collect` can set that source aside and fill the
labels from the others. A limiter (iNaturalist's pace) and a gate (Commons' one request at a time)
are applied here, around the request and nothing else.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import requests

from ..errors import SourceUnavailable
from ..http import RetryPolicy


class JsonApi:
    """GETs (and the odd POST) against one service's API base; counts its requests."""

    def __init__(self, source: str, title: str, base: str, session: requests.Session, policy: RetryPolicy,
                 limiter: Callable[[], None] | None = None, gate: Callable[[], contextlib.AbstractContextManager] | None = None) -> None:
        self.source = source
        self.title = title
        self.base = base if base.endswith(("/", ".php")) else base + "/"
        self.session = session
        self.policy = policy
        self.limiter = limiter
        self.gate = gate or contextlib.nullcontext
        self.calls = 0

    def url(self, path: str) -> str:
        return self.base + path if path else self.base

    def get(self, path: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[dict, requests.Response]:
        return self._request("GET", path, params=params, headers=headers)

    def post(self, path: str, data: dict[str, Any]) -> tuple[dict, requests.Response]:
        return self._request("POST", path, data=data)

    def _request(self, method: str, path: str, **kwargs: Any) -> tuple[dict, requests.Response]:
        if self.limiter is not None:
            self.limiter()
        with self.gate():
            self.calls += 1
            try:
                response = self.session.request(method, self.url(path), timeout=self.policy.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError) as error:
                raise self.down(f"cannot reach {self.title} at {self.base} ({type(error).__name__})") from None
            body = response.content
        if response.status_code >= 500 or response.status_code == 429:
            raise self.down(f"{self.title} kept answering HTTP {response.status_code} after {self.policy.retries} retries")
        try:
            payload = json.loads(body)
        except ValueError:
            raise self.down(f"{self.base} did not answer with {self.title} JSON (HTTP {response.status_code}); is its endpoint right?") from None
        if not isinstance(payload, dict):
            raise self.down(f"{self.base} answered JSON that is not {self.title}'s")
        return payload, response

    def down(self, message: str) -> SourceUnavailable:
        return SourceUnavailable(message, self.source)
