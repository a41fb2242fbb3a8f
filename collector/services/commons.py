"""Candidates from Wikimedia Commons (the MediaWiki API): free-licence files only, with their licence
and author in each file's `extmetadata`.

Its etiquette is part of the API and kept here: one request at a time (across threads and, through
a lock file, across processes), `maxlag=5` on every request (a lagged server answers an error
whose code is `maxlag`, often as HTTP 200, with Retry-After: we wait that long and ask again), a
User-Agent that names the toolkit and the user's `[collect] contact`, and paging by sending back
the whole `continue` object. Scaled copies come at Wikimedia's standard thumbnail widths only.
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock

from retrainkit.user_cache import user_cache_folder

from .. import sizes
from ..candidate import Candidate
from ..http import HostPauses, RetryPolicy, host_of
from ..licenses import License, cc_url, code_of, short_name
from ..numbers import as_float, as_int
from .api import JsonApi

#: The widths Wikimedia renders and caches (other widths are refused or rounded up).
STANDARD_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
#: generator=search with scaled image URLs: at most 50 files a request
PAGE_LIMIT = 50
MAXLAG_S = 5
_DEFAULT_LAG_WAIT_S = 5.0
_IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff"})
_TAG = re.compile(r"<[^>]+>")
_METADATA = "LicenseShortName|LicenseUrl|License|Artist|AttributionRequired|ObjectName|UsageTerms"
_one_at_a_time = threading.Lock()


@contextmanager
def one_request_at_a_time() -> Iterator[None]:
    """Commons asks for requests one after another: a thread lock, then a lock file for other processes."""
    folder = user_cache_folder()
    with _one_at_a_time:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock: FileLock | None = FileLock(str(folder / "commons-api.lock"), thread_local=False)
        except OSError:
            lock = None
        if lock is None:
            yield
        else:
            with lock:
                yield


def standard_width(size: str) -> int:
    """The standard width nearest the ladder size (by ratio), e.g. 960 for `c` (800 px)."""
    return int(sizes.nearest({str(width): width for width in STANDARD_WIDTHS}, size)[0])


class CommonsSearch:
    """Yields each bitmap file of one search in the File namespace once, in search order."""

    source = "commons"

    def __init__(self, api: JsonApi, pauses: HostPauses, policy: RetryPolicy, query: str, licence_spec: str, size: str) -> None:
        self.api = api
        self.pauses = pauses
        self.policy = policy
        self.query = query
        self.licence_spec = licence_spec
        self.size = size
        self.total = 0
        self.skipped: Counter = Counter()

    def __iter__(self) -> Iterator[Candidate]:
        carry_on: dict[str, object] = {}
        while True:
            payload = self._query(carry_on)
            pages = sorted((payload.get("query") or {}).get("pages") or [], key=lambda page: as_int(page.get("index"), 0))
            self.total += len(pages)
            for page in pages:
                candidate = self._candidate(page) if isinstance(page, dict) else None
                if candidate is not None:
                    yield candidate
            carry_on = payload.get("continue") or {}
            if not carry_on or not pages:
                return

    def _query(self, carry_on: dict[str, object]) -> dict:
        params: dict[str, object] = {
            "action": "query", "format": "json", "formatversion": 2, "maxlag": MAXLAG_S,
            "generator": "search", "gsrsearch": f"{self.query} filetype:bitmap", "gsrnamespace": 6, "gsrlimit": PAGE_LIMIT,
            "prop": "imageinfo", "iiprop": "url|size|mime|extmetadata", "iiextmetadatafilter": _METADATA,
            "iiextmetadatalanguage": "en",
            **carry_on,
        }
        if self.size != "o":
            params["iiurlwidth"] = standard_width(self.size)
        for attempt in range(self.policy.retries + 1):
            payload, response = self.api.get("", params)
            error = payload.get("error")
            if not isinstance(error, dict):
                return payload
            if error.get("code") != "maxlag":
                raise self.api.down(f"Commons refused the search: {error.get('info') or error.get('code')}")
            if attempt < self.policy.retries:
                wait = as_float(response.headers.get("Retry-After"), _DEFAULT_LAG_WAIT_S)
                self.pauses.pause(host_of(self.api.base), wait)  # every Commons request waits, not only this one
        raise self.api.down(f"Commons kept reporting replication lag (maxlag) after {self.policy.retries} retries; try again later")

    def _candidate(self, page: dict) -> Candidate | None:
        info = (page.get("imageinfo") or [{}])[0]
        original = str(info.get("url") or "")
        if not original or str(info.get("mime") or "") not in _IMAGE_MIMES:
            self.skipped["not-a-photo"] += 1
            return None
        meta = {key: _text((value or {}).get("value")) for key, value in (info.get("extmetadata") or {}).items() if isinstance(value, dict)}
        licence = _licence(meta)
        if not licence.code:
            self.skipped["no-licence"] += 1
            return None
        if not licence.passes(self.licence_spec):
            self.skipped["licence"] += 1
            return None
        title = str(page.get("title") or "")
        name = meta.get("ObjectName") or title.removeprefix("File:").rsplit(".", 1)[0]
        artist = meta.get("Artist") or "unknown author"
        landing = str(info.get("descriptionurl") or "")
        urls: tuple[tuple[str, str], ...] = ()
        if info.get("thumburl"):
            urls += ((f"w{as_int(info.get('thumbwidth'), 0)}", str(info["thumburl"])),)
        if not urls or as_int(info.get("size"), 0) <= 20 * 1024 * 1024:
            urls += (("original", original),)
        return Candidate(
            photo_id=f"commons-{as_int(page.get('pageid'), 0)}",
            owner=artist,
            owner_name=artist,
            title=name,
            license=licence,
            urls=urls,
            source="commons",
            source_id=str(page.get("pageid")),
            landing_url=landing,
            attribution=f'"{name}" by {artist}, {licence.name}{f", {licence.url}" if licence.url else ""}, via Wikimedia Commons ({landing})',
        )


def _licence(meta: dict[str, str]) -> License:
    url, short = meta.get("LicenseUrl", ""), meta.get("LicenseShortName", "")
    code, version = code_of(url, short)
    if not code:
        code, version = _code_of_template(meta.get("License", ""))
    if not code and short:
        code = short.lower().replace(" ", "-")  # a free licence outside CC (GFDL, FAL, ...): kept under `any`
    return License(id=meta.get("License", code), name=short or short_name(code, version), url=url or cc_url(code, version),
                   code=code, version=version)


def _code_of_template(template: str) -> tuple[str, str]:
    """Commons' own licence names: `cc-by-sa-4.0`, `cc-zero`, `pd-...`."""
    found = re.fullmatch(r"cc-(by(?:-nc)?(?:-sa|-nd)?)-(\d+(?:\.\d+)?)(?:-.*)?", template.lower())
    if found:
        return found.group(1), found.group(2)
    if template.lower() in ("cc0", "cc-zero"):
        return "cc0", "1.0"
    if template.lower().startswith("pd"):
        return "pd", ""
    return "", ""


def _text(value: object) -> str:
    """extmetadata values are HTML (an author is often a link): the text a credit line can carry."""
    return " ".join(html.unescape(_TAG.sub("", str(value or ""))).split())

