"""The one course configuration shared by the demo, the workshop server and Kubernetes.

Every set-up reads the same `course.yaml` (course id, paths, groups, trainers, limits) and
derives from it the per-role Jupyter configuration a single-user server runs with: learners get
nbgrader's exchange and the Assignments panel but neither the formgrader nor the course list;
trainers get the formgrader, which needs the server to allow framing by itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub_config.course_home import EXTENSION as COURSE_HOME_EXTENSION
from hub_config.course_home import OUTLINE_NAME
from hub_config.course_schema import CourseSettingsError, validate

HUB_CONFIG = Path(__file__).resolve().parent
REPO = HUB_CONFIG.parent
COURSE_YAML = HUB_CONFIG / "course.yaml"
# A settings file written by the workshop installer (or a test) that overrides course.yaml.
SETTINGS_VARIABLE = "FJ_HUB_SETTINGS"

LEARNER, TRAINER, GRADER = "learner", "trainer", "grader"

# nbgrader's server extensions and JupyterLab plugins a learner must not see.
LEARNER_DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    # Language servers: none is installed for the course, and the extension's search for them
    # costs every learner's server start time (fifty of them log in at once).
    "jupyter_lsp",
)
# JupyterLab's news announcements reach out to the internet; course machines may have no route out.
ALWAYS_DISABLED_LAB_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)
LEARNER_DISABLED_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
)


@dataclass(frozen=True)
class Course:
    """Where the course lives and who plays which part in it."""

    course_id: str = "fj-course"
    state_dir: Path = Path("/srv/fj-training")
    data_dir: Path = Path("/srv/fj-training/data")
    exchange_dir: Path = Path("/srv/fj-training/exchange")
    course_dir: Path = Path("/srv/fj-training/course")
    home_dir: Path = Path("/home")
    learner_group: str = "fj-learners"
    trainer_group: str = "fj-trainers"
    grader_user: str = "fj-grader"
    trainers: tuple[str, ...] = ("trainer",)
    roster_file: Path = Path("/srv/fj-training/roster.txt")
    mem_limit: str = "2G"
    cpu_limit: float = 1.0
    idle_timeout_seconds: int = 3600
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def role_config_root(self) -> Path:
        """Per-role Jupyter configuration folders, generated at hub start."""
        return self.state_dir / "jupyter-config"

    @property
    def outline_file(self) -> Path:
        """The course's outline for learners' servers (hub_config/course_home/outline.py),
        world-readable in the state folder, rewritten at every release."""
        return self.state_dir / OUTLINE_NAME

    def role_of(self, username: str) -> str:
        """Trainers are the hub's admins; everyone else is a learner."""
        return TRAINER if username in self.trainers else LEARNER

    def roster(self) -> list[str]:
        """Learner names pre-approved for sign-up (one a line; blank lines and # comments skipped)."""
        return read_roster(self.roster_file)

    def replace(self, **changes: Any) -> Course:
        """A copy with some settings changed (paths given as strings are made Paths)."""
        return _coerce(dataclasses.replace(self, **changes))


def _coerce(course: Course) -> Course:
    values = {}
    for f in dataclasses.fields(Course):
        value = getattr(course, f.name)
        if f.type == "Path" and not isinstance(value, Path):
            value = Path(value)
        if f.name == "trainers":
            value = tuple(value)
        values[f.name] = value
    return Course(**values)


def load(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Course:
    """Read course.yaml, then the settings file named by FJ_HUB_SETTINGS (or `path`), then overrides."""
    settings: dict[str, Any] = read_settings(COURSE_YAML)
    extra_file = path or os.environ.get(SETTINGS_VARIABLE)
    if extra_file and Path(extra_file).exists():
        settings.update(read_settings(Path(extra_file)))
    validate(overrides, "the settings given in code")
    settings.update(overrides)
    known = {f.name for f in dataclasses.fields(Course)}
    extra = {k: v for k, v in settings.items() if k not in known}
    kwargs = {k: v for k, v in settings.items() if k in known}
    return _coerce(Course(**kwargs, extra=extra))


def read_settings(path: Path) -> dict[str, Any]:
    """One settings file, every key and value checked against the schema (course_schema.py)."""
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CourseSettingsError(f"{path}: not valid YAML{where}") from None
    if not isinstance(values, dict):
        raise CourseSettingsError(f"{path}: expected settings as `key: value` lines")
    validate(values, str(path))
    return values


ROSTER_HEADERS = {"name", "names", "username", "user", "login", "hub name"}


def read_roster(path: str | os.PathLike[str]) -> list[str]:
    """Names from a roster file: one a line, or the first column of a CSV a trainer already has
    (`name,email`, with or without that header line); blank lines and # comments are skipped,
    and a missing file is an empty roster."""
    path = Path(path)
    if not path.exists():
        return []
    names = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines()):
        name = line.split("#", 1)[0].strip().split(",", 1)[0].strip().strip('"').strip().lower()
        if number == 0 and name in ROSTER_HEADERS:
            continue
        if name and name not in names:
            names.append(name)
    return names


# --- per-role Jupyter configuration ------------------------------------------------------------

# `exchange: service` in a settings file selects the exchange service (hub_config/exchange/)
# instead of the shared exchange folder; `exchange_url` says where servers reach it.
EXCHANGE_SERVICE = "service"
EXCHANGE_CLASSES = {
    "fetch_assignment": "ExchangeFetchAssignment", "fetch_feedback": "ExchangeFetchFeedback",
    "release_assignment": "ExchangeReleaseAssignment", "release_feedback": "ExchangeReleaseFeedback",
    "list": "ExchangeList", "submit": "ExchangeSubmit", "collect": "ExchangeCollect",
}


