"""Shared fixtures: the fixture course released once, and a graded cohort of good and broken
submissions (graded once per session, then examined by several tests)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grading import cells
from grading.cli import main
from grading.settings import REPO, Settings
from tests.grading.broken_submissions import ASSIGNMENT, CASES

FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"
DATA_DIR = REPO / "data" / "classroom"
OTHER = "data_quality_01_missing_values"


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def course_args(settings: Settings) -> list[str]:
    return ["--notebooks", str(settings.notebooks), "--course-dir", str(settings.course_dir),
            "--data-dir", str(DATA_DIR)]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "manifest.json").is_file():
        pytest.fail("the classroom dataset is missing: run `make data`")
    return DATA_DIR


@pytest.fixture(scope="session")
def workspace() -> Iterator[Path]:
    """A folder under /tmp that other accounts may pass through (sandbox tests need that)."""
    folder = Path(tempfile.mkdtemp(prefix="fj-grading-tests-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def closed_data_dir(workspace: Path, data_dir: Path) -> Path:
    """The classroom dataset as the workshop server keeps it: answer_key/ closed to the grading
    accounts (root only here), everything else readable by all. Grading with --sandbox-user
    refuses a dataset whose answer key those accounts could read."""
    data = workspace / "closed-data"
    data.mkdir()
    for entry in data_dir.iterdir():
        if entry.name != "answer_key":
            os.symlink(entry, data / entry.name)
    key = data / "answer_key"
    key.mkdir(mode=0o700)
    for name in ("cafcass_person_key.parquet", "cafcass_case_truth.parquet", "record_person_key.parquet"):
        shutil.copyfile(data_dir / "answer_key" / name, key / name)
    key.chmod(0o700)
    return data


@pytest.fixture(scope="session")
def released(workspace: Path, data_dir: Path) -> Settings:
    """The fixture course released once (read-only for tests: copy it to change it)."""
    settings = Settings(notebooks=FIXTURE_COURSE, course_dir=workspace / "released" / "course",
                        data_dir=data_dir)
    assert run_cli(*course_args(settings), "release", "--book-dir", workspace / "released" / "book") == 0
    return settings


def copy_course(released: Settings, dest: Path) -> Settings:
    shutil.copytree(released.course_dir, dest)
    return Settings(notebooks=released.notebooks, course_dir=dest, data_dir=released.data_dir)


def learner_version(settings: Settings, assignment: str) -> dict:
    return json.loads((settings.course_dir / "release" / assignment / f"{assignment}.ipynb").read_text())


def solved(settings: Settings, assignment: str, wrong: dict[str, str] | None = None) -> dict:
    """The learner version with every answer filled in (or replaced by ``wrong`` answers)."""
    nb = learner_version(settings, assignment)
    source = cells.read_notebook(settings.course_dir / "source" / assignment / f"{assignment}.ipynb")
    answers = {cells.grade_id(c): cells.solution_filled(c) for c in source.cells if cells.is_answer_cell(c)}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers and cell["cell_type"] == "code":
            cell["source"] = (wrong or {}).get(gid, answers[gid])
        if gid == "interpretation":
            cell["source"] = "Several siblings share one case, so children outnumber cases."
    return nb


def submit(settings: Settings, student: str, assignment: str, nb: dict | None = None) -> Path:
    folder = settings.submitted(student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text("2026-01-15 10:00:00.000000 UTC\n")
    if nb is not None:
        (folder / f"{assignment}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return folder


WRONG = {"public_count": "n_public = int(len(cases))"}


@pytest.fixture(scope="session")
def cohort(released: Settings, workspace: Path) -> Settings:
    """Good, partly right and broken submissions, autograded once in parallel."""
    settings = copy_course(released, workspace / "cohort" / "course")
    submit(settings, "alice", ASSIGNMENT, solved(settings, ASSIGNMENT))
    submit(settings, "bob", ASSIGNMENT, solved(settings, ASSIGNMENT, WRONG))
    submit(settings, "alice", OTHER, solved(settings, OTHER))
    submit(settings, "carol", ASSIGNMENT, learner_version(settings, ASSIGNMENT))
    right = solved(settings, ASSIGNMENT)
    for case in CASES:
        case.make(right, submit(settings, f"broken_{case.name}", ASSIGNMENT))
    code = run_cli(*course_args(settings), "autograde", "--workers", "2", "--timeout", "4",
                   "--output-mb", "1", "--memory-mb", "3072", "--quiet")
    assert code == 0
    return settings


def statuses(settings: Settings) -> dict[str, dict]:
    return json.loads(settings.status_file.read_text())


def read_nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def as_root() -> bool:
    return os.geteuid() == 0
