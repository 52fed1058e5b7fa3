"""Answers as data: how a value crosses between the learner's kernel and the trusted grader.

The grader never unpickles anything a learner's code made. A learner's answer crosses as data
only: frames and series as Parquet, arrays as ``.npy`` without pickles, and everything else as
JSON with a small set of tags (tuples, sets, dicts with any keys, timestamps, numpy scalars,
non-finite floats). A value that cannot be written so (a fitted model, an open connection)
crosses as an *unavailable* marker that names its type; a function crosses as a reference the
trusted side calls back across the boundary (``grading.trusted``).

This module has no imports from the rest of the package: its source text is also what the
grader sends into the learner's kernel, which may not have this package installed. Reading
(``Reader``) treats every file as hostile: names are checked against a fixed pattern, files are
opened relative to the folder without following links, and sizes are bounded before anything
is parsed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import math
import os
import re
import stat

MAX_FILE_BYTES = 256 * 2**20  # one file (a Parquet frame, an array, a manifest)
MAX_FRAME_BYTES = 1024 * 2**20  # a frame once decoded (Parquet's own count of its bytes)
MAX_ITEMS = 2_000_000  # JSON values in one manifest
MAX_DEPTH = 40
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}\.(parquet|npy|json)$")
NUMPY_KINDS = "biufcmM"
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class Unencodable(TypeError):
    """A value that cannot cross as data."""


class NotData(TypeError):
    """Raised on the trusted side where a learner's value could not cross as data; its message
    is the grader's own, so a learner may read it."""


class BadData(ValueError):
    """A file on the learner's side is not what the grader wrote the protocol for."""


def _frame_types():
    import numpy as np
    import pandas as pd

    return np, pd


# --------------------------------------------------------------------------- writing

