"""feedback-local: a learner on a clone grades a notebook with one command and gets the score,
each check's message and the feedback page beside the notebook, which stays as it was."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from grading.local_feedback import find_assignment
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import DATA_DIR, FIXTURE_COURSE, WRONG, run_cli, solved
from tests.grading.test_watch import MODEL_ANSWER, MODEL_LABEL, assert_no_hidden_tests

ARGS = ["--notebooks", FIXTURE_COURSE, "--data-dir", DATA_DIR]


def _one_line_error(capsys, *args) -> str:
    assert run_cli(*ARGS, "feedback-local", *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.integration
def test_a_notebook_is_graded_here_and_its_page_written_beside_it(released, tmp_path, capfd) -> None:
    notebook = tmp_path / "my attempt.ipynb"  # found by its cells, not its name
    notebook.write_text(json.dumps(solved(released, ASSIGNMENT, WRONG)), encoding="utf-8")
    before = (notebook.read_bytes(), notebook.stat().st_mtime_ns)
    code = run_cli(*ARGS, "feedback-local", notebook)
    out = capfd.readouterr().out  # the kernels' own output too, not only this process's
    assert code == 1, out  # a check fails
    assert "NOTE: When using" not in out, "a kernel's start-up note reached the learner"
    assert f"assignment {ASSIGNMENT}" in out
    assert "[FAIL] public_count_test: 0 of 2 points" in out
    assert "AssertionError: n_public should count only some cases" in out
    assert "[pass] children_count_test: 2 of 2 points" in out
    assert "[hand] interpretation" in out
    assert ("Score: 2 of 4 points marked automatically (and 2 points of written answers, marked by a "
            "trainer).") in out
    page = tmp_path / "my attempt.feedback.html"
    assert f"Feedback page: {page}" in out
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert "Score: 2.0 / 6.0" in text and MODEL_LABEL in text and MODEL_ANSWER in text
    assert_no_hidden_tests(text)
    assert (notebook.read_bytes(), notebook.stat().st_mtime_ns) == before, "the notebook was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my attempt.feedback.html", "my attempt.ipynb"]


def test_a_notebook_of_no_assignment_is_a_one_line_error(tmp_path, capsys) -> None:
    notebook = tmp_path / "notes.ipynb"
    notebook.write_text(json.dumps(new_notebook(cells=[new_markdown_cell("my notes")])))
    assert "is not a notebook of any assignment" in _one_line_error(capsys, notebook)
    assert not (tmp_path / "notes.feedback.html").exists()


def test_not_a_notebook_is_a_one_line_error(tmp_path, capsys) -> None:
    broken = tmp_path / f"{ASSIGNMENT}.ipynb"
    broken.write_text("{not json")
    assert "invalid JSON" in _one_line_error(capsys, broken)
    other = tmp_path / "data.ipynb"
    other.write_text('{"rows": [1, 2]}')
    assert "not a notebook" in _one_line_error(capsys, other)
    assert "does not exist" in _one_line_error(capsys, tmp_path / "missing.ipynb")


def test_a_missing_dataset_points_at_make_data(tmp_path, capsys) -> None:
    notebook = tmp_path / f"{ASSIGNMENT}.ipynb"
    notebook.write_text(json.dumps(new_notebook()))
    assert run_cli(*ARGS, "--data-dir", tmp_path / "no-data", "feedback-local", notebook) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make data" in err[0]


def test_the_assignment_is_found_by_name_when_the_cells_say_nothing() -> None:
    assert find_assignment(new_notebook(), Path(f"{ASSIGNMENT}-Copy1.ipynb"), FIXTURE_COURSE).id == ASSIGNMENT
    assert find_assignment(new_notebook(), Path("data_quality_01_missing_values.ipynb"),
                           FIXTURE_COURSE).id == "data_quality_01_missing_values"
