"""train: transfer learning on a curated folder-per-label tree, export, and classify.

    >>> from train import train, classify                     # doctest: +SKIP
    >>> result = train("dataset")                              # doctest: +SKIP
    >>> classify(result.out, ["photo.jpg"])[0].top             # doctest: +SKIP

The heavy modules (TensorFlow) load on first use, so `import train` stays cheap.
"""

from __future__ import annotations

from .errors import TrainError

__all__ = ["train", "classify", "TrainError"]


def __getattr__(name: str):
    if name == "train":
        from .pipeline import train
        return train
    if name == "classify":
        from retrainkit.model.classifier import classify
        return classify
    raise AttributeError(name)
