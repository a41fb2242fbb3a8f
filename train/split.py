"""Train / validation / test split that stays put.

Each image is placed by a hash of its label and file name, not of its path (retrain.py hashes the
path, so moving the dataset folder reshuffles it). Near-duplicates found by curate travel
together, so a copy in training never inflates the test score. Every label with at least three
images gets at least one validation and one test image (retrain.py can leave a class with none
and then crash or mislead).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from curate import ImageRecord

TRAIN, VALIDATION, TEST = "train", "validation", "test"


@dataclass
class _Unit:
    """Images that must share a split: a near-duplicate group, or one image."""

    members: list[ImageRecord]

    @property
    def key(self) -> str:
        first = min(self.members, key=lambda r: r.path)
        return f"{first.label}/{first.name}"

    @property
    def position(self) -> float:
        return self.position_in(0)

    def position_in(self, shuffle: int) -> float:
        """Where the unit falls in [0, 1): shuffle 0 is the split's own order, others are fresh orders."""
        text = self.key if shuffle == 0 else f"{shuffle}:{self.key}"
        return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12

    @property
    def labels(self) -> set[str]:
        return {m.label for m in self.members}


def split(records: list[ImageRecord], groups: list[list[str]], val_pct: float, test_pct: float) -> dict[str, str]:
    """path -> "train" | "validation" | "test"."""
    units = _units(records, groups)
    place: dict[int, str] = {}
    for index, unit in enumerate(units):
        position = unit.position * 100
        place[index] = TEST if position < test_pct else VALIDATION if position < test_pct + val_pct else TRAIN
    _small_labels_train_only(units, place)
    for wanted, pct in ((VALIDATION, val_pct), (TEST, test_pct)):
        if pct > 0:
            _ensure_each_label_has(wanted, units, place)
    return {member.path: place[index] for index, unit in enumerate(units) for member in unit.members}


def folds(records: list[ImageRecord], groups: list[list[str]], k: int, shuffle: int = 0) -> dict[str, int]:
    """path -> fold 0..k-1 for cross-validation: near-duplicate groups share a fold, and each label is
    dealt round the folds in hash order, so every fold holds about 1/k of every label.

    `shuffle` n > 0 deals in another fixed order: repeated cross-validation (a benchmark averaging
    several partitions) without giving up reproducibility."""
    dealt: dict[str, int] = defaultdict(int)
    fold_of: dict[str, int] = {}
    for unit in sorted(_units(records, groups), key=lambda u: (min(u.labels), u.position_in(shuffle))):
        label = min(unit.labels)
        for member in unit.members:
            fold_of[member.path] = dealt[label] % k
        dealt[label] += 1
    return fold_of


def _units(records: list[ImageRecord], groups: list[list[str]]) -> list[_Unit]:
    by_path = {r.path: r for r in records}
    taken: set[str] = set()
    units = []
    for group in groups:
        members = [by_path[p] for p in group if p in by_path and p not in taken]
        if len(members) > 1:
            units.append(_Unit(members))
            taken.update(m.path for m in members)
    units.extend(_Unit([r]) for r in records if r.path not in taken)
    return sorted(units, key=lambda u: u.key)


def _images_per_label(units: list[_Unit]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for unit in units:
        for member in unit.members:
            counts[member.label] += 1
    return counts


def _small_labels_train_only(units: list[_Unit], place: dict[int, str]) -> None:
    """A label with one or two images needs them all to learn from."""
    counts = _images_per_label(units)
    for index, unit in enumerate(units):
        if any(counts[label] < 3 for label in unit.labels):
            place[index] = TRAIN


def _ensure_each_label_has(wanted: str, units: list[_Unit], place: dict[int, str]) -> None:
    counts = _images_per_label(units)
    for label in sorted(counts):
        if counts[label] < 3 or any(place[i] == wanted and label in u.labels for i, u in enumerate(units)):
            continue
        train_units = [i for i, u in enumerate(units) if place[i] == TRAIN and u.labels == {label}]
        train_images = sum(len(units[i].members) for i, u in enumerate(units) if place[i] == TRAIN and label in u.labels)
        candidates = sorted((i for i in train_units if train_images - len(units[i].members) >= 1), key=lambda i: units[i].position)
        if candidates:
            place[candidates[0]] = wanted
