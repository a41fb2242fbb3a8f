"""Candidates for one label from `flickr.photos.search`: paging, the 4,000 cap, date slices.

Why slices: Flickr serves at most 4,000 results per query and then repeats pages. When a label
needs more, the upload-date range is cut in halves until each slice holds at most 4,000, and each
slice is paged on its own. Slicing starts only once the plain query is used up, so small runs
keep Flickr's relevance order and spend one call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from .. import sizes
from ..candidate import Candidate
from ..licenses import License
from .flickr import FlickrClient

RESULT_CAP = 4000
MAX_PER_PAGE = 500
FLICKR_START = 1075593600  # 2004-02-01, before the first upload
ONE_DAY = 86400


@dataclass(frozen=True)
class SearchQuery:
    label: str
    tags_mode: bool
    sort: str
    license_ids: tuple[str, ...]
    size: str

    def params(self) -> dict[str, object]:
        params: dict[str, object] = {
            "content_types": 0,
            "media": "photos",
            "safe_search": 1,
            "sort": self.sort,
            "license": ",".join(self.license_ids),
            "extras": f"license,owner_name,{sizes.EXTRAS}",
        }
        if self.tags_mode:
            params["tags"] = self.label
            params["tag_mode"] = "all"
        else:
            params["text"] = self.label
        return params


class SearchSource:
    """Yields each photo of a query once, as far as the caller keeps asking."""

    def __init__(self, client: FlickrClient, query: SearchQuery, licenses: dict[str, License], per_page: int) -> None:
        self.client = client
        self.query = query
        self.licenses = licenses
        self.per_page = max(1, min(MAX_PER_PAGE, per_page))
        self.seen: set[str] = set()
        self.total = 0

    def __iter__(self) -> Iterator[Candidate]:
        first_total = yield from self._page_through({})
        if first_total > RESULT_CAP:
            for lo, hi in self._slices(FLICKR_START, int(time.time()) + ONE_DAY):
                yield from self._page_through({"min_upload_date": lo, "max_upload_date": hi - 1})

    def _page_through(self, window: dict[str, object]) -> Iterator[Candidate]:
        """Page one query until its end, the cap, or a page with nothing new; returns Flickr's total."""
        page, in_this_query = 1, set()
        while True:
            result = self.client.search_page(**self.query.params(), **window, per_page=self.per_page, page=page)
            self.total = max(self.total, result.total)
            ids = {str(photo.get("id")) for photo in result.photos}
            repeated = ids <= in_this_query  # Flickr's answer past its cap: a page we already had
            in_this_query |= ids
            for candidate in map(self._candidate, result.photos):
                if candidate is not None and candidate.photo_id not in self.seen:
                    self.seen.add(candidate.photo_id)
                    yield candidate
            if repeated or page >= result.pages or page * self.per_page >= RESULT_CAP:
                return result.total
            page += 1

    def _slices(self, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """Upload-date windows, newest first, each small enough to page through completely."""
        stack = [(lo, hi)]
        while stack:
            lo, hi = stack.pop()
            probe = self.client.search_page(**self.query.params(), min_upload_date=lo, max_upload_date=hi - 1, per_page=1, page=1)
            if probe.total == 0:
                continue
            if probe.total <= RESULT_CAP or hi - lo <= ONE_DAY:
                yield lo, hi
            else:
                mid = (lo + hi) // 2
                stack.append((lo, mid))
                stack.append((mid, hi))

    def _candidate(self, photo: dict) -> Candidate | None:
        chosen = sizes.choose(photo, self.query.size)
        if chosen is None or not photo.get("id"):
            return None
        letter, url, _, _ = chosen
        license_id = str(photo.get("license", ""))
        return Candidate(
            photo_id=str(photo["id"]),
            owner=str(photo.get("owner", "")),
            owner_name=str(photo.get("ownername", "")),
            title=str(photo.get("title", "")),
            license=self.licenses.get(license_id, License(license_id, f"licence {license_id}", "")),
            urls=((letter, url),),
        )
