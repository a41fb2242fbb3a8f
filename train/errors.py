"""Errors a user can cause in training or classifying; the CLI prints each as one line and exits 2."""

from __future__ import annotations

from retrainkit.errors import UserError


class TrainError(UserError):
    """Bad input to `train` or `classify`: too few labels, an unknown backbone, an unreadable model."""
