"""A hostile learner's submission, graded and given feedback beside ordinary ones: script in an
output and in a written answer never reaches the formgrader or a feedback page, and a damaged
submission (no secret, an unrenderable notebook) never stops feedback for the others."""

from __future__ import annotations

import contextlib
import html
import io
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown import markdown2html

from grading.feedback import CONTENT_SECURITY_POLICY
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import copy_course, course_args, run_cli, solved, statuses, submit
from tests.grading.test_sanitize import Markup

pytestmark = pytest.mark.integration

WRITTEN = ("Several siblings share one case, so children outnumber cases. "
           '<script>window.fjPwned=1</script><img src=x onerror="window.fjPwned=2">')
SHOWN = "shown beside the attack"
DISPLAY = (
    "\nfrom IPython.display import HTML, Javascript, display\n"
    f"display(HTML('<b>{SHOWN}</b><script>window.fjPwned=1</script>"
    "<img src=x onerror=\"window.fjPwned=2\"><iframe srcdoc=\"<script>window.fjPwned=5</script>\">"
    "</iframe>'))\n"
    "display(Javascript('window.fjPwned=3'))\n"
    "display({'image/svg+xml': '<svg onload=\"window.fjPwned=4\"></svg>', 'text/plain': 'svg'}, raw=True)\n"
)
SECRET = "5e" * 64


def attacked(settings) -> dict:
    nb = solved(settings, ASSIGNMENT)
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid == "public_count":
            cell["source"] += DISPLAY
        if gid == "interpretation":
            cell["source"] = WRITTEN
    nb["cells"].append({"cell_type": "markdown", "metadata": {},
                        "source": "[a link](javascript:window.fjPwned=6) in a cell of my own"})
    return nb


@pytest.fixture(scope="module")
def graded(released, workspace: Path):
    """mallory attacks; alice answers normally; nosecret has no submission_secret.txt; broken's
    autograded notebook is damaged after grading, so nbgrader cannot render its feedback."""
    settings = copy_course(released, workspace / "feedback_attacks" / "course")
    exchange = workspace / "feedback_attacks" / "exchange"
    exchange.mkdir(parents=True)
    for student, nb in [("mallory", attacked(settings)), ("alice", solved(settings, ASSIGNMENT)),
                        ("nosecret", solved(settings, ASSIGNMENT)),
                        ("broken", solved(settings, ASSIGNMENT))]:
        folder = submit(settings, student, ASSIGNMENT, nb)
        if student != "nosecret":
            (folder / "submission_secret.txt").write_text(SECRET)
    assert run_cli(*course_args(settings), "autograde", ASSIGNMENT, "--workers", "1", "--quiet") == 0
    return settings, exchange


@pytest.fixture(scope="module")
def fed_back(graded):
    """Feedback for all four, released to the exchange; returns the exit code and stderr."""
    settings, exchange = graded
    damaged = settings.autograded("broken", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
    damaged.write_text("this is not a notebook {")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_cli(*course_args(settings), "--exchange", exchange, "feedback", ASSIGNMENT)
    return settings, exchange, code, err.getvalue()


def injected(page: str) -> list[str]:
    """What of the attack survived in a page: handlers, script links, frames, or a script
    element that is not the page template's own."""
    found = []
    for tag, attrs in Markup(page).tags:
        if tag in ("iframe", "object", "embed", "frame"):
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on") or name == "srcdoc":
                found.append(f"<{tag} {name}={value}>")
            if name in ("href", "src") and "".join(value.split()).lower().startswith(
                    ("javascript:", "data:text", "data:image/svg")):
                found.append(f"<{tag} {name}={value}>")
    scripts = re.findall(r"<script[^>]*>(.*?)</script", page, re.DOTALL | re.IGNORECASE)
    return found + [f"script {s[:60]!r}" for s in scripts if "fjPwned" in s]


def test_autograded_notebooks_hold_no_markup_that_runs(graded) -> None:
    settings, _ = graded
    path = settings.autograded("mallory", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    mimetypes = {m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})}
    assert mimetypes <= {"text/plain", "text/html"}, mimetypes  # no javascript, no svg
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            rendered = markdown2html(cell.source)
            assert injected(rendered) == [] and "<script" not in rendered, rendered
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "interpretation")
    assert answer.source.startswith("Several siblings share one case")
    assert "&lt;script>" in answer.source  # shown to the trainer as text
    html_outputs = [o.data["text/html"] for c in nb.cells for o in c.get("outputs", [])
                    if "text/html" in o.get("data", {})]
    assert any(SHOWN in h for h in html_outputs)
    assert all(injected(h) == [] and "<script" not in h for h in html_outputs)


