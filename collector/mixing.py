"""One label's candidates from several sources, interleaved.

Why round robin: one source's quirks (Openverse's many near-identical museum scans, a Commons
search that matches file names) must not fill a label alone, and when one runs dry (Openverse
stops at 240 results for an anonymous client) the others simply go on. A source that fails (down,
not its API, a name that resolves to nothing) is set aside with its reason in the label's summary;
one that is down is also set aside for the labels after this one (`down`), so a dead service is
not asked again and again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .candidate import Candidate
from .errors import LabelNotFound, SourceUnavailable
from .summary import LabelSummary


class Interleaved:
    def __init__(self, streams: dict[str, Iterable[Candidate]], summary: LabelSummary, down: dict[str, SourceUnavailable]) -> None:
        self.streams = streams
        self.summary = summary
        self.down = down

    def __iter__(self) -> Iterator[Candidate]:
        active = {name: iter(stream) for name, stream in self.streams.items() if name not in self.down}
        for name in self.streams:
            if name in self.down:
                self.summary.unavailable[name] = str(self.down[name])
        while active:
            for name in list(active):
                try:
                    candidate = next(active[name])
                except StopIteration:
                    del active[name]
                    self.summary.dry.append(name)
                    continue
                except LabelNotFound as error:
                    del active[name]
                    self.summary.unresolved[name] = str(error)
                    continue
                except SourceUnavailable as error:
                    del active[name]
                    self.summary.unavailable[name] = str(error)
                    self.down[name] = error
                    continue
                yield candidate

    @property
    def total(self) -> int:
        return sum(getattr(stream, "total", 0) for stream in self.streams.values())

    def skipped(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name, stream in self.streams.items():
            for reason, n in getattr(stream, "skipped", {}).items():
                counts[f"{name}: {reason}"] = counts.get(f"{name}: {reason}", 0) + n
        return counts