class Writer:
    """Writes values into ``folder`` as JSON-able entries plus files named ``<stem>-<n>``."""

    def __init__(self, folder: str, stem: str) -> None:
        self.folder = folder
        self.stem = stem
        self.count = 0
        self.items = 0

    def _file(self, suffix: str) -> str:
        self.count += 1
        return f"{self.stem}-{self.count}.{suffix}"

    def encode(self, value, depth: int = 0):
        np, pd = _frame_types()
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise Unencodable("too large or too deeply nested to pass as data")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int, bool):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$t": "float", "v": repr(value)}
        if isinstance(value, np.generic):
            kind = value.dtype.kind
            if kind not in NUMPY_KINDS:
                raise Unencodable(f"a numpy scalar of dtype {value.dtype}")
            if kind in "mM":
                return {"$t": "np", "dtype": str(value.dtype), "v": int(value.view("i8"))}
            item = value.item()
            if isinstance(item, complex):
                item = [item.real, item.imag]
            elif isinstance(item, float) and not math.isfinite(item):
                item = repr(item)
            return {"$t": "np", "dtype": str(value.dtype), "v": item}
        if value is pd.NaT:
            return {"$t": "nat"}
        if value is pd.NA:
            return {"$t": "na"}
        if isinstance(value, pd.Timestamp):
            return {"$t": "ts", "v": value.isoformat()}
        if isinstance(value, pd.Timedelta):
            return {"$t": "td", "v": int(value.value)}
        if isinstance(value, _dt.datetime):
            return {"$t": "datetime", "v": value.isoformat()}
        if isinstance(value, _dt.date):
            return {"$t": "date", "v": value.isoformat()}
        if isinstance(value, (pd.DataFrame, pd.Series)):
            return self._frame(value)
        if isinstance(value, pd.Index):
            return {"$t": "index", "v": self._frame(value.to_series(index=range(len(value))))}
        if isinstance(value, np.ndarray):
            return self._array(value)
        if isinstance(value, np.random.Generator):  # a seeded generator an exercise passes in
            state = value.bit_generator.state
            return {"$t": "rng", "bit_generator": str(state.get("bit_generator")),
                    "state": self.encode(state)}
        if isinstance(value, re.Pattern):
            return {"$t": "re", "p": value.pattern, "f": int(value.flags)}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, tuple):
            return {"$t": "tuple", "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, (set, frozenset)):
            items = [self.encode(v, depth + 1) for v in value]
            return {"$t": "frozenset" if isinstance(value, frozenset) else "set", "v": items}
        if isinstance(value, dict):
            keys = list(value)
            return {"$t": "dict", "k": [self.encode(k, depth + 1) for k in keys],
                    "v": [self.encode(value[k], depth + 1) for k in keys]}
        raise Unencodable(f"a {type(value).__module__}.{type(value).__qualname__}")

    def _frame(self, value) -> dict:
        _, pd = _frame_types()
        is_series = isinstance(value, pd.Series)
        frame = value.to_frame() if is_series else value
        labels = [self.encode(c) for c in frame.columns]
        index_names = [self.encode(n) for n in frame.index.names]
        column_names = [self.encode(n) for n in frame.columns.names]
        safe = frame.copy(deep=False)
        safe.columns = [f"c{i}" for i in range(len(frame.columns))]
        safe.index = safe.index.set_names([f"i{i}" for i in range(frame.index.nlevels)])
        buffer = io.BytesIO()
        try:
            safe.to_parquet(buffer, engine="pyarrow", index=True)
        except Exception:  # noqa: BLE001 (mixed types in a column: cell by cell as JSON instead)
            entry = self._frame_cells(frame, labels, index_names, value if is_series else None)
            entry["column_names"] = column_names
            return entry
        name = self._file("parquet")
        self._write(name, buffer.getvalue())
        entry = {"$t": "series" if is_series else "frame", "file": name, "columns": labels,
                 "index_names": index_names, "column_names": column_names}
        if is_series:
            entry["name"] = self.encode(value.name)
        return entry

    def _frame_cells(self, frame, labels: list, index_names: list, series) -> dict:
        """A frame Parquet cannot hold (an object column of mixed types, as a row of
        ``iterrows`` is), written cell by cell; small frames only."""
        if frame.size > 100_000:
            raise Unencodable("a large frame with columns of mixed types")
        entry = {"$t": "cells", "columns": labels, "index_names": index_names,
                 "index": [self.encode(v) for v in frame.index.tolist()],
                 "dtypes": [str(t) for t in frame.dtypes],
                 "data": [[self.encode(v) for v in frame.iloc[:, i].tolist()] for i in range(frame.shape[1])]}
        if series is not None:
            entry["series_name"] = self.encode(series.name)
        return entry

    def _array(self, value) -> dict:
        np, _ = _frame_types()
        if value.dtype.kind not in NUMPY_KINDS:
            return {"$t": "array_list", "v": self.encode(value.tolist()), "shape": list(value.shape)}
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        name = self._file("npy")
        self._write(name, buffer.getvalue())
        return {"$t": "array", "file": name}

    def _write(self, name: str, data: bytes) -> None:
        if len(data) > MAX_FILE_BYTES:
            raise Unencodable(f"larger than {MAX_FILE_BYTES // 2**20} MB as data")
        # The folder may belong to the other side: never follow a link planted in it.
        directory = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            tmp = name + ".part"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=directory)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=directory)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, name, src_dir_fd=directory, dst_dir_fd=directory)
        finally:
            os.close(directory)

    def write_json(self, name: str, document) -> None:
        self._write(name, json.dumps(document, allow_nan=False).encode("utf-8"))


def receive(connection, size: int) -> bytes | None:
    """Exactly ``size`` bytes from a socket, or None if it closes first (both sides of a call)."""
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def describe(value) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


# --------------------------------------------------------------------------- reading

class Unavailable:
    """Stands on the trusted side for a learner's value that could not cross as data: any use
    fails with a message saying so (and ``is None`` is False, as for the real value)."""

    __slots__ = ("_name", "_kind", "_why")

    def __init__(self, name: str, kind: str, why: str = "") -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_why", why)

    def _fail(self, *_args, **_kwargs):
        raise NotData(f"{self._name} is a {self._kind}, which the grader cannot read as data"
                        + (f" ({self._why})" if self._why else ""))

    def __getattr__(self, _attr):
        self._fail()

    def __repr__(self) -> str:
        return f"<{self._name}: a {self._kind}, not readable as data>"

    __call__ = __getitem__ = __iter__ = __len__ = __bool__ = __eq__ = __lt__ = __le__ = _fail
    __gt__ = __ge__ = __add__ = __sub__ = __mul__ = __truediv__ = __contains__ = __float__ = _fail
    __int__ = __index__ = __hash__ = _fail


