"""check: the quality gate, on the fixture course and on deliberately broken copies of it."""

from __future__ import annotations

import json
import shutil

import pytest

from grading import cells
from grading.check import backward_leaks, static_problems
from grading.course import load_course
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import FIXTURE_COURSE, run_cli


def _copy(tmp_path):
    dest = tmp_path / "course"
    shutil.copytree(FIXTURE_COURSE, dest)
    return dest


def _problems(root, change) -> list[str]:
    assignment = load_course(root).find(ASSIGNMENT)
    nb = json.loads(assignment.notebook.read_text())
    change(nb)
    assignment.notebook.write_text(json.dumps(nb))
    return static_problems(assignment, cells.read_notebook(assignment.notebook))


def test_the_fixture_course_has_no_static_problems() -> None:
    course = load_course(FIXTURE_COURSE)
    assert not course.problems
    for assignment in course.assignments:
        assert static_problems(assignment, cells.read_notebook(assignment.notebook)) == []


def test_outputs_committed_in_a_source_are_caught(tmp_path) -> None:
    def add_output(nb):
        nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
        nb["cells"][1]["execution_count"] = 3
    assert any("outputs or an execution count" in p for p in _problems(_copy(tmp_path), add_output))


def test_a_top_cell_without_objectives_or_time_is_caught(tmp_path) -> None:
    def strip(nb):
        nb["cells"][0]["source"] = "# Counting cases"
    found = _problems(_copy(tmp_path), strip)
    assert any("Learning objectives" in p for p in found)
    assert any("Estimated time" in p for p in found)


def test_a_test_cell_without_a_visible_assert_is_caught(tmp_path) -> None:
    def hide_all(nb):
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
                    "public_count_test")
        cell["source"] = "### BEGIN HIDDEN TESTS\nassert n_public == 1, 'wrong'\n### END HIDDEN TESTS"
    assert any("no visible assert" in p for p in _problems(_copy(tmp_path), hide_all))


def test_a_hidden_assert_without_a_message_and_a_visible_answer_key_are_caught(tmp_path) -> None:
    def change(nb):
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
                    "public_count_test")
        cell["source"] = "".join(cell["source"]).replace(
            "### END HIDDEN TESTS", "assert n_public > 0\n### END HIDDEN TESTS")
        cell["source"] = 'key = load("cafcass_person_key")\n' + cell["source"]
    found = _problems(_copy(tmp_path), change)
    assert any("has no message" in p for p in found)
    assert any("reads the answer key" in p for p in found)


def test_module_yaml_and_folders_must_agree(tmp_path) -> None:
    root = _copy(tmp_path)
    (root / "orientation" / "orientation_02_unlisted").mkdir()
    shutil.rmtree(root / "data_quality" / "data_quality_01_missing_values")
    problems = load_course(root).problems
    assert any("orientation_02_unlisted is not listed" in p for p in problems)
    assert any("lists data_quality_01_missing_values" in p for p in problems)


def _solution_line(assignment) -> str:
    """A long line of one of the assignment's solution regions."""
    nb = cells.read_notebook(assignment.notebook)
    lines = [line for line, where in cells.secret_lines(nb).items()
             if where.startswith("solution") and len(line) >= 20]
    assert lines, f"{assignment.id} has no long solution line to test with"
    return lines[0]


def _show_in_markdown(assignment, line: str) -> None:
    nb = json.loads(assignment.notebook.read_text())
    nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {},
                           "source": f"Given code:\n\n    {line}\n"})
    assignment.notebook.write_text(json.dumps(nb))


def test_an_earlier_notebook_giving_away_a_later_answer_is_caught(tmp_path) -> None:
    root = _copy(tmp_path)
    first, later = load_course(root).assignments  # orientation, then data_quality
    _show_in_markdown(first, _solution_line(later))
    found = backward_leaks(load_course(root))
    assert len(found) == 1 and first.id in found[0] and later.id in found[0], found


def test_a_later_notebook_may_hand_out_an_earlier_answer(tmp_path) -> None:
    root = _copy(tmp_path)
    first, later = load_course(root).assignments
    _show_in_markdown(later, _solution_line(first))
    assert backward_leaks(load_course(root)) == []


