"""The one exception a user of the generator should ever see."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user: the message is one line saying what is wrong and what to do.

    The CLI prints it without a traceback and exits with status 2, so a learner sees a sentence,
    not a stack.
    """
