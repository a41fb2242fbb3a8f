"""Plumbing every stage shares: the user-error type, the settings file, the one-line CLI edge.

It imports nothing of ours, so `collector`, `curate` and `train` can each depend on it and on
nothing else of the others' that their names do not say.
"""

from .errors import ConfigError, UserError

__all__ = ["ConfigError", "UserError"]
