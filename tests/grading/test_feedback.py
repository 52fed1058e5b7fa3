"""Feedback never shows hidden tests, yet says in words which checks failed."""

from __future__ import annotations

import pytest

from grading import cells
from grading.preprocessors import WITHHELD
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import course_args, run_cli


def _hidden_lines(settings) -> set[str]:
    source = cells.read_notebook(settings.course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    return {line.strip() for c in source.cells for line in cells.hidden_source(c).splitlines()
            if len(line.strip()) >= 8}


@pytest.fixture(scope="module")
def feedback(cohort):
    assert run_cli(*course_args(cohort), "feedback") == 0
    return cohort


@pytest.mark.integration
def test_feedback_pages_never_contain_hidden_test_text(feedback) -> None:
    import html

    hidden = _hidden_lines(feedback)
    pages = sorted(feedback.feedback().glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages) > 30
    for page in pages:
        text = html.unescape(page.read_text())
        for line in hidden:
            assert line not in text, f"{page} shows hidden test text {line!r}"
        assert "BEGIN HIDDEN TESTS" not in text


@pytest.mark.integration
def test_feedback_names_each_failed_check_with_its_message(feedback) -> None:
    import html

    text = html.unescape((feedback.feedback("bob", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text())
    assert "n_public should count only some cases" in text  # the visible check's message
    assert "Traceback (most recent call last)" not in text and "\x1b[" not in text


@pytest.mark.integration
def test_hidden_failures_show_their_message(feedback) -> None:
    import html

    # n_public = len(cases) // 2 passes every visible check but not the hidden one.
    from tests.grading.conftest import copy_course, solved, statuses, submit

    settings = copy_course(feedback, feedback.course_dir.parent.parent / "hidden-fail" / "course")
    submit(settings, "erin", ASSIGNMENT, solved(settings, ASSIGNMENT, {
        "public_count": "n_public = int(len(cases) // 2)"}))
    assert run_cli(*course_args(settings), "autograde", ASSIGNMENT, "--workers", "1",
                   "--quiet") == 0
    assert statuses(settings)[f"erin/{ASSIGNMENT}"]["status"] == "graded"
    assert run_cli(*course_args(settings), "feedback", ASSIGNMENT) == 0
    text = html.unescape((settings.feedback("erin", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text())
    assert "n_public is not the number of cases whose law_type is public" in text
    assert "expected_public" not in text


@pytest.mark.integration
def test_input_history_holds_no_hidden_test(feedback) -> None:
    """Hidden tests never run in the learner's kernel, so printing its input history (``In``)
    shows the visible checks at most; and output that did quote a hidden line would still be
    withheld by ShowOnlyCheckMessages (below)."""
    import html

    page = feedback.feedback("broken_prints_input_history", ASSIGNMENT) / f"{ASSIGNMENT}.html"
    text = html.unescape(page.read_text())
    assert "n_public is not None" in text  # the history was printed: the visible checks are in it
    for hidden in ("expected_public", "person_key", "kid_ids"):
        assert hidden not in text


def test_output_quoting_a_hidden_line_is_withheld() -> None:
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from grading.preprocessors import ShowOnlyCheckMessages

    source = ("assert x == 1, 'x is wrong'\n### BEGIN HIDDEN TESTS\nassert secret_value == 42, 'm'\n"
              "### END HIDDEN TESTS")
    test = new_code_cell(source, metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 1}})
    leak = new_code_cell("print(In)", outputs=[new_output("stream", name="stdout",
                                                           text="assert secret_value == 42, 'm'")])
    nb, _ = ShowOnlyCheckMessages().preprocess(new_notebook(cells=[test, leak]), {})
    shown = str(nb.cells[1].outputs)
    assert "secret_value" not in shown and WITHHELD in shown


@pytest.mark.integration
def test_ungradable_submissions_get_a_page_saying_why(feedback) -> None:
    page = feedback.feedback("broken_invalid_json", ASSIGNMENT) / f"{ASSIGNMENT}.html"
    text = page.read_text()
    assert "could not be graded" in text and "invalid_notebook" in text


@pytest.mark.integration
def test_every_page_carries_the_policy_and_no_script(feedback) -> None:
    from grading.feedback import CONTENT_SECURITY_POLICY

    pages = sorted(feedback.feedback().glob("*/*/*.html"))
    assert len(pages) > 30
    for page in pages:
        text = page.read_text()
        assert f'content="{CONTENT_SECURITY_POLICY}"' in text, page
        assert "<script" not in text.lower(), page
