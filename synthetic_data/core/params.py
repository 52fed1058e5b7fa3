"""Loads the parameter files: the declarative half of the generator.

Every rate, share and distribution lives in ``synthetic_data/params/*.yaml`` beside the
publication it reproduces; the modules that apply them hold none. Keeping them as data means a
trainer can read (and change) what the world looks like without reading code.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PARAMS_DIR = Path(__file__).parents[1] / "params"
# Every YAML file in params/ is a parameter file; the manifest hashes them all.
PARAM_FILES = tuple(sorted(path.stem for path in PARAMS_DIR.glob("*.yaml")))


@cache
def _load(name: str) -> dict[str, Any]:
    path = PARAMS_DIR / f"{name}.yaml"
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_params(name: str) -> dict[str, Any]:
    """Return one parameter file as a (shared, read-only by convention) dict."""
    if name not in PARAM_FILES:
        raise KeyError(f"unknown parameter file {name!r}; expected one of {PARAM_FILES}")
    return _load(name)


def params_digest() -> dict[str, str]:
    """SHA-256 of each parameter file, recorded in the manifest so a dataset names its inputs."""
    return {
        name: hashlib.sha256((PARAMS_DIR / f"{name}.yaml").read_bytes()).hexdigest()
        for name in PARAM_FILES
        if (PARAMS_DIR / f"{name}.yaml").exists()
    }


def interpolate_by_year(anchors: dict[int, float], years: list[int] | range) -> dict[int, float]:
    """Linear interpolation between anchor years, held flat beyond the first and last anchor.

    Published series are sparse (a figure for 2011, another for 2016); the generator needs one
    value a year, and interpolation is the least surprising way to fill the gaps.
    """
    import numpy as np

    xs = np.array(sorted(int(k) for k in anchors), dtype=float)
    ys = np.array([float(anchors[int(k)]) for k in sorted(int(k) for k in anchors)])
    return {int(y): float(np.interp(y, xs, ys)) for y in years}


def interpolate_vectors_by_year(
    anchors: dict[int, list[float]], years: list[int] | range
) -> dict[int, list[float]]:
    """As :func:`interpolate_by_year`, for a vector of shares per year (renormalised to sum 1)."""
    import numpy as np

    keys = sorted(int(k) for k in anchors)
    table = np.array([anchors[k] for k in keys], dtype=float)
    out: dict[int, list[float]] = {}
    for year in years:
        row = np.array([np.interp(year, keys, table[:, j]) for j in range(table.shape[1])])
        out[int(year)] = list(row / row.sum())
    return out
