"""The trainer's side of the course on a hub: release, collect, autograde, feedback.

Everything goes through the grading pipeline's command line (`python -m grading ...`), pointed
at the hub's course folder, exchange and data, and run as the right unix account: the trainer
orchestrates, and learners' code runs under the separate grading account (`--sandbox-user`).
While the grading package has no command line yet, nbgrader's own commands stand in, so the hub
set-ups can be exercised on their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from hub_config.course import REPO, Course

NOTEBOOKS = REPO / "notebooks"


def grading_available() -> bool:
    """True once the grading package has its command line."""
    return (REPO / "grading" / "__main__.py").exists()


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
    result = subprocess.run(list(cmd), env=full_env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def grading_cmd(course: Course, python: Path, notebooks: Path, *args: str) -> list[str]:
    return [str(python), "-m", "grading", "--notebooks", str(notebooks), "--course-dir",
            str(course.course_dir), "--course-id", course.course_id, "--exchange",
            str(course.exchange_dir), "--data-dir", str(course.data_dir), *args]


def nbgrader_cmd(course: Course, python: Path, *args: str) -> list[str]:
    return [str(python), "-m", "nbgrader", *args, f"--CourseDirectory.root={course.course_dir}",
            f"--CourseDirectory.course_id={course.course_id}", f"--Exchange.root={course.exchange_dir}",
            "--CourseDirectory.groupshared=True"]


def release(course: Course, python: Path, notebooks: Path = NOTEBOOKS, *,
            as_user: str | None = None) -> list[str]:
    """Release every assignment under `notebooks` to the exchange; return their ids."""
    ids = [p.name for p in assignments_in(notebooks)]
    if not ids:
        return []
    env = {"FJ_DATA_DIR": str(course.data_dir)}
    if grading_available():
        # The learner versions the book reads go to the hub's state folder, not the clone's book/.
        run(grading_cmd(course, python, notebooks, "release", "--book-dir",
                        str(course.course_dir / "book-released")), as_user=as_user, env=env, cwd=REPO)
        return ids
    for folder in assignments_in(notebooks):
        source = course.course_dir / "source" / folder.name
        source.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.suffix == ".ipynb" or (item.is_file() and item.name not in ("wrong.yaml",)):
                shutil.copy2(item, source / item.name)
        if as_user:
            subprocess.run(["chown", "-R", f"{as_user}:{course.trainer_group}",
                            str(course.course_dir / "source")], check=True)
        run(nbgrader_cmd(course, python, "generate_assignment", folder.name, "--force"),
            as_user=as_user, env=env, cwd=course.course_dir)
        run(nbgrader_cmd(course, python, "release_assignment", folder.name, "--force"),
            as_user=as_user, env=env, cwd=course.course_dir)
    return ids


def collect(course: Course, python: Path, assignment: str, *, as_user: str | None = None,
            notebooks: Path = NOTEBOOKS) -> None:
    """Copy learners' submissions from the exchange into the course folder."""
    if grading_available():
        run(grading_cmd(course, python, notebooks, "collect"), as_user=as_user, cwd=REPO)
    else:
        run(nbgrader_cmd(course, python, "collect", assignment, "--update"), as_user=as_user,
            cwd=course.course_dir)


def autograde(course: Course, python: Path, assignment: str, *, as_user: str | None = None,
              notebooks: Path = NOTEBOOKS) -> None:
    """Grade submissions; learners' code runs as the grading account.

    Switching each kernel to the grading account needs root, so on a workshop server this runs
    as root (the runbook's `fj-autograde`), and the course folder is handed back to the trainers'
    group afterwards. Elsewhere (the demo) it runs as whoever calls it.
    """
    env = {"FJ_DATA_DIR": str(course.data_dir)}
    if grading_available():
        sandbox = (["--sandbox-user", course.grader_user, "--kernel-python", str(python)]
                   if os.geteuid() == 0 else [])
        run(grading_cmd(course, python, notebooks, "autograde", *sandbox), env=env, cwd=REPO)
        keep_submission_secrets(course)
        if os.geteuid() == 0:
            from hub_config.accounts import share_course_dir

            share_course_dir(course)
    else:
        run(nbgrader_cmd(course, python, "autograde", assignment, "--create"),
            as_user=as_user, env=env, cwd=course.course_dir)


def keep_submission_secrets(course: Course) -> None:
    """Carry each submission's `submission_secret.txt` into autograded/.

    nbgrader's release_feedback names feedback in the exchange after that secret, and reads it
    from the feedback folder, which generate_feedback fills from autograded/; a grading run that
    copies only notebooks and timestamps would leave learners without feedback to fetch.
    """
    submitted = course.course_dir / "submitted"
    if not submitted.is_dir():
        return
    for secret in submitted.glob("*/*/submission_secret.txt"):
        graded = course.course_dir / "autograded" / secret.parent.parent.name / secret.parent.name
        if graded.is_dir() and not (graded / secret.name).exists():
            shutil.copy2(secret, graded / secret.name)


def feedback(course: Course, python: Path, assignment: str, *, as_user: str | None = None,
             notebooks: Path = NOTEBOOKS) -> None:
    """Generate feedback and release it to the exchange for learners to fetch."""
    if grading_available():
        run(grading_cmd(course, python, notebooks, "feedback"), as_user=as_user, cwd=REPO)
    else:
        run(nbgrader_cmd(course, python, "generate_feedback", assignment, "--force"), as_user=as_user,
            cwd=course.course_dir)
        run(nbgrader_cmd(course, python, "release_feedback", assignment), as_user=as_user,
            cwd=course.course_dir)
