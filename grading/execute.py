"""Running one notebook for grading: nbgrader's ``Execute`` with four safeguards.

- a cap on how much output one cell, and the whole notebook, may produce (a loop printing for a
  whole minute would otherwise fill the grader's memory before nbgrader's LimitOutput trims it,
  and thirty cells of 2 MB each would make a 60 MB notebook and feedback page). Outputs that
  decide a mark (an error, stderr, a test's result) are shortened, never dropped: nbgrader gives
  full marks to a test cell without an error, so dropping one would turn a failed check into a
  pass. ``bound_outputs`` applies the same caps once more to the finished notebook, for output
  that reaches it by other routes (updates of a displayed value);
- after the first cell that runs past the time limit, the rest are not run (an endless loop that
  ignores interrupts would otherwise cost the limit once per remaining cell);
- a time limit for the whole notebook as well (ten cells of 18 s each pass a 20 s cell limit);
- every graded test cell that never ran (after a timeout or a kernel crash) gets an error, so
  that it earns nothing: nbgrader gives full marks to a test cell with no error output.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

from grading import cells
from grading.sandbox import SandboxedKernelManager

DEFAULT_OUTPUT_LIMIT = 2 * 2**20
DEFAULT_NOTEBOOK_OUTPUT_LIMIT = 5 * 2**20
SHORT = 1000  # characters kept of each part of an output that decides a mark, once over a cap


class GradingExecute(Execute):
    """nbgrader's Execute, bounded in output and time, remembering which cells ran."""

    output_limit = Integer(DEFAULT_OUTPUT_LIMIT, help="Bytes of output kept per cell.").tag(config=True)
    notebook_output_limit = Integer(0, help="Bytes of output kept in the whole notebook (0: no "
                                            "cap beyond the one per cell).").tag(config=True)
    notebook_timeout = Integer(0, help="Seconds the whole notebook may run, kernel start-up "
                                       "included (0: no limit beyond the one per cell).").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        # Nothing of a graded kernel is worth a graceful end (its submission's processes are
        # killed whole afterwards anyway), and waiting for one costs half a second a notebook.
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(**kwargs)
        self.reset_tracking()

    # Set by the worker: starts the trusted replay (grading.replay) once the learner's kernel
    # is up, given its connection file. Without it, test cells run in the learner's kernel.
    replay_factory = None

    def reset_tracking(self) -> None:
        self.replay = None
        self.replay_error = ""
        self.completed: set[int] = set()
        self.truncated: set[int] = set()
        self.timed_out: list[int] = []
        self.notebook_timed_out = False
        self.notebook_truncated: list[int] = []
        self._bytes: dict[int, int] = {}
        self._total = 0
        self._current = -1
        self._deadline: float | None = None
        self._deadline_binds = False

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km=None):
        if self.notebook_timeout > 0:
            self._deadline = time.monotonic() + self.notebook_timeout
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self.replay is not None:
                self.replay.close()

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if self.timed_out:
            return cell, resources
        self._current = index
        if self._deadline is not None and time.monotonic() >= self._deadline and cell.cell_type == "code":
            self.timed_out.append(index)
            self.notebook_timed_out = True
            return cell, resources
        replay = self._replay() if cell.cell_type == "code" else None
        if self.replay_factory is not None and cells.is_test_cell(cell):
            kind = "test"  # even when the replay has failed: hidden tests never go to the learner
        else:
            kind = replay.kind_of(cells.grade_id(cell)) if replay is not None else ""
        if kind != "test":
            result = super().preprocess_cell(cell, resources, index)
            if kind == "answer" and index in self.completed and not self.timed_out:
                self._trusted(lambda: replay.answer(cells.grade_id(cell)))
            return result
        # A test cell: its visible checks run in the learner's kernel (never its hidden tests),
        # but only the trusted replay's run decides the mark and fills the cell's output.
        full = cell.source
        cell.source = cells.visible_source(cell)
        try:
            super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = full
        if index not in self.completed:
            return cell, resources
        result = {}
        if replay is not None:
            result = self._trusted(lambda: replay.test(cells.grade_id(cell))) or {}
        if result.get("stuck") and replay is not None:
            self._unstick(replay)
        if result.get("passed"):
            cell.outputs = []
        else:
            shown = str(result.get("shown") or self.replay_error or "this check was not run")
            cell.outputs = [new_output("error", ename="AssertionError", evalue=shown,
                                       traceback=[f"AssertionError: {shown}"])]
        return cell, resources

    def _replay(self):
        if self.replay is None and self.replay_factory is not None and not self.replay_error \
                and self.km is not None:
            try:
                self.replay = self.replay_factory(self.km.connection_file)
            except Exception as err:  # noqa: BLE001 (reported as the grader's own failure)
                self.replay_error = f"the trusted grader could not start ({type(err).__name__}: {err})"
        return None if self.replay_error else self.replay

    def _trusted(self, action):
        from grading.replay import ReplayError

        if self.replay_error:
            return None
        try:
            return action()
        except (ReplayError, OSError, ValueError) as err:
            self.replay_error = f"the trusted grader failed ({err})"
            return None

    def _unstick(self, replay) -> None:
        """A learner function called by a hidden test ran past the limit: interrupt it."""
        from jupyter_core.utils import run_sync

        try:
            run_sync(self.km.interrupt_kernel)()
        except Exception:  # noqa: BLE001 (a dead kernel is found by the next cell)
            return
        self._trusted(replay.unstick)

    def _get_timeout(self, cell: NotebookNode | None) -> int | None:
        timeout = super()._get_timeout(cell)
        self._deadline_binds = False
        if self._deadline is None:
            return timeout
        remaining = max(1, math.ceil(self._deadline - time.monotonic()))
        if timeout is None or remaining < timeout:
            self._deadline_binds = True
            return remaining
        return timeout

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        self.completed.add(kwargs["cell_index"])

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None):
        self.timed_out.append(self._current)
        self.notebook_timed_out = self._deadline_binds
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._bytes.get(cell_index, 0) + size
        self._bytes[cell_index] = used
        self._total += size
        over_cell = used > self.output_limit
        over_notebook = 0 < self.notebook_output_limit < self._total
        if not (over_cell or over_notebook):
            return super().output(outs, msg, display_id, cell_index)
        if over_cell and cell_index not in self.truncated:
            self.truncated.add(cell_index)
            outs.append(_note(f"more than {_mb(self.output_limit)} in this cell"))
        elif over_notebook and not over_cell and cell_index not in self.notebook_truncated:
            self.notebook_truncated.append(cell_index)
            outs.append(_note(f"more than {_mb(self.notebook_output_limit)} in this notebook"))
        decisive = _decisive(msg["msg_type"], msg.get("content", {}), outs)
        if decisive is None:
            return None
        return super().output(outs, {**msg, "content": decisive}, None, cell_index)


