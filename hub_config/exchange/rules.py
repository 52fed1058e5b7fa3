"""What the exchange accepts and who may do what: pure functions, so they are tested alone.

Names become folder and file names on both ends (the service's store, a learner's home, the
trainers' course folder), so every name is checked against a narrow pattern before use: no
separators, no leading dot (``..``, hidden files), no control characters, bounded lengths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INSTRUCTOR, LEARNER = "instructor", "learner"

# Course and assignment ids (nbgrader uses them as folder names).
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Hub user names on a course hub (hub_config.hub.USERNAME_PATTERN), checked again here because
# they are filed as student ids.
USER_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,30}$")
# One part of a file's path inside an assignment.
PART_PATTERN = re.compile(r"^[A-Za-z0-9_(][A-Za-z0-9 _.()+-]{0,127}$")
MAX_DEPTH = 4
FEEDBACK_PATTERN = re.compile(r"^[A-Za-z0-9_(][A-Za-z0-9 _.()+-]{0,122}\.html$")


class RuleError(ValueError):
    """A request the exchange refuses; the message is one line a learner can act on."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """Bounds of one upload (a release, a submission or one learner's feedback)."""

    max_files: int = 200
    max_file_bytes: int = 20 * 2**20
    max_total_bytes: int = 50 * 2**20

    @property
    def max_body_bytes(self) -> int:
        """The largest HTTP body the service reads: room for any acceptable upload (base64 plus
        JSON) and for slightly oversized ones, which get a clear refusal; a larger body is cut
        off unread."""
        return self.max_total_bytes * 3 // 2 + 1024 * self.max_files + 2**20


def check_id(value: object, what: str = "assignment id") -> str:
    """A course or assignment id, or RuleError."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise RuleError(f"invalid {what}: use letters, digits, '_' and '-' (at most 64)")
    return value


def check_user(value: object) -> str:
    """A hub user name usable as a student id, or RuleError."""
    if not isinstance(value, str) or not USER_PATTERN.match(value):
        raise RuleError("invalid student id")
    return value


def check_path(value: object) -> str:
    """A relative file path inside an assignment ('a/b.ipynb'), or RuleError.

    Refused: absolute paths, backslashes, empty parts, '.', '..' and hidden names, characters
    outside a plain set, and paths deeper than MAX_DEPTH folders.
    """
    if not isinstance(value, str) or not value or len(value) > 512:
        raise RuleError("invalid file name")
    parts = value.split("/")
    if len(parts) > MAX_DEPTH + 1:
        raise RuleError(f"file too deep in its folder: {value[:80]!r}")
    for part in parts:
        if not PART_PATTERN.match(part) or part.endswith((" ", ".")):
            raise RuleError(f"invalid file name: {value[:80]!r} (letters, digits, space, "
                            "'_', '-', '.', '+', '(' and ')' only; no hidden names)")
    return value


def check_feedback_name(value: object) -> str:
    """A feedback page's name ('<notebook>.html', no folders), or RuleError."""
    if not isinstance(value, str) or not FEEDBACK_PATTERN.match(value):
        raise RuleError("invalid feedback file name")
    return value


def check_sizes(sizes: list[int], limits: Limits) -> None:
    """Refuse an upload with too many files, one too large, or too many bytes in all."""
    if not sizes:
        raise RuleError("nothing to upload: the folder holds no files")
    if len(sizes) > limits.max_files:
        raise RuleError(f"too many files ({len(sizes)}; at most {limits.max_files})", 413)
    if max(sizes) > limits.max_file_bytes:
        raise RuleError(f"a file is too large (at most {limits.max_file_bytes // 2**20} MiB)", 413)
    if sum(sizes) > limits.max_total_bytes:
        raise RuleError(f"too large in all (at most {limits.max_total_bytes // 2**20} MiB)", 413)


def role_of(user: dict, instructor_group: str) -> str:
    """Hub admins and members of the instructors' group are instructors; everyone else learns.

    `user` is the hub's own model of the caller (never anything the caller sent)."""
    if user.get("admin") or instructor_group in (user.get("groups") or []):
        return INSTRUCTOR
    return LEARNER


def require_instructor(role: str) -> None:
    """Releasing, collecting (listing everyone's and downloading any submission) and giving
    feedback are the instructors' alone."""
    if role != INSTRUCTOR:
        raise RuleError("only the course's trainers may do this", 403)

