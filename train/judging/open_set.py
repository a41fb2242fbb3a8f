"""`train`'s open-set step: the novelty reference from the exported network's features, and what it says
about the photos the model did not learn from (validation and test), for metrics.json and the report.

The score and its calibration are train/judging/novelty.py's; this module only picks the rows (one per photo,
its plain variant) and words the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from retrainkit.model.card import OpenSetMetrics

from ..examples import Examples
from ..settings import TrainSettings
from ..split import TEST, TRAIN, VALIDATION
from .novelty import Reference, build_reference, scores
from .novelty_space import NoveltySpace

#: Photos listed per split as "would be called none of the labels" at most (the report shows them).
MAX_LISTED = 100


@dataclass
class OpenSet:
    reference: Reference
    #: per split, the photos past the threshold: {"path", "label", "novelty"}, most novel first
    unknown: dict[str, list[dict]] = field(default_factory=dict)
    #: per split, how many photos were scored
    scored: dict[str, int] = field(default_factory=dict)
    #: test photo path -> novelty, for metrics.json's test predictions
    test_novelty: dict[str, float] = field(default_factory=dict)
    #: per split, the vectors the photos were compared in (one row per photo): for benches and diagnostics
    vectors: dict[str, Examples] = field(default_factory=dict)

    def kept_pct(self, split: str) -> float | None:
        count = self.scored.get(split, 0)
        return None if not count else round(100.0 * (1 - len(self.unknown[split]) / count), 2)

    @property
    def promised_unknown_pct(self) -> float:
        """The share of real photos of the labels the threshold promises to call unknown."""
        return round(100.0 - self.reference.calibration.known_pct, 2)

    @property
    def unseen(self) -> tuple[int, int]:
        """(called unknown, scored) among the photos no weight learned from: validation and test."""
        return (sum(len(self.unknown.get(name, [])) for name in (VALIDATION, TEST)),
                sum(self.scored.get(name, 0) for name in (VALIDATION, TEST)))

    def measured_unknown_pct(self) -> float | None:
        unknown, scored = self.unseen
        return None if not scored else round(100.0 * unknown / scored, 2)

    def summary(self) -> str:
        test = self.kept_pct(TEST)
        on_test = "" if test is None else f"; on the test photos: {len(self.unknown[TEST])} of {self.scored[TEST]} unknown"
        unknown, scored = self.unseen
        promise = (f" Promised: {self.promised_unknown_pct:g}% of real photos of the labels called unknown; measured: "
                   f"{unknown} of {scored} validation and test photos ({self.measured_unknown_pct():.1f}%)." if scored else "")
        return f"Open set: {self.reference.calibration.describe()}{on_test}.{promise}"

    def metrics(self) -> OpenSetMetrics:
        unknown, scored = self.unseen
        return OpenSetMetrics(**self.reference.calibration.as_dict(),
                              test_kept_pct=self.kept_pct(TEST),
                              promised_unknown_pct=self.promised_unknown_pct,
                              measured_unknown_pct=self.measured_unknown_pct(),
                              measured_unknown_photos=unknown,
                              measured_photos=scored,
                              validation_unknown=self.unknown.get(VALIDATION, [])[:MAX_LISTED],
                              test_unknown=self.unknown.get(TEST, [])[:MAX_LISTED])


def open_set(splits: dict[str, Examples], labels: list[str], groups: list[list[str]], settings: TrainSettings,
             space: NoveltySpace, rejected: np.ndarray | None = None) -> OpenSet:
    """The reference from the training photos (vectors in `space`), calibrated to settings.known_pct; validation and test scored.
    `rejected`: the photos the user rejected, in the same space (train/judging/novelty.py says what they do)."""
    photos = {name: rows.one_per_photo() for name, rows in splits.items()}
    train = photos[TRAIN]
    group_of = {path: number for number, members in enumerate(groups) for path in members}
    train_groups = [group_of.get(path, len(groups) + i) for i, path in enumerate(train.paths)]
    reference = build_reference(train.features, train.labels, train_groups, photos[VALIDATION].features,
                                settings.known_pct, settings.seed, rejected_features=rejected)
    reference.calibration = replace(reference.calibration, space=space.describe())
    result = OpenSet(reference, vectors=photos)
    for name in (VALIDATION, TEST):
        rows = photos[name]
        novelty = scores(rows.features, reference) if len(rows.paths) else np.zeros(0)
        past = np.flatnonzero(novelty > reference.calibration.threshold)
        past = past[np.argsort(-novelty[past])]
        result.unknown[name] = [{"path": rows.paths[i], "label": labels[rows.labels[i]], "novelty": round(float(novelty[i]), 4)}
                                for i in past]
        result.scored[name] = len(rows.paths)
        if name == TEST:
            result.test_novelty = {path: round(float(n), 6) for path, n in zip(rows.paths, novelty)}
    return result
