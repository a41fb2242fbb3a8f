"""Errors a user can cause in training or classifying; the CLI prints each as one line and exits 2."""

from __future__ import annotations

from retrainkit.errors import InternalFailure, UserError


class TrainError(UserError):
    """Bad input to `train` or `classify`: too few labels, an unknown backbone, an unreadable model."""


class ConversionFailed(InternalFailure):
    """A converter (tf2onnx, the TFLite converter) failed on a model: ours to fix, not the user's; exit 1."""

