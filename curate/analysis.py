"""One pass over a dataset: scan, group duplicates, flag, and read the reject list.

`analyse()` is what `review`, `apply` and the report share; `usable_images()` is the view of
the tree every other stage trains on.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .duplicates import DuplicateGroup, find_groups
from .flags import apply_flags, kind_of
from .record import ImageRecord
from .rejects import RejectList
from .scan import ScanResult, scan
from .settings import CurateSettings

TABLE_COLUMNS = ("images", "corrupt", "placeholder", "tiny", "aspect", "duplicates", "near", "conflicts", "quality", "rejected")


@dataclass
class Analysis:
    scan: ScanResult
    groups: list[DuplicateGroup]
    rejected: dict[str, str]
    settings: CurateSettings

    @property
    def root(self) -> Path:
        return self.scan.root

    @property
    def records(self) -> list[ImageRecord]:
        return self.scan.records

    def flagged(self, kinds: tuple[str, ...] | list[str]) -> list[ImageRecord]:
        wanted = set(kinds)
        return [r for r in self.records if any(kind_of(flag) in wanted for flag in r.flags)]

    def label_counts(self) -> dict[str, Counter]:
        table: dict[str, Counter] = {}
        for record in self.records:
            row = table.setdefault(record.label, Counter())
            row["images"] += 1
            for flag in set(record.flags):
                row[_column(flag)] += 1
            if record.path in self.rejected:
                row["rejected"] += 1
        return table


def _column(flag: str) -> str:
    kind = kind_of(flag)
    if flag == "near-duplicate":
        return "near"
    if kind in ("uniform", "dark", "bright", "grayscale"):
        return "quality"
    return kind


def analyse(dataset: str | os.PathLike, settings: CurateSettings | None = None, *, progress: bool = True) -> Analysis:
    settings = settings or CurateSettings()
    result = scan(dataset, workers=settings.workers or None, progress=progress)
    groups = find_groups(result.root, result.records, settings.near_distance)
    apply_flags(result.records, groups, settings)
    rejected = RejectList(result.root).entries
    return Analysis(result, groups, rejected, settings)


def usable_images(dataset: str | os.PathLike, *, progress: bool = False) -> list[ImageRecord]:
    """The images every stage uses: decodable, not rejected, not quarantined (those left the tree).

    Duplicates stay in until `curate apply` moves them: flags are advice, the reject list and the
    quarantine are decisions.
    """
    result = scan(dataset, progress=progress)
    rejected = RejectList(result.root).entries
    return [r for r in result.records if r.ok and r.path not in rejected]
