"""Autograde: every broken submission gets its status and never stops the batch; parallel
grading gives exactly the serial results; the sandbox keeps a submission out of others' work."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import tempfile
from pathlib import Path

import pytest

from grading.autograde import STATUSES, Outcome
from tests.grading.broken_submissions import ASSIGNMENT, CASES
from tests.grading.conftest import (
    OTHER,
    WRONG,
    as_root,
    copy_course,
    course_args,
    learner_version,
    read_nb,
    run_cli,
    solved,
    statuses,
    submit,
)


def test_the_fixture_set_has_at_least_thirty_broken_submissions() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)
    assert {s for c in CASES for s in c.statuses} <= set(STATUSES)


def test_outcome_status_is_the_most_serious() -> None:
    outcome = Outcome("a", "b")
    outcome.add("touched_files", "wrote a file")
    outcome.add("timeout", "cell 3 ran too long")
    assert outcome.status == "timeout"
    assert "wrote a file" in outcome.message and "cell 3" in outcome.message


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_broken_submission_gets_its_status(cohort, case) -> None:
    entry = statuses(cohort)[f"broken_{case.name}/{ASSIGNMENT}"]
    assert entry["status"] in case.statuses, entry
    if entry["status"] != "graded":
        assert entry["message"], "every problem status comes with a message"


@pytest.mark.integration
def test_good_submissions_grade_normally_beside_broken_ones(cohort) -> None:
    from nbgrader.api import Gradebook

    found = statuses(cohort)
    assert found[f"alice/{ASSIGNMENT}"]["status"] == "graded"
    assert found[f"bob/{ASSIGNMENT}"]["status"] == "graded"
    with Gradebook(cohort.db_url, cohort.course_id) as gb:
        alice = gb.find_submission(ASSIGNMENT, "alice")
        bob = gb.find_submission(ASSIGNMENT, "bob")
        carol = gb.find_submission(ASSIGNMENT, "carol")
        assert alice.code_score == alice.max_code_score == 4
        assert 0 < bob.code_score < 4
        assert carol.code_score == 0
        assert gb.find_submission(OTHER, "alice").code_score == 4
        # Answers that never reached the grader score nothing, and review cases are flagged.
        assert gb.find_submission(ASSIGNMENT, "broken_invalid_json").code_score == 0
        assert gb.find_submission(ASSIGNMENT, "broken_kernel_exits").code_score <= 2
        assert gb.find_submission(ASSIGNMENT, "broken_infinite_loop").code_score <= 2
        review = gb.find_submission(ASSIGNMENT, "broken_reads_the_answer_key")
        assert any(nb.flagged for nb in review.notebooks)


@pytest.mark.integration
def test_restored_test_cells_are_graded_with_hidden_tests(cohort) -> None:
    nb = read_nb(cohort.autograded("broken_edited_test_cell", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb")
    test_cell = next(c for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") == "public_count_test")
    assert "BEGIN HIDDEN TESTS" in test_cell.source


@pytest.mark.integration
def test_a_deleted_test_cell_is_restored_and_really_run(cohort) -> None:
    nb = read_nb(cohort.autograded("broken_deleted_test_cell", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb")
    test_cell = next(c for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") == "public_count_test")
    assert test_cell.source.startswith("assert n_public is not None")


@pytest.mark.integration
def test_unchanged_submissions_are_not_regraded(cohort, capsys) -> None:
    assert run_cli(*course_args(cohort), "autograde", "--quiet", "--workers", "1") == 0
    assert "Nothing to grade" in capsys.readouterr().out


def _scores(settings) -> dict:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(settings.db_url, settings.course_id) as gb:
        for student in gb.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        out[(student.id, submission.assignment.name, grade.name)] = (
                            grade.auto_score, grade.needs_manual_grade)
    return out


@pytest.mark.integration
def test_parallel_results_are_identical_to_serial(released, workspace) -> None:
    runs = {}
    for workers in (1, 2):
        settings = copy_course(released, workspace / f"identical-{workers}" / "course")
        submit(settings, "ann", ASSIGNMENT, solved(settings, ASSIGNMENT))
        submit(settings, "ben", ASSIGNMENT, solved(settings, ASSIGNMENT, WRONG))
        submit(settings, "cat", OTHER, solved(settings, OTHER, {"share_missing": "share_missing = 85.1"}))
        submit(settings, "dan", ASSIGNMENT, learner_version(settings, ASSIGNMENT))
        for case in CASES:
            if case.name in ("invalid_json", "retyped_test_cell", "kernel_exits"):
                case.make(solved(settings, ASSIGNMENT), submit(settings, case.name, ASSIGNMENT))
        assert run_cli(*course_args(settings), "autograde", "--workers", str(workers), "--quiet") == 0
        found = statuses(settings)
        runs[workers] = (_scores(settings), {k: (v["status"], v["message"]) for k, v in found.items()})
    assert runs[1] == runs[2]
    assert len(runs[1][0]) > 20


SANDBOX_USER = "fjgradingtest"


@pytest.fixture(scope="module")
def sandbox_account() -> str:
    if not as_root():
        pytest.skip("the sandbox switches accounts, which needs root")
    try:
        pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", SANDBOX_USER],
                       check=True)
    return SANDBOX_USER


def _kernel_python() -> str:
    import sys

    from grading.sandbox import others_can_run

    if others_can_run(sys.executable):
        return sys.executable
    try:
        from hub_config.runtime import ensure_runtime
    except ImportError:
        pytest.skip("no interpreter other accounts can run")
    folder = Path(tempfile.gettempdir()) / "fj-grading-test-runtime"
    return str(ensure_runtime(folder))


@pytest.mark.integration
def test_sandboxed_submission_cannot_read_another_learners_work(released, workspace, sandbox_account,
                                                               closed_data_dir) -> None:
    settings = copy_course(released, workspace / "sandbox" / "course")
    secret = "ALICE-SECRET-ANSWER-0451"
    alice = solved(settings, ASSIGNMENT)
    alice["cells"][1]["source"] += f"\n# {secret}"
    alice_file = submit(settings, "alice", ASSIGNMENT, alice) / f"{ASSIGNMENT}.ipynb"
    mallory = solved(settings, ASSIGNMENT, {"public_count": (
        f"print(open({str(alice_file)!r}).read())\nn_public = None")})
    submit(settings, "mallory", ASSIGNMENT, mallory)
    code = run_cli(*course_args(settings), "--data-dir", closed_data_dir, "autograde", "--workers", "2",
                   "--quiet", "--sandbox-user", sandbox_account, "--kernel-python", _kernel_python())
    assert code == 0
    found = statuses(settings)
    assert found[f"alice/{ASSIGNMENT}"]["status"] == "graded"
    assert found[f"mallory/{ASSIGNMENT}"]["status"] == "needs_review"
    graded = (settings.autograded("mallory", ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").read_text()
    assert "PermissionError" in graded
    assert secret not in graded
    assert not os.stat(settings.course_dir).st_mode & 0o007


@pytest.mark.integration
def test_autograde_refuses_unknown_assignments(released, capsys) -> None:
    assert run_cli(*course_args(released), "autograde", "no_such_assignment") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no_such_assignment" in err
    assert json.dumps  # keep the import used when the test above is skipped


def test_output_caps_keep_what_decides_a_mark() -> None:
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from grading.execute import bound_outputs

    big = new_code_cell("print('x' * 3_000_000)",
                        outputs=[new_output("stream", name="stdout", text="x" * 3_000_000)])
    test = {"nbgrader": {"grade": True, "grade_id": "t", "points": 1}}
    checks = new_code_cell("assert False", metadata=test,
                           outputs=[new_output("stream", name="stdout", text="y" * 500_000),
                                    new_output("stream", name="stderr", text="warning " * 1000),
                                    new_output("error", ename="AssertionError", evalue="wrong " * 10_000,
                                               traceback=["line " * 1000] * 200)])
    nb = new_notebook(cells=[big, checks])
    cut = bound_outputs(nb, per_cell=2**20, per_notebook=2**20)
    assert cut == [0, 1]
    assert len(json.dumps(nb)) < 1.2 * 2**20
    kinds = [(o.output_type, o.get("name")) for o in nb.cells[1].outputs]
    assert ("error", None) in kinds and ("stream", "stderr") in kinds


def test_run_tasks_never_uses_more_workers_than_accounts(monkeypatch) -> None:
    from grading import autograde

    seen = {}
    monkeypatch.setattr(autograde, "init_worker", lambda options, parent: seen.setdefault("serial", True))
    monkeypatch.setattr(autograde, "grade_submission",
                        lambda task: autograde.Outcome(task.student, task.assignment))
    options = autograde.Options(db_url="", data_dir="", scratch_root="", accounts=(("a", 1001, 1001),))
    tasks = [autograde.Task("s1", "a", "", "", ()), autograde.Task("s2", "a", "", "", ())]
    results = []
    autograde.run_tasks(tasks, options, 4, results.append)
    assert seen == {"serial": True} and len(results) == 2


class _Executor:
    """Stands in for GradingExecute: fails as told, and records what it ran."""

    def __init__(self, failure: Exception | None = None, ran: set[int] | None = None) -> None:
        self.failure, self.completed, self.calls = failure, set(ran or ()), 0

    def preprocess(self, nb, resources):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return nb, resources


def test_a_kernel_that_never_started_is_started_again() -> None:
    """Parallel grading workers can hand two kernels the same port; the loser dies before its
    first reply, having run nothing, and is started again rather than scored as a crash."""
    from grading.autograde import KERNEL_START_ATTEMPTS, run_with_start_retries

    never = RuntimeError("Kernel died before replying to kernel_info")
    fresh = iter([_Executor(never), _Executor()])
    running = [_Executor(never)]
    assert run_with_start_retries(lambda: next(fresh), running, "nb", "res") == ("nb", "res")
    assert running[0].calls == 1 and running[0].failure is None  # the one that ran is kept

    always = [_Executor(never)]
    with pytest.raises(RuntimeError, match="kernel_info"):
        run_with_start_retries(lambda: _Executor(never), always, "nb", "res")
    assert KERNEL_START_ATTEMPTS == 3


def test_a_kernel_that_ran_anything_is_never_retried() -> None:
    """A crash after the learner's code began counts: retrying could hide (or repeat) it."""
    from nbclient.exceptions import DeadKernelError

    from grading.autograde import run_with_start_retries

    started = [_Executor(RuntimeError("Kernel died before replying to kernel_info"), ran={0})]
    with pytest.raises(RuntimeError):
        run_with_start_retries(lambda: _Executor(), started, "nb", "res")
    crashed = [_Executor(DeadKernelError("Kernel died"))]
    with pytest.raises(DeadKernelError):
        run_with_start_retries(lambda: _Executor(), crashed, "nb", "res")
