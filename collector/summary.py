"""What a collect run did, per label, as data (the API's return value) and as the table the CLI prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LabelSummary:
    label: str
    requested: int
    existing: int = 0
    accepted: int = 0
    failed: Counter = field(default_factory=Counter)
    conflicts: int = 0
    #: photos Flickr reported for the query (0 when unknown)
    available: int = 0
    #: True when the source ran out before `requested` was reached
    short: bool = False

    @property
    def have(self) -> int:
        return self.existing + self.accepted


@dataclass
class CollectSummary:
    out: Path
    labels: list[LabelSummary]
    api_calls: int = 0
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.labels)

    @property
    def complete(self) -> bool:
        return not any(s.short for s in self.labels)

    def table(self) -> str:
        header = ("label", "requested", "have", "new", "existing", "failed", "conflicts")
        rows = [header]
        for s in self.labels:
            failed = ", ".join(f"{n} {reason}" for reason, n in sorted(s.failed.items())) or "0"
            rows.append((s.label, str(s.requested), str(s.have), str(s.accepted), str(s.existing), failed, str(s.conflicts)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def report(self) -> str:
        lines = [self.table(), ""]
        for s in self.labels:
            if s.short:
                lines.append(
                    f"{s.label}: only {s.have} of {s.requested} photos; Flickr had no more usable matches "
                    f"({s.available} reported). Try --license any, --tags off/on, or another wording."
                )
        lines.append(
            f"{self.accepted} new photos in {self.seconds:.1f} s, {self.api_calls} API calls. "
            f"Files: {self.out}/<label>/; provenance: {self.out}/.collect/photos.jsonl; credits: {self.out}/.collect/ATTRIBUTION.md"
        )
        return "\n".join(lines)
