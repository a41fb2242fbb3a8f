"""Which features the "none of the labels" reference compares photos in, per way of training.

Why not the fine-tuned network's own features: fine-tuning pulls the labels' photos apart and
whatever else along with them, so an everyday photo can land near a label. On nine flower kinds with
kinds held out in turn (bench/open_world.py), at the same share of the labels' own photos flagged,
the frozen network caught more of ood-dev's everyday photos than the fine-tuned one, and the frozen
last block's pooled output (before the head's 1x1 convolution to 1,280 features) more still, and
costs less; photos of other flower kinds were caught equally rarely by every space tried.

So a model fine-tuned from block `cut` carries a frozen copy of the blocks from `cut` on: at train
time it runs on the activations cached at the cut (no photo is read again), in the exported model on
the same activations as the fine-tuned blocks (train/outputs/saved_model.py). Without fine-tuning the reference is
the frozen network's pooled features (the bottlenecks: free); after `--fine-tune all` there are no
cached activations and no frozen copy to run, so it is the fine-tuned network's features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..examples import Examples
from ..inputs import TrainingInputs
from ..split import TEST, TRAIN, VALIDATION

FINE_TUNED, FROZEN_FEATURES, FROZEN_LAST_BLOCK = "fine-tuned features", "frozen features", "frozen last block"


@dataclass(frozen=True)
class NoveltySpace:
    #: one of FINE_TUNED, FROZEN_FEATURES, FROZEN_LAST_BLOCK
    kind: str
    #: the first block of the frozen copy (FROZEN_LAST_BLOCK only): the exported model runs it from there
    cut: int | None = None

    def describe(self) -> str:
        return f"{self.kind} (from block {self.cut})" if self.cut is not None else self.kind


def novelty_space(run: TrainingInputs, fine_tuned_features: dict[str, Examples] | None,
                  dropped: set[str]) -> tuple[NoveltySpace, dict[str, Examples], np.ndarray | None]:
    """The space, each split's vectors in it (one row per photo, the plain variant; `dropped` left out of
    training), and the rejected photos' vectors in it (None after `--fine-tune all`: they were never run
    through the fine-tuned network)."""
    rejected = run.rejected
    if fine_tuned_features is None:
        return (NoveltySpace(FROZEN_FEATURES), {name: run.data[name].one_per_photo() for name in (TRAIN, VALIDATION, TEST)},
                None if rejected is None else rejected.plain)
    if run.at_cut is None:
        return NoveltySpace(FINE_TUNED), {name: rows.one_per_photo() for name, rows in fine_tuned_features.items()}, None
    cut, lite = run.at_cut.cut, run.backbone.lite
    top, shape = lite.build_novelty_top(cut), lite.activation_shape(cut)

    def pooled(activations: np.ndarray) -> np.ndarray:
        if not len(activations):
            return np.zeros((0, top.output_shape[-1]), np.float32)
        return np.asarray(top.predict(activations.reshape((-1, *shape)), batch_size=64, verbose=0), np.float32)

    vectors = {}
    for name in (TRAIN, VALIDATION, TEST):
        rows = run.at_cut.data[name].one_per_photo()
        if name == TRAIN:
            rows = rows.without(dropped)
        vectors[name] = Examples(pooled(rows.features), rows.labels, rows.paths)
    return (NoveltySpace(FROZEN_LAST_BLOCK, cut), vectors,
            None if rejected is None or rejected.at_cut is None else pooled(rejected.at_cut))