def test_the_attack_still_grades_as_the_answer_deserves(graded) -> None:
    from nbgrader.api import Gradebook

    settings, _ = graded
    assert statuses(settings)[f"mallory/{ASSIGNMENT}"]["status"] == "graded"
    with Gradebook(settings.db_url, settings.course_id) as gb:
        mallory = gb.find_submission(ASSIGNMENT, "mallory")
        alice = gb.find_submission(ASSIGNMENT, "alice")
        assert mallory.code_score == alice.code_score > 0
        written = gb.find_grade("interpretation", ASSIGNMENT, ASSIGNMENT, "mallory")
        assert written.needs_manual_grade, "a changed written answer is still an answer to grade"


def test_the_formgrader_renders_the_submission_without_the_attack(graded) -> None:
    """The formgrader renders autograded/ with nbgrader's formgrade template on every request."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    settings, _ = graded
    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    path = settings.autograded("mallory", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
    page, _ = HTMLExporter(config=config).from_filename(str(path), resources={
        "assignment_id": ASSIGNMENT, "notebook_id": ASSIGNMENT, "submission_id": "x", "index": 0,
        "total": 1, "base_url": "/user/trainer", "student": "mallory", "last_name": None,
        "first_name": None, "notebook_path": "autograded/mallory"})
    # The formgrade template's own handlers (showing the learner's name) are not the attack.
    assert [found for found in injected(page) if "toggle_name(" not in found] == []
    text = html.unescape(page)
    assert "Several siblings share one case" in text and SHOWN in text
    assert "a cell of my own" in text


def test_feedback_pages_hold_no_script_and_carry_the_policy(fed_back) -> None:
    settings, _, code, _ = fed_back
    assert code == 0
    pages = sorted(settings.feedback().glob(f"*/{ASSIGNMENT}/*.html"))
    assert {p.parent.parent.name for p in pages} == {"mallory", "alice", "nosecret", "broken"}
    for page in pages:
        text = page.read_text()
        markup = Markup(text)
        assert [t for t, _ in markup.tags if t == "script"] == [], page
        assert injected(text) == [], page
        policies = [a["content"] for t, a in markup.tags
                    if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert policies == [CONTENT_SECURITY_POLICY], page
    mallory = html.unescape((settings.feedback("mallory", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text())
    assert "Several siblings share one case" in mallory and SHOWN in mallory


def test_a_submission_without_a_secret_does_not_stop_the_others(fed_back) -> None:
    from nbgrader.utils import notebook_hash

    settings, exchange, code, err = fed_back
    assert code == 0
    released = exchange / settings.course_id / "feedback"
    # The name fetch_feedback looks for: md5(secret + notebook), as nbgrader files it (alice and
    # mallory share a secret here, so one page stands for both).
    page = released / f"{notebook_hash(secret=SECRET, notebook_id=ASSIGNMENT)}.html"
    assert page.is_file() and oct(page.stat().st_mode & 0o777) == "0o644"
    assert (settings.feedback("nosecret", ASSIGNMENT) / f"{ASSIGNMENT}.html").is_file()
    entry = statuses(settings)[f"nosecret/{ASSIGNMENT}"]
    assert entry["status"] == "graded" and entry["feedback"] == "feedback_not_released"
    assert "submission_secret.txt" in entry["feedback_message"]
    assert f"nosecret/{ASSIGNMENT}: feedback_not_released" in err
    assert "feedback" not in statuses(settings)[f"alice/{ASSIGNMENT}"]
    assert oct(released.stat().st_mode & 0o777) == "0o711"


def test_a_notebook_nbgrader_cannot_render_gets_a_page_and_a_status(fed_back) -> None:
    settings, exchange, _, err = fed_back
    page = (settings.feedback("broken", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text()
    assert "could not be produced" in page
    entry = statuses(settings)[f"broken/{ASSIGNMENT}"]
    assert entry["feedback"] == "feedback_failed" and entry["feedback_message"]
    assert f"broken/{ASSIGNMENT}: feedback_failed" in err
    alice = (settings.feedback("alice", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text()
    assert "Score" in alice


def test_a_linked_secret_is_never_followed(graded, tmp_path: Path) -> None:
    from grading.errors import GradingError
    from grading.feedback import read_secret

    settings, _ = graded
    target = tmp_path / "hub-secret"
    target.write_text("a" * 64)
    folder = settings.submitted("linker", ASSIGNMENT)
    folder.mkdir(parents=True)
    os.symlink(target, folder / "submission_secret.txt")
    with pytest.raises(GradingError, match="cannot be read safely"):
        read_secret(settings, "linker", ASSIGNMENT)
