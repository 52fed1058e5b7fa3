"""The registry: every check once, in report order, judged by one rule; and a package without
import cycles, where a theme reads only the shared frames and the targets."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthetic_data.realism as realism
from synthetic_data.api import generate
from synthetic_data.realism.registry import CHECKS, all_checks, compute_checks, judge
from synthetic_data.realism.report import summary

PACKAGE = Path(realism.__file__).parent
# Modules that assemble or present the checks; every other module is a theme, or a foundation.
ASSEMBLY = {"registry", "report"}
FOUNDATION = {"frames": {"targets"}, "targets": set()}


def realism_imports(path: Path) -> set[str]:
    """The realism modules a module imports (every import, including those inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "synthetic_data.realism."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names
                      if a.name.startswith("synthetic_data.realism.")}
    return found


def test_themes_import_only_the_frames_and_the_targets() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        name = path.stem
        if name in ASSEMBLY or name == "__init__":
            continue
        allowed = FOUNDATION.get(name, {"frames", "targets"})
        assert realism_imports(path) <= allowed, (
            f"{name}.py imports {sorted(realism_imports(path) - allowed)}: a theme may import "
            "only frames and targets, so that the package has no cycle")


def test_every_check_is_registered_once_in_report_order() -> None:
    entries = all_checks()
    assert entries[:len(CHECKS)] == CHECKS, "the core checks come first"
    names = [e[3].__name__ for e in entries]
    assert len(names) == len(set(names)), "a check registered twice"
    for group, bullet, title, check in entries:
        assert group and bullet and title and callable(check), (group, bullet, title, check)


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


def test_a_dataset_made_with_changed_parameters_is_held_to_them(tiny_dataset: Path, tiny_settings: dict,
                                                                tmp_path: Path) -> None:
    """`generate --params` doubles Welsh care applications; the report's target doubles with it,
    so the dataset passes against what it was asked to be, not the packaged figure."""
    changed = {"public_law": {"volumes": {"wales_anchor_applications": 2 * 833}}}
    doubled = generate(tmp_path / "doubled", progress=False, params=changed, **tiny_settings)
    before = compute_checks(tiny_dataset).set_index("check").loc["public_cases_wales"]
    after = compute_checks(doubled).set_index("check").loc["public_cases_wales"]
    assert after["target"] == pytest.approx(2 * before["target"])
    assert after["generated"] > 1.7 * before["generated"] and bool(after["passed"])
