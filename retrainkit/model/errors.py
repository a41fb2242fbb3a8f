"""Errors a user can cause when using a trained model; the CLIs print each as one line and exit 2."""

from __future__ import annotations

from ..errors import UserError


class ModelError(UserError):
    """Not a model folder, a damaged model, a file that is no image: what `classify`, `serve` and exports refuse."""


class UndecodableImage(ModelError):
    """The model's own decoder refused a photo (truncated or damaged data): `serve` checks uploads by header only
    and leaves the proof to that decode, so a bad upload is found in the batch and answered alone."""
