"""Group duplicates: identical bytes, identical pixels, and near-duplicates by pHash distance.

Each group keeps one image (largest resolution, then the larger file, then the name) and
flags the others. A group whose members sit under different labels is a label conflict: every
member is flagged, since nothing tells which label is right.

Near-duplicates are found as pairs within the threshold and joined transitively (A~B, B~C puts
A, B, C in one group), which is what a person reviewing them wants to see side by side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .decode import decoded_pixels
from .hamming import near_pairs
from .record import ImageRecord

EXACT = "exact"
NEAR = "near"
#: Files with the same pixels hash alike; beyond this distance a full-decode comparison is pointless.
IDENTICAL_MAX_DISTANCE = 4


@dataclass
class DuplicateGroup:
    kind: str  # "exact" when every member shows the same pixels, else "near"
    keep: ImageRecord
    others: list[ImageRecord]
    #: max pHash distance from the kept image, over the group
    distance: int = 0
    labels: list[str] = field(default_factory=list)
    #: paths of the others whose pixels equal the kept image's (the rest are near-duplicates)
    identical: set[str] = field(default_factory=set)

    @property
    def members(self) -> list[ImageRecord]:
        return [self.keep, *self.others]

    @property
    def conflict(self) -> bool:
        return len(self.labels) > 1


def keep_rank(record: ImageRecord) -> tuple:
    """Sort key: the best copy first (most pixels, then most bytes, then the first name)."""
    return (-record.pixels, -record.bytes, record.path)


def find_groups(root: Path, records: list[ImageRecord], max_distance: int) -> list[DuplicateGroup]:
    usable = [r for r in records if r.ok]
    parent = list(range(len(usable)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    for a, b in _identical_pairs(root, usable):
        union(a, b)
    if max_distance >= 0 and usable:
        hashes = np.array([r.phash for r in usable], dtype=np.uint64)
        for a, b in near_pairs(hashes, max_distance).tolist():
            union(a, b)
    components: dict[int, list[ImageRecord]] = defaultdict(list)
    for index, record in enumerate(usable):
        components[find(index)].append(record)
    groups = [_group(root, members) for members in components.values() if len(members) > 1]
    return sorted(groups, key=lambda g: (not g.conflict, g.kind != EXACT, g.keep.path))


def _identical_pairs(root: Path, records: list[ImageRecord]) -> list[tuple[int, int]]:
    """Same sha256, or same reduced-decode digest confirmed by comparing the full decoded pixels."""
    pairs = []
    for key in ("sha256", "pixel_digest"):
        buckets: dict[str, list[int]] = defaultdict(list)
        for index, record in enumerate(records):
            buckets[getattr(record, key)].append(index)
        for members in buckets.values():
            first = members[0]
            for other in members[1:]:
                if key == "sha256" or _same_pixels(root, records[first], records[other]):
                    pairs.append((first, other))
    return pairs


def _same_pixels(root: Path, a: ImageRecord, b: ImageRecord) -> bool:
    if a.sha256 == b.sha256:
        return True
    if (a.width, a.height) != (b.width, b.height) or bin(a.phash ^ b.phash).count("1") > IDENTICAL_MAX_DISTANCE:
        return False
    try:
        return decoded_pixels(root / a.path) == decoded_pixels(root / b.path)
    except Exception:  # noqa: BLE001 - a file that changed since the scan is simply not a match
        return False


def _group(root: Path, members: list[ImageRecord]) -> DuplicateGroup:
    members = sorted(members, key=keep_rank)
    keep, others = members[0], members[1:]
    distance = max(bin(keep.phash ^ o.phash).count("1") for o in others)
    identical = {o.path for o in others if _same_pixels(root, keep, o)}
    labels = sorted({m.label for m in members})
    kind = EXACT if len(identical) == len(others) else NEAR
    return DuplicateGroup(kind, keep, others, distance, labels, identical)
