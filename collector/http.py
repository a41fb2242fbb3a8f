"""HTTP sessions with timeouts and retries, shared by the API client and the downloader.

Why urllib3's `Retry` with every method allowed: flickrapi POSTs every API call, and the default
`Retry` never retries a POST. Searches are read-only, so retrying them is safe. Retry-After on
429/503 is honoured (urllib3 sleeps what the server asks before the next attempt).
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)
USER_AGENT = "retrainkit-collector/0.1 (+https://github.com/retrainkit)"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `retries` extra attempts, waiting `backoff * 2**n` seconds between them."""

    retries: int = 5
    backoff: float = 0.5
    timeout: float = 20.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based) of work urllib3 cannot retry itself."""
        return min(self.backoff * (2**attempt), 60.0)


def make_session(policy: RetryPolicy, pool_size: int = 10) -> requests.Session:
    retry = Retry(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        backoff_factor=policy.backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    if not urllib.request.getproxies():
        # requests scans the whole environment on every request looking for proxies: a third of our
        # CPU per photo. With no proxy configured there is nothing to find. (With one, requests'
        # own handling stays, NO_PROXY included.)
        session.trust_env = False
    return session
