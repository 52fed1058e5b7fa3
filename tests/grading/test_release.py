"""Release: the nbgrader course, the book's copy with course.json, and the exchange."""

from __future__ import annotations

import json
import os

import pytest

from grading import cells
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import FIXTURE_COURSE, OTHER, course_args, run_cli


@pytest.mark.integration
def test_release_writes_the_course_and_the_book(released) -> None:
    book = released.course_dir.parent / "book"
    description = json.loads((book / "course.json").read_text())
    assert [m["id"] for m in description["modules"]] == ["orientation", "data_quality"]
    first = description["modules"][0]
    assert {"title", "order", "summary", "prerequisites", "objectives"} <= set(first)
    entry = first["assignments"][0]
    assert entry == {"id": ASSIGNMENT, "title": "Counting cases", "minutes": 20,
                     "notebook": f"orientation/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", "released": True}
    assert (book / entry["notebook"]).is_file()
    assert (released.course_dir / "source" / OTHER / f"{OTHER}.ipynb").is_file()
    assert not (released.course_dir / "source" / OTHER / "wrong.yaml").exists()
    assert (released.course_dir / "nbgrader_config.py").is_file()


@pytest.mark.integration
def test_released_notebooks_hold_no_solution_or_hidden_test_text(released) -> None:
    for assignment in (ASSIGNMENT, OTHER):
        source = cells.read_notebook(released.course_dir / "source" / assignment / f"{assignment}.ipynb")
        book = released.course_dir.parent / "book"
        learner = next(book.glob(f"*/{assignment}/{assignment}.ipynb"))
        text = cells.released_text(json.loads(learner.read_text()))
        secrets = cells.secret_lines(source)
        assert secrets
        assert not [line for line in secrets if line in text]


@pytest.mark.integration
def test_release_publishes_to_the_exchange(tmp_path, data_dir) -> None:
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o1777)
    args = ["--notebooks", FIXTURE_COURSE, "--course-dir", tmp_path / "course", "--exchange", exchange,
            "--course-id", "fj-test", "--data-dir", data_dir]
    assert run_cli(*args, "release", ASSIGNMENT, "--book-dir", tmp_path / "book") == 0
    assert (exchange / "fj-test" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert run_cli(*args, "collect") == 0


def test_release_of_an_unknown_assignment_is_a_one_line_error(tmp_path, capsys) -> None:
    code = run_cli("--notebooks", FIXTURE_COURSE, "--course-dir", tmp_path / "c", "release", "nope_01_x",
                   "--book-dir", tmp_path / "book")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown assignment 'nope_01_x'" in err[0]


def test_course_args_are_shared(released) -> None:
    assert "--notebooks" in course_args(released)
