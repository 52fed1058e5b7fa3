"""Running one notebook for grading: nbgrader's ``Execute`` with three safeguards.

- a cap on how much output one cell may produce (a loop printing for a whole minute would
  otherwise fill the grader's memory before nbgrader's LimitOutput trims it);
- after the first cell that runs past the time limit, the rest are not run (an endless loop that
  ignores interrupts would otherwise cost the limit once per remaining cell);
- every graded test cell that never ran (after a timeout or a kernel crash) gets an error, so
  that it earns nothing: nbgrader gives full marks to a test cell with no error output.
"""

from __future__ import annotations

import json
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

from grading import cells
from grading.sandbox import SandboxedKernelManager

DEFAULT_OUTPUT_LIMIT = 2 * 2**20


class GradingExecute(Execute):
    """nbgrader's Execute, bounded in output and time, remembering which cells ran."""

    output_limit = Integer(DEFAULT_OUTPUT_LIMIT, help="Bytes of output kept per cell.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(**kwargs)
        self.reset_tracking()

    def reset_tracking(self) -> None:
        self.completed: set[int] = set()
        self.truncated: set[int] = set()
        self.timed_out: list[int] = []
        self._bytes: dict[int, int] = {}
        self._current = -1

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if self.timed_out:
            return cell, resources
        self._current = index
        return super().preprocess_cell(cell, resources, index)

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        self.completed.add(kwargs["cell_index"])

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None):
        self.timed_out.append(self._current)
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._bytes.get(cell_index, 0) + size
        self._bytes[cell_index] = used
        if used > self.output_limit:
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                outs.append(new_output("stream", name="stdout", text=(
                    f"\n[output truncated by the grader: more than {self.output_limit // 2**20} MB]\n")))
            return None
        return super().output(outs, msg, display_id, cell_index)


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
