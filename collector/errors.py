"""Errors a user can cause while collecting; the CLI turns each into one line and exit code 2."""

from __future__ import annotations

from retrainkit.errors import ConfigError, UserError

__all__ = ["CollectError", "ConfigError", "FlickrUnavailable", "LabelNotFound", "SourceUnavailable", "UserError"]


class CollectError(UserError):
    """`collect` cannot go on (bad arguments, bad API key, no network, unwritable output)."""


class SourceUnavailable(CollectError):
    """A service could not be reached, kept failing after retries, or answered something that is not
    its API. With other sources in the run it is set aside (the summary says why); alone, it stops the run."""

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class FlickrUnavailable(SourceUnavailable):
    """Flickr (or the configured endpoint) could not be reached or kept failing after retries."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "flickr")


class LabelNotFound(CollectError):
    """A label's query names nothing at this source (an iNaturalist name with no taxon): that label
    gets nothing from it, and the other labels go on."""
