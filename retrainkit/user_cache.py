"""The user's cache folder and the toolkit's version: what per-machine state is keyed by and kept in.

Why one place: the shared API-call windows (collector.ratelimit), Commons' one-request lock file and
the network's measured call size (retrainkit.model.slicing) all live per user, not per dataset, and must agree
on where.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path


def user_cache_folder() -> Path:
    """`$XDG_CACHE_HOME/retrainkit`, else `~/.cache/retrainkit` (not created here)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retrainkit"


def toolkit_version() -> str:
    """The installed retrainkit's version, "0" when it runs from a tree that was never installed."""
    try:
        return importlib.metadata.version("retrainkit")
    except importlib.metadata.PackageNotFoundError:
        return "0"
