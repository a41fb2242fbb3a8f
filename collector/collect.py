"""`collect()`: keywords in, a folder per label of verified photos with their provenance out.

The orchestration only: candidates come from the sources (`sources.SourceSet`: Flickr's search or
feed, Openverse, Wikimedia Commons, iNaturalist), interleaved per label (`mixing.Interleaved`);
bytes from the `Downloader`, which also refuses a copy of a photo already kept
(`copies.KeptPictures`); records from `provenance`. Downloads run in a thread pool; the main
thread keeps exactly as many in flight as are still needed, so `count=N` downloads N photos,
plus one more for each that fails, and never a surplus.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue

from tqdm import tqdm

from retrainkit.locks import dataset_lock

from . import licenses as licence_table
from . import sizes
from .candidate import Candidate
from .config import CollectSettings, CommonsSettings, FlickrSettings, INaturalistSettings, OpenverseSettings, check_positive, check_sort
from .copies import KeptPictures
from .dataset import DatasetIndex, ready_output_folder
from .download import CopyFound, Downloaded, Downloader, DownloadFailed
from .errors import CollectError, SourceUnavailable
from .http import HostPauses, RetryPolicy, user_agent
from .labels import LabelQuery, parse_labels
from .mixing import Interleaved
from .provenance import ProvenanceLog, record_for, write_attribution
from .sources import DOWNLOAD_SLOTS, SourceSet, parse_sources
from .summary import CollectSummary, LabelSummary

_DEFAULTS = CollectSettings()


def collect(
    labels: Iterable[str],
    *,
    count: int | None = None,
    out: str | Path | None = None,
    source: str | Iterable[str] | None = None,
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
    endpoints: Mapping[str, str] | None = None,
    contact: str | None = None,
    near_distance: int | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    calls_per_hour: int | None = None,
    config: str | Path | None = None,
    progress: bool = True,
) -> CollectSummary:
    """Download `count` verified photos per label into `out/<label>/`.

    A label is a folder name, or `LABEL=QUERY` to search for something else (`sunflower=Helianthus
    annuus`, `sunflower=taxon:47148` on iNaturalist). `source` names the services: `auto` (Flickr
    with a key, else openverse,commons) or any of openverse, commons, inaturalist, flickr, feed.
    `endpoints` maps a key-less source to its API base (mirrors, tests), as `[openverse] endpoint` does.
    Every keyword left as None comes from the config file (`config`, else ./config.toml), then
    the built-in default; FLICKR_API_KEY / FLICKR_API_SECRET and OPENVERSE_CLIENT_ID / _SECRET
    override the file. A second run tops each label up to `count` without downloading anything twice.

    >>> summary = collect(["rose", "sunflower=Helianthus annuus"], count=20, source="inaturalist")   # doctest: +SKIP
    >>> print(summary.report())                                                                    # doctest: +SKIP
    """
    endpoints = dict(endpoints or {})
    unknown = sorted(set(endpoints) - {"openverse", "commons", "inaturalist"})
    if unknown:
        raise CollectError(f"endpoints: no key-less source is called {unknown[0]!r} (openverse, commons, inaturalist)")
    flickr = FlickrSettings.load(config, api_key=api_key, api_secret=api_secret, endpoint=endpoint, feed_url=feed_url,
                                 calls_per_hour=calls_per_hour)
    settings = CollectSettings.load(config, count=count, out=out, source=_spelled(source), size=size, license=license, sort=sort,
                                    tags=tags, workers=workers, contact=contact, near_distance=near_distance, timeout=timeout,
                                    retries=retries, backoff=backoff)
    label_queries = parse_labels(labels)
    if feed and settings.source not in ("auto", "feed"):
        raise CollectError("--feed is another name for --source feed: give one of them")
    names = ["feed"] if feed else parse_sources(settings.source, has_flickr_key=bool(flickr.api_key))
    licence_spec = settings.license.strip().lower()
    _check_fits(names, label_queries, licence_spec, settings, flickr_endpoint_given=endpoint is not None)
    policy = RetryPolicy(retries=settings.retries, backoff=settings.backoff, timeout=settings.timeout)
    run = _Run(
        labels=label_queries,
        count=check_positive("count", settings.count),
        root=Path(settings.out),
        size=sizes.parse_size(settings.size),
        workers=check_positive("workers", settings.workers),
        policy=policy,
        near_distance=int(settings.near_distance),
        progress=progress,
        pauses=HostPauses(),
        agent=user_agent(settings.contact.strip()),
    )
    source_set = SourceSet(
        names, run.root, run.size, licence_spec, policy, run.pauses, run.agent, flickr,
        OpenverseSettings.load(config, endpoint=endpoints.get("openverse")),
        CommonsSettings.load(config, endpoint=endpoints.get("commons")),
        INaturalistSettings.load(config, endpoint=endpoints.get("inaturalist")),
        tags_mode=settings.tags, sort=check_sort(settings.sort),
    ).open()
    # One collect at a time per dataset: a second one waits, then finds the photos already there.
    with dataset_lock(_created(run.root), "collect " + " ".join(q.label for q in run.labels), wait=True):
        if names == ["feed"]:
            run.say("warning: --source feed uses Flickr's public feed: at most 20 recent photos per tag, licence unknown; "
                    "do not publish a dataset made this way without checking each photo's rights")
        elif source is None and settings.source == "auto" and names != ["flickr"]:
            run.say(f"no Flickr key: collecting from {' and '.join(names)} (keyless; --source picks others)")
        return run.from_sources(source_set)


def _spelled(source: str | Iterable[str] | None) -> str | None:
    return source if source is None or isinstance(source, str) else ",".join(source)


def _check_fits(names: list[str], labels: list[LabelQuery], licence_spec: str, settings: CollectSettings,
                flickr_endpoint_given: bool) -> None:
    """Options that one source honours and the others cannot are refused, never silently dropped."""
    others = [name for name in names if name != "flickr"]
    licence_table.check_spec_syntax(licence_spec)
    if others and licence_table.is_flickr_ids(licence_spec):
        raise CollectError(f"--license {licence_spec}: Flickr licence ids work with --source flickr only; "
                           f"use cc, commercial or any with {', '.join(others)}")
    if others and settings.tags != _DEFAULTS.tags:
        raise CollectError(f"--tags is Flickr's (tag search); {', '.join(others)} cannot honour it: drop it or use --source flickr")
    if others and settings.sort != _DEFAULTS.sort:
        raise CollectError(f"--sort is Flickr's; {', '.join(others)} cannot honour it: drop it or use --source flickr")
    if flickr_endpoint_given and "flickr" not in names:
        raise CollectError("--endpoint is Flickr's REST URL; set [openverse], [commons] or [inaturalist] endpoint in the settings file instead")
    taxa = [q for q in labels if q.names_a_taxon]
    if taxa and "inaturalist" not in names:
        raise CollectError(f"{taxa[0].label}={taxa[0].query}: taxon:ID names an iNaturalist taxon; add --source inaturalist")


def _created(root: Path) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CollectError(f"cannot write to output folder {root}: {error.strerror or error}; choose another with --out") from None
    return root


@dataclass
class _Run:
    """One collect run's settings, checked, plus the ids that failed (never retried in the same run)."""

    labels: list[LabelQuery]
    count: int
    root: Path
    size: str
    workers: int
    policy: RetryPolicy
    near_distance: int
    progress: bool
    #: Retry-After pauses per host, shared by the API clients and the downloads
    pauses: HostPauses
    agent: str
    failed_ids: set[str] = field(default_factory=set)
    #: sources found down during this run: not asked again for the labels after
    down: dict[str, SourceUnavailable] = field(default_factory=dict)

    def from_sources(self, sources: SourceSet) -> CollectSummary:
        started = time.monotonic()
        ready_output_folder(self.root)
        index = DatasetIndex.scan(self.root)
        kept = KeptPictures.of_dataset(self.root, self.near_distance, progress=self.progress)
        log = ProvenanceLog(self.root)
        summaries: list[LabelSummary] = []
        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="download") as pool:
                for label in self.labels:
                    summary = LabelSummary(label.label, requested=self.count, existing=index.counts.get(label.label, 0), query=label.query)
                    summaries.append(summary)
                    need = self.count - summary.existing
                    if need > 0:
                        self._label(label, summary, need, sources, index, log, kept, pool)
                    if all(name in self.down for name in sources.names):
                        raise self.down[sources.names[0]]  # nothing left to ask: the run cannot go on
        finally:
            kept.close()
            write_attribution(self.root)
        return CollectSummary(self.root, summaries, api_calls=sources.api_calls, seconds=time.monotonic() - started,
                              sources=list(sources.names), notes_shown=self.progress)

    def _label(self, label: LabelQuery, summary: LabelSummary, need: int, sources: SourceSet, index: DatasetIndex,
               log: ProvenanceLog, kept: KeptPictures, pool: ThreadPoolExecutor) -> None:
        def say(line: str) -> None:
            summary.notes.append(line)
            self.say(line)

        streams = {name: sources.stream(name, label, need, say) for name in sources.names}
        mixed = Interleaved(streams, summary, self.down)
        downloader = Downloader(self.root, self.policy, journal=lambda item: log.photo(record_for(item, label.query)), kept=kept,
                                pauses=self.pauses, agent=self.agent, slots=DOWNLOAD_SLOTS)
        self._fill(summary, need, mixed, index, log, downloader, pool)
        summary.skipped.update(mixed.skipped())

    def _fill(self, summary: LabelSummary, need: int, source: Interleaved, index: DatasetIndex, log: ProvenanceLog,
              downloader: Downloader, pool: ThreadPoolExecutor) -> None:
        """Keep downloads in flight until `need` photos are accepted or the sources run dry."""
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
                self._settle(future, in_flight.pop(future), summary, index, log, bar)
        finally:
            bar.close()
        summary.available = source.total
        summary.short = summary.accepted < need

    def _claimed(self, candidates: Iterator[Candidate], summary: LabelSummary, index: DatasetIndex, log: ProvenanceLog) -> Iterator[Candidate]:
        """Candidates this label may download: not here already, not quarantined, no known copy, not filed under another label."""
        for candidate in candidates:
            photo_id = candidate.photo_id
            if photo_id in index.quarantined or photo_id in self.failed_ids or photo_id in index.copies:
                continue
            owner = index.filed.get(photo_id)
            if owner is None:
                index.filed[photo_id] = summary.label
                yield candidate
            elif owner != summary.label:
                summary.conflicts += 1
                log.conflict(photo_id, filed_under=owner, also_matched=summary.label, query=summary.query)

    def _settle(self, future: Future, candidate: Candidate, summary: LabelSummary, index: DatasetIndex, log: ProvenanceLog, bar: tqdm) -> None:
        try:
            future.result()
        except CopyFound as found:
            summary.copies += 1
            index.copies.add(candidate.photo_id)
            del index.filed[candidate.photo_id]
            log.copy(found.downloaded, found.copy)
            if found.copy.label != summary.label:
                summary.conflicts += 1
                log.conflict(candidate.photo_id, filed_under=found.copy.label, also_matched=summary.label, query=summary.query,
                             copy_of=found.copy.of)
            bar.set_postfix(copies=summary.copies, refresh=False)
        except DownloadFailed as failure:
            summary.failed[failure.reason] += 1
            self.failed_ids.add(candidate.photo_id)
            del index.filed[candidate.photo_id]
            bar.set_postfix(failed=sum(summary.failed.values()), refresh=False)
        except OSError as error:
            raise CollectError(f"cannot write into {self.root}: {error.strerror or error}") from None
        else:
            summary.accepted += 1
            summary.by_source[candidate.source] += 1
            bar.update(1)

    def say(self, message: str) -> None:
        if self.progress:
            tqdm.write(message, file=sys.stderr)
