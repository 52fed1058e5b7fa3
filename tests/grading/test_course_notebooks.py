"""Every real assignment of the course, under notebooks/, passes `python -m grading check`.

While the course has no assignments yet this passes trivially, but through the same code path
(loading the course, the layout checks, the summary), so each assignment is gated in CI from
the moment it is added.
"""

from __future__ import annotations

import pytest

from grading.settings import DEFAULT_NOTEBOOKS
from tests.grading.conftest import run_cli


@pytest.mark.integration
def test_every_course_assignment_passes_check(data_dir, capsys) -> None:
    code = run_cli("--notebooks", DEFAULT_NOTEBOOKS, "--data-dir", data_dir, "check")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "nothing to check" in out or "assignment(s) pass" in out
