"""Calibration tests: each calibrated figure within tolerance at the default classroom scale.

The project requires every figure the generator is calibrated to to come out of a default
classroom dataset within 10 % relative of its published target (wider where a check's note says
why). One dataset is generated for the whole session. Tests are parametrised over the checks of
the realism registry (known without any data, so collection stays fast) and each row a check
produces is asserted as its own subtest, so that a failure names the figure, its bullet, the
target and what was generated.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic_data.realism.checks import COLUMNS, Dataset, _all_checks, judge, run_check
from synthetic_data.realism.mothers import young_against_older_wales
from synthetic_data.realism.newborns import (
    newborn_share_by_country,
    newborns_per_10000_births,
    newborns_subsequent,
)
from synthetic_data.realism.report import REPORT_FILES, summary, write_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def classroom(classroom_dataset: Path) -> Path:
    """The default classroom dataset (default scale and seed), shared with the other tests."""
    return classroom_dataset


@pytest.fixture(scope="session")
def dataset(classroom: Path) -> Dataset:
    """One Dataset for every check, so each table is read once."""
    return Dataset.open(classroom)


def describe(r) -> str:
    return (f"{r.check} [{r.bullet}] {r.figure} ({r.x}): target {r.target:.4g}, generated "
            f"{r.generated:.4g}, tolerance {r.tolerance:.0%}; {r.note}")


ALL_CHECKS = _all_checks()  # the core checks, mothers' ages, and the linked universe


@pytest.mark.parametrize("entry", ALL_CHECKS, ids=[e[3].__name__ for e in ALL_CHECKS])
def test_calibrated_figures_within_tolerance(dataset: Dataset, entry, subtests) -> None:
    rows = judge(pd.DataFrame(run_check(dataset, entry), columns=[
        c for c in COLUMNS if c != "passed"]))
    for r in rows.itertuples():
        with subtests.test(msg=f"{r.check} {r.x}".strip()):
            assert r.passed, describe(r)


WELSH_CHECKS = (young_against_older_wales, newborn_share_by_country, newborns_subsequent,
                newborns_per_10000_births)


@pytest.mark.parametrize("check", WELSH_CHECKS, ids=[c.__name__ for c in WELSH_CHECKS])
def test_welsh_figures_at_full_scale(wales_full_dataset: Path, check, subtests) -> None:
    """Figures that rest on Welsh numbers, judged on Wales at national scale, where sampling
    noise no longer widens their tolerance beyond the published figure's own."""
    entry = next(e for e in ALL_CHECKS if e[3] is check)
    rows = judge(pd.DataFrame(run_check(Dataset.open(wales_full_dataset), entry),
                              columns=[c for c in COLUMNS if c != "passed"]))
    assert len(rows) > 0 and rows["generated"].notna().all(), rows.to_string()
    for r in rows.itertuples():
        with subtests.test(msg=f"{r.check} {r.x}".strip()):
            assert r.tolerance <= 0.30, f"tolerance widened by noise at full scale: {describe(r)}"
            assert r.passed, describe(r)


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


def test_cli_report_prints_the_summary(classroom: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli_report"
    done = subprocess.run(
        [sys.executable, "-m", "synthetic_data", "report", "--data", str(classroom),
         "--out", str(out)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\d+ of \d+ checks within tolerance", done.stdout), done.stdout
    assert (out / "report.md").is_file()


def test_pass_fail_arithmetic() -> None:
    """|generated - target| <= tolerance x |target|, boundaries included; no value never passes."""
    frame = pd.DataFrame({
        "check": list("abcdefgh"), "figure": "f", "bullet": "A0", "group": "g", "x": "",
        "target": [100.0, 100.0, 100.0, 0.2, -50.0, 10.0, 1.0, np.nan],
        "generated": [110.0, 89.0, 90.0, 0.26, -56.0, np.nan, 1.0, 1.0],
        "tolerance": [0.10, 0.10, 0.10, 0.25, 0.10, 0.10, 0.0, 0.10],
        "note": "",
    })
    judged = judge(frame)
    assert judged["passed"].tolist() == [True, False, True, False, False, False, True, False]
    assert judged["passed"].dtype == bool
    assert judged.loc[5, "note"].startswith("skipped")
    text = summary(judged)
    assert text.startswith("3 of 7 checks within tolerance (1 skipped")
    assert "b (A0: generated 89.0 vs target 100)" in text


def test_the_linkage_bias_band_widens_only_by_sampling_noise() -> None:
    from synthetic_data.realism.linked import BIAS_TARGET, BIAS_TOLERANCE, bias_tolerance

    large, _ = bias_tolerance(0.26, 28_000, 0.18, 112_000)
    small, why = bias_tolerance(0.066, 2_900, 0.033, 10_900)
    assert BIAS_TOLERANCE < large < BIAS_TOLERANCE + 0.05, "a large source keeps about the 1.0 to 2.0 band"
    assert small > large and "standard errors" in why
    # Children looked after at classroom scale: 2.02 is within noise of the band's top, 3.0 is not.
    assert abs(2.02 - BIAS_TARGET) <= small * BIAS_TARGET < abs(3.0 - BIAS_TARGET)
    assert bias_tolerance(0.0, 10, 0.1, 10) == (BIAS_TOLERANCE, "")
