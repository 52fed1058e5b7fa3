"""Loads the parameter files: the declarative half of the generator.

Every rate, share and distribution lives in ``synthetic_data/params/*.yaml`` beside the
publication it reproduces; the modules that apply them hold none. Keeping them as data means a
trainer can read (and change) what the world looks like without reading code.

Every file is loaded here, and checked as it is loaded: against its schema
(``params/schemas/<name>.schema.yaml``, see :mod:`~synthetic_data.core.param_schema`), then
against the rules a schema cannot say (:mod:`~synthetic_data.core.param_checks`). A bad value or
an unknown key is a :class:`~synthetic_data.core.errors.ParameterError`: one line naming the
file, the key and what is allowed, never a traceback from deep inside a simulation.

A generation run may change parameters (:func:`parameter_set` with overrides, see
:mod:`~synthetic_data.core.param_overrides`); inside :func:`using` every ``load_params`` of the
run returns the changed files. The packaged files are read and checked once per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from synthetic_data.core.errors import ParameterError
from synthetic_data.core.param_checks import ParameterProblem, semantic_check
from synthetic_data.core.param_overrides import digest, jsonable, merge, parse_yaml, yaml_problem
from synthetic_data.core.param_schema import check_schema

PARAMS_DIR = Path(__file__).parents[1] / "params"
# Every YAML file in params/ is a parameter file; the manifest hashes them all.
PARAM_FILES = tuple(sorted(path.stem for path in PARAMS_DIR.glob("*.yaml")))


@dataclass(frozen=True)
class ParameterSet:
    """Every parameter file as one run uses it: the packaged files with any overrides merged.

    ``files`` maps each file name to its (checked, shared, read-only by convention) content;
    ``overrides`` is what was asked to change, kept so the manifest can name it.
    """

    files: Mapping[str, dict[str, Any]]
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """What the manifest records about the parameters: each packaged file's SHA-256 and,
        when anything was overridden, the overrides and a digest of each file as used."""
        out: dict[str, Any] = {"parameters_sha256": params_digest()}
        if self.overrides:
            out["parameter_overrides"] = jsonable(self.overrides)
            out["parameters_used_sha256"] = {name: digest(self.files[name]) for name in sorted(self.files)}
        return out


_ACTIVE: ContextVar[ParameterSet | None] = ContextVar("synthetic_data_parameters", default=None)


def load_params(name: str) -> dict[str, Any]:
    """One parameter file as a (shared, read-only by convention) dict, checked.

    Inside :func:`using`, the file as that parameter set has it (overrides merged); otherwise
    the packaged file.
    """
    if name not in PARAM_FILES:
        raise KeyError(f"unknown parameter file {name!r}; expected one of {PARAM_FILES}")
    active = _ACTIVE.get()
    if active is not None:
        return active.files[name]
    return packaged_params(name)


def packaged_params(name: str) -> dict[str, Any]:
    """The packaged file ``name``, read and checked once (per folder: tests may point
    ``PARAMS_DIR`` at a copy)."""
    return _read_checked(PARAMS_DIR / f"{name}.yaml", name)


@cache
def _read_checked(path: Path, name: str) -> dict[str, Any]:
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ParameterError(name, (), yaml_problem(error)) from None
    return validate_params(name, data)


def validate_params(name: str, data: Any) -> dict[str, Any]:
    """Check ``data`` as parameter file ``name``: its schema, then the rules beyond it.

    Returns ``data``; raises :class:`ParameterError` (one line: file, key path, what is allowed).
    Modules that accept a parameter dict of the caller's own check it with this.
    """
    if name not in PARAM_FILES:
        raise ParameterError(name, (), f"no such parameter file (allowed: {', '.join(PARAM_FILES)})")
    check_schema(name, data)
    check = semantic_check(name)
    if check is not None:
        try:
            check(data)
        except ParameterProblem as problem:
            raise ParameterError(name, problem.path, problem.problem) from None
    return data


def parameter_set(overrides: Mapping[str, Any] | None = None) -> ParameterSet:
    """Every parameter file, checked, with ``overrides`` (``{file: {nested keys: value}}``)
    deep-merged onto the packaged files and checked the same way.

    A run calls this before it writes anything, so a bad file stops it with nothing written.
    """
    overrides = dict(overrides or {})
    unknown = [name for name in overrides if name not in PARAM_FILES]
    if unknown:
        raise ParameterError(str(unknown[0]), (), "no such parameter file (allowed: "
                                                  f"{', '.join(PARAM_FILES)})")
    files = {name: packaged_params(name) for name in PARAM_FILES}
    for name, override in overrides.items():
        files[name] = validate_params(name, merge(name, files[name], override))
    return ParameterSet(files=files, overrides=overrides)


@contextmanager
def using(parameters: ParameterSet) -> Iterator[ParameterSet]:
    """Every :func:`load_params` in this context (and this thread) returns ``parameters``."""
    token = _ACTIVE.set(parameters)
    try:
        yield parameters
    finally:
        _ACTIVE.reset(token)


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
