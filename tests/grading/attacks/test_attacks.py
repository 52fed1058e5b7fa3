"""Hostile submissions graded in one batch, as root, with a pool of sandbox accounts made for the
test: no attack may change another learner's mark, leave anything running or lying in /tmp,
exceed the output cap or read the grader's secrets; and stopping the grader stops everything.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grading import containment
from grading.settings import REPO, Settings
from tests.grading.attacks import (
    ASSIGNMENT,
    ATTACKS,
    BLANK,
    CELL_TIMEOUT,
    HONEST,
    MEMORY_MB,
    NOTEBOOK_OUTPUT_MB,
    NOTEBOOK_TIMEOUT,
    SLOW_ANSWER,
    WRONG_LEARNER,
    write,
)
from tests.grading.conftest import WRONG, as_root, copy_course, course_args, learner_version, solved

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _kernel_python() -> str:
    from tests.grading.test_autograde import _kernel_python as found

    return found()


@pytest.fixture(scope="module")
def pool() -> Iterator[list]:
    """Three sandbox accounts with random names, removed afterwards with all they left."""
    if not as_root():
        pytest.skip("the sandbox switches accounts, which needs root")
    import pwd

    from grading.sandbox import Account

    names = [f"fjatk{secrets.token_hex(3)}{n}" for n in range(3)]
    for name in names:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True)
    accounts = [Account(n, pwd.getpwnam(n).pw_uid, pwd.getpwnam(n).pw_gid) for n in names]
    yield accounts
    for account in accounts:
        containment.clear_account(account.uid, account.gid)
        subprocess.run(["userdel", account.name], check=False, capture_output=True)
        subprocess.run(["groupdel", account.name], check=False, capture_output=True)


def _grader(settings: Settings, accounts: list, *extra: str, data: Path) -> list[str]:
    """The grading command; ``data`` is a dataset whose answer key the accounts cannot read."""
    return [sys.executable, "-m", "grading", *course_args(settings), "--data-dir", str(data),
            "autograde", "--quiet",
            "--sandbox-user", ",".join(a.name for a in accounts), "--kernel-python", _kernel_python(),
            *extra]


def _scores(settings: Settings) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(settings.db_url, settings.course_id) as gb:
        return {s.student.id: {g.name: g.auto_score for nb in s.notebooks for g in nb.grades}
                for s in gb.assignment_submissions(ASSIGNMENT)}


def _leftovers(accounts: list, grader_pid: int) -> list[str]:
    """Anything of the batch still there: processes of the pool, the run's cgroups, files."""
    from hub_config import memory

    uids = [a.uid for a in accounts]
    found = [f"process {pid}" for pid in containment.processes_of(uids)]
    top = memory.existing_cgroup(containment.CGROUP_TOP)
    for path in top.paths if top else ():
        found += [f"cgroup {p}" for p in path.glob(f"run-{grader_pid}-*")]
    for root in containment.WORLD_WRITABLE:
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_uid in uids:
                        found.append(f"file {path}")
                except OSError:
                    continue
    return found


