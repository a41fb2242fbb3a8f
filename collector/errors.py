"""Errors a user can cause; the CLI turns each into one line and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: bad input, a missing key, an unreachable server.

    The message is the whole story and says what to do; it never contains a secret.
    """


class ConfigError(UserError):
    """The settings file or a setting is wrong."""


class CollectError(UserError):
    """`collect` cannot go on (bad arguments, bad API key, no network, unwritable output)."""


class FlickrUnavailable(CollectError):
    """Flickr (or the configured endpoint) could not be reached or kept failing after retries."""
