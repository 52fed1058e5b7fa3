"""Self-check: a learner's per-question summary from the visible checks."""

from __future__ import annotations

import json

import pytest

from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import learner_version, run_cli, solved


@pytest.mark.integration
def test_selfcheck_reports_each_question(released, tmp_path, capsys) -> None:
    nb = solved(released, ASSIGNMENT, {"children_count": "n_children = None"})
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    path.write_text(json.dumps(nb))
    before = path.read_text()
    assert run_cli("--data-dir", released.data_dir, "selfcheck", path) == 1
    out = capsys.readouterr().out
    assert "[pass] public_count_test (2 points)" in out
    assert "[FAIL] children_count_test (2 points)" in out
    assert "n_children is still None" in out
    assert "interpretation (2 points, written answer)" in out
    assert "Visible checks: 1 of 2 pass" in out
    assert path.read_text() == before


@pytest.mark.integration
def test_selfcheck_passes_a_right_answer_and_flags_an_empty_one(released, tmp_path, capsys) -> None:
    right = tmp_path / "right.ipynb"
    right.write_text(json.dumps(solved(released, ASSIGNMENT)))
    assert run_cli("--data-dir", released.data_dir, "selfcheck", right) == 0
    empty = tmp_path / "empty.ipynb"
    empty.write_text(json.dumps(learner_version(released, ASSIGNMENT)))
    assert run_cli("--data-dir", released.data_dir, "selfcheck", empty) == 1
    assert "not written yet" in capsys.readouterr().out


def test_selfcheck_of_an_unreadable_notebook_is_a_one_line_error(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    assert run_cli("selfcheck", bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid JSON" in err[0]
    assert run_cli("selfcheck", tmp_path / "missing.ipynb") == 2
