"""Shared generated datasets for the synthetic-data tests.

Generating is the slow part, so each dataset is made once per test session:

- ``tiny_dataset``: Wales at a small scale over five financial years (a few seconds). Its
  period spans 2017, when ethnicity recording changed, so before/after comparisons have data.
- ``classroom_dataset``: the default classroom settings (about 40 s). Tests that use it must be
  marked ``@pytest.mark.slow``.
- ``wales_full_dataset``: Wales at national scale (about 60 s and 3.5 GB): the figures that rest
  on Welsh numbers, too few at classroom scale to judge closely. Slow tests only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthetic_data.api import generate

TINY = {"scale": 0.03, "region": "wales", "start": "2014-04", "end": "2019-03", "seed": 42}


@pytest.fixture(scope="session")
def tiny_settings() -> dict:
    """The settings ``tiny_dataset`` was generated with (a copy: tests may not change them)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "data"
    return generate(out, progress=False, **TINY)


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def classroom_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default classroom dataset (scale 0.05, both countries, 2008-04 to 2025-03).

    ``make test`` generates data/classroom first (only when the generator changed); that copy
    is used when it is current, so the slow generation runs once per change, not per session.
    """
    current = REPO / "data" / "classroom"
    if is_current(current):
        return current
    out = tmp_path_factory.mktemp("classroom") / "data"
    return generate(out, progress=False)


WALES_FULL = {"scale": 1.0, "region": "wales", "seed": 42}


@pytest.fixture(scope="session")
def wales_full_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wales at national scale over the default period (slow: for ``@pytest.mark.slow`` tests)."""
    out = tmp_path_factory.mktemp("wales_full") / "data"
    return generate(out, progress=False, **WALES_FULL)


def is_current(folder: Path) -> bool:
    """Generated with the default settings by the generator and parameters as they are now."""
    from synthetic_data.core.config import GenerationConfig
    from synthetic_data.core.params import params_digest

    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return False
    made = json.loads(manifest_path.read_text(encoding="utf-8"))
    if made.get("config") != GenerationConfig().as_manifest():
        return False
    if made.get("parameters_sha256") != params_digest() or made.get("parameter_overrides"):
        return False
    newest_code = max(p.stat().st_mtime for p in (REPO / "synthetic_data").rglob("*.py"))
    return manifest_path.stat().st_mtime >= newest_code


@pytest.fixture(scope="session")
def small_extract() -> tuple:
    """A small Welsh world over the default period, its proceedings and its project extract:
    the inputs of the linked sources, without writing a dataset."""
    import numpy as np

    from synthetic_data.core.config import GenerationConfig
    from synthetic_data.core.params import load_params
    from synthetic_data.linked.cohort import build_cohort, draw_comparison_sample
    from synthetic_data.proceedings.casebook import CaseBook
    from synthetic_data.proceedings.private_law import simulate_private_law
    from synthetic_data.proceedings.public_law import simulate_public_law
    from synthetic_data.world.geography import build_small_areas, local_authorities
    from synthetic_data.world.names import NamePools
    from synthetic_data.world.people import build_world

    config = GenerationConfig(scale=0.02, seed=7, out="/tmp/unused", region="wales")
    las = local_authorities(config.region)
    wp = load_params("world")
    areas = build_small_areas(las, wp["geography"]["postcodes_per_lsoa"])
    pools = NamePools.build()
    rng = np.random.default_rng(7)
    world = build_world(las, areas, pools, wp, config.start_day, config.end_day, config.scale,
                        rng)
    book = CaseBook()
    simulate_public_law(world, load_params("public_law"), book, config.financial_years,
                        config.scale, rng)
    world = simulate_private_law(world, load_params("private_law"), book, config.financial_years,
                                 config.scale, rng, pools)
    linkage = load_params("linkage")
    cohort = build_cohort(world, book, linkage, draw_comparison_sample(world, linkage, rng), rng)
    return world, book, cohort
