"""The static scan of learners' code."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook

from grading.scan import answer_key_tables, scan_notebook


def _nb(*sources: str, test_source: str = ""):
    cells = [new_code_cell(s, metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": f"a{i}",
                                                       "locked": False}}) for i, s in enumerate(sources)]
    if test_source:
        cells.append(new_code_cell(test_source, metadata={"nbgrader": {
            "solution": False, "grade": True, "grade_id": "t", "locked": True, "points": 1}}))
    return new_notebook(cells=cells)


def test_answer_key_tables_come_from_the_schema() -> None:
    assert "cafcass_person_key" in answer_key_tables()
    assert "cafcass_cases" not in answer_key_tables()


def test_references_in_learner_code_are_found() -> None:
    found = scan_notebook(_nb('k = load("cafcass_person_key")', "open('../../submitted/x')", "print(In[3])"))
    text = " ".join(map(str, found))
    assert "the answer key" in text and "submitted/" in text and "input history" in text


def test_test_cells_and_comments_are_not_scanned() -> None:
    assert scan_notebook(_nb("# the answer_key is for graders", "x = 1",
                             test_source='key = load("cafcass_person_key")')) == []