def test_no_attack_works_in_a_batch(released, workspace, pool, closed_data_dir) -> None:
    settings = copy_course(released, workspace / "attacks" / "course")
    right = solved(settings, ASSIGNMENT)
    for attack in ATTACKS:
        write(settings.submitted(attack.student, ASSIGNMENT), attack.make(right))
    slow = json.loads(json.dumps(right))
    for cell in slow["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "public_count":
            cell["source"] += "\n" + SLOW_ANSWER
    write(settings.submitted(HONEST[0], ASSIGNMENT), slow)
    for student in HONEST[1:]:
        write(settings.submitted(student, ASSIGNMENT), right)
    write(settings.submitted(BLANK, ASSIGNMENT), learner_version(settings, ASSIGNMENT))
    write(settings.submitted(WRONG_LEARNER, ASSIGNMENT), solved(settings, ASSIGNMENT, WRONG))

    token, secret, plain = (secrets.token_hex(16) for _ in range(3))
    env = dict(os.environ, JUPYTERHUB_API_TOKEN=token, FJ_TRAINER_SECRET=secret, FJ_COURSE_NOTE=plain)
    grader = subprocess.Popen(
        _grader(settings, pool, "--workers", "2", "--timeout", str(CELL_TIMEOUT), "--notebook-timeout",
                str(NOTEBOOK_TIMEOUT), "--memory-mb", str(MEMORY_MB), "--notebook-output-mb",
                str(NOTEBOOK_OUTPUT_MB), data=closed_data_dir),
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # While it runs: the grader's own /proc/<pid>/environ holds no secret (it re-executed itself).
    time.sleep(3)
    if grader.poll() is None:
        environ = Path(f"/proc/{grader.pid}/environ").read_bytes().decode(errors="replace")
        assert token not in environ and secret not in environ
    out, err = grader.communicate(timeout=900)
    assert grader.returncode == 0, err

    statuses = json.loads(settings.status_file.read_text())
    scores = _scores(settings)
    totals = {student: sum(v for v in grades.values() if v is not None) for student, grades in scores.items()}
    # Honest learners keep every mark, attacks or not; controls score as they should.
    for student in HONEST:
        assert totals[student] == 4, (student, scores[student], statuses[f"{student}/{ASSIGNMENT}"])
    assert totals[BLANK] == 0
    assert 0 < totals[WRONG_LEARNER] < 4
    # A failed check still fails after the output budget is spent.
    assert scores["h1_output_then_wrong"]["public_count_test"] == 0
    # Nobody hijacked anybody.
    hijacker = (settings.autograded("a1_hijacker", ASSIGNMENT) / NOTEBOOK).read_text()
    assert re.search(r"HIJACKED \d", hijacker) is None, hijacker[-3000:]
    # Memory is bounded for the whole tree: 4 children of 1 GB under 2 GB cannot all hold.
    memory = (settings.autograded("d1_memory", ASSIGNMENT) / NOTEBOOK).read_text()
    held = re.search(r"STILL HOLDING (\d+)", memory)
    assert held is None or int(held.group(1)) <= 1, memory[:2000]
    # The notebook limit stopped the many long cells, and says so.
    long_cells = statuses[f"f1_long_cells/{ASSIGNMENT}"]
    assert long_cells["status"] == "timeout" and "notebook" in long_cells["message"], long_cells
    assert long_cells["seconds"] < NOTEBOOK_TIMEOUT + 20
    # Output is capped per notebook, whatever route it took.
    cap = NOTEBOOK_OUTPUT_MB * 2**20 + 200_000  # the cells' own source
    for student in [a.student for a in ATTACKS] + HONEST:
        size = (settings.autograded(student, ASSIGNMENT) / NOTEBOOK).stat().st_size
        assert size <= cap, (student, size)
    assert statuses[f"g1_big_output/{ASSIGNMENT}"]["status"] == "truncated_output"
    # No secret of the grader reached a kernel.
    for student in [a.student for a in ATTACKS]:
        text = (settings.autograded(student, ASSIGNMENT) / NOTEBOOK).read_text()
        for value in (token, secret, plain):
            assert value not in text, student
    assert "environ" in (settings.autograded("j1_environ", ASSIGNMENT) / NOTEBOOK).read_text()
    # Nothing outlives the batch.
    assert _leftovers(pool, grader.pid) == []


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _alive(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            continue
    return alive


def test_sigterm_stops_every_worker_and_kernel_and_the_next_run_finishes(released, workspace, pool,
                                                                         closed_data_dir) -> None:
    settings = copy_course(released, workspace / "sigterm" / "course")
    right = solved(settings, ASSIGNMENT)
    slow = json.loads(json.dumps(right))
    for cell in slow["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "public_count":
            cell["source"] += "\nimport time\ntime.sleep(6)"
    survivor = next(a for a in ATTACKS if a.student == "b1_survivor").make(slow)
    write(settings.submitted("a_survivor", ASSIGNMENT), survivor)
    students = ["b_slow", "c_slow", "d_slow"]
    for student in students:
        write(settings.submitted(student, ASSIGNMENT), slow)

    grader = subprocess.Popen(_grader(settings, pool, "--workers", "2", "--timeout", "30",
                                      data=closed_data_dir), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    uids = [a.uid for a in pool]
    deadline = time.monotonic() + 60
    while len(containment.processes_of(uids)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    assert grader.poll() is None, grader.communicate()
    started = _descendants(grader.pid) + containment.processes_of(uids)
    assert len(started) >= 4  # two workers, their kernels, the survivor
    grader.send_signal(signal.SIGTERM)
    out, err = grader.communicate(timeout=20)
    assert grader.returncode != 0
    lines = err.strip().splitlines()
    assert "stopped by SIGTERM" in lines[-1], err
    time.sleep(1)
    assert _alive(started) == []
    assert _leftovers(pool, grader.pid) == []
    recorded = json.loads(settings.status_file.read_text()) if settings.status_file.exists() else {}
    assert len(recorded) < 4

    again = subprocess.run(_grader(settings, pool, "--workers", "2", "--timeout", "30",
                                   data=closed_data_dir), cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    statuses = json.loads(settings.status_file.read_text())
    assert set(statuses) == {f"{s}/{ASSIGNMENT}" for s in ["a_survivor", *students]}
    totals = {s: sum(v for v in g.values() if v is not None) for s, g in _scores(settings).items()}
    for student in students:
        assert totals[student] == 4, statuses
    assert _leftovers(pool, -1) == []


def test_grading_on_a_hub_without_root_is_refused_unless_asked(monkeypatch) -> None:
    env = {"JUPYTERHUB_USER": "trainer", "JUPYTERHUB_API_TOKEN": "x"}
    assert "sudo fj-autograde" in containment.same_account_refusal(env, 1000)
    assert containment.same_account_refusal({**env, "FJ_GRADING_SAME_ACCOUNT": "1"}, 1000) == ""
    assert containment.same_account_refusal(env, 0) == ""
    assert containment.same_account_refusal({"PATH": "/bin"}, 1000) == ""


def test_kernels_get_an_allow_listed_environment() -> None:
    from grading.launch import kernel_environment

    env = kernel_environment({"PATH": "/bin", "LC_ALL": "C", "JUPYTERHUB_API_TOKEN": "x", "AWS_KEY": "y",
                              "FJ_DATA_DIR": "/data", "HOME": "/root"}, home="/scratch/home",
                             tmpdir="/scratch/tmp")
    assert env["HOME"] == "/scratch/home" and env["TMPDIR"] == "/scratch/tmp"
    assert {"PATH", "LC_ALL", "FJ_DATA_DIR"} <= set(env)
    assert "JUPYTERHUB_API_TOKEN" not in env and "AWS_KEY" not in env
    assert containment.secret_names({"JUPYTERHUB_USER": "a", "MY_TOKEN": "b", "JPY_X": "c",
                                     "COOKIE_SECRET": "d", "PATH": "e"}) == \
        ["COOKIE_SECRET", "JPY_X", "JUPYTERHUB_USER", "MY_TOKEN"]
