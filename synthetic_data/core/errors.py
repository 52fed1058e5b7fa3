"""The exceptions a user of the generator should ever see."""

from __future__ import annotations

from collections.abc import Sequence


class InputError(ValueError):
    """Bad input from the user: the message is one line saying what is wrong and what to do.

    The CLI prints it without a traceback and exits with status 2, so a learner sees a sentence,
    not a stack.
    """


class ParameterError(InputError):
    """A parameter file, or an override of one, holds a value the generator cannot use.

    The message is one line naming the file, the key path and what is allowed, whichever check
    found the problem (the file's schema or a check of what a schema cannot say), so a trainer
    who changed a rate sees where, not a traceback from deep inside a simulation.
    """

    def __init__(self, file: str, path: Sequence[str | int] = (), problem: str = "") -> None:
        self.file = file
        self.path = tuple(path)
        self.problem = problem
        where = f"params/{file}.yaml"
        key = key_path(self.path)
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


def key_path(path: Sequence[str | int]) -> str:
    """``a.b[2].c`` for the keys and list positions leading to a value (list positions are ints
    wrapped in :class:`Index`; plain ints are mapping keys, such as years)."""
    text = ""
    for part in path:
        if isinstance(part, Index):
            text += f"[{int(part)}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class Index(int):
    """A list position in a key path, told apart from an integer mapping key (a year, say)."""
