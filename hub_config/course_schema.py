"""What a course settings file may say: every key, its kind and what it means.

Trainers edit `/etc/fj-training/course.yaml` by hand. A misspelt key (`mem_limt: 4G`) or a value
of the wrong kind (`idle_timeout_seconds: "an hour"`) used to be accepted silently and ignored
or misread; now the hub refuses to start with one line naming the key, the file and what is
allowed. The table below is the one definition of the settings; `course.py` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any


class CourseSettingsError(ValueError):
    """A course setting is unknown or has a value it cannot have (one line, for the trainer)."""


@dataclass(frozen=True)
class Setting:
    kind: str
    meaning: str
    check: Callable[[Any], bool]
    default: Any = None  # the value when a settings file leaves the key out (None: set-up decides)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _name(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value) is not None


def _names(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(_name(v) for v in value)


def _absolute_path(value: Any) -> bool:
    return isinstance(value, str | PurePath) and PurePath(value).is_absolute()


def _size(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B?", value.strip(),
                                                   re.IGNORECASE) is not None


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _cores(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 64


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _port(value: Any) -> bool:
    return value is None or _whole(1, 65535)(value)


def _url(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"https?://[^\s/]*(:\d+)?(/\S*)?", value) is not None


SETTINGS: dict[str, Setting] = {
    "course_id": Setting("a name (lower-case letters, digits, - and _)", "nbgrader's course id", _name),
    "state_dir": Setting("an absolute path", "everything the hub keeps between restarts", _absolute_path),
    "data_dir": Setting("an absolute path", "the dataset learners and graders read", _absolute_path),
    "exchange_dir": Setting("an absolute path", "nbgrader's exchange", _absolute_path),
    "course_dir": Setting("an absolute path", "the trainers' nbgrader course folder", _absolute_path),
    "home_dir": Setting("an absolute path", "where homes are created", _absolute_path),
    "learner_group": Setting("a unix group name", "the learners' group", _name),
    "trainer_group": Setting("a unix group name", "the trainers' group", _name),
    "grader_user": Setting("a unix account name", "the grading account", _name),
    "trainers": Setting("a list of hub names", "the hub's trainers (admins)", _names),
    "roster_file": Setting("an absolute path", "the roster of learner names", _absolute_path),
    "mem_limit": Setting("a size such as 2G or 512M", "memory per learner's server", _size),
    "cpu_limit": Setting("a number of CPU cores from 0 to 64 (0: no cap)", "the most CPU one "
                         "learner's server may use", _cores),
    "idle_timeout_seconds": Setting("a whole number of seconds from 300 to 604800",
                                    "how long an idle server is kept", _whole(300, 7 * 86400)),
    # Written by the installer and the demo; a trainer rarely sets them by hand.
    "python": Setting("an absolute path", "the interpreter learners' servers run", _absolute_path),
    "bind_url": Setting("a URL such as http://:8000", "where the hub listens", _url),
    "hub_port": Setting("a port number", "the hub's internal port", _port),
    "proxy_api_port": Setting("a port number", "the proxy's API port", _port),
    "book_dir": Setting("an absolute path", "the built course book", _absolute_path),
    "learner_data_dir": Setting("an absolute path", "the demo's learner view of the data", _absolute_path),
    "notebooks": Setting("an absolute path", "the course's source notebooks (default: the clone's "
                         "notebooks/)", _absolute_path),
    "exchange": Setting("folder or service", "nbgrader's exchange: a shared folder, or the exchange "
                        "service where every server runs as one account (Kubernetes)",
                        lambda value: value in ("folder", "service")),
    "exchange_url": Setting("a URL", "where servers reach the exchange service", _url),
    # Self-paced feedback: the hub runs `python -m grading watch --self-paced` as a service
    # (grading/watch.py, watch_command), which grades each submission as it arrives and releases
    # its feedback, model answers included. Off unless a trainer turns it on.
    "self_paced_feedback": Setting("true or false", "grade submissions as they arrive and release "
                                   "their feedback with model answers, without a trainer", _flag,
                                   default=False),
    "feedback_max_attempts": Setting("a whole number from 0 (0: no cap)", "graded attempts per "
                                     "learner and assignment in self-paced feedback", _count, default=0),
    "feedback_wait_minutes": Setting("a whole number of minutes from 0", "the least time between a "
                                     "learner's graded attempts at one assignment in self-paced "
                                     "feedback", _count, default=0),
}


def setting_value(values: Mapping[str, Any], key: str) -> Any:
    """A setting's value in ``values`` (a loaded course's ``extra``, say), or its default."""
    return values.get(key, SETTINGS[key].default)


def validate(values: Mapping[str, Any], source: str) -> None:
    """Refuse the first unknown key or impossible value, naming it and what is allowed."""
    for key, value in values.items():
        setting = SETTINGS.get(key)
        if setting is None:
            close = [k for k in SETTINGS if _similar(k, str(key))]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise CourseSettingsError(f"{source}: unknown setting {key!r}{hint}; known settings: "
                                      f"{', '.join(SETTINGS)}")
        if not setting.check(value):
            raise CourseSettingsError(f"{source}: {key} must be {setting.kind} ({setting.meaning}), "
                                      f"not {value!r}")


def _similar(known: str, typed: str) -> bool:
    from difflib import SequenceMatcher

    return SequenceMatcher(None, known, typed).ratio() >= 0.8
