"""The model package: everything needed to use a model folder made by `train`, and nothing of training.

`classify`, `serve`, the exports and any user script load and run a trained model through it:

    >>> from retrainkit.model import Classifier                     # doctest: +SKIP
    >>> Classifier("models/flowers").classify(["rose.jpg"])[0].top  # doctest: +SKIP

What a folder holds and what its SavedModel answers is `folder`'s; model.json and metrics.json are
`card`'s typed, versioned records; the bytes a photo reaches the model as are `image_bytes`'s, and
the pixels it becomes `preprocessing`'s (the same functions built into the SavedModel). `train`
writes through this package; nothing here imports `train`. TensorFlow loads on first use of
`Classifier`, so `import retrainkit.model` stays cheap.
"""

from __future__ import annotations

from .card import Calibration, Metrics, ModelCard
from .errors import ModelError, UndecodableImage

__all__ = ["Calibration", "Classifier", "Metrics", "ModelCard", "ModelError", "Prediction", "UndecodableImage", "classify"]


def __getattr__(name: str):
    if name in ("Classifier", "Prediction", "classify"):
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(name)