class Reader:
    """Reads what the other side wrote into a folder, trusting nothing about it."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.items = 0

    def read_bytes(self, name: str) -> bytes:
        if not isinstance(name, str) or not FILE_NAME.fullmatch(name):
            raise BadData(f"a file name the grader did not write: {name!r}"[:200])
        directory = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
        except OSError as err:
            raise BadData(f"{name}: {err.strerror}") from None
        finally:
            os.close(directory)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise BadData(f"{name} is not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise BadData(f"{name} is larger than {MAX_FILE_BYTES // 2**20} MB")
            chunks, total = [], 0
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_FILE_BYTES:
                    raise BadData(f"{name} grew past {MAX_FILE_BYTES // 2**20} MB")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_json(self, name: str):
        try:
            return json.loads(self.read_bytes(name).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise BadData(f"{name} is not valid JSON ({type(err).__name__})") from None

    def decode(self, entry, depth: int = 0):
        """The value an entry stands for; BadData, and nothing else, for any entry that is not
        one the other side's Writer could have made."""
        if depth:
            return self._decode(entry, depth)
        try:
            return self._decode(entry, depth)
        except BadData:
            raise
        except RecursionError:
            raise BadData("an entry nested too deeply") from None
        except Exception as err:  # noqa: BLE001 (pandas, numpy and pyarrow raise many kinds)
            raise BadData(f"an entry that cannot be read ({type(err).__name__})") from None

    def _decode(self, entry, depth: int = 0):
        np, pd = _frame_types()
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise BadData("too many values, or nested too deeply")
        if entry is None or isinstance(entry, (bool, str)):
            return entry
        if isinstance(entry, int):
            return entry
        if isinstance(entry, float):
            return entry
        if isinstance(entry, list):
            return [self.decode(v, depth + 1) for v in entry]
        if not isinstance(entry, dict) or not isinstance(entry.get("$t"), str):
            raise BadData("an entry without a known type tag")
        tag = entry["$t"]
        items = entry.get("v")
        if tag == "float":
            if items not in ("nan", "inf", "-inf"):
                raise BadData("a float tag that is not nan or infinite")
            return float(items)
        if tag == "np":
            dtype = np.dtype(_checked_dtype(entry.get("dtype")))
            if dtype.kind in "mM":
                return np.array(_int(items), dtype="i8").view(dtype)[()]
            if dtype.kind == "c":
                return dtype.type(complex(*_pair(items)))
            if isinstance(items, str):
                items = float(items) if items in ("nan", "inf", "-inf") else _bad("a numpy value")
            if not isinstance(items, (int, float, bool)):
                _bad("a numpy value")
            return dtype.type(items)
        if tag == "nat":
            return pd.NaT
        if tag == "na":
            return pd.NA
        if tag == "ts":
            return pd.Timestamp(_str(items))
        if tag == "td":
            return pd.Timedelta(_int(items), unit="ns")
        if tag == "datetime":
            return _dt.datetime.fromisoformat(_str(items))
        if tag == "date":
            return _dt.date.fromisoformat(_str(items))
        if tag in ("tuple", "set", "frozenset"):
            values = [self.decode(v, depth + 1) for v in _list(items)]
            try:
                return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](values)
            except TypeError:
                raise BadData("a set of values that cannot be set members") from None
        if tag == "dict":
            keys = [self.decode(k, depth + 1) for k in _list(entry.get("k"))]
            values = [self.decode(v, depth + 1) for v in _list(items)]
            if len(keys) != len(values):
                raise BadData("a dict whose keys and values differ in number")
            try:
                return dict(zip(keys, values, strict=True))
            except TypeError:
                raise BadData("a dict key that cannot be a key") from None
        if tag == "rng":
            name = entry.get("bit_generator")
            if name not in BIT_GENERATORS:
                _bad("random generator")
            bit_generator = getattr(np.random, name)()
            try:
                bit_generator.state = self.decode(entry.get("state"), depth + 1)
            except (TypeError, ValueError, KeyError):
                raise BadData("a random generator state that does not fit its generator") from None
            return np.random.Generator(bit_generator)
        if tag == "re":
            try:
                return re.compile(_str(entry.get("p")), _int(entry.get("f")) & ~re.DEBUG)
            except (re.error, ValueError) as err:
                raise BadData(f"a regular expression that does not compile ({err})") from None
        if tag in ("frame", "series"):
            return self._frame(entry, tag == "series", depth)
        if tag == "cells":
            return self._cells(entry, depth)
        if tag == "index":
            series = self.decode(items, depth + 1)
            if not isinstance(series, pd.Series):
                _bad("an index")
            return pd.Index(series.to_numpy(), name=series.name)
        if tag == "array":
            try:
                return np.load(io.BytesIO(self.read_bytes(entry.get("file"))), allow_pickle=False)
            except (ValueError, OSError, EOFError) as err:
                raise BadData(f"an array file that is not a plain .npy ({err})") from None
        if tag == "array_list":
            return np.array(self.decode(items, depth + 1), dtype=object)
        raise BadData(f"an unknown type tag {tag!r}"[:100])

    def _cells(self, entry: dict, depth: int):
        _, pd = _frame_types()
        columns = [[self.decode(v, depth + 1) for v in _list(column)] for column in _list(entry.get("data"))]
        labels = [self.decode(c, depth + 1) for c in _list(entry.get("columns"))]
        index = [self.decode(v, depth + 1) for v in _list(entry.get("index"))]
        dtypes = _list(entry.get("dtypes"))
        if len(columns) != len(labels) or len(dtypes) != len(labels) \
                or any(len(c) != len(index) for c in columns):
            raise BadData("a frame whose cells do not match its labels")
        data = {}
        for position, (column, dtype) in enumerate(zip(columns, dtypes, strict=True)):
            try:
                kind = _checked_dtype(dtype) if dtype != "object" else object
                data[position] = pd.Series(column, dtype=kind)
            except (BadData, TypeError, ValueError):
                data[position] = pd.Series(column, dtype=object)
        frame = pd.DataFrame(data)
        try:
            tuples = bool(index) and all(isinstance(i, tuple) for i in index)
            frame.index = pd.MultiIndex.from_tuples(index) if tuples else pd.Index(index)
            names = [self.decode(n, depth + 1) for n in _list(entry.get("index_names"))]
            frame.index = frame.index.set_names(names)
            frame.columns = _labels(labels)
            frame.columns = frame.columns.set_names(self._column_names(entry, frame, depth))
        except (TypeError, ValueError):
            raise BadData("frame labels that cannot label a frame") from None
        if "series_name" in entry:
            series = frame.iloc[:, 0]
            series.name = self.decode(entry.get("series_name"), depth + 1)
            return series
        return frame

    def _column_names(self, entry: dict, frame, depth: int) -> list:
        names = [self.decode(n, depth + 1) for n in _list(entry.get("column_names", [None]))]
        if len(names) != frame.columns.nlevels:
            raise BadData("a frame whose column names do not match its labels")
        return names

    def _frame(self, entry: dict, is_series: bool, depth: int):
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = self.read_bytes(entry.get("file"))
        try:
            parquet = pq.ParquetFile(pa.BufferReader(data))
            size = sum(parquet.metadata.row_group(i).total_byte_size
                       for i in range(parquet.metadata.num_row_groups))
            if size > MAX_FRAME_BYTES:
                raise BadData(f"a frame of more than {MAX_FRAME_BYTES // 2**20} MB")
            table = parquet.read()
            if table.nbytes > MAX_FRAME_BYTES:
                raise BadData(f"a frame of more than {MAX_FRAME_BYTES // 2**20} MB once decoded")
            frame = table.to_pandas()
        except BadData:
            raise
        except Exception as err:  # pyarrow raises many types for a malformed file
            raise BadData(f"a frame file that is not readable Parquet ({type(err).__name__})") from None
        labels = [self.decode(c, depth + 1) for c in _list(entry.get("columns"))]
        names = [self.decode(n, depth + 1) for n in _list(entry.get("index_names"))]
        if len(labels) != frame.shape[1] or len(names) != frame.index.nlevels:
            raise BadData("a frame whose labels do not match its file")
        try:
            frame.columns = _labels(labels)
            frame.columns = frame.columns.set_names(self._column_names(entry, frame, depth))
            frame.index = frame.index.set_names(names)
        except (TypeError, ValueError):
            raise BadData("frame labels that cannot label a frame") from None
        if is_series:
            series = frame.iloc[:, 0]
            series.name = self.decode(entry.get("name"), depth + 1)
            return series
        return frame


def _labels(labels: list):
    _, pd = _frame_types()
    if labels and all(isinstance(label, tuple) for label in labels):
        return pd.MultiIndex.from_tuples(labels)
    return pd.Index(labels) if labels else pd.RangeIndex(0)


def _checked_dtype(name) -> str:
    np, _ = _frame_types()
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9\[\], ]{1,40}", name):
        _bad("a numpy dtype")
    try:
        dtype = np.dtype(name)
    except TypeError:
        _bad("a numpy dtype")
    if dtype.kind not in NUMPY_KINDS:
        _bad("a numpy dtype")
    return name


def _bad(what: str):
    raise BadData(f"not a valid {what}")


def _str(value) -> str:
    return value if isinstance(value, str) else _bad("text value")


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else _bad("whole number")


def _list(value) -> list:
    return value if isinstance(value, list) else _bad("list")


def _pair(value) -> list:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return value
    return _bad("complex number")
