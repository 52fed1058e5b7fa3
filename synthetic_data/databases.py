"""One DuckDB database per view, a schema per source: SQL practice as in a TRE.

Analysts in SAIL query schemas per dataset (PEDW, WLGP, EDUW ...), not loose files. Each view's
folder gets ``<view>.duckdb`` holding its tables (and the public reference tables) under a
schema per source, so ``SELECT * FROM health.admissions`` works as it would there. The databases
are built from the written files, so they hold exactly the same rows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from synthetic_data.schema import TABLES

SCHEMAS = (  # table-name prefix -> schema
    ("cafcass_", "cafcass"), ("familyman_", "familyman"), ("health_", "health"),
    ("education_", "education"), ("cla_", "cla"), ("death_", "deaths"),
)
DATABASE_VIEWS = ("identifiable", "tre", "answer_key")


def schema_and_table(name: str, view: str) -> tuple[str, str]:
    """Where a table sits in its view's database: ``tre_health_admissions`` -> health.admissions."""
    if view == "reference":
        return "reference", name
    if view == "answer_key":
        return "truth", name
    bare = name.removeprefix("tre_")
    for prefix, schema in SCHEMAS:
        if bare.startswith(prefix):
            return schema, bare.removeprefix(prefix)
    return "main", bare


def write_databases(folder: Path) -> dict[str, Path]:
    """Build ``<view>/<view>.duckdb`` for each view present in ``folder``."""
    written = {}
    for view in DATABASE_VIEWS:
        tables = [t for t in TABLES if t.view in (view, "reference")]
        files = [(t, _file(folder, t.view, t.name)) for t in tables]
        files = [(t, f) for t, f in files if f is not None]
        if not any(t.view == view for t, _ in files):
            continue
        path = folder / view / f"{view}.duckdb"
        path.unlink(missing_ok=True)
        con = duckdb.connect(str(path))
        try:
            # Every core reads and compresses, and the rows keep the files' order all the same:
            # DuckDB preserves insertion order unless told otherwise (set here to say it is relied on).
            con.execute("SET preserve_insertion_order = true")
            con.execute("SET enable_progress_bar = false")  # the generator has its own
            for spec, file in files:
                schema, name = schema_and_table(spec.name, spec.view)
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                reader = "read_parquet" if file.suffix == ".parquet" else "read_csv_auto"
                con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT * FROM '
                            f"{reader}(?)", [str(file)])
                con.execute(f"COMMENT ON TABLE \"{schema}\".\"{name}\" IS "
                            f"'{spec.description.replace(chr(39), chr(39) * 2)}'")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        written[view] = path
    return written


def _file(folder: Path, view: str, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = folder / view / f"{name}{suffix}"
        if path.exists():
            return path
    return None
