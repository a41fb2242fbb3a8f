"""The root of the errors a user can cause; each CLI turns one into one line and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: bad input, a missing key, an unreachable server.

    The message is the whole story and says what to do; it never contains a secret.
    """


class ConfigError(UserError):
    """The settings file or a setting is wrong."""


class InternalFailure(Exception):
    """Something went wrong on our side (a converter failed on a valid model): one line and exit code 1.

    Not a UserError: the input was fine, so "fix your input" (exit 2) would mislead; the message says what failed.
    """
