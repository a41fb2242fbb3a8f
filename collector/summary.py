"""What a collect run did, per label and per source, as data (the API's return value) and as the
table and notes the CLI prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: what to try when a label comes up short, by the sources it used
_FLICKR_HINT = "Try --license any, --tags off/on, or another wording."
_KEYLESS_HINT = "Try more sources (--source openverse,commons,inaturalist), --license any, or LABEL=another wording."


@dataclass
class LabelSummary:
    label: str
    requested: int
    existing: int = 0
    accepted: int = 0
    failed: Counter = field(default_factory=Counter)
    conflicts: int = 0
    #: downloads that copied a photo already kept (not counted; another candidate was fetched)
    copies: int = 0
    #: photos the sources reported for the query (0 when unknown)
    available: int = 0
    #: True when the sources ran out before `requested` was reached
    short: bool = False
    #: what was searched for (`LABEL=QUERY`; the label itself otherwise)
    query: str = ""
    #: new photos per source
    by_source: Counter = field(default_factory=Counter)
    #: sources that had no more candidates for this label
    dry: list[str] = field(default_factory=list)
    #: sources set aside for this label, with why (down, not their API)
    unavailable: dict[str, str] = field(default_factory=dict)
    #: sources where the label's query names nothing (an iNaturalist name with no taxon), with the names found instead
    unresolved: dict[str, str] = field(default_factory=dict)
    #: candidates a source listed but that were never downloaded, by reason (licence, no-licence, ...)
    skipped: Counter = field(default_factory=Counter)
    #: lines worth printing under the table (what a name resolved to)
    notes: list[str] = field(default_factory=list)

    @property
    def have(self) -> int:
        return self.existing + self.accepted

    @property
    def has_error(self) -> bool:
        """The label came up short and its query named nothing at a source it asked (an error for this
        label alone; when the other sources filled it, the summary only notes it)."""
        return self.short and bool(self.unresolved)


@dataclass
class CollectSummary:
    out: Path
    labels: list[LabelSummary]
    api_calls: int = 0
    seconds: float = 0.0
    sources: list[str] = field(default_factory=lambda: ["flickr"])
    #: the labels' notes were printed as they came (with the progress bars), so the report leaves them out
    notes_shown: bool = False

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.labels)

    @property
    def complete(self) -> bool:
        return not any(s.short for s in self.labels)

    def table(self) -> str:
        header = ("label", "requested", "have", "new", "existing", "sources", "failed", "copies", "conflicts")
        rows = [header]
        for s in self.labels:
            failed = ", ".join(f"{n} {reason}" for reason, n in sorted(s.failed.items())) or "0"
            origin = ", ".join(f"{source} {s.by_source[source]}" for source in self.sources if s.by_source[source]) or "-"
            rows.append((s.label, str(s.requested), str(s.have), str(s.accepted), str(s.existing), origin, failed, str(s.copies),
                         str(s.conflicts)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def report(self) -> str:
        lines = [self.table(), ""]
        for s in self.labels:
            lines += [] if self.notes_shown else s.notes
            lines += [f"{s.label}: {source} set aside: {reason}" for source, reason in s.unavailable.items()]
            lines += list(s.unresolved.values())  # each says the label and the names found instead
            if s.dry and len(self.sources) > 1:
                lines.append(f"{s.label}: no more candidates from {', '.join(s.dry)}")
            for key, n in sorted(s.skipped.items()):
                source, _, reason = key.partition(": ")
                lines.append(f"{s.label}: {source} listed {n} photo(s) passed over ({reason})")
            if s.short:
                hint = _FLICKR_HINT if self.sources == ["flickr"] else _KEYLESS_HINT
                lines.append(f"{s.label}: only {s.have} of {s.requested} photos; {', '.join(self.sources)} had no more usable "
                             f"matches ({s.available} reported). {hint}")
        lines.append(
            f"{self.accepted} new photos from {', '.join(self.sources)} in {self.seconds:.1f} s, {self.api_calls} API calls. "
            f"Files: {self.out}/<label>/; provenance: {self.out}/.collect/photos.jsonl; credits: {self.out}/.collect/ATTRIBUTION.md"
        )
        return "\n".join(lines)
