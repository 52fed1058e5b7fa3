"""The trainer's side of the course on a hub: release, collect, autograde, feedback.

Everything goes through the grading pipeline's command line (`python -m grading ...`), pointed
at the hub's course folder, exchange and data, and run as the right unix account: the trainer
orchestrates, and learners' code runs under the separate grading account (`--sandbox-user`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hub_config.course import REPO, Course
from hub_config.course_home.outline import write_outline

NOTEBOOKS = REPO / "notebooks"


def assignments_in(notebooks: Path) -> list[Path]:
    """Assignment folders laid out as notebooks/README.md says: <module>/<id>/<id>.ipynb."""
    return sorted(p.parent for p in Path(notebooks).glob("*/*/*.ipynb") if p.stem == p.parent.name)


def run(cmd: Sequence[str], *, as_user: str | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, as another unix user if asked (the caller must be root for that)."""
    # nbgrader starts helpers such as `alembic` by name: the interpreter's bin/ goes first on PATH.
    env = {"PATH": f"{Path(cmd[0]).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
           **(env or {})}
    full_env = {**os.environ, **env}
    if as_user:
        # runuser keeps the environment we pass but gives the target user's identity and groups.
        cmd = ["runuser", "-u", as_user, "--", "env", *[f"{k}={v}" for k, v in env.items()],
               *cmd]
    # Stopping the caller (Ctrl-C or SIGTERM on `fj-autograde`) stops the grading command too,
    # which then stops every worker and kernel it started.
    result = subprocess.run(list(cmd), env=full_env, cwd=cwd, capture_output=True, text=True,
                            preexec_fn=_stop_with_caller)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _stop_with_caller() -> None:
    import signal

    from grading.containment import die_with_parent

    die_with_parent(signal.SIGTERM)


def grading_cmd(course: Course, python: Path, notebooks: Path, *args: str) -> list[str]:
    return [str(python), "-m", "grading", "--notebooks", str(notebooks), "--course-dir",
            str(course.course_dir), "--course-id", course.course_id, "--exchange",
            str(course.exchange_dir), "--data-dir", str(course.data_dir), *args]


def release(course: Course, python: Path, notebooks: Path = NOTEBOOKS, *,
            as_user: str | None = None) -> list[str]:
    """Release every assignment under `notebooks` to the exchange, and write the course outline
    learners' course home reads (course.outline_file); return the assignments' ids."""
    ids = [p.name for p in assignments_in(notebooks)]
    if not ids:
        return []
    env = {"FJ_DATA_DIR": str(course.data_dir)}
    # The learner versions the book reads go to the hub's state folder, not the clone's book/.
    run(grading_cmd(course, python, notebooks, "release", "--book-dir",
                    str(course.course_dir / "book-released")), as_user=as_user, env=env, cwd=REPO)
    try:
        write_outline(Path(notebooks), course.outline_file, course.course_id)
    except OSError as error:
        # The release is done; without a new outline the course home keeps the previous one.
        print(f"released, but the course outline could not be written: {error}", file=sys.stderr)
    return ids


def collect(course: Course, python: Path, assignment: str, *, as_user: str | None = None,
            notebooks: Path = NOTEBOOKS) -> None:
    """Copy learners' submissions from the exchange into the course folder (``grading
    collect`` trusts nothing a learner wrote there). Run as root, as ``fj-autograde`` does, the
    course folder is handed back to the trainers' group afterwards."""
    run(grading_cmd(course, python, notebooks, "collect"), as_user=as_user, cwd=REPO)
    if as_user is None and os.geteuid() == 0:
        from hub_config.accounts import share_course_dir

        share_course_dir(course)


def autograde(course: Course, python: Path, assignment: str, *, as_user: str | None = None,
              notebooks: Path = NOTEBOOKS) -> None:
    """Grade submissions; learners' code runs as the grading accounts.

    Switching each kernel to a grading account needs root, so on a workshop server this runs as
    root (the runbook's `fj-autograde`) with a pool of grading accounts, one per worker (a live
    submission holds one for itself), and the course folder is handed back to the trainers'
    group afterwards. Elsewhere (the demo) it runs as whoever calls it; on a hub that needs
    FJ_GRADING_SAME_ACCOUNT=1, since kernels then share the caller's account.
    """
    env = {"FJ_DATA_DIR": str(course.data_dir)}
    sandbox: list[str] = []
    if os.geteuid() == 0:
        from grading.autograde import default_grading_workers
        from hub_config.accounts import ensure_grader_pool

        pool = ensure_grader_pool(course, default_grading_workers())
        sandbox = ["--sandbox-user", ",".join(pool), "--workers", str(len(pool)),
                   "--kernel-python", str(python)]
    run(grading_cmd(course, python, notebooks, "autograde", *sandbox), env=env, cwd=REPO)
    if os.geteuid() == 0:
        from hub_config.accounts import share_course_dir

        share_course_dir(course)


def feedback(course: Course, python: Path, assignment: str, *, as_user: str | None = None,
             notebooks: Path = NOTEBOOKS) -> None:
    """Generate feedback and release it to the exchange for learners to fetch."""
    run(grading_cmd(course, python, notebooks, "feedback"), as_user=as_user, cwd=REPO)
