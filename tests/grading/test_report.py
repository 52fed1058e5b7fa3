"""The cohort report: CSV files and a page with the three plots."""

from __future__ import annotations

import pandas as pd
import pytest

from grading.report import attention
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import OTHER, course_args, run_cli


def test_attention_lists_missing_low_and_problem_submissions() -> None:
    scores = pd.DataFrame([
        {"learner": "a", "assignment": "x", "status": "graded", "percent": 90.0},
        {"learner": "a", "assignment": "y", "status": "not_submitted", "percent": None},
        {"learner": "b", "assignment": "x", "status": "timeout", "percent": 20.0},
        {"learner": "c", "assignment": "x", "status": "graded", "percent": 100.0},
    ])
    table = attention(scores)
    assert list(table.learner) == ["a", "b"]
    assert table.set_index("learner").loc["b", "problems"] == "x: timeout"


@pytest.mark.integration
def test_report_writes_csv_and_a_page_with_plots(cohort, tmp_path) -> None:
    out = tmp_path / "report"
    assert run_cli(*course_args(cohort), "report", "--out", out) == 0
    scores = pd.read_csv(out / "scores.csv")
    questions = pd.read_csv(out / "questions.csv")
    page = (out / "index.html").read_text()
    row = scores.set_index(["learner", "assignment"]).loc[("alice", ASSIGNMENT)]
    assert row.status == "graded" and row.score >= 4
    assert scores.set_index(["learner", "assignment"]).loc[("bob", OTHER)].status == "not_submitted"
    assert {"public_count_test", "children_count_test", "interpretation"} <= set(questions.question)
    for title in ("Score distribution per assignment", "Difficulty per question", "Who is behind"):
        assert title in page
    assert page.count("data:image/png;base64,") == 3
    assert "broken_invalid_json" in page and "invalid_notebook" in page


@pytest.mark.integration
def test_export_writes_nbgraders_csv(cohort, tmp_path) -> None:
    to = tmp_path / "grades.csv"
    assert run_cli(*course_args(cohort), "export", "--to", to) == 0
    grades = pd.read_csv(to)
    assert {"assignment", "student_id", "score", "max_score"} <= set(grades.columns)
