"""Which services a run asks, and each one's client, built before anything is written.

A source, for one label, is an iterable of `Candidate`s with a `total` (what the service reported)
and, for the key-less ones, `skipped` (candidates passed over, by reason). Everything after that
(interleaving, downloading, checks, provenance) is the same for every source. `auto` means Flickr
when a key is configured, else Openverse and Commons: Flickr stopped giving keys to free accounts,
so a new user must be able to collect licensed photos with no key at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from retrainkit.dataset_layout import COLLECT_DIR, LICENSES

from . import licenses as licence_table
from .candidate import Candidate
from .config import CommonsSettings, FlickrSettings, INaturalistSettings, OpenverseSettings
from .errors import CollectError
from .http import HostPauses, RetryPolicy, make_session
from .labels import LabelQuery
from .ratelimit import SharedWindowLimiter
from .services import inaturalist
from .services.api import JsonApi
from .services.commons import CommonsSearch, one_request_at_a_time
from .services.feed import FeedSource
from .services.flickr import FlickrClient
from .services.inaturalist import INaturalistSearch
from .services.openverse import OpenverseClient
from .services.search import SearchQuery, SearchSource

NAMES = ("openverse", "commons", "inaturalist", "flickr", "feed")
KEYLESS_DEFAULT = ("openverse", "commons")
#: downloads at once from a source's image servers, where the service asks for few (Wikimedia)
DOWNLOAD_SLOTS = {"commons": 4}


def parse_sources(spec: str | Iterable[str], has_flickr_key: bool) -> list[str]:
    """`--source` as a list of names: `auto`, or names joined by commas, each once, in the order given."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names = list(dict.fromkeys(part.strip().lower() for part in parts if part.strip()))
    if names == ["auto"]:
        return ["flickr"] if has_flickr_key else list(KEYLESS_DEFAULT)
    unknown = [name for name in names if name not in NAMES and name != "auto"]
    if not names or unknown or "auto" in names:
        what = f"unknown source {unknown[0]!r}" if unknown else "auto stands alone" if names else "no source named"
        raise CollectError(f"--source: {what}; use auto or any of {', '.join(NAMES)}, joined by commas (e.g. openverse,commons)")
    return names


@dataclass
class SourceSet:
    """The run's clients, one per chosen source; `stream()` gives a label's candidates from one of them."""

    names: list[str]
    root: Path
    size: str
    license_spec: str
    policy: RetryPolicy
    pauses: HostPauses
    agent: str
    flickr_settings: FlickrSettings
    openverse_settings: OpenverseSettings
    commons_settings: CommonsSettings
    inaturalist_settings: INaturalistSettings
    tags_mode: bool = False
    sort: str = "relevance"
    flickr: FlickrClient | None = None
    apis: dict[str, JsonApi] = field(default_factory=dict)
    openverse: OpenverseClient | None = None
    _flickr_licences: dict | None = None

    def open(self) -> SourceSet:
        """Build every client now: a missing key or a half-given secret is refused before a file is written."""
        if "flickr" in self.names:
            f = self.flickr_settings
            self.flickr = FlickrClient(api_key=f.api_key, api_secret=f.api_secret, endpoint=f.endpoint, policy=self.policy,
                                       limiter=SharedWindowLimiter(_positive("calls_per_hour", f.calls_per_hour), f.api_key))
        if "openverse" in self.names:
            o = self.openverse_settings
            self.openverse = OpenverseClient(self._api("openverse", "Openverse", o.endpoint), o.client_id, o.client_secret)
        if "commons" in self.names:
            self._api("commons", "Wikimedia Commons", self.commons_settings.endpoint, gate=one_request_at_a_time)
        if "inaturalist" in self.names:
            per_minute = SharedWindowLimiter(inaturalist.REQUESTS_PER_MINUTE, "inaturalist", window_s=inaturalist.MINUTE_S,
                                             service="inaturalist")
            per_day = SharedWindowLimiter(inaturalist.REQUESTS_PER_DAY, "inaturalist", window_s=inaturalist.DAY_S, service="inaturalist-day")

            def pace() -> None:
                per_day.acquire()
                per_minute.acquire()

            self._api("inaturalist", "iNaturalist", self.inaturalist_settings.endpoint, limiter=pace)
        return self

    @property
    def api_calls(self) -> int:
        return (self.flickr.calls if self.flickr else 0) + sum(api.calls for api in self.apis.values())

    def stream(self, name: str, label: LabelQuery, need: int, say: Callable[[str], None]) -> Iterable[Candidate]:
        query = label.query if not label.names_a_taxon or name == "inaturalist" else label.label
        if name == "flickr":
            return _Deferred(lambda: self._flickr_search(query, need), "flickr")
        if name == "feed":
            session = make_session(self.policy, pauses=self.pauses, agent=self.agent)
            return FeedSource(session, self.flickr_settings.feed_url, query, self.size, self.policy.timeout)
        if name == "openverse":
            assert self.openverse is not None
            return self.openverse.search(query, self.license_spec, self.size)
        if name == "commons":
            return CommonsSearch(self.apis["commons"], self.pauses, self.policy, query, self.license_spec, self.size)
        return INaturalistSearch(self.apis["inaturalist"], query, self.license_spec, self.size, say, label.label)

    def _api(self, name: str, title: str, endpoint: str, **kwargs: object) -> JsonApi:
        session = make_session(self.policy, pauses=self.pauses, agent=self.agent)
        self.apis[name] = JsonApi(name, title, endpoint, session, self.policy, **kwargs)  # type: ignore[arg-type]
        return self.apis[name]

    def _flickr_search(self, query: str, need: int) -> SearchSource:
        assert self.flickr is not None
        if self._flickr_licences is None:
            cache = self.root / COLLECT_DIR / LICENSES
            table = licence_table.load_cached(cache)
            if table is None:
                table = licence_table.parse_licenses(self.flickr.licenses())
                licence_table.save_cache(cache, table)
            self._flickr_licences = table
        ids = tuple(licence_table.select_ids(self.license_spec, self._flickr_licences))
        search = SearchQuery(query, self.tags_mode, self.sort, ids, self.size)
        return SearchSource(self.flickr, search, self._flickr_licences, per_page=max(50, 2 * need))


class _Deferred:
    """A source whose set-up makes requests (Flickr's licence table): made on the first candidate
    asked for, so a failure there is that source's, caught where every source's failures are."""

    def __init__(self, make: Callable[[], Iterable[Candidate]], source: str) -> None:
        self._make = make
        self.source = source
        self.made: Iterable[Candidate] | None = None

    @property
    def total(self) -> int:
        return getattr(self.made, "total", 0)

    def __iter__(self) -> Iterator[Candidate]:
        self.made = self._make()
        yield from self.made


def _positive(name: str, value: object) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CollectError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise CollectError(f"{name} must be at least 1, got {value}")
    return number
