"""Benchmark autograding: `python -m grading autograde` against serial `nbgrader autograde`.

    .venv/bin/python benchmarks/autograde.py                 # 60 learners, every assignment
    .venv/bin/python benchmarks/autograde.py --learners 20   # a quicker run

A simulated cohort submits every assignment of the course (the fixture course under
tests/grading/fixtures/course until notebooks/ has assignments; --notebooks to choose): about
60% right answers, 25% partly right (the typical wrong answers of wrong.yaml) and 15% broken
(invalid JSON, a deleted test cell, a re-typed cell, an error, the notebook left as released).
The same submissions are graded twice, each in its own copy of the course:

1. `python -m grading autograde` with its default workers, one per core plus one (wall time,
   including start-up);
2. `nbgrader autograde ASSIGNMENT --force` for each assignment, serially, as nbgrader does.

It prints both wall times, their ratio (target: at least 1.8 on 2 cores), the time each
submission spent in a worker and how much of it went on containing it (leasing an account,
making and killing its cgroup, removing what it left), and whether every autograded score
agrees between the two.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading import cells
from grading.autograde import default_grading_workers
from grading.check import read_wrong_answers
from grading.course import load_course

REPO = Path(__file__).resolve().parents[1]

FIXTURE_COURSE = REPO / "tests" / "grading" / "fixtures" / "course"
TARGET_RATIO = 1.8
PYTHON = sys.executable


def learner_notebook(released: dict, source, wrong: dict[str, str], kind: str, rng: random.Random) -> bytes:
    """One learner's submission of one assignment, of the given kind."""
    nb = json.loads(json.dumps(released))
    answers = {cells.grade_id(c): cells.solution_filled(c) for c in source.cells if cells.is_answer_cell(c)}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers and cell["cell_type"] == "code" and kind != "released":
            cell["source"] = wrong.get(gid, answers[gid]) if kind == "partly" else answers[gid]
    grade_ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    if kind == "invalid_json":
        return json.dumps(nb).encode()[:-40]
    if kind == "deleted_cell":
        victim = rng.choice(grade_ids)
        nb["cells"] = [c for c in nb["cells"]
                       if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != victim]
    if kind == "retyped_cell":
        cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                    and c["cell_type"] == "code")
        cell["cell_type"] = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    if kind == "error":
        cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                    and c["cell_type"] == "code")
        cell["source"] = "raise ValueError('I am stuck')"
    return json.dumps(nb).encode()


KINDS = [("right", 60), ("partly", 25), ("invalid_json", 3), ("deleted_cell", 3), ("retyped_cell", 3),
         ("error", 3), ("released", 3)]


def build(notebooks: Path, root: Path, learners: int, data_dir: Path) -> Path:
    course_dir = root / "course"
    subprocess.run([PYTHON, "-m", "grading", "--notebooks", str(notebooks), "--course-dir", str(course_dir),
                    "--data-dir", str(data_dir), "release", "--book-dir", str(root / "book")],
                   check=True, stdout=subprocess.DEVNULL)
    course = load_course(notebooks)
    rng = random.Random(42)
    kinds = [k for k, weight in KINDS for _ in range(weight)]
    for assignment in course.assignments:
        released = json.loads((course_dir / "release" / assignment.id / f"{assignment.id}.ipynb").read_text())
        source = cells.read_notebook(assignment.notebook)
        wrong = read_wrong_answers(assignment)
        for n in range(learners):
            folder = course_dir / "submitted" / f"learner{n:03d}" / assignment.id
            folder.mkdir(parents=True)
            (folder / "timestamp.txt").write_text("2026-01-15 10:00:00.000000 UTC\n")
            kind = rng.choice(kinds)
            text = learner_notebook(released, source, wrong, kind, rng)
            (folder / f"{assignment.id}.ipynb").write_bytes(text)
    return course_dir


def scores(course_dir: Path) -> dict:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "fj-course") as gb:
        for student in gb.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        out[(student.id, submission.assignment.name, grade.name)] = grade.auto_score
    return out


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    """Wall time of a command; nbgrader exits 1 when any submission failed, which is expected."""
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--notebooks", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=default_grading_workers(),
                        help="grading workers (default: the grader's own, a worker per core plus one)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FJ_DATA_DIR",
                                                                              REPO / "data" / "classroom")))
    args = parser.parse_args()
    notebooks = args.notebooks or (REPO / "notebooks" if load_course(REPO / "notebooks").assignments
                                   else FIXTURE_COURSE)
    assignments = [a.id for a in load_course(notebooks).assignments]
    env = dict(os.environ, FJ_DATA_DIR=str(args.data_dir),
               PATH=str(Path(PYTHON).parent) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory(prefix="fj-bench-") as tmp:
        root = Path(tmp)
        ours = build(notebooks, root / "ours", args.learners, args.data_dir)
        theirs = root / "nbgrader" / "course"
        shutil.copytree(ours, theirs)
        (theirs / "nbgrader_config.py").write_text(
            (ours / "nbgrader_config.py").read_text().replace(str(ours), str(theirs)))
        n = args.learners * len(assignments)
        print(f"{args.learners} learners x {len(assignments)} assignment(s) = {n} submissions "
              f"({notebooks.relative_to(REPO) if notebooks.is_relative_to(REPO) else notebooks}), "
              f"{args.workers} worker(s) on {os.cpu_count()} core(s)")
        wall_ours = timed([PYTHON, "-m", "grading", "--notebooks", str(notebooks), "--course-dir", str(ours),
                           "--data-dir", str(args.data_dir), "autograde", "--workers", str(args.workers),
                           "--quiet"], REPO, env)
        print(f"python -m grading autograde:      {wall_ours:7.1f} s  ({wall_ours / n:.2f} s per submission)")
        found = json.loads((ours / "grading_status.json").read_text())
        counts: dict[str, int] = {}
        for entry in found.values():
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        print("  statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        overheads = [entry.get("overhead", 0.0) for entry in found.values()]
        seconds = [entry.get("seconds", 0.0) for entry in found.values()]
        if seconds:
            print(f"  per submission: {sum(seconds) / len(seconds):.2f} s in a worker, of which "
                  f"{1000 * sum(overheads) / len(overheads):.0f} ms containing it (account lease, "
                  "cgroup, killing what is left, clean-up)")
        for key, entry in sorted(found.items()):
            if entry["status"] in ("kernel_died", "timeout", "error"):
                print(f"  {key}: {entry['status']}: {entry['message']}")
        wall_theirs = 0.0
        for assignment in assignments:
            wall_theirs += timed([str(Path(PYTHON).parent / "nbgrader"), "autograde", assignment, "--force"],
                                 theirs, env)
        per = wall_theirs / n
        print(f"nbgrader autograde (serial):      {wall_theirs:7.1f} s  ({per:.2f} s per submission)")
        ratio = wall_theirs / wall_ours
        print(f"ratio (nbgrader / ours):          {ratio:7.2f}  (target: at least {TARGET_RATIO} on 2 cores)")
        a, b = scores(ours), scores(theirs)
        common = {k for k in set(a) & set(b) if b[k] is not None}
        same = sum(a[k] == b[k] for k in common)
        print(f"scores agreeing with nbgrader:    {same} of {len(common)} graded cells "
              f"({len(set(a) - common)} only graded here: submissions nbgrader could not process)")
        for key in sorted(k for k in common if a[k] != b[k])[:10]:
            print(f"  differs: {'/'.join(key)}: ours {a[key]}, nbgrader {b[key]}")


if __name__ == "__main__":
    main()
