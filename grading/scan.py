"""A static scan of the code a learner wrote, for what the sandbox cannot stop.

Learner code and hidden tests run in one kernel, and the hidden tests must read the answer key,
so the kernel can read it too. The scan makes that visible: a submission whose own code names an
answer-key table, the answer key's folder, or the grader's files is marked ``needs_review`` (its
notebook is flagged in the gradebook) for a trainer to look at. It is a tripwire, not a wall:
code that builds the name at run time (``"cafcass_" + "person_key"``) passes it. See
grading/README.md, "Limitations".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbformat import NotebookNode

from grading import cells


def answer_key_tables() -> tuple[str, ...]:
    """The generator's answer-key tables, from its own schema so that new ones are covered."""
    from synthetic_data.output.schema import TABLES

    return tuple(sorted(t.name for t in TABLES if t.view == "answer_key"))


# Names of the grader's own files and folders, and escapes from the working folder.
COURSE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"answer_key", "the answer key's folder"),
    (r"gradebook(\.db)?\b", "the gradebook"),
    (r"\b(submitted|autograded|feedback)/", "the grader's folders of other learners' work"),
    (r"(?<![\w.])\.\./", "a path outside its own folder ('../')"),
    (r"FJ_DATA_DIR", "the dataset's location variable"),
    (r"nbgrader", "nbgrader itself"),
    (r"\bIn\s*\[|\bIn\b\s*\)|\b_ih\b|\b_i\d*\b|history_manager|%history",
     "IPython's input history, which holds the hidden tests run before it"),
)


@dataclass(frozen=True)
class Finding:
    """One reference that needs a trainer's eye: the cell it is in and what it names."""

    cell: str
    what: str
    text: str

    def __str__(self) -> str:
        return f"{self.cell} refers to {self.what} ({self.text!r})"


def learner_code_cells(nb: NotebookNode) -> list[tuple[str, str]]:
    """(label, source) of every code cell whose source the learner controls: answer cells and
    any cell without nbgrader metadata. Locked test cells are restored from the gradebook before
    grading, so what a learner typed there never runs."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cells.nbgrader_meta(cell)
        if cells.is_test_cell(cell) or (meta.get("locked") and not meta.get("solution")):
            continue  # restored from the gradebook before grading
        found.append((meta.get("grade_id") or f"cell {index + 1}", cell.get("source", "")))
    return found


def scan_code(label: str, source: str) -> list[Finding]:
    findings = []
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    for table in answer_key_tables():
        if table in code:
            findings.append(Finding(label, "the answer key", table))
    for pattern, what in COURSE_PATTERNS:
        match = re.search(pattern, code)
        if match:
            findings.append(Finding(label, what, match.group(0)))
    return findings


def scan_notebook(nb: NotebookNode) -> list[Finding]:
    """Every suspicious reference in the learner's own code, in cell order."""
    return [f for label, source in learner_code_cells(nb) for f in scan_code(label, source)]
