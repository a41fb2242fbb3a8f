"""HTTP sessions with timeouts and retries, shared by the API clients and the downloader.

Why urllib3's `Retry` with every method allowed: flickrapi POSTs every API call, and the default
`Retry` never retries a POST. Searches are read-only, so retrying them is safe. Retry-After on
429/503 is honoured, and not only by the thread that got it: `HostPauses` holds every request to
that host, from every worker and label, until the time the server asked for has passed (a
service that says "slow down" means the whole client, not one connection).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from retrainkit.user_cache import toolkit_version

RETRY_STATUSES = (429, 500, 502, 503, 504)
PROJECT_URL = "https://github.com/retrainkit"



def user_agent(contact: str = "") -> str:
    """Our User-Agent: the toolkit, its version, and the user's contact when given (Wikimedia asks
    every client for one, so its operators can write before they block)."""
    reach = f"{PROJECT_URL}; {contact}" if contact else PROJECT_URL
    return f"retrainkit-collector/{toolkit_version()} (+{reach}) python-requests/{requests.__version__}"


USER_AGENT = user_agent()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `retries` extra attempts, waiting `backoff * 2**n` seconds between them."""

    retries: int = 5
    backoff: float = 0.5
    timeout: float = 20.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based) of work urllib3 cannot retry itself."""
        return min(self.backoff * (2**attempt), 60.0)


class HostPauses:
    """Until when each host asked us to wait (Retry-After), shared by every session of a run."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self.waited_s = 0.0

    def pause(self, host: str, seconds: float) -> None:
        with self._lock:
            self._until[host] = max(self._until.get(host, 0.0), self._clock() + max(0.0, seconds))

    def wait(self, host: str) -> None:
        """Return once `host` may be asked again."""
        while True:
            with self._lock:
                remaining = self._until.get(host, 0.0) - self._clock()
                if remaining <= 0:
                    return
                self.waited_s += remaining
            self._sleep(remaining)


def host_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


class _PausingRetry(Retry):
    """urllib3's Retry, whose Retry-After pauses the whole host through `HostPauses`."""

    pauses: HostPauses | None = None
    host: str = ""

    def new(self, **kw: object) -> _PausingRetry:
        retry = super().new(**kw)
        retry.pauses, retry.host = self.pauses, self.host
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if _pool is not None:
            retry.host = f"{_pool.host}:{_pool.port or (443 if _pool.scheme == 'https' else 80)}"
        return retry

    def sleep_for_retry(self, response) -> bool:
        seconds = self.get_retry_after(response)
        if seconds is None or self.pauses is None or not self.host:
            return super().sleep_for_retry(response)
        self.pauses.pause(self.host, seconds)
        self.pauses.wait(self.host)
        return True


class _PausedAdapter(HTTPAdapter):
    """Waits out a host's pause before each request leaves."""

    def __init__(self, pauses: HostPauses | None, **kwargs: object) -> None:
        self.pauses = pauses
        super().__init__(**kwargs)

    def send(self, request, *args, **kwargs):
        if self.pauses is not None:
            self.pauses.wait(host_of(request.url))
        return super().send(request, *args, **kwargs)


def make_session(policy: RetryPolicy, pool_size: int = 10, pauses: HostPauses | None = None, agent: str = USER_AGENT) -> requests.Session:
    retry = _PausingRetry(
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
    retry.pauses = pauses
    adapter = _PausedAdapter(pauses, max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = agent
    if not urllib.request.getproxies():
        # requests scans the whole environment on every request looking for proxies, a large share of
        # our CPU per photo (bench/collect.py prints the CPU per image; figures in bench/README.md). With
        # no proxy configured there is nothing to find. (With one, requests' own handling stays, NO_PROXY
        # included.)
        session.trust_env = False
    return session
