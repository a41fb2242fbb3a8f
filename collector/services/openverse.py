"""Candidates from Openverse (`/v1/images/`): Creative Commons and public-domain works gathered from
Flickr, Wikimedia, museums and more, searchable with no key.

Its rules, kept here: an anonymous client gets pages of at most 20 results and no further than the
240th result (page 12); a registered app (client_credentials token, fetched and renewed here)
gets pages of 50 and goes as deep as the `page_count` the API reports. A photo Openverse indexed
from Flickr is named by its Flickr id, so the same photo collected through Flickr is the same file.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from .. import sizes
from ..candidate import Candidate
from ..errors import CollectError
from ..licenses import License, cc_url, code_of, short_name
from ..numbers import as_float
from .api import JsonApi

ANONYMOUS_PAGE_SIZE = 20
ANONYMOUS_RESULT_CAP = 240
REGISTERED_PAGE_SIZE = 50
#: renew a token this many seconds before Openverse says it expires
TOKEN_MARGIN_S = 60.0
_FLICKR_PAGE = re.compile(r"flickr\.com/photos/([^/]+)/(\d+)")


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float


class OpenverseClient:
    """One per run: the token (when registered) is shared by every label."""

    def __init__(self, api: JsonApi, client_id: str = "", client_secret: str = "") -> None:
        if bool(client_id) != bool(client_secret):
            raise CollectError("Openverse needs both [openverse] client_id and client_secret (or OPENVERSE_CLIENT_ID and "
                               "OPENVERSE_CLIENT_SECRET), or neither for anonymous use")
        self.api = api
        self.client_id, self.client_secret = client_id, client_secret
        self._token: _Token | None = None
        self._lock = threading.Lock()

    @property
    def registered(self) -> bool:
        return bool(self.client_id)

    @property
    def page_size(self) -> int:
        return REGISTERED_PAGE_SIZE if self.registered else ANONYMOUS_PAGE_SIZE

    def search(self, query: str, licence_spec: str, size: str) -> OpenverseSearch:
        return OpenverseSearch(self, query, licence_spec, size)

    def images_page(self, params: dict[str, object]) -> dict:
        payload, response = self.api.get("images/", params, headers=self._auth())
        if response.status_code == 401 and self.registered:
            self._token = None  # revoked or expired early: one fresh token, then the request again
            payload, response = self.api.get("images/", params, headers=self._auth())
        if response.status_code != 200:
            detail = payload.get("detail") or payload.get("error") or payload
            raise self.api.down(f"Openverse refused the search (HTTP {response.status_code}: {str(detail)[:160]})")
        return payload

    def _auth(self) -> dict[str, str]:
        if not self.registered:
            return {}
        with self._lock:
            if self._token is None or time.time() > self._token.expires_at - TOKEN_MARGIN_S:
                self._token = self._fetch_token()
            return {"Authorization": f"Bearer {self._token.value}"}

    def _fetch_token(self) -> _Token:
        payload, response = self.api.post("auth_tokens/token/", {
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
        if response.status_code != 200 or not payload.get("access_token"):
            raise CollectError(f"Openverse refused the client id and secret (HTTP {response.status_code}); check [openverse] "
                               "client_id / client_secret or OPENVERSE_CLIENT_ID / OPENVERSE_CLIENT_SECRET")
        lifetime = as_float(payload.get("expires_in"), 3600.0)
        return _Token(str(payload["access_token"]), time.time() + lifetime)


class OpenverseSearch:
    """Yields each image of one query once, page by page, never past the page cap."""

    source = "openverse"

    def __init__(self, client: OpenverseClient, query: str, licence_spec: str, size: str) -> None:
        self.client = client
        self.query = query
        self.licence_spec = licence_spec
        self.size = size
        self.total = 0
        self.skipped: Counter = Counter()

    def __iter__(self) -> Iterator[Candidate]:
        page_size = self.client.page_size
        page = 1
        while True:
            params: dict[str, object] = {"q": self.query, "page": page, "page_size": page_size}
            if self.licence_spec == "commercial":
                params["license_type"] = "commercial"
            payload = self.client.images_page(params)
            self.total = max(self.total, int(as_float(payload.get("result_count"), 0)))
            results = payload.get("results") or []
            for result in results:
                candidate = self._candidate(result) if isinstance(result, dict) else None
                if candidate is not None:
                    yield candidate
            last_page = int(as_float(payload.get("page_count"), page))
            if not self.client.registered:
                last_page = min(last_page, ANONYMOUS_RESULT_CAP // page_size)
            if not results or page >= last_page:
                return
            page += 1

    def _candidate(self, result: dict) -> Candidate | None:
        uuid, url = str(result.get("id") or ""), str(result.get("url") or "")
        if not uuid or not url:
            self.skipped["no-url"] += 1
            return None
        licence = _licence(result)
        if not licence.code:
            self.skipped["no-licence"] += 1
            return None
        if not licence.passes(self.licence_spec):
            self.skipped["licence"] += 1
            return None
        landing = str(result.get("foreign_landing_url") or "")
        provider = str(result.get("provider") or result.get("source") or "")
        flickr = _FLICKR_PAGE.search(landing) if provider == "flickr" else None
        urls = sizes.flickr_variants(url, self.size) if flickr else (("original", url),)
        thumbnail = str(result.get("thumbnail") or "")
        if thumbnail:
            urls += (("thumbnail", thumbnail),)
        return Candidate(
            photo_id=flickr.group(2) if flickr else f"openverse-{uuid}",
            owner=flickr.group(1) if flickr else str(result.get("creator_url") or ""),
            owner_name=str(result.get("creator") or ""),
            title=str(result.get("title") or ""),
            license=licence,
            urls=urls,
            source="openverse",
            source_id=uuid,
            landing_url=landing or f"https://openverse.org/image/{uuid}",
            attribution=str(result.get("attribution") or ""),
            extra=(("provider", provider),),
        )


def _licence(result: dict) -> License:
    code = str(result.get("license") or "").lower()
    version = str(result.get("license_version") or "")
    url = str(result.get("license_url") or "")
    if not code:
        code, version = code_of(url)
    return License(id=code, name=short_name(code, version), url=url or cc_url(code, version), code=code, version=version)
