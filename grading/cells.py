"""Reading notebooks and their nbgrader regions: solution regions, hidden-test regions, graded
cells. ``check``, ``scan`` and ``selfcheck`` share these so that every part of the package
agrees on what a region is."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grading.errors import GradingError

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE"
TEXT_STUB = "YOUR ANSWER HERE"


def read_notebook(path: Path) -> NotebookNode:
    """A notebook read and validated as nbformat 4, or a GradingError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise GradingError(f"notebook {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise GradingError(f"cannot read notebook {path}: {err}") from err
    try:
        return parse_notebook(text)
    except ValueError as err:
        raise GradingError(f"{path} is not a readable notebook: {err}") from err


def parse_notebook(text: str) -> NotebookNode:
    """Parse notebook JSON text; ValueError with a one-line reason when it is not one."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if not isinstance(raw, dict) or "cells" not in raw:
        raise ValueError("the JSON is not a notebook (no 'cells')")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises several types for malformed documents
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"not a valid nbformat 4 notebook ({first})") from None
    return nb


def nbgrader_meta(cell: NotebookNode) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_grade(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: graded, code, and not an answer the learner writes."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_answer_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_solution(cell)


def is_written_answer(cell: NotebookNode) -> bool:
    """A manually graded written interpretation (a graded markdown solution cell)."""
    return cell.cell_type == "markdown" and is_solution(cell) and is_grade(cell)


def points(cell: NotebookNode) -> float:
    try:
        return float(nbgrader_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def split_regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(lines outside, lines inside) the ``begin``/``end`` region(s); marker lines in neither."""
    outside: list[str] = []
    inside: list[str] = []
    depth = False
    for line in source.splitlines():
        if begin in line:
            depth = True
        elif end in line:
            depth = False
        else:
            (inside if depth else outside).append(line)
    return outside, inside


def visible_source(cell: NotebookNode) -> str:
    """A test cell's source as learners see it: hidden tests removed."""
    return "\n".join(split_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)[0])


def hidden_source(cell: NotebookNode) -> str:
    return "\n".join(split_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)[1])


def solution_filled(cell: NotebookNode) -> str:
    """An answer cell as a learner who got it right would submit it: the solution kept, the
    markers dropped."""
    keep = [line for line in cell.source.splitlines()
            if BEGIN_SOLUTION not in line and END_SOLUTION not in line]
    return "\n".join(keep)


def regions(cell: NotebookNode) -> tuple[list[str], list[str], list[str]]:
    """A cell's lines as (visible to learners, solution region, hidden tests)."""
    outside, solution = split_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION)
    visible, hidden = split_regions("\n".join(outside), BEGIN_HIDDEN, END_HIDDEN)
    return visible, solution, hidden


def visible_lines(nb: NotebookNode) -> set[str]:
    """Every stripped line a learner's released notebook shows."""
    return {line.strip() for cell in nb.cells for line in regions(cell)[0]}


def secret_lines(nb: NotebookNode, min_length: int = 8) -> dict[str, str]:
    """Lines that must never reach learners, each with where it comes from: solution-region and
    hidden-test lines that do not also appear outside those regions (a line such as
    ``cases = load("cafcass_cases")`` may legitimately be both)."""
    secrets: dict[str, str] = {}
    for index, cell in enumerate(nb.cells):
        _, solution, hidden = regions(cell)
        where = grade_id(cell) or f"cell {index}"
        for line in solution:
            secrets.setdefault(line.strip(), f"solution of {where}")
        for line in hidden:
            secrets.setdefault(line.strip(), f"hidden tests of {where}")
    public = visible_lines(nb)
    return {line: where for line, where in secrets.items()
            if len(line) >= min_length and line not in public and not line.startswith("#")}


def released_text(nb: object) -> str:
    """Every string in a released notebook a learner can read (sources, outputs, metadata),
    unescaped, so that a secret line can be searched for as it was written."""
    parts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                parts.append(str(key))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(nb)
    return "\n".join(parts)
