"""Script in a learner's answer never runs in a browser (Debian's headless chromium, driven by
Playwright): a learner submits code that displays ``<script>`` and an ``<img onerror>``, and the
same in a written (markdown) answer; the trainer collects, autogrades and opens the submission
in the formgrader, served inside the trainer's own Jupyter server; the learner fetches the
feedback and opens its page from their server. ``window.fjPwned`` stays undefined in every
frame, and the answers are still there to read.
"""

from __future__ import annotations

import pwd
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hub_helpers import Hub, as_trainer_in_gradebook, ensure_accounts, log_in

from hub_config import course_ops
from hub_config.hubclient import HubClient

pytestmark = pytest.mark.integration

NOTEBOOKS = Path(__file__).parent / "fixtures" / "written_answers"
ASSIGNMENT = "attacks_01_written"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
TIMEOUT = 120_000

CODE_ANSWER = (
    "from IPython.display import HTML, display\n"
    "n_cases = 3\n"
    "display(HTML('<b>The count is shown</b><script>window.fjPwned=1</script>'))\n"
    "display(HTML('<img src=x onerror=\"window.fjPwned=2\">'))\n"
)
WRITTEN_ANSWER = ("Siblings share one case, so one case can concern several children. "
                  '<script>window.fjPwned=1</script><img src=x onerror="window.fjPwned=2">')
PWNED = "() => typeof window.fjPwned === 'undefined' ? 'clean' : String(window.fjPwned)"


@pytest.fixture(scope="module")
def submitted(hub: Hub) -> Iterator[str]:
    """The assignment released, fetched, answered and submitted by a learner, then collected,
    autograded and its feedback released; afterwards the assignment leaves the exchange, so
    that other modules sharing the hub see only their own."""
    learner = hub.learners[-1]
    sessions = ensure_accounts(hub, [learner])
    client = sessions[learner]
    course = hub.course
    exchange = course.exchange_dir / course.course_id
    try:
        assert course_ops.release(course, hub.python, NOTEBOOKS, as_user=hub.trainer) == [ASSIGNMENT]
        client.start_server(timeout=120)
        assignment_action(client, "fetch", course.course_id)
        notebook = client.lab_api(f"api/contents/{NOTEBOOK}").json()["content"]
        for cell in notebook["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id == "answer":
                cell["source"] = CODE_ANSWER
            if grade_id == "written":
                cell["source"] = WRITTEN_ANSWER
        r = client.lab_api(f"api/contents/{NOTEBOOK}", "PUT",
                           json={"type": "notebook", "format": "json", "content": notebook})
        assert r.status_code == 200, r.text
        assignment_action(client, "submit", course.course_id)
        course_ops.collect(course, hub.python, ASSIGNMENT, as_user=hub.trainer, notebooks=NOTEBOOKS)
        course_ops.autograde(course, hub.python, ASSIGNMENT, notebooks=NOTEBOOKS)
        course_ops.feedback(course, hub.python, ASSIGNMENT, as_user=hub.trainer, notebooks=NOTEBOOKS)
        assignment_action(client, "fetch_feedback", course.course_id)
        yield learner
    finally:
        # Other modules' learners list (and click) whatever is released or fetched: take it away.
        leftovers = [exchange / "outbound" / ASSIGNMENT, *exchange.glob(f"inbound/*+{ASSIGNMENT}+*")]
        try:
            home = Path(pwd.getpwnam(learner).pw_dir)
        except KeyError:  # the learner's server never started
            home = None
        if home is not None:
            leftovers += [home / ASSIGNMENT,
                          *home.glob(f".local/share/jupyter/nbgrader_cache/*/*+{ASSIGNMENT}+*")]
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)


def assignment_action(client: HubClient, action: str, course_id: str) -> None:
    r = client.lab_api(f"assignments/{action}", "POST",
                       data={"course_id": course_id, "assignment_id": ASSIGNMENT})
    assert r.status_code == 200, r.text
    assert r.json().get("success"), r.json()




def assert_nothing_ran(page) -> None:  # type: ignore[no-untyped-def]
    """Give an onerror handler time to fire, then look in the page and every frame in it."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(2000)
    outcomes = {frame.url: frame.evaluate(PWNED) for frame in page.frames}
    assert set(outcomes.values()) == {"clean"}, outcomes


def submission_id(hub: Hub, learner: str) -> str:
    return as_trainer_in_gradebook(
        hub, f"print(gb.find_submission_notebook('{ASSIGNMENT}', '{ASSIGNMENT}', '{learner}').id)")


def test_the_formgrader_shows_the_answers_without_running_them(
        hub: Hub, submitted: str, browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    graded = hub.course.course_dir / "autograded" / submitted / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert graded.is_file(), "the submission was autograded"
    ident = submission_id(hub, submitted)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        log_in(page, hub, hub.trainer)
        page.goto(f"{hub.url}/user/{hub.trainer}/formgrader/submissions/{ident}/")
        page.get_by_text("Siblings share one case").first.wait_for(timeout=TIMEOUT)
        assert page.get_by_text("The count is shown").first.is_visible()
        assert_nothing_ran(page)
        page.screenshot(path=str(artifacts_dir / "hub-attacks-formgrader.png"), full_page=True)
        # and inside JupyterLab, where trainers open the formgrader
        page.goto(f"{hub.url}/user/{hub.trainer}/lab")
        page.wait_for_selector(".jp-LabShell", timeout=TIMEOUT)
        page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
        page.click(".lm-Menu-itemLabel:text-is('Formgrader')")
        frame = page.frame_locator("iframe").first
        frame.get_by_text("Manage Assignments").first.wait_for(timeout=TIMEOUT)
        formgrader = next(f for f in page.frames if "/formgrader" in f.url)
        formgrader.goto(f"{hub.url}/user/{hub.trainer}/formgrader/submissions/{ident}/")
        frame.get_by_text("Siblings share one case").first.wait_for(timeout=TIMEOUT)
        assert_nothing_ran(page)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "hub-attacks-formgrader-failed.png"))
        raise
    finally:
        context.close()


def test_the_feedback_page_shows_the_answers_without_running_them(
        hub: Hub, submitted: str, browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    home = Path(pwd.getpwnam(submitted).pw_dir)
    pages = sorted((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert pages, "the learner fetched their feedback"
    relative = pages[-1].relative_to(home)
    assert "Content-Security-Policy" in pages[-1].read_text()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        log_in(page, hub, submitted)
        # The file as the learner's own server serves it (scripts allowed by its sandbox).
        page.goto(f"{hub.url}/user/{submitted}/files/{quote(str(relative))}")
        page.get_by_text("Siblings share one case").first.wait_for(timeout=TIMEOUT)
        assert page.get_by_text("The count is shown").first.is_visible()
        assert_nothing_ran(page)
        page.screenshot(path=str(artifacts_dir / "hub-attacks-feedback.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "hub-attacks-feedback-failed.png"))
        raise
    finally:
        context.close()
