"""A self-paced learner's whole loop on the demo hub, in a real browser (Debian's chromium driven
by Playwright), and what the trainer sees of it.

The learner logs in and lands on the course home (modules in course order, not alphabetical),
fetches the first assignment from it, answers its exercise, submits, and fetches feedback from
the home page within a minute, with its score; the feedback shows the written answer's model
answer (self-paced mode) but no hidden test; the model answer was nowhere in the learner's reach
before submitting. The book opens from the home page; the trainers' live report is closed to the
learner. The trainer sees the same submission in the live report and in the formgrader.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hub_helpers import running_demo

from grading import cells

pytestmark = pytest.mark.integration

JOURNEY = Path(__file__).parent / "fixtures" / "journey"
FIRST, SECOND = "orientation_01_journey", "analysis_01_journey"
FEEDBACK_LIMIT = 60  # seconds from Submit to feedback ready (the target for one learner)
MODEL_ANSWER = "MODEL-ANSWER-MARKER"
TIMEOUT = 180_000


def hidden_lines() -> list[str]:
    source = cells.read_notebook(JOURNEY / "orientation" / FIRST / f"{FIRST}.ipynb")
    lines = []
    for cell in source.cells:
        if cells.is_test_cell(cell):
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            lines += [line.strip() for line in hidden.splitlines() if line.strip()]
    assert lines
    return lines


def log_in(page, url: str, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/course**", timeout=TIMEOUT)


def server_api(page, url: str, name: str, path: str, method: str = "GET", **kwargs):  # type: ignore[no-untyped-def]
    """A call to the user's own server with the browser's session (cookies and XSRF token)."""
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf"
                and c.get("path", "/").startswith(f"/user/{name}"))
    return page.request.fetch(f"{url}/user/{name}/{path}", method=method,
                              headers={"X-XSRFToken": xsrf}, **kwargs)


def row_text(page, assignment: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(f"tr[data-assignment='{assignment}']").inner_text()


def test_self_paced_learner_loop_and_the_trainer_view(browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with running_demo("journey", artifacts_dir, notebooks=JOURNEY) as demo:
        url, accounts, log = demo.url, demo.accounts, demo.log
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        page = context.new_page()
        log_in(page, url, "learner1", accounts["learner1"])

        # The course home, in course order (orientation before analysis, whatever the ids say).
        order = page.locator("tr[data-assignment]").evaluate_all(
            "rows => rows.map(r => r.dataset.assignment)")
        assert order == [FIRST, SECOND]
        assert "not fetched" in row_text(page, FIRST).lower()
        assert MODEL_ANSWER not in page.content()
        page.locator(f"tr[data-assignment='{FIRST}'] button").click()
        page.wait_for_selector(f"tr[data-assignment='{FIRST}'] a.action", timeout=TIMEOUT)
        assert "fetched" in row_text(page, FIRST).lower()
        page.screenshot(path=str(artifacts_dir / "journey-1-home-fetched.png"))

        # Answer the exercise in the fetched notebook; the model answer is not in it.
        path = f"api/contents/{FIRST}/{FIRST}.ipynb"
        nb = server_api(page, url, "learner1", path).json()["content"]
        assert MODEL_ANSWER not in json.dumps(nb)
        source = cells.read_notebook(JOURNEY / "orientation" / FIRST / f"{FIRST}.ipynb")
        answers = {cells.grade_id(c): cells.solution_filled(c)
                   for c in source.cells if cells.is_answer_cell(c)}
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell["source"] = answers[gid]
        saved = server_api(page, url, "learner1", path, "PUT",
                           data=json.dumps({"type": "notebook", "format": "json", "content": nb}))
        assert saved.ok, saved.text()

        # Submit (as the Assignments panel does), then wait on the home page for feedback.
        submitted = time.monotonic()
        r = server_api(page, url, "learner1", "assignments/submit", "POST",
                       form={"course_id": "fj-course", "assignment_id": FIRST})
        assert r.ok, r.text()
        while "fetch feedback" not in row_text(page, FIRST).lower():
            assert time.monotonic() - submitted < FEEDBACK_LIMIT, (
                f"no feedback within {FEEDBACK_LIMIT} s:\n{row_text(page, FIRST)}\n{log.read_text()[-3000:]}")
            time.sleep(2)
            page.reload()
        page.locator(f"tr[data-assignment='{FIRST}'] button").click()
        page.wait_for_function(f"document.querySelector(\"tr[data-assignment='{FIRST}']\")"
                               ".innerText.toLowerCase().includes('score')", timeout=TIMEOUT)
        assert re.search(r"score\s+2(\.0)?\s*/\s*3", row_text(page, FIRST).lower()), row_text(page, FIRST)
        page.screenshot(path=str(artifacts_dir / "journey-2-home-feedback.png"))

        # The feedback page: the model answer now (self-paced), never a hidden test.
        link = page.locator(f"tr[data-assignment='{FIRST}'] a", has_text="feedback").first \
            .get_attribute("href")
        feedback_path = link.split("/files/", 1)[1]
        feedback = server_api(page, url, "learner1", f"api/contents/{feedback_path}").json()["content"]
        assert MODEL_ANSWER in feedback
        for line in hidden_lines():
            assert line not in feedback, f"hidden test line in the feedback: {line}"

        # The book opens from the home page; the trainers' live report does not open at all.
        page.click("nav a:text-is('Course book')")
        page.wait_for_url("**/services/book/**", timeout=TIMEOUT)
        assert "course book" in page.content()
        refused = page.goto(f"{url}/services/cohort-report/")
        assert refused is not None and refused.status == 403
        assert FIRST not in page.content(), "no report data reaches a learner"
        context.close()

        # The trainer sees the same submission, live and in the formgrader.
        trainer = browser.new_context(viewport={"width": 1300, "height": 900})
        tpage = trainer.new_page()
        log_in(tpage, url, "trainer", accounts["trainer"])
        tpage.goto(f"{url}/services/cohort-report/")
        # Filed under the learner's hub name, although every demo server runs as one account.
        tpage.get_by_text("learner1").first.wait_for(timeout=60_000)  # the page's CSP forbids eval
        assert FIRST in tpage.content()
        tpage.screenshot(path=str(artifacts_dir / "journey-3-live-report.png"))
        tpage.goto(f"{url}/user/trainer/course")
        listed = server_api(tpage, url, "trainer", f"formgrader/api/submissions/{FIRST}").json()
        mine = [s for s in listed if s["student"] == "learner1"]
        assert mine and mine[0]["code_score"] == 2, listed
        tpage.goto(f"{url}/user/trainer/formgrader/manage_submissions/{FIRST}")
        tpage.get_by_text("learner1").first.wait_for(timeout=60_000)
        tpage.screenshot(path=str(artifacts_dir / "journey-4-formgrader.png"))
        trainer.close()
