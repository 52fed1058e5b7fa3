"""The course as the authors wrote it: ``notebooks/<module>/module.yaml`` and one folder per
assignment. Every command reads the course through here, so the layout rules live in one place
(they are documented in notebooks/README.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grading.errors import GradingError

ASSIGNMENT_ID = re.compile(r"^[a-z][a-z0-9_]*_\d{2}_[a-z0-9_]+$")
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Assignment:
    """One assignment: a folder holding ``<id>.ipynb`` (the source, with solutions and hidden
    tests) and ``wrong.yaml`` (typical wrong answers for ``grading check``)."""

    id: str
    title: str
    minutes: int
    module: str
    folder: Path

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.id}.ipynb"

    @property
    def wrong_answers(self) -> Path:
        return self.folder / "wrong.yaml"


@dataclass(frozen=True)
class Module:
    """A module as its ``module.yaml`` describes it, assignments in the order learners take them."""

    name: str
    title: str
    order: int
    summary: str
    prerequisites: tuple[str, ...]
    objectives: tuple[str, ...]
    assignments: tuple[Assignment, ...]
    folder: Path


@dataclass(frozen=True)
class Course:
    """Every module in course order. ``problems`` lists layout faults (an assignment folder
    that module.yaml does not list, or the reverse) that ``check`` fails on; other commands
    only refuse the assignments those faults touch."""

    root: Path
    modules: tuple[Module, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def assignments(self) -> list[Assignment]:
        return [a for m in self.modules for a in m.assignments]

    def find(self, assignment_id: str) -> Assignment:
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments) or "none"
        raise GradingError(f"unknown assignment {assignment_id!r} in {self.root} (assignments: {known})")

    def select(self, ids: Iterable[str] | None) -> list[Assignment]:
        """The named assignments (every one when ``ids`` is empty), each checked to exist."""
        ids = list(ids or [])
        chosen = [self.find(i) for i in ids] if ids else self.assignments
        for assignment in chosen:
            if not assignment.notebook.is_file():
                raise GradingError(f"assignment {assignment.id}: {assignment.notebook} does not exist")
        return chosen


def _read_module_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise GradingError(f"cannot read {path}: {err}") from err
    except yaml.YAMLError as err:
        raise GradingError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise GradingError(f"{path} must be a mapping with title, order, ... and assignments")
    for key in ("title", "order"):
        if key not in data:
            raise GradingError(f"{path} has no {key!r}")
    return data


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")) and p.name not in IGNORED_FOLDERS)


def _load_module(folder: Path, problems: list[str]) -> Module:
    path = folder / "module.yaml"
    data = _read_module_yaml(path)
    listed: list[Assignment] = []
    for entry in data.get("assignments") or []:
        if not isinstance(entry, dict) or "id" not in entry:
            raise GradingError(f"{path}: every assignment needs at least an id (got {entry!r})")
        assignment_id = str(entry["id"])
        if not ASSIGNMENT_ID.match(assignment_id) or not assignment_id.startswith(folder.name + "_"):
            problems.append(f"{path}: assignment id {assignment_id!r} is not "
                            f"'{folder.name}_<NN>_<slug>'")
        try:
            minutes = int(entry.get("minutes", 0))
        except (TypeError, ValueError):
            raise GradingError(f"{path}: minutes of {assignment_id} must be a whole number") from None
        listed.append(Assignment(id=assignment_id, title=str(entry.get("title", assignment_id)),
                                 minutes=minutes, module=folder.name, folder=folder / assignment_id))
    listed_ids = {a.id for a in listed}
    for assignment in listed:
        if not assignment.folder.is_dir():
            problems.append(f"{path} lists {assignment.id}, but {assignment.folder} does not exist")
    for sub in _subfolders(folder):
        if sub.name not in listed_ids:
            problems.append(f"{sub} is not listed in {path}")
    return Module(
        name=folder.name, title=str(data["title"]), order=int(data["order"]),
        summary=str(data.get("summary", "")).strip(),
        prerequisites=tuple(str(p) for p in data.get("prerequisites") or ()),
        objectives=tuple(str(o) for o in data.get("objectives") or ()),
        assignments=tuple(listed), folder=folder)


def load_course(root: Path) -> Course:
    """Read every module under ``root`` (a folder per module, each with a module.yaml)."""
    root = Path(root)
    if not root.is_dir():
        raise GradingError(f"notebooks folder {root} does not exist")
    problems: list[str] = []
    modules: list[Module] = []
    for folder in _subfolders(root):
        if not (folder / "module.yaml").is_file():
            problems.append(f"{folder} has no module.yaml")
            continue
        modules.append(_load_module(folder, problems))
    modules.sort(key=lambda m: (m.order, m.name))
    seen: dict[str, str] = {}
    for module in modules:
        for assignment in module.assignments:
            if assignment.id in seen:
                problems.append(f"assignment id {assignment.id} is used by modules {seen[assignment.id]} "
                                f"and {module.name}; nbgrader needs ids unique across the course")
            seen[assignment.id] = module.name
    return Course(root=root, modules=tuple(modules), problems=tuple(problems))
