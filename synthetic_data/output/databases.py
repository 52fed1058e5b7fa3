"""One DuckDB database per view, a schema per source: SQL practice as in a TRE.

Analysts in SAIL query schemas per dataset (PEDW, WLGP, EDUW ...), not loose files. Each view's
folder gets ``<view>.duckdb`` holding its tables (and the public reference tables) under a
schema per source, so ``SELECT * FROM health.admissions`` works as it would there. The databases
hold exactly the same rows as the written files: :class:`DatabaseLoader` loads each table's
Arrow batches as they go to Parquet, on a thread of its own, so the databases are built while the
rest of the dataset is still being made; :func:`write_databases` builds them from the files
instead (for a dataset written only as CSV).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa

from synthetic_data.core.background import still_running
from synthetic_data.output.schema import TABLES, table

SCHEMAS = (  # table-name prefix -> schema
    ("cafcass_", "cafcass"), ("familyman_", "familyman"), ("health_", "health"),
    ("education_", "education"), ("cla_", "cla"), ("death_", "deaths"),
)
DATABASE_VIEWS = ("identifiable", "tre", "answer_key")
LOADER_MEMORY = "64MB"  # DuckDB's memory limit for each view's database while loading


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
        con = _open(path)
        try:
            for spec, file in files:
                schema, name = schema_and_table(spec.name, spec.view)
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                reader = "read_parquet" if file.suffix == ".parquet" else "read_csv_auto"
                con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT * FROM '
                            f"{reader}(?)", [str(file)])
                _comment(con, schema, name, spec.description)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        written[view] = path
    return written


class DatabaseLoader:
    """Builds the views' databases from Arrow tables as they are written, on one thread.

    Each table goes to its view's database (reference tables to every one), appended batch by
    batch in the order given, so a table holds the rows of its file in the file's order. DuckDB
    works outside the GIL: loading overlaps with making the rest of the dataset. :meth:`close`
    waits, comments and checkpoints every database, and raises any error the thread met; call it
    even after a failure, so that nothing still writes into a folder being removed.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cons: dict[str, duckdb.DuckDBPyConnection] = {}
        self._made: set[tuple[str, str]] = set()  # (view, table) already created
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duckdb")
        self._pending: list[Future] = []
        self._closed = False

    def add(self, name: str, arrow: pa.Table) -> None:
        """Queue one batch of table ``name`` (already cast to its schema)."""
        self._pending.append(self._pool.submit(self._load, name, arrow))
        self._pending = still_running(self._pending)

    def drain(self) -> None:
        """Wait until every queued batch is loaded (and raise any error met)."""
        for future in self._pending:
            future.result()
        self._pending = []

    def _load(self, name: str, arrow: pa.Table) -> None:
        spec = table(name)
        views = DATABASE_VIEWS if spec.view == "reference" else (spec.view,)
        for view in views:
            if view not in DATABASE_VIEWS:
                continue
            con = self._cons.get(view)
            if con is None:
                con = self._cons[view] = _open(self.folder / view / f"{view}.duckdb")
                # One core while the dataset is being made: the generator needs the other.
                con.execute("SET threads = 1")
                # Loaded rows are on disk: cache little of them, so that memory stays with the
                # generator (DuckDB would otherwise keep most of what it wrote).
                con.execute(f"SET memory_limit = '{LOADER_MEMORY}'")
            schema, bare = schema_and_table(name, spec.view)
            con.register("batch", arrow)
            try:
                if (view, name) in self._made:
                    con.execute(f'INSERT INTO "{schema}"."{bare}" SELECT * FROM batch')
                else:
                    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                    con.execute(f'CREATE TABLE "{schema}"."{bare}" AS SELECT * FROM batch')
                    _comment(con, schema, bare, spec.description)
                    self._made.add((view, name))
            finally:
                con.unregister("batch")

    def _use_every_core(self) -> None:
        for con in self._cons.values():
            con.execute("RESET threads")

    def close(self) -> dict[str, Path]:
        """Finish every database; the path of each view's. Safe to call twice."""
        if self._closed:
            return {}
        self._closed = True
        try:
            # Nothing else is left to make: the batches still queued may use every core.
            self._pending.append(self._pool.submit(self._use_every_core))
            for future in self._pending:
                future.result()
            for con in self._cons.values():
                con.execute("CHECKPOINT")
        finally:
            self._pending.clear()
            self._pool.shutdown(wait=True)
            for con in self._cons.values():
                con.close()
        written = {view: self.folder / view / f"{view}.duckdb" for view in self._cons}
        self._cons = {}
        return written


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    """A new, empty database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    # Every core reads and compresses, and the rows keep their order all the same: DuckDB
    # preserves insertion order unless told otherwise (set here to say it is relied on).
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")  # the generator has its own
    return con


def _comment(con: duckdb.DuckDBPyConnection, schema: str, name: str, description: str) -> None:
    con.execute(f"COMMENT ON TABLE \"{schema}\".\"{name}\" IS "
                f"'{description.replace(chr(39), chr(39) * 2)}'")


def _file(folder: Path, view: str, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = folder / view / f"{name}{suffix}"
        if path.exists():
            return path
    return None
