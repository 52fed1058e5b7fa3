"""Writing a dataset: typed tables, all or nothing, with a manifest that says what it is.

Tables go to a temporary folder beside the destination and are moved into place only when every
file is complete, so a crash or Ctrl-C never leaves a half-written dataset that looks finished.
The manifest has no timestamps: the same seed, version and parameters give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthetic_data.core.background import still_running
from synthetic_data.output.databases import DatabaseLoader
from synthetic_data.output.schema import Table, table

_ARROW = {"int": pa.int64(), "float": pa.float64(), "string": pa.string(), "date": pa.date32(),
          "bool": pa.bool_()}


def to_arrow(frame: pd.DataFrame | Mapping[str, Any], spec: Table) -> pa.Table:
    """Cast a frame (or a mapping of column arrays) to its schema: exactly the declared columns,
    in order, with declared types. Big tables come as plain arrays, skipping pandas entirely."""
    names = list(frame.columns) if isinstance(frame, pd.DataFrame) else list(frame)
    missing = [c for c in spec.column_names if c not in names]
    extra = [c for c in names if c not in spec.column_names]
    if missing or extra:
        raise ValueError(f"{spec.name}: columns differ from schema (missing {missing}, "
                         f"unexpected {extra})")
    arrays = []
    for col in spec.columns:
        values = frame[col.name]
        if col.dtype == "date":
            raw = values.to_numpy(dtype="datetime64[D]") if isinstance(values, pd.Series) \
                else np.asarray(values, dtype="datetime64[D]")
            arr = pa.array(raw, type=pa.date32(), from_pandas=True)
        elif col.dtype == "string":
            arr = _string_array(values)
        else:
            arr = pa.array(values, type=_ARROW[col.dtype], from_pandas=True)
        if not col.nullable and arr.null_count:
            raise ValueError(f"{spec.name}.{col.name}: {arr.null_count} missing values in a "
                             "column declared not nullable")
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=spec.column_names)


def _string_array(values: Any) -> pa.Array:
    """A string column as Arrow. pandas keeps strings in Arrow already: cast those directly,
    which is many times faster than going through Python objects (and gives the same array)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.string())
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype) \
            and values.dtype.storage == "pyarrow":
        arr = pa.array(values.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return arr.cast(pa.string())
    raw = values.to_numpy(dtype=object) if isinstance(values, pd.Series) \
        else np.asarray(values, dtype=object)
    return pa.array(raw, type=pa.string(), from_pandas=True)


class DatasetWriter:
    """Appends tables (possibly in several chunks) into a staging folder, then commits it.

    Parquet encoding and compression run on one background thread (pyarrow releases the GIL
    there), so they overlap with converting the next table; one thread writes every file in the
    order given, so the files are the same as if written in line. :meth:`close` waits for it and
    raises any error it met. Use it as a context manager: leaving the block, even on an error,
    waits for the thread, so nothing writes into a staging folder that is being removed.

    With ``databases``, every table also goes into its view's DuckDB database as it is written
    (:class:`~synthetic_data.output.databases.DatabaseLoader`), from the same Arrow batches as the files.
    """

    def __init__(self, staging: Path, formats: tuple[str, ...], databases: bool = False) -> None:
        self.staging = staging
        self.formats = formats
        self._databases = DatabaseLoader(staging) if databases else None
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._rows: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self._pending: list[Future] = []

    def path(self, name: str, fmt: str) -> Path:
        spec = table(name)
        return self.staging / spec.view / f"{name}.{fmt}"

    def write(self, name: str, frame: pd.DataFrame | Mapping[str, Any]) -> None:
        spec = table(name)
        arrow = to_arrow(frame, spec)
        self._rows[name] = self._rows.get(name, 0) + arrow.num_rows
        for fmt in self.formats:
            path = self.path(name, fmt)
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "parquet":
                self._pending.append(self._pool.submit(self._write_parquet, name, path, arrow))
            else:
                frame_out = arrow.to_pandas(date_as_object=False)
                header = not path.exists()
                frame_out.to_csv(path, mode="a", header=header, index=False,
                                 lineterminator="\n", date_format="%Y-%m-%d")
        if self._databases is not None:
            self._databases.add(name, arrow)
        self._raise_finished_errors()

    def drain(self) -> None:
        """Wait until every queued file write and database load is done: a chunk's batches are
        let go before the next chunk is made, so chunks never add up in memory."""
        for future in self._pending:
            future.result()
        self._pending = []
        if self._databases is not None:
            self._databases.drain()

    def _write_parquet(self, name: str, path: Path, arrow: pa.Table) -> None:
        writer = self._parquet.get(name)
        if writer is None:
            writer = pq.ParquetWriter(path, arrow.schema, compression="zstd")
            self._parquet[name] = writer
        writer.write_table(arrow)

    def _raise_finished_errors(self) -> None:
        """Surface a failed background write at the next call, not only at :meth:`close`."""
        self._pending = still_running(self._pending)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        try:
            self.close()
        except Exception:
            if exc_type is None:  # never hide the error that is already on its way out
                raise

    def close(self) -> dict[str, int]:
        """Wait for the background writes, close every file; the rows written per table.

        Safe to call twice (the context manager calls it again after an explicit close)."""
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pending.clear()
            self._pool.shutdown(wait=True)
            for writer in self._parquet.values():
                writer.close()
            self._parquet.clear()
            if self._databases is not None:
                self._databases.close()
        return dict(self._rows)


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every data file. The DuckDB databases are left out: they are built from these
    files (same rows), but DuckDB's storage layout is not byte-for-byte repeatable."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json" and path.suffix != ".duckdb":
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def write_manifest(folder: Path, content: dict) -> None:
    content = dict(content)
    content["files"] = file_hashes(folder)
    (folder / "manifest.json").write_text(json.dumps(content, indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")


@contextmanager
def staged_output(out: Path):
    """Yield a staging folder; on success replace ``out`` with it, on failure remove it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; access is set per view by the deployment
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    backup = None
    if out.exists():
        backup = out.parent / f".{out.name}.old-{np.random.default_rng().integers(1 << 30)}"
        out.rename(backup)
    staging.rename(out)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
