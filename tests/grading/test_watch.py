"""watch: learners submit through nbgrader's exchange as they would from the Assignments panel,
one pass grades the new submissions with the real pipeline, and the feedback is what their own
Fetch Feedback returns: with the right score, model answers only for written answers, no hidden
test, a page for an attempt over the cap, nothing while a wait runs, and no process left when
the watcher is stopped."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grading import cells
from grading.cli import build_parser
from grading.settings import REPO, Settings
from grading.watch import Policy, load_state, run_pass, watch_command
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import (
    FIXTURE_COURSE,
    OTHER,
    copy_course,
    course_args,
    learner_version,
    run_cli,
    solved,
)

MODEL_ANSWER = "A public law case can concern several children, often siblings"
MODEL_LABEL = "Model answer (from the course authors"


# --------------------------------------------------------------------------- a learner's side

def _learner_config(settings: Settings, student: str, assignment: str):
    from traitlets.config import Config

    home = settings.course_dir.parent / "homes" / student
    config = Config()
    config.Exchange.root = str(settings.exchange)
    config.Exchange.cache = str(home / ".cache")
    config.Exchange.assignment_dir = str(home)
    config.CourseDirectory.root = str(home)
    config.CourseDirectory.course_id = settings.course_id
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    return home, config


def learner_submits(settings: Settings, student: str, assignment: str, nb: dict | str) -> None:
    """What the Assignments panel's Submit does: nbgrader's own exchange, as the learner (``nb``
    as a notebook, or the file's text)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit

    home, config = _learner_config(settings, student, assignment)
    (home / assignment).mkdir(parents=True, exist_ok=True)
    text = nb if isinstance(nb, str) else json.dumps(nb)
    (home / assignment / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
    ExchangeSubmit(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config),
                   config=config).start()
    time.sleep(0.01)  # the next submission's timestamp is a later one


def learner_fetches(settings: Settings, student: str, assignment: str) -> dict[str, str]:
    """What Fetch Feedback does: {submission timestamp: page text} for the learner's submissions
    that have feedback."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchFeedback

    home, config = _learner_config(settings, student, assignment)
    ExchangeFetchFeedback(coursedir=CourseDirectory(config=config),
                          authenticator=Authenticator(config=config), config=config).start()
    folder = home / assignment / "feedback"
    return {page.parent.name: html.unescape(page.read_text(encoding="utf-8"))
            for page in sorted(folder.glob(f"*/{assignment}.html"))}


def submissions(settings: Settings, student: str, assignment: str) -> list[str]:
    """The learner's submissions' timestamps, oldest first (from their own cache)."""
    home, _ = _learner_config(settings, student, assignment)
    cache = home / ".cache" / settings.course_id
    return sorted(p.name.split("+")[2] for p in cache.glob(f"{student}+{assignment}+*"))


# --------------------------------------------------------------------------- what must never show

def _source(assignment: str):
    return cells.read_notebook(next(FIXTURE_COURSE.glob(f"*/{assignment}/{assignment}.ipynb")))


def hidden_lines() -> set[str]:
    return {line.strip() for assignment in (ASSIGNMENT, OTHER) for c in _source(assignment).cells
            for line in cells.hidden_source(c).splitlines() if len(line.strip()) >= 8}


def code_solution_lines(assignment: str) -> set[str]:
    source = _source(assignment)
    public = cells.visible_lines(source)
    return {line.strip() for c in source.cells if cells.is_answer_cell(c)
            for line in cells.regions(c)[1] if len(line.strip()) >= 8 and line.strip() not in public}


def assert_no_hidden_tests(text: str) -> None:
    for line in hidden_lines():
        assert line not in text, f"hidden test text {line!r} in feedback"
    assert "BEGIN HIDDEN TESTS" not in text


# --------------------------------------------------------------------------- a course on an exchange

def exchange_course(released: Settings, folder: Path) -> Settings:
    """A copy of the released fixture course, published to an exchange of its own."""
    from grading import release
    from grading.course import load_course

    course = copy_course(released, folder / "course")
    exchange = folder / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    settings = Settings(notebooks=course.notebooks, course_dir=course.course_dir,
                        data_dir=course.data_dir, exchange=exchange)
    release.publish_to_exchange(settings, load_course(settings.notebooks).assignments)
    return settings


def watch_args(settings: Settings) -> list:
    return [*course_args(settings), "--exchange", settings.exchange, "watch"]


@pytest.fixture(scope="module")
def watched(released, workspace):
    """alice submits a right answer, bob the blank learner version; one pass of
    `watch --once --self-paced --max-attempts 1` grades both and releases their feedback."""
    settings = exchange_course(released, workspace / "watch")
    learner_submits(settings, "alice", ASSIGNMENT, solved(settings, ASSIGNMENT))
    learner_submits(settings, "bob", ASSIGNMENT, learner_version(settings, ASSIGNMENT))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(*watch_args(settings), "--once", "--self-paced", "--max-attempts", "1",
                       "--workers", "2", "--timeout", "20")
    assert code == 0
    return settings, out.getvalue()


@pytest.mark.integration
def test_a_submission_is_graded_and_its_feedback_fetched_by_the_learner(watched) -> None:
    from nbgrader.api import Gradebook

    settings, out = watched
    lines = out.strip().splitlines()
    assert any(line.startswith(f"graded alice/{ASSIGNMENT}: score 4/6 (2 to be marked by a trainer); "
                               "feedback released ") and line.endswith(" s after submission")
               for line in lines), out
    assert any(line.startswith(f"graded bob/{ASSIGNMENT}: score 0/6") for line in lines), out
    with Gradebook(settings.db_url, settings.course_id) as gb:
        assert gb.find_submission(ASSIGNMENT, "alice").code_score == 4
        assert gb.find_submission(ASSIGNMENT, "bob").code_score == 0
    [(stamp, page)] = learner_fetches(settings, "alice", ASSIGNMENT).items()
    assert stamp == submissions(settings, "alice", ASSIGNMENT)[0]
    assert "Score: 4.0 / 6.0" in page  # the header of nbgrader's feedback
    [bob] = learner_fetches(settings, "bob", ASSIGNMENT).values()
    assert "AssertionError: n_public is still None" in bob  # a failed check's message
    state = load_state(settings)["submissions"]
    assert len(state[f"alice/{ASSIGNMENT}"]["attempts"]) == 1
    assert state[f"alice/{ASSIGNMENT}"]["attempts"][0]["released_at"] > 0


@pytest.mark.integration
def test_self_paced_feedback_shows_model_answers_for_written_answers_only(watched) -> None:
    settings, _ = watched
    [page] = learner_fetches(settings, "bob", ASSIGNMENT).values()
    assert MODEL_LABEL in page and MODEL_ANSWER in page
    assert "Rubric (how a trainer marks this answer)" in page
    assert "a note for authors only" not in page  # the author's HTML comment
    assert page.index("YOUR ANSWER HERE") < page.index(MODEL_ANSWER), "after the learner's answer"
    for line in code_solution_lines(ASSIGNMENT):
        assert line not in page, f"the solution of a code cell ({line!r}) is in the feedback"
    assert_no_hidden_tests(page)
    assert_no_hidden_tests(learner_fetches(settings, "alice", ASSIGNMENT).popitem()[1])


@pytest.mark.integration
def test_model_answers_appear_only_when_asked_for(watched, workspace) -> None:
    from grading.feedback import CONTENT_SECURITY_POLICY

    settings, _ = watched
    copy = copy_course(settings, workspace / "watch-plain" / "course")
    page = copy.feedback("bob", ASSIGNMENT) / f"{ASSIGNMENT}.html"
    assert run_cli(*course_args(copy), "feedback", ASSIGNMENT) == 0
    plain = html.unescape(page.read_text())
    assert MODEL_ANSWER not in plain and MODEL_LABEL not in plain and "Rubric" not in plain
    assert run_cli(*course_args(copy), "feedback", ASSIGNMENT, "--model-answers") == 0
    text = page.read_text()
    assert MODEL_ANSWER in html.unescape(text) and f'content="{CONTENT_SECURITY_POLICY}"' in text
    assert "<script" not in text.lower()


@pytest.mark.integration
def test_a_submission_within_the_wait_is_graded_once_the_wait_is_over(watched) -> None:
    from grading.autograde import Grader, Limits

    settings, _ = watched
    learner_submits(settings, "bob", ASSIGNMENT, solved(settings, ASSIGNMENT))
    grader = Grader(settings, workers=1, limits=Limits(timeout=20))
    policy = Policy(wait_minutes=1, model_answers=True)
    # The clock the watcher is given: half a minute, then a minute and a second, after it first
    # saw bob's graded submission.
    seen = load_state(settings)["submissions"][f"bob/{ASSIGNMENT}"]["attempts"][0]["seen_at"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        waiting = run_pass(settings, grader, policy, clock=lambda: seen + 30)
    assert waiting.deferred == [f"bob/{ASSIGNMENT}"] and not waiting.graded and out.getvalue() == ""
    first, second = submissions(settings, "bob", ASSIGNMENT)
    assert set(learner_fetches(settings, "bob", ASSIGNMENT)) == {first}, "nothing while the wait runs"
    done = run_pass(settings, grader, policy, clock=lambda: seen + 61)
    assert [line.split(";")[0] for line in done.graded] == [f"graded bob/{ASSIGNMENT}: score 4/6 (2 to be "
                                                            "marked by a trainer)"]
    pages = learner_fetches(settings, "bob", ASSIGNMENT)
    assert set(pages) == {first, second} and MODEL_ANSWER in pages[second]
    assert "AssertionError: n_public is still None" not in pages[second]
    assert len(load_state(settings)["submissions"][f"bob/{ASSIGNMENT}"]["attempts"]) == 2


@pytest.mark.integration
def test_an_attempt_that_cannot_be_graded_gets_its_own_page(watched) -> None:
    settings, _ = watched
    before = learner_fetches(settings, "bob", ASSIGNMENT)
    learner_submits(settings, "bob", ASSIGNMENT, "{ this is not a notebook")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_cli(*watch_args(settings), "--once", "--self-paced") == 0
    assert out.getvalue().startswith(f"graded bob/{ASSIGNMENT}: score 0/6, status invalid_notebook; "
                                     "feedback released "), out.getvalue()
    *_, latest = submissions(settings, "bob", ASSIGNMENT)
    pages = learner_fetches(settings, "bob", ASSIGNMENT)
    assert set(pages) == {*before, latest}
    assert "could not be graded" in pages[latest] and "invalid_notebook" in pages[latest]
    assert all(pages[stamp] == page for stamp, page in before.items()), "earlier feedback stays"
    assert len(load_state(settings)["submissions"][f"bob/{ASSIGNMENT}"]["attempts"]) == 3


@pytest.mark.integration
def test_the_attempt_over_the_cap_is_not_graded_and_says_why(watched) -> None:
    from nbgrader.api import Gradebook

    settings, _ = watched
    right_before = json.loads(settings.status_file.read_text())[f"alice/{ASSIGNMENT}"]
    learner_submits(settings, "alice", ASSIGNMENT, learner_version(settings, ASSIGNMENT))
    for _ in range(2):  # a second start remembers what it counted and what it told
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert run_cli(*watch_args(settings), "--once", "--self-paced", "--max-attempts", "1") == 0
        if _ == 0:
            assert out.getvalue().strip() == (f"not graded alice/{ASSIGNMENT}: the cap of 1 graded "
                                              "attempt(s) is reached; its feedback page says so")
        else:
            assert out.getvalue() == ""
    first, second = submissions(settings, "alice", ASSIGNMENT)
    pages = learner_fetches(settings, "alice", ASSIGNMENT)
    assert set(pages) == {first, second}
    assert "This submission was not graded: you have used all 1 graded attempt at this" in pages[second]
    assert "What counts as an attempt" in pages[second] and first in pages[second]
    assert_no_hidden_tests(pages[second])
    assert json.loads(settings.status_file.read_text())[f"alice/{ASSIGNMENT}"] == right_before
    with Gradebook(settings.db_url, settings.course_id) as gb:
        assert gb.find_submission(ASSIGNMENT, "alice").code_score == 4
    entry = load_state(settings)["submissions"][f"alice/{ASSIGNMENT}"]
    assert len(entry["attempts"]) == 1 and entry["capped"] == [second]


@pytest.mark.integration
def test_stopping_the_watcher_leaves_no_worker_or_kernel(released, workspace) -> None:
    import psutil

    settings = exchange_course(released, workspace / "watch-stop")
    stuck = solved(settings, ASSIGNMENT, {"public_count": "import time\ntime.sleep(300)\nn_public = 1"})
    for student in ("ann", "ben"):
        learner_submits(settings, student, ASSIGNMENT, stuck)
    process = subprocess.Popen(
        [sys.executable, "-m", "grading", *map(str, watch_args(settings)), "--workers", "2",
         "--timeout", "600", "--interval", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "FJ_DATA_DIR": str(settings.data_dir)})
    try:
        deadline = time.monotonic() + 90
        tree: list = []
        while time.monotonic() < deadline:
            tree = psutil.Process(process.pid).children(recursive=True)
            kernels = [p for p in tree if "ipykernel" in " ".join(_cmdline(p))]
            if len(kernels) >= 2:
                break
            time.sleep(0.3)
        assert len(kernels) >= 2, "the watcher never started grading"
        time.sleep(1)
        tree = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err
    time.sleep(0.5)
    left = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"still running after the watcher stopped: {[_cmdline(p) for p in left]}"


def _cmdline(process) -> list[str]:
    try:
        return process.cmdline()
    except Exception:  # noqa: BLE001 (gone already)
        return []


def test_watch_command_is_a_valid_watch_invocation(tmp_path) -> None:
    import yaml

    from hub_config.course_schema import setting_value, validate

    values = yaml.safe_load("self_paced_feedback: true\nfeedback_max_attempts: 3\n"
                            "feedback_wait_minutes: 10\n")
    validate(values, "course.yaml")
    for bad in ({"feedback_max_attempts": -1}, {"feedback_wait_minutes": 1.5},
                {"self_paced_feedback": "yes"}):
        with pytest.raises(ValueError):
            validate(bad, "course.yaml")
    assert setting_value({}, "self_paced_feedback") is False
    assert setting_value({}, "feedback_max_attempts") == setting_value({}, "feedback_wait_minutes") == 0
    argv = watch_command("/opt/py/bin/python", tmp_path / "notebooks", tmp_path / "course", tmp_path / "data",
                         tmp_path / "exchange", "fj-course",
                         max_attempts=setting_value(values, "feedback_max_attempts"),
                         wait_minutes=setting_value(values, "feedback_wait_minutes"),
                         sandbox_users=["fj-grader", "fj-grader2"])
    assert argv[:3] == ["/opt/py/bin/python", "-m", "grading"]
    args = build_parser().parse_args(argv[3:])
    assert args.command == "watch" and args.self_paced and not args.once
    assert (args.max_attempts, args.wait_minutes, args.sandbox_user) == (3, 10, "fj-grader,fj-grader2")
    assert args.exchange == tmp_path / "exchange" and args.course_id == "fj-course"
    with pytest.raises(ValueError):
        watch_command("python", "n", "c", "d", "e", "fj-course", max_attempts=-1, wait_minutes=0,
                      sandbox_users=[])


def test_watch_without_an_exchange_is_a_one_line_error(released, capsys) -> None:
    assert run_cli(*course_args(released), "watch", "--once") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "watch needs --exchange" in err[0]


def test_model_answers_follow_written_answers_only_and_render_safely(tmp_path) -> None:
    """Author text, still sanitised: a script in a model answer shows as text; a code cell's
    solution is never added; nothing changes unless model answers are enabled."""
    import copy

    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from grading.feedback import harden_page
    from grading.preprocessors import ModelAnswers, SanitizeNotebook

    written = {"nbgrader": {"grade": True, "solution": True, "grade_id": "meaning", "points": 2}}
    answer = {"nbgrader": {"grade": False, "solution": True, "grade_id": "count"}}
    source = new_notebook(cells=[
        new_code_cell("n = None\n### BEGIN SOLUTION\nn = int(secret_solution_value)\n### END SOLUTION",
                      metadata=answer),
        new_markdown_cell("### BEGIN SOLUTION\nSiblings share cases. <script>window.fjPwned=1</script>\n"
                          "<!-- claim: siblings -->\n\n**Rubric**: one mark per point.\n### END SOLUTION",
                          metadata=written)])
    folder = tmp_path / "notebooks" / "orientation" / "orientation_09_x"
    folder.mkdir(parents=True)
    (folder / "orientation_09_x.ipynb").write_text(json.dumps(source))
    learner = new_notebook(cells=[new_code_cell("n = 3", metadata=answer),
                                  new_markdown_cell("My own answer.", metadata=written)])
    resources = {"nbgrader": {"assignment": "orientation_09_x", "notebook": "orientation_09_x"}}
    unchanged, _ = ModelAnswers(notebooks=str(tmp_path / "notebooks")).preprocess(copy.deepcopy(learner),
                                                                                 resources)
    assert unchanged == learner
    shown, _ = ModelAnswers(enabled=True, notebooks=str(tmp_path / "notebooks")).preprocess(
        copy.deepcopy(learner), resources)
    assert [c.source for c in shown.cells[:2]] == ["n = 3", "My own answer."]
    [added] = shown.cells[2:]
    assert "Siblings share cases." in added.source and "one mark per point" in added.source
    assert "claim:" not in added.source and "secret_solution_value" not in added.source
    again, _ = ModelAnswers(enabled=True, notebooks=str(tmp_path / "notebooks")).preprocess(shown, resources)
    assert len(again.cells) == 3, "idempotent"
    safe, _ = SanitizeNotebook().preprocess(again, resources)
    assert "<script>" not in safe.cells[2].source
    page = harden_page(f"<html><body>{safe.cells[2].source}</body></html>")
    assert "<script" not in page.lower() and "Content-Security-Policy" in page


def test_one_watcher_per_course_folder(tmp_path) -> None:
    from grading.errors import GradingError
    from grading.watch import single_watcher

    settings = Settings(course_dir=tmp_path)
    with single_watcher(settings), pytest.raises(GradingError, match="another `grading watch` is running"), \
            single_watcher(settings):
        pass
    with single_watcher(settings):  # free again once the first one stopped
        pass
