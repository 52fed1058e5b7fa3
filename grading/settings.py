"""Where everything is: the options every command shares, resolved once in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOKS = REPO / "notebooks"
DEFAULT_COURSE_DIR = REPO / "build" / "course"
DEFAULT_BOOK_DIR = REPO / "book" / "released"
DEFAULT_COURSE_ID = "fj-course"
DATA_DIR_VARIABLE = "FJ_DATA_DIR"


def default_data_dir() -> Path:
    """FJ_DATA_DIR when set (a hub mounts the data somewhere and says where), else the
    clone's classroom dataset; installed outside a clone, data/classroom in the current folder
    or one above it: the same rule ``synthetic_data.load`` follows."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured)
    if (REPO / "notebooks").is_dir():
        return REPO / "data" / "classroom"
    here = Path.cwd()
    found = (f / "data" / "classroom" for f in (here, *here.parents))
    return next((d for d in found if (d / "manifest.json").is_file()), here / "data" / "classroom")


@dataclass(frozen=True)
class Settings:
    """The shared command-line options, as absolute paths.

    ``course_dir`` is the nbgrader course (source/, release/, submitted/, autograded/,
    feedback/, gradebook.db); ``exchange`` is the nbgrader exchange root, or None when the
    course is run locally without one.
    """

    notebooks: Path = DEFAULT_NOTEBOOKS
    course_dir: Path = DEFAULT_COURSE_DIR
    course_id: str = DEFAULT_COURSE_ID
    exchange: Path | None = None
    data_dir: Path = REPO / "data" / "classroom"

    def __post_init__(self) -> None:
        for name in ("notebooks", "course_dir", "data_dir", "exchange"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser().absolute())

    @property
    def gradebook(self) -> Path:
        return self.course_dir / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    @property
    def status_file(self) -> Path:
        """Per-submission grading status (graded, timeout, invalid_notebook, ...), which
        nbgrader's gradebook has no place for; report and feedback read it."""
        return self.course_dir / "grading_status.json"

    def submitted(self, student: str = "", assignment: str = "") -> Path:
        return self.course_dir / "submitted" / student / assignment

    def autograded(self, student: str = "", assignment: str = "") -> Path:
        return self.course_dir / "autograded" / student / assignment

    def feedback(self, student: str = "", assignment: str = "") -> Path:
        return self.course_dir / "feedback" / student / assignment
