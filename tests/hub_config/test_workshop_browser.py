"""A learner and a trainer in a real browser (Debian's headless chromium, driven by Playwright).

The learner logs in, fetches the assignment from JupyterLab's Assignments panel, runs the visible
checks and submits; the trainer opens the formgrader inside JupyterLab (proving the hub's
`frame-ancestors` header is relaxed for trainers) and finds the submission. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_helpers import ASSIGNMENT, FIXTURE_NOTEBOOKS, Hub, ensure_accounts, log_in

from hub_config import course_ops

pytestmark = pytest.mark.integration

TIMEOUT = 120_000


def log_in_to_lab(page, hub: Hub, name: str) -> None:  # type: ignore[no-untyped-def]
    # Everyone lands on the course home first (hub_config/course_home/); JupyterLab is a link away.
    log_in(page, hub, name, landing="**/user/{name}/course**", timeout=TIMEOUT)
    page.goto(f"{hub.url}/user/{name}/lab")
    page.wait_for_selector(".jp-LabShell", timeout=TIMEOUT)
    page.wait_for_selector(".jp-Launcher, .jp-DirListing", timeout=TIMEOUT)


def open_menu_item(page, menu: str, item: str) -> None:  # type: ignore[no-untyped-def]
    page.click(f".lm-MenuBar-itemLabel:text-is('{menu}')")
    page.click(f".lm-Menu-itemLabel:text-is('{item}')")


ALL_RUN = ("() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]"
           ".every(p => /\\[\\d+\\]/.test(p.textContent))")


def run_all_cells(page) -> None:  # type: ignore[no-untyped-def]
    """Run > Run All Cells, again if a loaded machine swallowed the click (no cell queued)."""
    for _ in range(3):
        open_menu_item(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(ALL_RUN, timeout=60_000)
            return
        except Exception:
            prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()
            if any("*" in p for p in prompts):  # still running: wait longer, do not queue again
                page.wait_for_function(ALL_RUN, timeout=TIMEOUT)
                return
    raise AssertionError("the notebook's cells never ran")


def test_learner_fetches_runs_checks_and_submits_then_trainer_sees_it(
        hub: Hub, browser, artifacts_dir: Path) -> None:  # type: ignore[no-untyped-def]
    learner = hub.learners[2]
    ensure_accounts(hub, [learner])
    if not (hub.course.course_dir / "release" / ASSIGNMENT).exists():
        course_ops.release(hub.course, hub.python, FIXTURE_NOTEBOOKS, as_user=hub.trainer)

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        log_in_to_lab(page, hub, learner)
        page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
        items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        assert "Assignment List" in items and "Formgrader" not in items, items
        page.keyboard.press("Escape")
        open_menu_item(page, "Nbgrader", "Assignment List")
        released = page.locator("#released_assignments_list")
        released.get_by_text(ASSIGNMENT).wait_for()
        page.screenshot(path=str(artifacts_dir / "hub-learner-assignments.png"))
        released.locator("button:has-text('Fetch')").click()
        fetched = page.locator("#fetched_assignments_list")
        fetched.get_by_text(ASSIGNMENT).first.wait_for()
        # Expand the fetched assignment and open its notebook.
        try:
            fetched.locator(f"a:has-text('{ASSIGNMENT}')").first.click()
            # The notebook's link (its name without .ipynb) appears below the assignment.
            notebook_link = fetched.locator(f"a:text-is('{ASSIGNMENT}')").last
            notebook_link.wait_for(state="visible", timeout=10_000)
            notebook_link.click()
        except Exception:
            (artifacts_dir / "hub-learner-fetched.html").write_text(fetched.inner_html())
            page.screenshot(path=str(artifacts_dir / "hub-learner-fetched-failed.png"))
            raise
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=TIMEOUT)
        # The kernel must be idle before cells run.
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                               ".jp-KernelStatus:has-text('Idle')", timeout=TIMEOUT)
        answer = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(0)
        answer.locator(".cm-content").click()
        page.keyboard.press("Control+End")
        page.keyboard.type("\nreference_files = sorted(p.name for p in (Path(os.environ['FJ_DATA_DIR'])"
                           " / 'reference').iterdir())")
        check = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(1)
        run_all_cells(page)
        assert check.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        page.keyboard.press("Control+s")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(artifacts_dir / "hub-learner-checks-passed.png"))
        # Submit from the Assignments panel.
        page.locator(".lm-TabBar-tab:has-text('Assignments')").first.click()
        fetched.locator("button:has-text('Submit')").first.click()
        page.locator("#submitted_assignments_list").get_by_text(ASSIGNMENT).first.wait_for(timeout=TIMEOUT)
        page.screenshot(path=str(artifacts_dir / "hub-learner-submitted.png"))
    except Exception:
        page.screenshot(path=str(artifacts_dir / "hub-learner-failed.png"))
        raise
    finally:
        context.close()

    course_ops.collect(hub.course, hub.python, ASSIGNMENT, as_user=hub.trainer, notebooks=FIXTURE_NOTEBOOKS)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        log_in_to_lab(page, hub, hub.trainer)
        open_menu_item(page, "Nbgrader", "Formgrader")
        frame = page.frame_locator("iframe").first
        try:
            frame.get_by_text("Manage Assignments").first.wait_for(timeout=TIMEOUT)
            frame.locator(f"text={ASSIGNMENT}").first.wait_for(state="attached")
        except Exception:
            page.screenshot(path=str(artifacts_dir / "hub-trainer-formgrader-failed.png"))
            raise
        page.screenshot(path=str(artifacts_dir / "hub-trainer-formgrader.png"))
        page.goto(f"{hub.url}/user/{hub.trainer}/formgrader/manage_submissions/{ASSIGNMENT}")
        page.get_by_text(learner).first.wait_for(timeout=TIMEOUT)
        page.screenshot(path=str(artifacts_dir / "hub-trainer-submissions.png"))
    finally:
        context.close()
