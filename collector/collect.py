"""`collect()`: keywords in, a folder per label of verified photos with their provenance out.

The orchestration only: candidates come from a source (the search API or the public feed),
bytes from the `Downloader`, records from `provenance`. Downloads run in a thread pool; the main
thread keeps exactly as many in flight as are still needed, so `count=N` downloads N photos,
plus one more for each that fails, and never a surplus.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue

from tqdm import tqdm

from retrainkit.locks import dataset_lock

from . import licenses as licence_table
from . import sizes
from .candidate import Candidate
from .config import CollectSettings, FlickrSettings
from .dataset import META_DIR, DatasetIndex, prepare
from .download import Downloaded, Downloader, DownloadFailed
from .errors import CollectError
from .feed import FeedSource
from .flickr import FlickrClient
from .http import RetryPolicy, make_session
from .provenance import ProvenanceLog, record_for, write_attribution
from .ratelimit import SharedWindowLimiter
from .search import SearchQuery, SearchSource
from .summary import CollectSummary, LabelSummary

SORTS = (
    "relevance",
    "date-posted-desc",
    "date-posted-asc",
    "date-taken-desc",
    "date-taken-asc",
    "interestingness-desc",
    "interestingness-asc",
)
LICENSE_CACHE = "licenses.json"


def collect(
    labels: Iterable[str],
    *,
    count: int | None = None,
    out: str | Path | None = None,
    size: str | int | None = None,
    license: str | None = None,
    sort: str | None = None,
    tags: bool | None = None,
    workers: int | None = None,
    feed: bool = False,
    api_key: str | None = None,
    api_secret: str | None = None,
    endpoint: str | None = None,
    feed_url: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    calls_per_hour: int | None = None,
    config: str | Path | None = None,
    progress: bool = True,
) -> CollectSummary:
    """Download `count` verified photos per label into `out/<label>/`.

    Every keyword left as None comes from the config file (`config`, else ./config.toml), then
    the built-in default; FLICKR_API_KEY / FLICKR_API_SECRET override the file. A second run
    tops each label up to `count` without downloading anything twice.

    >>> summary = collect(["rose", "tulip"], count=20, out="dataset")   # doctest: +SKIP
    >>> print(summary.report())                                        # doctest: +SKIP
    """
    flickr = FlickrSettings.load(config, api_key=api_key, api_secret=api_secret, endpoint=endpoint, feed_url=feed_url,
                                 calls_per_hour=calls_per_hour)
    settings = CollectSettings.load(config, count=count, out=out, size=size, license=license, sort=sort, tags=tags,
                                    workers=workers, timeout=timeout, retries=retries, backoff=backoff)
    run = _Run(
        labels=_check_labels(labels),
        count=_check_count(settings.count),
        root=Path(settings.out),
        size=sizes.parse_size(settings.size),
        license_spec=settings.license,
        sort=_check_sort(settings.sort),
        tags_mode=settings.tags,
        workers=_check_positive("workers", settings.workers),
        policy=RetryPolicy(retries=settings.retries, backoff=settings.backoff, timeout=settings.timeout),
        progress=progress,
    )
    licence_table.check_spec_syntax(run.license_spec)
    # One collect at a time per dataset: a second one waits, then finds the photos already there.
    with dataset_lock(_created(run.root), "collect " + " ".join(run.labels), wait=True):
        if feed:
            return run.from_feed(flickr.feed_url)
        client = FlickrClient(
            api_key=flickr.api_key,
            api_secret=flickr.api_secret,
            endpoint=flickr.endpoint,
            policy=run.policy,
            limiter=SharedWindowLimiter(_check_positive("calls_per_hour", flickr.calls_per_hour), flickr.api_key),
        )
        return run.from_search(client)


def _created(root: Path) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CollectError(f"cannot write to output folder {root}: {error.strerror or error}; choose another with --out") from None
    return root


@dataclass
class _Run:
    """One collect run's settings, checked, plus the ids that failed (never retried in the same run)."""

    labels: list[str]
    count: int
    root: Path
    size: str
    license_spec: str
    sort: str
    tags_mode: bool
    workers: int
    policy: RetryPolicy
    progress: bool
    failed_ids: set[str] = field(default_factory=set)

    def from_search(self, client: FlickrClient) -> CollectSummary:
        prepare(self.root)
        table = self._licences(client)
        ids = tuple(licence_table.select_ids(self.license_spec, table))

        def source(label: str, need: int) -> SearchSource:
            query = SearchQuery(label, self.tags_mode, self.sort, ids, self.size)
            return SearchSource(client, query, table, per_page=max(50, 2 * need))

        summary = self._collect_all(source)
        summary.api_calls = client.calls
        return summary

    def from_feed(self, feed_url: str) -> CollectSummary:
        self._say("warning: --feed uses Flickr's public feed: at most 20 recent photos per tag, licence unknown; "
                  "do not publish a dataset made this way without checking each photo's rights")
        prepare(self.root)
        session = make_session(self.policy)
        return self._collect_all(lambda label, need: FeedSource(session, feed_url, label, self.size, self.policy.timeout))

    def _licences(self, client: FlickrClient) -> dict:
        cache = self.root / META_DIR / LICENSE_CACHE
        table = licence_table.load_cached(cache)
        if table is None:
            table = licence_table.parse_licenses(client.licenses())
            licence_table.save_cache(cache, table)
        return table

    def _collect_all(self, source) -> CollectSummary:
        started = time.monotonic()
        index = DatasetIndex.scan(self.root)
        log = ProvenanceLog(self.root)
        summaries: list[LabelSummary] = []
        with ThreadPoolExecutor(self.workers, thread_name_prefix="download") as pool:
            for label in self.labels:
                summary = LabelSummary(label, requested=self.count, existing=index.counts.get(label, 0))
                summaries.append(summary)
                need = self.count - summary.existing
                if need > 0:
                    downloader = Downloader(self.root, self.policy, journal=lambda item, label=label: log.photo(record_for(item, label)))
                    self._fill(summary, need, source(label, need), index, log, downloader, pool)
        write_attribution(self.root)
        return CollectSummary(self.root, summaries, seconds=time.monotonic() - started)

    def _fill(self, summary, need, source, index, log, downloader, pool) -> None:
        """Keep downloads in flight until `need` photos are accepted or the source runs dry."""
        candidates = self._claimed(iter(source), summary, index, log)
        in_flight: dict[Future[Downloaded], Candidate] = {}
        finished: SimpleQueue[Future[Downloaded]] = SimpleQueue()  # cheaper than futures.wait() per photo
        bar = tqdm(total=self.count, initial=summary.existing, desc=summary.label, unit="photo", disable=not self.progress, leave=True)
        try:
            while True:
                while summary.accepted + len(in_flight) < need:
                    candidate = next(candidates, None)
                    if candidate is None:
                        break
                    future = pool.submit(downloader.fetch, candidate, summary.label)
                    in_flight[future] = candidate
                    future.add_done_callback(finished.put)
                if not in_flight:
                    break
                future = finished.get()
                self._settle(future, in_flight.pop(future), summary, index, bar)
        finally:
            bar.close()
        summary.available = getattr(source, "total", 0)
        summary.short = summary.accepted < need

    def _claimed(self, candidates: Iterator[Candidate], summary: LabelSummary, index: DatasetIndex, log: ProvenanceLog) -> Iterator[Candidate]:
        """Candidates this label may download: not here already, not quarantined, not filed under another label."""
        for candidate in candidates:
            photo_id = candidate.photo_id
            if photo_id in index.quarantined or photo_id in self.failed_ids:
                continue
            owner = index.filed.get(photo_id)
            if owner is None:
                index.filed[photo_id] = summary.label
                yield candidate
            elif owner != summary.label:
                summary.conflicts += 1
                log.conflict(photo_id, filed_under=owner, also_matched=summary.label, query=summary.label)

    def _settle(self, future: Future, candidate: Candidate, summary: LabelSummary, index: DatasetIndex, bar: tqdm) -> None:
        try:
            future.result()
        except DownloadFailed as failure:
            summary.failed[failure.reason] += 1
            self.failed_ids.add(candidate.photo_id)
            del index.filed[candidate.photo_id]
            bar.set_postfix(failed=sum(summary.failed.values()), refresh=False)
        except OSError as error:
            raise CollectError(f"cannot write into {self.root}: {error.strerror or error}") from None
        else:
            summary.accepted += 1
            bar.update(1)

    def _say(self, message: str) -> None:
        if self.progress:
            tqdm.write(message, file=sys.stderr)


def _check_labels(labels: Iterable[str]) -> list[str]:
    if isinstance(labels, str):
        labels = [labels]
    cleaned: list[str] = []
    for label in labels:
        text = str(label).strip()
        if not text:
            raise CollectError("empty label: give each label as a word, e.g. collect rose tulip")
        if "/" in text or "\\" in text or text.startswith(".") or "\0" in text:
            raise CollectError(f"label {text!r} cannot be a folder name: no slashes, no leading dot")
        if text not in cleaned:
            cleaned.append(text)
    if not cleaned:
        raise CollectError("no labels given: e.g. collect rose sunflower --count 20")
    return cleaned


def _check_count(value: object) -> int:
    return _check_positive("count", value)


def _check_positive(name: str, value: object) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CollectError(f"--{name.replace('_', '-')} must be a whole number, got {value!r}") from None
    if number < 1 or str(value).strip().startswith("-"):
        raise CollectError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return number


def _check_sort(sort: str) -> str:
    if sort not in SORTS:
        raise CollectError(f"--sort {sort!r}: use one of {', '.join(SORTS)}")
    return sort