@pytest.mark.integration
def test_check_passes_the_fixture_course_and_prints_run_times(data_dir, capsys) -> None:
    assert run_cli("--notebooks", FIXTURE_COURSE, "--data-dir", data_dir, "check", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "ok   orientation_01_counting_cases: solution ran in" in out
    assert "ok   data_quality_01_missing_values: solution ran in" in out
    assert "2 of 2 assignment(s) pass" in out


@pytest.mark.integration
def test_check_fails_a_leaking_or_unfair_assignment(tmp_path, data_dir, capsys) -> None:
    root = _copy(tmp_path)
    assignment = load_course(root).find(ASSIGNMENT)
    nb = json.loads(assignment.notebook.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "public_count":
            # An answer left outside its solution region: the released version earns marks.
            leaked = '\nn_public = int(cases["law_type"].eq("public").sum())'
            cell["source"] = "".join(cell["source"]) + leaked
    assignment.notebook.write_text(json.dumps(nb))
    (assignment.folder / "wrong.yaml").write_text("public_count: |\n  n_public = None\n")
    # A helper file released with the notebook quotes a hidden test.
    (assignment.folder / "helpers.py").write_text(
        'expected_public = int(cases.law_type.eq("public").sum())\n')
    assert run_cli("--notebooks", root, "--data-dir", data_dir, "check", ASSIGNMENT) == 1
    out = capsys.readouterr().out
    assert "FAIL orientation_01_counting_cases" in out
    assert "the released notebook, unchanged, earns" in out
    assert "the released helpers.py contains a line of the hidden tests" in out


# --------------------------------------------------------------------------- hints

def _answer_instructions(nb, grade_id):
    """The markdown cell right before an answer cell: where its hint sits in the fixture."""
    index = next(i for i, c in enumerate(nb["cells"])
                 if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    return nb["cells"][index - 1]


def test_every_answer_cell_of_the_fixture_course_has_a_hint() -> None:
    from grading.check import hint_problems

    for assignment in load_course(FIXTURE_COURSE).assignments:
        assert hint_problems(cells.read_notebook(assignment.notebook)) == []


def test_an_answer_cell_without_a_hint_is_caught(tmp_path) -> None:
    def drop_hint(nb):
        cell = _answer_instructions(nb, "public_count")
        cell["source"] = "".join(cell["source"]).split("<details>")[0]
    found = _problems(_copy(tmp_path), drop_hint)
    assert any("answer cell public_count has no hint" in p for p in found), found
    assert not any("children_count has no hint" in p for p in found), "one exercise's hint serves no other"


def test_an_empty_hint_or_one_in_a_graded_cell_does_not_count(tmp_path) -> None:
    def hollow(nb):
        cell = _answer_instructions(nb, "public_count")
        empty = "<details><summary>Hint</summary>\n\n</details>"
        cell["source"] = "".join(cell["source"]).split("<details>")[0] + empty
        later = _answer_instructions(nb, "children_count")
        later["metadata"]["nbgrader"] = {"grade": True, "solution": True, "grade_id": "notes", "points": 1,
                                         "locked": False, "schema_version": 3, "task": False}
    found = _problems(_copy(tmp_path), hollow)
    assert any("public_count has no hint" in p for p in found), found
    assert any("children_count has no hint" in p for p in found), found


# --------------------------------------------------------------------------- claims

def _with_claims(root, marker: str, claims: str):
    """The fixture assignment with ``marker`` in its first markdown exercise and ``claims`` as
    its claims file."""
    from grading.check import claims_path

    assignment = load_course(root).find(ASSIGNMENT)
    nb = json.loads(assignment.notebook.read_text())
    cell = _answer_instructions(nb, "public_count")
    cell["source"] = "".join(cell["source"]) + f"\n\nThere are many cases. {marker}"
    assignment.notebook.write_text(json.dumps(nb))
    path = claims_path(assignment)
    path.parent.mkdir(exist_ok=True)
    path.write_text(claims)
    return assignment


def test_claims_must_match_their_markers(tmp_path) -> None:
    from grading.check import claim_problems

    claims = ("claims:\n"
              "  many_cases:\n    says: many cases\n    value: 4\n    tolerance: 0\n    compute: 2 + 2\n"
              "  forgotten:\n    says: a figure no text states\n    value: 1\n    tolerance: 0\n"
              "    compute: 1\n")
    assignment = _with_claims(_copy(tmp_path), "<!-- claim: many_cases, unknown_figure -->", claims)
    found = claim_problems(assignment, cells.read_notebook(assignment.notebook), None)
    assert any("names claim unknown_figure" in p for p in found), found
    assert any("claim forgotten" in p and "named by no" in p for p in found), found
    assert not any("many_cases" in p for p in found), found


def test_a_malformed_claim_is_caught(tmp_path) -> None:
    from grading.check import claim_problems

    claims = "claims:\n  many_cases:\n    says: many cases\n    value: lots\n    compute: 4\n"
    assignment = _with_claims(_copy(tmp_path), "<!-- claim: many_cases -->", claims)
    found = claim_problems(assignment, cells.read_notebook(assignment.notebook), None)
    assert any("has no 'tolerance'" in p for p in found), found
    assert any("value should be a number" in p for p in found), found


def test_claims_are_computed_from_the_data(tmp_path, data_dir) -> None:
    from grading.check import claim_problems
    from synthetic_data import load

    areas = int(load("dfj_areas", data_dir)["dfj_area_id"].nunique())
    claims = ("setup: |\n  areas = load('dfj_areas')\n"
              "claims:\n"
              f"  true_figure:\n    says: {areas} areas\n    value: {areas}\n    tolerance: 0\n"
              "    compute: areas['dfj_area_id'].nunique()\n"
              f"  stale_figure:\n    says: more areas\n    value: {areas + 5}\n    tolerance: 2\n"
              "    compute: |\n      n = areas['dfj_area_id'].nunique()\n      n\n"
              "  broken_figure:\n    says: a figure\n    value: 1\n    tolerance: 0\n"
              "    compute: load('no_such_table')\n")
    assignment = _with_claims(_copy(tmp_path), "<!-- claim: true_figure, stale_figure, broken_figure -->",
                              claims)
    found = claim_problems(assignment, cells.read_notebook(assignment.notebook), data_dir)
    assert len(found) == 2, found
    assert any("stale_figure" in p and "no longer true" in p and f"the data give {areas}" in p for p in found)
    assert any("broken_figure" in p and "could not be computed" in p for p in found)