def exchange_lines(course: Course) -> list[str]:
    """The exchange part of nbgrader_config.py: the shared folder (the default), or the service
    where servers share one unix account and a folder could not tell learners apart."""
    if course.extra.get("exchange", "folder") != EXCHANGE_SERVICE:
        return [
            f"c.Exchange.root = {str(course.exchange_dir)!r}",
            # nbgrader names a submission after the unix account; where every server runs as one
            # account (the demo), that would file every learner's work under one name.
            "if os.environ.get('JUPYTERHUB_USER'):",
            "    c.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']",
        ]
    return [
        f"c.ServiceExchange.service_url = {str(course.extra['exchange_url'])!r}",
        *(f"c.ExchangeFactory.{key} = 'hub_config.exchange.client.{name}'"
          for key, name in EXCHANGE_CLASSES.items()),
    ]


def nbgrader_config(course: Course, role: str) -> str:
    """nbgrader_config.py for a role: everyone shares the course id and the exchange."""
    lines = [
        "# Generated from hub_config/course.yaml; edits are overwritten at hub start.",
        *(["import os", ""] if role == TRAINER or course.extra.get("exchange", "folder") != EXCHANGE_SERVICE
          else []),
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.course_id = {course.course_id!r}",
        *exchange_lines(course),
    ]
    if role == TRAINER:
        lines += [
            # The formgrader only works on a course folder below the server's root (the home):
            # trainers' homes hold a `course` link to the shared course folder.
            "_link = os.path.expanduser('~/course')",
            f"c.CourseDirectory.root = _link if os.path.isdir(_link) else {str(course.course_dir)!r}",
            # Several trainers share one course folder through their group.
            "c.CourseDirectory.groupshared = True",
        ]
    return "\n".join(lines) + "\n"


def server_config(course: Course, role: str, *, course_home: bool = False) -> dict[str, Any]:
    """jupyter_server_config.json for a role; `course_home` switches on the course home
    (hub_config/course_home/), every role's default page on the demo and workshop hubs."""
    extensions = {COURSE_HOME_EXTENSION: True} if course_home else {}
    if role == TRAINER:
        # The formgrader opens in a JupyterLab iframe; the hub's default `frame-ancestors 'none'`
        # would block it.
        config: dict[str, Any] = {"ServerApp": {"tornado_settings": {"headers": {
            "Content-Security-Policy": "frame-ancestors 'self'"}}}}
        if extensions:
            config["ServerApp"]["jpserver_extensions"] = extensions
        return config
    return {"ServerApp": {"jpserver_extensions": {
        **{name: False for name in LEARNER_DISABLED_SERVER_EXTENSIONS}, **extensions}}}


def page_config(course: Course, role: str) -> dict[str, Any]:
    """labconfig/page_config.json for a role: the nbgrader plugins it does not load."""
    names = ALWAYS_DISABLED_LAB_PLUGINS + (() if role == TRAINER else LEARNER_DISABLED_LAB_PLUGINS)
    return {"disabledExtensions": {name: True for name in names}}


def write_role_config(course: Course, role: str, dest: Path | None = None, *,
                      course_home: bool = False) -> Path:
    """Write a role's Jupyter configuration folder (put on JUPYTER_CONFIG_PATH) and return it.
    `course_home` switches the course home on: servers import it as part of the installed
    project (`make setup` installs it into the venv the servers' interpreter chain-loads)."""
    dest = Path(dest or course.role_config_root / role)
    (dest / "labconfig").mkdir(parents=True, exist_ok=True)
    (dest / "nbgrader_config.py").write_text(nbgrader_config(course, role))
    (dest / "jupyter_server_config.json").write_text(
        json.dumps(server_config(course, role, course_home=course_home), indent=2))
    # Older set-ups wrote a path edit here; the installed package needs none.
    (dest / "jupyter_server_config.py").unlink(missing_ok=True)
    (dest / "labconfig" / "page_config.json").write_text(json.dumps(page_config(course, role), indent=2))
    for path in [dest, dest / "labconfig", *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def write_all_role_configs(course: Course) -> dict[str, Path]:
    """Both roles' folders, regenerated at every hub start so they follow course.yaml, each with
    the course home; and the course outline of the clone's notebooks/ when there is none or the
    notebooks' module.yaml files (or the book's module pages) changed since it was written. On a
    workshop server trainers release with `python -m grading release`, which does not write it;
    a release (demo) or the installer writes it from the notebooks they release, so it is newer
    than them and kept."""
    from hub_config.course_home.outline import is_stale

    dirs = {role: write_role_config(course, role, course_home=True) for role in (LEARNER, TRAINER)}
    if is_stale(REPO / "notebooks", course.outline_file):
        write_clone_outline(course)
    return dirs


def write_clone_outline(course: Course) -> Path | None:
    """The outline of the clone's notebooks/, if they can be read (never stops a hub)."""
    from hub_config.course_home.outline import write_outline

    try:
        return write_outline(REPO / "notebooks", course.outline_file, course.course_id)
    except Exception as error:  # noqa: BLE001 (an unreadable course only costs the outline)
        print(f"course outline not written: {error}", file=sys.stderr)
        return None
