"""Fine-tuning from the last run's weights after a few photos changed, where that is sound.

Why: after a user moves or rejects a handful of photos, a cold fine-tuning relearns what the last run
already knew. Starting from the last run's fine-tuned block and head, one epoch settles the
change (bench/retrain.py measures the time and the accuracy against a cold run). Sound means: the
same backbone, cut and labels (the weights have the same shapes and meanings), and no photo of this
run's test split was among the last run's training photos, so the test score still comes from
photos no weight learned from. Anything else, or a missing or damaged file, is a cold start.
The weights are written into the model folder (`warm_start.npz`, with what they were made from)
after each fine-tuning on cached activations.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrainkit.atomic import write_atomically

WEIGHTS_NAME = "warm_start.npz"
#: epochs and patience of a warm-started fine-tuning: the change is small, the weights near their optimum
#: (one epoch kept the accuracy of a cold run in less time than two: bench/retrain.py; figures in bench/README.md)
WARM_EPOCHS = 1
WARM_PATIENCE = 1


@dataclass(frozen=True)
class Previous:
    """The last run's fine-tuned weights and what they were made from."""

    weights: list[np.ndarray]
    backbone: str
    cut: int
    labels: list[str]
    #: the photos the weights learned from (the training split of the run that wrote them)
    trained: frozenset[str]


def read(target: Path) -> Previous | None:
    """The last run's weights in `target`, or None (never trained there, trained frozen, or unreadable)."""
    try:
        with np.load(target / WEIGHTS_NAME, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            weights = [stored[f"w{i}"] for i in range(int(meta["count"]))]
        return Previous(weights, str(meta["backbone"]), int(meta["cut"]), list(meta["labels"]), frozenset(meta["trained"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sound(previous: Previous | None, backbone: str, cut: int, labels: list[str], test_paths: list[str]) -> bool:
    """Whether this run may start from `previous`: same network and labels, its test photos never trained on."""
    if previous is None:
        return False
    return (previous.backbone, previous.cut, previous.labels) == (backbone, cut, labels) and not previous.trained & set(test_paths)


def save(target: Path, weights: list[np.ndarray], backbone: str, cut: int, labels: list[str], trained: list[str]) -> None:
    """The weights with what they were made from, the training photos included: the next run checks its test split against them."""
    meta = json.dumps({"count": len(weights), "backbone": backbone, "cut": cut, "labels": labels, "trained": sorted(trained)})
    packed = io.BytesIO()
    np.savez(packed, meta=np.array(meta), **{f"w{i}": w for i, w in enumerate(weights)})
    write_atomically(target / WEIGHTS_NAME, packed.getvalue())


def forget(target: Path) -> None:
    (target / WEIGHTS_NAME).unlink(missing_ok=True)
