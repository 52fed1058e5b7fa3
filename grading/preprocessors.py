"""nbgrader preprocessors of our own, used when feedback is generated.

nbgrader's default feedback shows each test cell as it ran, hidden tests and all. Feedback here
runs ``ClearHiddenTests`` (which removes the hidden source) and then ``ShowOnlyCheckMessages``,
because a failing hidden assert's traceback still quotes the hidden lines around it: each error
in a test cell is reduced to its exception name and message, which is what the author wrote for
learners to read. ``GradingNotes`` puts the grader's note (a timeout, a repaired cell, ...) at
the top of the feedback. ``SanitizeNotebook`` runs last before the page is rendered: nothing a
learner wrote or displayed may run in the browser that opens the page (``grading.sanitize``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from grading import cells, sanitize

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WITHHELD = "[output withheld: it quoted the hidden tests]"
NO_MESSAGE = "a check failed (its author gave it no message)"


def check_message(ename: str, evalue: str) -> str:
    """The one line a learner sees for a failed check: ``AssertionError: <message>``."""
    evalue = ANSI.sub("", evalue or "").strip()
    return f"{ename}: {evalue}" if evalue else f"{ename}: {NO_MESSAGE}"


class ShowOnlyCheckMessages(NbGraderPreprocessor):
    """Reduce every error in a test cell to its name and message (no traceback, so no quoted
    hidden-test code), and withhold any output that quotes a hidden-test line (learner code
    can read IPython's input history, which holds the hidden tests it ran after). Runs before
    ClearHiddenTests, while the hidden lines are still there to compare against."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self._hidden = sorted({line.strip() for cell in nb.cells if cells.is_grade(cell)
                               for line in cells.hidden_source(cell).splitlines()
                               if len(line.strip()) >= 8}, key=len, reverse=True)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        cell_index: int) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type != "code":
            return cell, resources
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and cells.is_test_cell(cell):
                line = check_message(output.get("ename", "Error"), output.get("evalue", ""))
                output["traceback"] = [line]
            if self._quotes_hidden(output):
                if output.get("output_type") == "error":  # keep the error, so the score still reads
                    output = new_output("error", ename="Error", evalue=WITHHELD, traceback=[WITHHELD])
                else:
                    output = new_output("stream", name="stdout", text=WITHHELD + "\n")
            outputs.append(output)
        cell["outputs"] = outputs
        return cell, resources

    def _quotes_hidden(self, output: NotebookNode) -> bool:
        text = cells.released_text(output)
        return any(line in text for line in self._hidden)


class GradingNotes(NbGraderPreprocessor):
    """Put the grader's note about this submission (if any) in a cell at the top."""

    status_file = Unicode("", help="grading_status.json written by `grading autograde`").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        note = self._note(resources)
        if note:
            nb.cells.insert(0, new_markdown_cell(note))
        return nb, resources

    def _note(self, resources: ResourcesDict) -> str:
        if not self.status_file or not Path(self.status_file).is_file():
            return ""
        try:
            statuses = json.loads(Path(self.status_file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        info = resources.get("nbgrader", {})
        entry = statuses.get(f"{info.get('student')}/{info.get('assignment')}")
        if not entry or entry.get("status") == "graded":
            return ""
        status = str(entry["status"]) if re.fullmatch(r"[a-z_]+", str(entry["status"])) else "unknown"
        # Messages quote file names and cell ids from the submission: they are shown as text.
        return (f"**Note from the grader** (status: `{status}`): "
                f"{escape_markdown(str(entry.get('message', '')))}")


MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: str) -> str:
    """Text that markdown shows as written: every ASCII punctuation character backslash-escaped
    (so no link, emphasis or HTML can form) and ``<``/``&`` as entities."""
    text = MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return text.replace("\\<", "&lt;").replace("\\&", "&amp;")


class SanitizeNotebook(NbGraderPreprocessor):
    """Remove anything that could run in a browser from the notebook before it is rendered
    (scripts, event handlers, iframes, forms, ``javascript:`` links; see ``grading.sanitize``).
    Autograde already stores sanitised notebooks; this covers notebooks graded any other way."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        return sanitize.sanitize_notebook(nb), resources
