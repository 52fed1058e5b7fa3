"""Feedback for learners: nbgrader's HTML feedback without hidden tests, plus a page for every
submission that could not be graded at all (invalid notebook, missing notebook), so that no
learner is left without an answer.

Hidden tests never reach the page: the feedback pipeline (see ``grading.nbgrader_config``) runs
ClearHiddenTests and then ``ShowOnlyCheckMessages``, which reduces each failed check to its
message. ``tests/grading/test_feedback.py`` scans generated pages for hidden-test text.
"""

from __future__ import annotations

import html
from pathlib import Path

from grading.autograde import STATUSES, read_statuses
from grading.nbgrader_config import check_result, make_api
from grading.settings import Settings


def generate_feedback(settings: Settings, assignment_ids: list[str]) -> list[Path]:
    """feedback/<learner>/<assignment>/<notebook>.html for every graded submission."""
    api = make_api(settings)
    for assignment_id in assignment_ids:
        if any(settings.autograded().glob(f"*/{assignment_id}/*.ipynb")):
            check_result(api.generate_feedback(assignment_id, force=True),
                         f"generating feedback for {assignment_id}")
    return write_ungraded_notes(settings, assignment_ids)


def write_ungraded_notes(settings: Settings, assignment_ids: list[str]) -> list[Path]:
    """A short page for each notebook that was not graded, saying why, in nbgrader's layout."""
    from nbgrader.api import Gradebook

    statuses = read_statuses(settings)
    written = []
    with Gradebook(settings.db_url, settings.course_id) as gb:
        names = {a.name: [n.name for n in a.notebooks] for a in gb.assignments}
    for key, entry in statuses.items():
        student, assignment_id = key.split("/", 1)
        if assignment_id not in assignment_ids:
            continue
        for name in names.get(assignment_id, []):
            if (settings.autograded(student, assignment_id) / f"{name}.ipynb").is_file():
                continue
            folder = settings.feedback(student, assignment_id)
            folder.mkdir(parents=True, exist_ok=True)
            page = folder / f"{name}.html"
            page.write_text(_note_page(assignment_id, name, entry), encoding="utf-8")
            written.append(page)
    return written


def _note_page(assignment_id: str, notebook: str, entry: dict) -> str:
    status = entry.get("status", "error")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Feedback: {html.escape(notebook)}</title></head><body>"
        f"<h1>{html.escape(assignment_id)}: {html.escape(notebook)}</h1>"
        "<p><strong>Your submission could not be graded, so it scored zero.</strong></p>"
        f"<p>Status: <code>{html.escape(status)}</code>: {html.escape(STATUSES.get(status, ''))}.</p>"
        f"<p>{html.escape(entry.get('message', ''))}</p>"
        "<p>Fix the notebook (or ask your trainer) and submit it again.</p></body></html>\n")


def release_feedback(settings: Settings, assignment_ids: list[str]) -> None:
    """nbgrader release_feedback, so that learners can ``nbgrader fetch_feedback``."""
    if settings.exchange is None:
        return
    api = make_api(settings)
    for assignment_id in assignment_ids:
        check_result(api.release_feedback(assignment_id), f"releasing feedback for {assignment_id}")