def _mb(size: int) -> str:
    return f"{size / 2**20:g} MB"


def _note(what: str) -> NotebookNode:
    return new_output("stream", name="stdout",
                      text=f"\n[output truncated by the grader: {what}; the rest was dropped]\n")


def _decisive(msg_type: str, content: dict, outs: list) -> dict | None:
    """A shortened copy of an output that decides a mark (an error, stderr, a result, which
    nbgrader reads for partial credit), or None for output that decides nothing."""
    if msg_type == "error":
        return {**content, "evalue": str(content.get("evalue", ""))[:SHORT],
                "traceback": [str(line)[:SHORT] for line in content.get("traceback", [])[-10:]]}
    if msg_type == "stream" and content.get("name") == "stderr":
        if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in outs):
            return None
        return {"name": "stderr", "text": str(content.get("text", ""))[:SHORT]}
    if msg_type == "execute_result":
        text = content.get("data", {}).get("text/plain", "")
        return {**content, "data": {"text/plain": str(text)[:SHORT]}, "metadata": {}}
    return None


def bound_outputs(nb: NotebookNode, per_cell: int, per_notebook: int) -> list[int]:
    """Apply the output caps to a finished notebook (0: no cap); returns the cells cut. Outputs
    that decide a mark are shortened and kept, as during the run."""
    cut: list[int] = []
    total = 0
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        used = 0
        kept: list = []
        for out in cell.get("outputs", []):
            size = len(json.dumps(out, default=str))
            fits = (not per_cell or used + size <= per_cell) and \
                (not per_notebook or total + size <= per_notebook)
            if fits:
                kept.append(out)
                used += size
                total += size
                continue
            if index not in cut:
                cut.append(index)
                kept.append(_note("over the output cap"))
            kind = out.get("output_type")
            content = dict(out)
            if kind == "stream":
                content = {"name": out.get("name"), "text": "".join(out.get("text", ""))}
            decisive = _decisive(kind, content, kept)
            if decisive is not None:
                short = new_output(kind, **{k: v for k, v in decisive.items()
                                            if k in ("name", "text", "ename", "evalue", "traceback",
                                                     "data", "metadata", "execution_count")})
                kept.append(short)
                total += len(json.dumps(short, default=str))
        cell.outputs = kept
    return cut


def mark_not_run(nb: NotebookNode, completed: set[int], reason: str) -> list[str]:
    """Give every test cell that did not run an error output (so it scores zero); returns
    their grade ids."""
    marked = []
    for index, cell in enumerate(nb.cells):
        if cells.is_test_cell(cell) and index not in completed:
            cell.outputs = [new_output("error", ename="NotRun", evalue=reason,
                                       traceback=[f"NotRun: {reason}"])]
            marked.append(cells.grade_id(cell))
    return marked
