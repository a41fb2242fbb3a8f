"""Errors a user can cause when using a trained model; the CLIs print each as one line and exit 2."""

from __future__ import annotations

from ..errors import InternalFailure, UserError


class ModelError(UserError):
    """Not a model folder, a damaged model, a file that is no image: what `classify`, `serve` and exports refuse."""


class UndecodableImage(ModelError):
    """The model's own decoder refused a photo (truncated or damaged data): `serve` checks uploads by header only
    and leaves the proof to that decode, so a bad upload is found in the batch and answered alone."""


class DamagedModel(InternalFailure):
    """A model folder whose SavedModel does not load (a damaged or truncated file, a TensorFlow that cannot read it):
    not something the command line can fix, so exit 1; the message says to train the model again."""
