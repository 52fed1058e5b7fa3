"""Every real assignment of the course, under notebooks/, passes `python -m grading check`:
solutions earn full marks, released versions run and earn zero, typical wrong answers earn
partial marks, nothing secret leaks into a learner's file. Each notebook runs three times."""

from __future__ import annotations

import pytest

from grading.settings import DEFAULT_NOTEBOOKS
from tests.grading.conftest import run_cli


@pytest.mark.integration
def test_every_course_assignment_passes_check(data_dir, capsys) -> None:
    code = run_cli("--notebooks", DEFAULT_NOTEBOOKS, "--data-dir", data_dir, "check")
    out = capsys.readouterr().out
    assert code == 0, out
    from grading.course import load_course

    n = len(load_course(DEFAULT_NOTEBOOKS).assignments)
    assert n >= 26, f"the course should hold every module's assignments, found {n}"
    assert f"{n} of {n} assignment(s) pass" in out, out
