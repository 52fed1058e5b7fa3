"""The realism report: written in full, self-contained, and summarised on the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from synthetic_data.realism.frames import COLUMNS
from synthetic_data.realism.report import REPORT_FILES, write_report


@pytest.mark.slow
def test_report_writes_every_file_self_contained(classroom: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    text = write_report(classroom, out)
    for name in REPORT_FILES:
        assert (out / name).is_file(), f"{name} missing: {sorted(p.name for p in out.iterdir())}"
    assert list(out.glob("*.png")), "no plots written"
    checks = pd.read_csv(out / "checks.csv")
    assert list(checks.columns) == list(COLUMNS)
    page = (out / "report.html").read_text(encoding="utf-8")
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not external, f"report.html refers to external resources: {external}"
    assert "data:image/png;base64," in page
    assert re.match(r"^\d+ of \d+ checks within tolerance", text)
    assert not list(tmp_path.glob(".report*")), "staging folder left behind"


@pytest.mark.slow
def test_cli_report_prints_the_summary(classroom: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli_report"
    done = subprocess.run(
        [sys.executable, "-m", "synthetic_data", "report", "--data", str(classroom),
         "--out", str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\d+ of \d+ checks within tolerance", done.stdout), done.stdout
    assert (out / "report.md").is_file()
