"""Self-check for a learner without a hub: run my notebook and tell me which visible checks pass.

The notebook runs in its own folder, in a fresh kernel, and is not modified. Only the checks
the learner can see run (the released notebook has no hidden tests); the summary says so.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from grading import cells
from grading.cells import read_notebook
from grading.preprocessors import check_message
from grading.settings import DATA_DIR_VARIABLE


@dataclass(frozen=True)
class Line:
    """One question's result."""

    mark: str  # pass, FAIL, todo, note
    label: str
    detail: str = ""


def run_notebook(path: Path, timeout: int) -> tuple[object, float, list[int]]:
    """Execute a copy of the notebook in its folder; returns it, the seconds taken and the
    indices of cells that timed out."""
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    from grading.execute import GradingExecute, mark_not_run

    nb = read_notebook(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    config = Config()
    config.GradingExecute.timeout = timeout
    config.GradingExecute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
    config.SandboxedKernelManager.memory_mb = 0
    executor = GradingExecute(config=config)
    started = time.perf_counter()
    with contextlib.suppress(DeadKernelError):
        executor.preprocess(nb, {"metadata": {"path": str(path.parent.resolve())}})
    mark_not_run(nb, executor.completed, "not run: the notebook stopped before this check")
    return nb, time.perf_counter() - started, executor.timed_out


def summarise(nb: object) -> list[Line]:
    """A line per graded question, in notebook order, plus errors in the learner's own cells."""
    lines: list[Line] = []
    for index, cell in enumerate(nb.cells):
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        pts = cells.points(cell)
        if cells.is_test_cell(cell):
            label = f"{cells.grade_id(cell)} ({pts:g} point{'s' if pts != 1 else ''})"
            if error is None:
                lines.append(Line("pass", label))
            else:
                lines.append(Line("FAIL", label, check_message(error.ename, error.evalue)))
        elif cells.is_written_answer(cell):
            unwritten = cells.TEXT_STUB in cell.source
            lines.append(Line("todo" if unwritten else "note",
                              f"{cells.grade_id(cell)} ({pts:g} points, written answer)",
                              "not written yet" if unwritten else "marked by a trainer"))
        elif cell.cell_type == "code" and error is not None:
            label = cells.grade_id(cell) or f"cell {index + 1}"
            lines.append(Line("FAIL", f"{label} (your code)", check_message(error.ename, error.evalue)))
    return lines


def selfcheck(path: Path, data_dir: Path | None, timeout: int = 120) -> tuple[str, bool]:
    """The printed summary, and whether every visible check passed."""
    if data_dir is not None and (data_dir / "manifest.json").is_file():
        os.environ[DATA_DIR_VARIABLE] = str(data_dir)
    nb, seconds, timed_out = run_notebook(Path(path), timeout)
    lines = summarise(nb)
    checks = [line for line in lines if "(your code)" not in line.label and line.mark in ("pass", "FAIL")]
    passed = sum(line.mark == "pass" for line in checks)
    out = [f"Self-check of {Path(path).name} (ran in {seconds:.1f} s)", ""]
    for line in lines:
        out.append(f"  [{line.mark:>4}] {line.label}")
        if line.detail:
            out.append(f"         {line.detail}")
    if timed_out:
        out.append(f"  A cell ran for more than {timeout} s and was stopped.")
    out += ["", f"Visible checks: {passed} of {len(checks)} pass. These are the checks you can see; "
            "when your work is graded, hidden checks decide the final marks."]
    ok = passed == len(checks) and not any(line.mark == "FAIL" for line in lines)
    return "\n".join(out), ok
