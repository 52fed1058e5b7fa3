"""``python -m grading feedback-local NOTEBOOK``: graded feedback on a learner's own computer.

A learner with a clone of the course (sources, dataset and all) gets from one command what a
hub's self-paced feedback gives: the notebook's assignment is found from its nbgrader cell ids
(or its file name), released into a temporary nbgrader course, the notebook placed there as the
learner's submission and graded by :class:`grading.autograde.Grader` (the sandbox and the
trusted replay of ``python -m grading autograde``), and the feedback page generated with model
answers (the learner has the sources anyway). Each check's result and message and the total
score are printed, and the page is written next to the notebook as ``<name>.feedback.html``
(in full, then renamed into place). The notebook itself is only read.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nbformat import NotebookNode

from grading import cells
from grading.atomic import write_atomically
from grading.course import Assignment, load_course
from grading.errors import GradingError
from grading.settings import Settings

# How alike the notebook's nbgrader cell ids and an assignment's must be (shared / all) for the
# ids alone to name the assignment; below this, the file name decides.
MIN_ID_OVERLAP = 0.5
FEEDBACK_SUFFIX = ".feedback.html"


@dataclass(frozen=True)
class Check:
    """One graded cell's result, as printed."""

    mark: str  # pass, FAIL, hand
    grade_id: str
    score: float | None
    max_score: float
    message: str = ""


def read_learner_notebook(path: Path) -> NotebookNode:
    """The learner's notebook, or a one-line GradingError (missing, not JSON, not a notebook)."""
    return cells.read_notebook(Path(path))


def _grade_ids(nb: object) -> set[str]:
    found = set()
    for cell in (nb.get("cells") if isinstance(nb, dict) else None) or []:
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        grader = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(grader, dict) and isinstance(grader.get("grade_id"), str):
            found.add(grader["grade_id"])
    return found


