"""The small typed API notebooks use: ``load`` a table, read its ``schema``, ``generate`` data."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthetic_data.core.errors import InputError
from synthetic_data.output.schema import TABLES, TABLES_BY_NAME, Table

if TYPE_CHECKING:
    import duckdb

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)
DEFAULT_DATA = Path("data/classroom")
DATA_DIR_VARIABLE = "FJ_DATA_DIR"


def default_data_dir() -> Path:
    """Where the course's dataset is, so that notebooks never hard-code a path.

    A hub mounts the data read-only somewhere and sets ``FJ_DATA_DIR``; on a laptop,
    ``data/classroom`` is found in the current folder or any folder above it, so the clone's
    dataset is found from anywhere inside the clone, and an installed package finds the one a
    learner generated where they work.
    """
    configured = os.environ.get(DATA_DIR_VARIABLE)
    if configured:
        return Path(configured)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_DATA / "manifest.json").exists():
            return folder / DEFAULT_DATA
    raise InputError(f"no dataset found: set {DATA_DIR_VARIABLE} to a generated dataset's folder, "
                     f"or generate one with `python -m synthetic_data generate --out {DEFAULT_DATA}` "
                     "(`make data` in the repository)")


def schema(name: str | None = None) -> Table | dict[str, Table]:
    """One table's definition, or all of them by name."""
    if name is None:
        return dict(TABLES_BY_NAME)
    if name not in TABLES_BY_NAME:
        raise InputError(f"unknown table {name!r}; tables are: {', '.join(TABLE_NAMES)}")
    return TABLES_BY_NAME[name]


def load(name: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """Read one table of a generated dataset as a DataFrame (dates as datetime64).

    Without ``data_dir`` the dataset is the one :func:`default_data_dir` finds.
    """
    spec = schema(name)
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    if not (folder / "manifest.json").exists():
        raise InputError(f"{folder} is not a generated dataset (no manifest.json); run "
                         f"`python -m synthetic_data generate --out {folder}` first")
    for fmt in ("parquet", "csv"):
        path = folder / spec.view / f"{name}.{fmt}"
        if path.exists():
            if fmt == "parquet":
                frame = pd.read_parquet(path)
            else:  # identifiers such as NHS numbers must stay text, leading zeros and all
                frame = pd.read_csv(path, dtype={c.name: "str" for c in spec.columns
                                                 if c.dtype == "string"})
            for col in spec.columns:
                if col.dtype == "int" and col.nullable:
                    frame[col.name] = frame[col.name].astype("Int64")
                elif col.dtype == "int" and fmt == "csv":  # an empty CSV column reads as text
                    frame[col.name] = frame[col.name].astype("int64")
                elif col.dtype == "float" and fmt == "csv":
                    frame[col.name] = frame[col.name].astype("float64")
                elif col.dtype == "bool" and col.nullable:
                    frame[col.name] = frame[col.name].astype("boolean")
                elif col.dtype == "date":
                    frame[col.name] = pd.to_datetime(frame[col.name]).astype("datetime64[s]")
            return frame
    raise InputError(f"table {name!r} is not in {folder} (its folder {spec.view}/ may not be "
                     "readable to you: the answer key is for graders only)")


def connect(view: str = "tre", data_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to one view's database, a schema per source.

    Analysts in a TRE write SQL against schemas (``SELECT * FROM health.admissions``), so the
    course does too; read-only, because a learner's query must never change the shared data.
    """
    import duckdb

    from synthetic_data.output.databases import DATABASE_VIEWS

    if view not in DATABASE_VIEWS:
        raise InputError(f"unknown view {view!r}; the databases are: {', '.join(DATABASE_VIEWS)}")
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    path = folder / view / f"{view}.duckdb"
    if not path.exists():
        raise InputError(f"{path} does not exist (the {view} view may not be readable to you, or "
                         "the dataset was generated without it)")
    return duckdb.connect(str(path), read_only=True)


def manifest(data_dir: str | Path | None = None) -> dict:
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def generate(out: str | Path = DEFAULT_DATA, scale: float | None = None, seed: int = 42,
             region: str = "both", start: str | None = None, end: str | None = None,
             formats: tuple[str, ...] = ("parquet",), progress: bool = False,
             params: Mapping[str, Any] | None = None) -> Path:
    """Generate a dataset (see ``python -m synthetic_data generate --help``).

    ``params`` changes parameter files for this run, in their own shape, for example
    ``{"capture": {"sources": {"cafcass": {"rates": {"typo": 0.0}}}}}``: each file named is
    deep-merged onto the packaged ``synthetic_data/params/<file>.yaml`` and checked as the file
    is. A bad value raises :class:`~synthetic_data.core.errors.ParameterError` (one line: file,
    key, what is allowed) before anything is written. The manifest records the overrides.
    """
    from synthetic_data.core.config import (
        CLASSROOM_SCALE,
        DEFAULT_END,
        DEFAULT_START,
        GenerationConfig,
    )
    from synthetic_data.pipeline import generate as run

    config = GenerationConfig(
        scale=CLASSROOM_SCALE if scale is None else scale, seed=seed, out=Path(out),
        region=region, start=start or DEFAULT_START, end=end or DEFAULT_END,
        formats=tuple(formats), progress=progress)
    return run(config, params)
