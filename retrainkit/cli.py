"""The edge between a command and the shell: one-line errors, exit codes, Ctrl-C.

Every command goes through `run_command`, so a user error is always one line on stderr with
exit code 2, a failure on our side (`InternalFailure`, e.g. a converter that fails on a valid model)
one line with exit code 1, and an interruption always exit code 130, never a traceback; a reader that stops early
(`classify ... | head`) ends the command quietly, as it does other Unix tools.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from .errors import InternalFailure, UserError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: what a shell reports for a command stopped by SIGPIPE (128 + 13)
EXIT_BROKEN_PIPE = 141


class OneLineParser(argparse.ArgumentParser):
    """argparse prints the whole usage on a mistake; one line that points at --help reads better."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def at_least_one(text: str) -> int:
    """argparse type of the counts every command takes (--top-k, --workers): one rule, one wording."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_command(prog: str, action: Callable[[], int], interrupted: str) -> int:
    """`action()`'s exit code; a UserError becomes `prog: message` and 2, an InternalFailure `prog: message` and 1,
    Ctrl-C `prog: interrupted` and 130."""
    try:
        code = action()
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not in Python's flush at exit
        return code
    except UserError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InternalFailure as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Nobody reads stdout any more: point it at /dev/null so that Python's own flush at exit
        # does not fail again with a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