def find_assignment(nb: NotebookNode, path: Path, notebooks: Path) -> Assignment:
    """The assignment whose source notebook shares most of the notebook's nbgrader cell ids (at
    least half of all the ids of both); failing that, the one the file is named after
    (``<id>.ipynb``, or a copy such as ``<id>-Copy1.ipynb``)."""
    course = load_course(notebooks)
    ids = _grade_ids(nb)
    scored = []
    for assignment in course.assignments:
        try:
            source_ids = _grade_ids(json.loads(assignment.notebook.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
        if ids and source_ids:
            scored.append((len(ids & source_ids) / len(ids | source_ids), assignment))
    stem = Path(path).stem
    named = [a for a in course.assignments if stem == a.id or stem.startswith(a.id)]
    if scored:
        best = max(score for score, _ in scored)
        if best >= MIN_ID_OVERLAP:
            top = [a for score, a in scored if score == best]
            return next((a for a in top if a in named), top[0])
    if named:
        return max(named, key=lambda a: len(a.id))
    raise GradingError(f"{path} is not a notebook of any assignment under {notebooks}: its nbgrader "
                       "cells match none, and its name is not an assignment's (<assignment>.ipynb)")


def learner_name() -> str:
    """This computer's user name, as an nbgrader learner id (a folder name)."""
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 (no name in the environment or the password database)
        name = ""
    name = re.sub(r"[^A-Za-z0-9_.@-]", "_", name).strip("._")[:64]
    return name or "learner"


def feedback_local(notebook: Path, settings: Settings, timeout: int = 120) -> int:
    """Grade ``notebook`` as its assignment's submission, print the result and write the
    feedback page next to it. Exit code: 0 when every check passes, 1 otherwise, 128 + the
    signal's number when stopped."""
    from grading import autograde, feedback, release

    notebook = Path(notebook).absolute()
    data = notebook.read_bytes()
    try:
        nb = cells.parse_notebook(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise GradingError(f"{notebook} is not a readable notebook: {err}") from None
    assignment = find_assignment(nb, notebook, settings.notebooks)
    page_path = notebook.with_name(notebook.stem + FEEDBACK_SUFFIX)
    student = learner_name()
    with tempfile.TemporaryDirectory(prefix="fj-feedback-local-") as tmp:
        Path(tmp).chmod(0o700)
        local = Settings(notebooks=settings.notebooks, course_dir=Path(tmp) / "course",
                         course_id=settings.course_id, exchange=None, data_dir=settings.data_dir)
        print(f"Grading {notebook.name} as assignment {assignment.id} ...", flush=True)
        release.prepare_course_dir(local)
        release.copy_sources(local, [assignment])
        release.generate_learner_versions(local, [assignment])
        folder = local.submitted(student, assignment.id)
        folder.mkdir(parents=True)
        (folder / f"{assignment.id}.ipynb").write_bytes(data)
        (folder / "timestamp.txt").write_text(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        grader = autograde.Grader(local, workers=1, limits=autograde.Limits(timeout=timeout))
        grader.start(notes=False)
        started = time.perf_counter()
        try:
            [outcome] = grader.grade(autograde.find_submissions(local, [assignment.id]),
                                     handle_signals=True)
        except autograde.Interrupted as stop:
            print(f"stopped: {notebook.name} was not graded", flush=True)
            return 128 + stop.signum
        seconds = time.perf_counter() - started
        feedback.generate_feedback(local, [assignment.id], model_answers=True)
        page = local.feedback(student, assignment.id) / f"{assignment.id}.html"
        write_page(page_path, page.read_bytes())
        checks = results(local, student, assignment.id)
    print(summary(notebook, assignment, outcome, checks, seconds, page_path))
    auto = [c for c in checks if c.mark != "hand"]
    return 0 if auto and all(c.mark == "pass" for c in auto) and outcome.status == "graded" else 1


def write_page(dest: Path, data: bytes) -> None:
    """The feedback page beside the notebook, whole or not at all."""
    try:
        write_atomically(dest, data)
    except OSError as err:
        raise GradingError(f"cannot write the feedback page in {dest.parent}: {err.strerror}") from None


def results(local: Settings, student: str, assignment_id: str) -> list[Check]:
    """Each graded cell's score (the gradebook's) and, for a failed check, the message the
    feedback page shows (``ShowOnlyCheckMessages``: the author's words, never hidden tests)."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    from grading.preprocessors import ShowOnlyCheckMessages, check_message

    grades: dict[str, tuple[float | None, float, bool]] = {}
    with Gradebook(local.db_url, local.course_id) as gb:
        try:
            submission = gb.find_submission(assignment_id, student)
        except MissingEntry:
            return []
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                score = grade.score if not grade.needs_manual_grade else None
                grades[grade.name] = (score, float(grade.max_score or 0), bool(grade.needs_manual_grade))
    path = local.autograded(student, assignment_id) / f"{assignment_id}.ipynb"
    nb = nbformat.read(path, as_version=4) if path.is_file() else nbformat.v4.new_notebook()
    nb, _ = ShowOnlyCheckMessages().preprocess(nb, {})
    messages = {}
    for cell in nb.cells:
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if cells.is_test_cell(cell) and error is not None:
            traceback = error.get("traceback") or []
            messages[cells.grade_id(cell)] = traceback[0] if traceback else \
                check_message(error.get("ename", "Error"), error.get("evalue", ""))
    checks = []
    for cell in nb.cells if path.is_file() else []:
        gid = cells.grade_id(cell)
        if gid not in grades or not cells.is_grade(cell):
            continue
        score, max_score, by_hand = grades[gid]
        if by_hand:
            checks.append(Check("hand", gid, None, max_score))
        elif cells.is_written_answer(cell):  # nbgrader scores an unchanged answer zero itself
            checks.append(Check("FAIL", gid, score or 0.0, max_score,
                                f"not answered: the cell still reads {cells.TEXT_STUB}"))
        else:
            passed = score is not None and score >= max_score and gid not in messages
            checks.append(Check("pass" if passed else "FAIL", gid, score or 0.0, max_score,
                                messages.get(gid, "")))
    listed = {c.grade_id for c in checks}
    for gid, (score, max_score, by_hand) in sorted(grades.items()):  # not in the notebook at all
        if gid not in listed:
            checks.append(Check("hand" if by_hand else "FAIL", gid, None if by_hand else score or 0.0,
                                max_score, "" if by_hand else "not graded (the notebook could not be)"))
    return checks


def summary(notebook: Path, assignment: Assignment, outcome, checks: list[Check], seconds: float,
            page: Path) -> str:
    out = [f"Feedback on {notebook.name}: assignment {assignment.id} ({assignment.title}), graded in "
           f"{seconds:.1f} s", ""]
    if outcome.status != "graded":
        out += [f"  Note from the grader ({outcome.status}): {outcome.message}", ""]
    for check in checks:
        if check.mark == "hand":
            out.append(f"  [hand] {check.grade_id}: {check.max_score:g} points, a written answer marked "
                       "by a trainer; compare yours with the model answer in the feedback page")
            continue
        out.append(f"  [{check.mark:>4}] {check.grade_id}: {check.score or 0:g} of {check.max_score:g} "
                   f"point{'s' if check.max_score != 1 else ''}")
        if check.message:
            out.append(f"         {check.message}")
    auto = [c for c in checks if c.mark != "hand"]
    by_hand = sum(c.max_score for c in checks if c.mark == "hand")
    score = sum(c.score or 0 for c in auto)
    total = sum(c.max_score for c in auto)
    out += ["", f"Score: {score:g} of {total:g} points marked automatically"
            + (f" (and {by_hand:g} points of written answers, marked by a trainer)" if by_hand else "")
            + ".", f"Feedback page: {page}"]
    return "\n".join(out)
