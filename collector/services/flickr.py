"""The Flickr REST API, through the real flickrapi client, made safe to use unattended.

What flickrapi 2.4 leaves to us: it has no timeout or retry (we give it our session), it shares
one class-level session between all instances (we give each client its own), it writes tokens
to ~/.flickr unless told not to, and it reports API errors as HTTP 200 bodies with
`stat: fail`. This module turns all of that into `search_page()`, `licenses()` and our errors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import flickrapi
import requests
from flickrapi.exceptions import FlickrError

from ..errors import CollectError, FlickrUnavailable
from ..http import RetryPolicy, make_session
from ..numbers import as_int
from ..ratelimit import SharedWindowLimiter, SlidingWindowLimiter

LOG = logging.getLogger(__name__)
# flickrapi logs every non-200 reply at ERROR; with no handler Python would print those to stderr
# mid progress bar. Our own errors say what happened, once.
logging.getLogger("flickrapi").addHandler(logging.NullHandler())

#: Flickr's own "try again later" codes: 10 search unavailable, 105 service unavailable, 106 write failed.
RETRYABLE_CODES = frozenset({10, 105, 106})
INVALID_KEY = 100
KEY_HELP = "Flickr gives keys to Pro accounts at https://www.flickr.com/services/apps/create/apply/"
KEYLESS_HINT = "or collect with no key: --source openverse,commons or --source inaturalist"


@dataclass(frozen=True)
class SearchPage:
    photos: list[dict]
    page: int
    pages: int
    total: int


class FlickrClient:
    def __init__(
        self,
        api_key: str,
        api_secret: str,
        endpoint: str,
        policy: RetryPolicy,
        limiter: SlidingWindowLimiter | SharedWindowLimiter,
    ) -> None:
        if not api_key:
            raise CollectError(f"--source flickr needs an API key: set FLICKR_API_KEY and FLICKR_API_SECRET or [flickr] in config.toml "
                               f"({KEY_HELP}); {KEYLESS_HINT}")
        if not api_secret:
            raise CollectError(f"no Flickr API secret: set FLICKR_API_SECRET or [flickr] api_secret in config.toml ({KEY_HELP})")
        self.endpoint = endpoint
        self.policy = policy
        self.limiter = limiter
        self.calls = 0
        self._api = flickrapi.FlickrAPI(api_key, api_secret, format="parsed-json", store_token=False, timeout=policy.timeout)
        self._api.REST_URL = endpoint
        self._api.flickr_oauth.session = make_session(policy)

    def search_page(self, **params: object) -> SearchPage:
        """One page of `flickr.photos.search`; numbers arrive as strings or ints, so parse them here."""
        payload = self._call("flickr.photos.search", **params)
        block = payload.get("photos") or {}
        return SearchPage(
            photos=list(block.get("photo") or []),
            page=as_int(block.get("page"), 1),
            pages=as_int(block.get("pages"), 0),
            total=as_int(block.get("total"), 0),
        )

    def licenses(self) -> dict:
        return self._call("flickr.photos.licenses.getInfo")

    def _call(self, method: str, **params: object) -> dict:
        """Rate-limited call that retries Flickr's transient API codes; HTTP-level retries are the session's."""
        for attempt in range(self.policy.retries + 1):
            self.limiter.acquire()
            self.calls += 1
            try:
                return self._api.do_flickr_call(method, **params)
            except FlickrError as error:
                if error.code == INVALID_KEY:
                    raise CollectError("Flickr rejected the API key (error 100, invalid key): check FLICKR_API_KEY or "
                                       f"[flickr] api_key ({KEY_HELP})") from None
                if error.code in RETRYABLE_CODES and attempt < self.policy.retries:
                    LOG.info("Flickr error %s on %s, retrying", error.code, method)
                    time.sleep(self.policy.delay(attempt))
                    continue
                raise self._explain(error, method) from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError) as error:
                raise FlickrUnavailable(
                    f"cannot reach Flickr at {self.endpoint} ({type(error).__name__}); check the network, or set [flickr] endpoint / --endpoint"
                ) from None
            except ValueError:
                raise FlickrUnavailable(f"{self.endpoint} did not answer with Flickr JSON; is --endpoint right?") from None
        raise AssertionError("unreachable")

    def _explain(self, error: FlickrError, method: str) -> CollectError:
        if error.code is None:
            # flickrapi raises a code-less FlickrError for any non-200 status, after our retries gave up.
            return FlickrUnavailable(f"Flickr kept failing on {method} ({error}) after {self.policy.retries} retries; try again later")
        return CollectError(f"Flickr refused {method}: {error}")
