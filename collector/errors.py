"""Errors a user can cause while collecting; the CLI turns each into one line and exit code 2."""

from __future__ import annotations

from retrainkit.errors import ConfigError, UserError

__all__ = ["CollectError", "ConfigError", "FlickrUnavailable", "UserError"]


class CollectError(UserError):
    """`collect` cannot go on (bad arguments, bad API key, no network, unwritable output)."""


class FlickrUnavailable(CollectError):
    """Flickr (or the configured endpoint) could not be reached or kept failing after retries."""
