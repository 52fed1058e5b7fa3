"""nbgrader preprocessors of our own, used when feedback is generated.

nbgrader's default feedback shows each test cell as it ran, hidden tests and all. Feedback here
runs ``ClearHiddenTests`` (which removes the hidden source) and then ``ShowOnlyCheckMessages``,
because a failing hidden assert's traceback still quotes the hidden lines around it: each error
in a test cell is reduced to its exception name and message, which is what the author wrote for
learners to read. ``GradingNotes`` puts the grader's note (a timeout, a repaired cell, ...) at
the top of the feedback. ``SanitizeNotebook`` runs last before the page is rendered: nothing a
learner wrote or displayed may run in the browser that opens the page (``grading.sanitize``).
``ModelAnswers`` (off unless configured, for self-paced learners) follows each written answer
with the model answer and rubric of the source notebook; it never touches code cells.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Unicode

from grading import cells, sanitize
from grading.errors import GradingError

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


# In a written answer's solution region, the model answer comes first and the rubric starts at
# the first line that begins with "Rubric" (bold or not); HTML comments are notes for authors.
RUBRIC_LINE = re.compile(r"^\s*(?:[*_]{1,2})?\s*rubric\b", re.IGNORECASE)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
MODEL_ANSWER_MARK = "fj_model_answer"


def model_answer(source: str) -> tuple[str, str]:
    """(model answer, rubric) of a written-answer cell of a source notebook: the text of its
    solution region, split at the first line starting with "Rubric", author comments dropped."""
    _, inside = cells.split_regions(source, cells.BEGIN_SOLUTION, cells.END_SOLUTION)
    lines = HTML_COMMENT.sub("", "\n".join(inside)).splitlines()
    split = next((i for i, line in enumerate(lines) if RUBRIC_LINE.match(line)), len(lines))
    return "\n".join(lines[:split]).strip(), "\n".join(lines[split:]).strip()


def model_answer_markdown(answer: str, rubric: str) -> str:
    """The cell shown after a learner's written answer: clearly labelled as the authors' text."""
    parts = ["---", "", "#### Model answer (from the course authors, for comparison with yours)", ""]
    parts += [answer, ""] if answer else ["*This question has no model answer of its own: the "
                                          "rubric below says what a full answer covers.*", ""]
    if rubric:
        parts += ["#### Rubric (how a trainer marks this answer)", "", rubric, ""]
    return "\n".join(parts + ["---"])


class ModelAnswers(NbGraderPreprocessor):
    """After each written answer (a graded markdown solution cell), a cell with the model
    answer and rubric from the source notebook's solution region: for self-paced learners, who
    get no trainer's comment. Only written answers: code cells, their solutions and the tests
    are left as they are. The cell is author text, and still sanitised (``SanitizeNotebook``
    runs after this) and shown under the page's Content-Security-Policy."""

    enabled = Bool(False, help="show model answers after written answers").tag(config=True)
    notebooks = Unicode("", help="the course's source notebooks, a folder per module").tag(config=True)
    source_dir = Unicode("", help="COURSE_DIR/source, used when notebooks/ lacks the assignment"
                         ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if not self.enabled:
            return nb, resources
        info = resources.get("nbgrader", {})
        source = self._source(str(info.get("assignment", "")), str(info.get("notebook", "")))
        if source is None:
            return nb, resources
        answers = {cells.grade_id(c): model_answer(c.source) for c in source.cells
                   if cells.is_written_answer(c)}
        shown = []
        for cell in nb.cells:
            if cell.get("metadata", {}).get(MODEL_ANSWER_MARK):
                continue  # idempotent
            shown.append(cell)
            answer, rubric = answers.get(cells.grade_id(cell), ("", "")) if cells.is_written_answer(cell) \
                else ("", "")
            if answer or rubric:
                shown.append(new_markdown_cell(model_answer_markdown(answer, rubric),
                                               metadata={MODEL_ANSWER_MARK: True}))
        nb.cells = shown
        return nb, resources

    def _source(self, assignment: str, notebook: str) -> NotebookNode | None:
        """The source notebook: notebooks/<module>/<assignment>/<notebook>.ipynb, else the copy
        release made in COURSE_DIR/source/<assignment>/."""
        if not assignment or not notebook or "/" in assignment + notebook or ".." in (assignment, notebook):
            return None
        candidates = sorted(Path(self.notebooks).glob(f"*/{assignment}/{notebook}.ipynb")) \
            if self.notebooks else []
        if self.source_dir:
            candidates.append(Path(self.source_dir) / assignment / f"{notebook}.ipynb")
        for path in candidates:
            if path.is_file():
                try:
                    return cells.read_notebook(path)
                except GradingError:  # no model answer rather than no feedback
                    continue
        return None
