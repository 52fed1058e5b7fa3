"""The one error type the command line turns into a one-line message and exit code 2."""

from __future__ import annotations


class GradingError(Exception):
    """Bad input from the person running a command: a missing folder, an unknown assignment,
    an unreadable notebook. Never a bug in this package, which should surface as a traceback."""
