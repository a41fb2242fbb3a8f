"""Errors a user can cause in curation; the CLI prints each as one line and exits 2."""

from __future__ import annotations

from retrainkit.errors import UserError


class CurateError(UserError):
    """Bad input to a curate command: a missing folder, a tree with no labels, an unknown path."""
