"""Candidates from Flickr's key-less public feed, for users who have no API key yet.

The feed gives at most 20 recent photos per tag and no licence, so it is a way to try the
toolkit, not to build a dataset to publish. Its JSON has been known to carry invalid `\\'`
escapes, which are repaired before parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import requests

from .. import sizes
from ..candidate import Candidate
from ..errors import CollectError, FlickrUnavailable
from ..licenses import UNKNOWN

_LINK = re.compile(r"/photos/([^/]+)/(\d+)")
_AUTHOR = re.compile(r'\("?(.*?)"?\)\s*$')


class FeedSource:
    def __init__(self, session: requests.Session, feed_url: str, label: str, size: str, timeout: float) -> None:
        self.session = session
        self.feed_url = feed_url
        self.label = label
        self.size = size
        self.timeout = timeout
        self.total = 0

    def __iter__(self) -> Iterator[Candidate]:
        params = {"tags": self.label, "format": "json", "nojsoncallback": 1}
        try:
            response = self.session.get(self.feed_url, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            raise FlickrUnavailable(f"cannot reach the Flickr feed at {self.feed_url} ({type(error).__name__})") from None
        if response.status_code != 200:
            raise FlickrUnavailable(f"the Flickr feed answered HTTP {response.status_code}")
        try:
            items = json.loads(response.text.replace("\\'", "'")).get("items", [])
        except ValueError:
            raise CollectError(f"the feed at {self.feed_url} did not answer with JSON") from None
        self.total = len(items)
        for item in items:
            candidate = self._candidate(item)
            if candidate is not None:
                yield candidate

    def _candidate(self, item: dict) -> Candidate | None:
        link = _LINK.search(str(item.get("link", "")))
        small = str((item.get("media") or {}).get("m", ""))
        if not link or not small:
            return None
        author = _AUTHOR.search(str(item.get("author", "")))
        return Candidate(
            photo_id=link.group(2),
            owner=str(item.get("author_id") or link.group(1)),
            owner_name=author.group(1) if author else "",
            title=str(item.get("title", "")),
            license=UNKNOWN,
            urls=sizes.flickr_variants(small, self.size),
            source="feed",
            source_id=link.group(2),
        )
