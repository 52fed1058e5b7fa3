"""Answers cross from the learner's kernel to the trusted grader as data only: values keep what a
check compares (type, dtype, labels), nothing that runs code or pretends to be equal crosses, and
the reader trusts no file the learner's side could have planted."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from grading import boundary_data
from grading.boundary_data import BadData, Reader, Unavailable, Unencodable, Writer


def round_trip(folder: Path, value):
    """Write ``value`` as the learner's side does (entry + files + a JSON manifest), read it back."""
    Writer(str(folder), "a1").write_json("a1.json", {"v": Writer(str(folder), "v1").encode(value)})
    reader = Reader(str(folder))
    return reader.decode(reader.read_json("a1.json")["v"])


def same_frame(out: pd.DataFrame, expected: pd.DataFrame) -> None:
    pdt.assert_frame_equal(out, expected)
    assert list(out.columns) == list(expected.columns)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


class EqualsEverything(int):
    """A learner's int that would pass any ``answer == expected`` check if it crossed as itself."""

    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


# --------------------------------------------------------------------------- round trips

def test_frame_with_awkward_labels_and_dtypes(tmp_path):
    """Frames are most answers: labels that are not strings, a named index and the dtypes checks
    look at (categorical, tz-aware datetimes, nullable ints, NaN) must all come back."""
    frame = pd.DataFrame({
        1: pd.Categorical(["a", "b", "a"]),
        "when": pd.date_range("2024-03-30", periods=3, tz="Europe/London"),
        "n": pd.array([1, None, 3], dtype="Int64"),
        "rate": [0.5, np.nan, 1.5],
    }, index=pd.Index([10, 20, 30], name="case_id"))
    out = round_trip(tmp_path, frame)
    same_frame(out, frame)
    assert out.columns[0] == 1 and not isinstance(out.columns[0], str)
    assert out.index.name == "case_id"


def test_multiindex_columns_and_nested_frames(tmp_path):
    """Tuple column labels (a pivot, an ``agg`` with several functions) come back as a
    MultiIndex; frames inside dicts (one table per region) come back as frames."""
    frame = pd.DataFrame({("count", "a"): [1, 2], ("count", "b"): [3, 4], ("mean", "a"): [0.5, 1.0]})
    out = round_trip(tmp_path, {"by_region": {"north": frame, "south": pd.DataFrame({"n": [3]})}})
    assert isinstance(out["by_region"]["north"].columns, pd.MultiIndex)
    same_frame(out["by_region"]["north"], frame)
    same_frame(out["by_region"]["south"], pd.DataFrame({"n": [3]}))


def test_named_series_and_index(tmp_path):
    series = pd.Series([3, 1, 2], name="children", index=pd.Index(["x", "y", "z"], name="la"))
    pdt.assert_series_equal(round_trip(tmp_path, series), series)
    index = pd.Index([3, 1, 2], name="year")
    out = round_trip(tmp_path, index)
    assert isinstance(out, pd.Index) and not isinstance(out, pd.Series)
    pdt.assert_index_equal(out, index)


def test_numpy_arrays(tmp_path):
    for array in (np.arange(6, dtype=np.int32).reshape(2, 3), np.array([1.5, np.nan, -np.inf]),
                  np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]")):
        out = round_trip(tmp_path, array)
        assert isinstance(out, np.ndarray) and out.dtype == array.dtype and out.shape == array.shape
        np.testing.assert_array_equal(out, array)


def test_numpy_scalars_keep_their_type(tmp_path):
    """``isinstance(x, np.integer)`` and ``x.dtype`` checks must see what the learner computed."""
    for scalar in (np.int64(7), np.int8(-3), np.uint64(2**64 - 1), np.float32(1.25), np.float64("nan"),
                   np.bool_(True), np.complex128(1 + 2j), np.datetime64("2024-01-01T10:00:00", "ns"),
                   np.timedelta64(5, "s")):
        out = round_trip(tmp_path, scalar)
        assert type(out) is type(scalar), scalar
        assert out.dtype == scalar.dtype
        assert (out == scalar) or (np.isnan(out) and np.isnan(scalar))


def test_plain_python_values(tmp_path):
    """Tuples stay tuples and lists lists, sets stay sets, non-finite floats survive strict JSON,
    and dict keys keep their types."""
    out = round_trip(tmp_path, [(1, 2), [1, 2], {1, 2}, frozenset({"a"}), float("inf"), float("-inf")])
    assert out == [(1, 2), [1, 2], {1, 2}, frozenset({"a"}), float("inf"), float("-inf")]
    assert [type(v) for v in out[:4]] == [tuple, list, set, frozenset]
    assert np.isnan(round_trip(tmp_path, float("nan")))
    mapping = {1: "one", (2, "b"): [None, True], "s": "text"}
    out = round_trip(tmp_path, mapping)
    assert out == mapping and list(out) == [1, (2, "b"), "s"]


def test_times_missing_markers_and_patterns(tmp_path):
    values = [pd.Timestamp("2024-01-01 12:00:00.000000001"), pd.Timestamp("2024-06-01 12:00", tz="UTC"),
              pd.Timedelta("1 day 3ns"), dt.date(2024, 2, 29), dt.datetime(2024, 1, 1, 9, 30)]
    out = round_trip(tmp_path, values)
    assert out == values and [type(v) for v in out] == [type(v) for v in values]
    assert out[1].utcoffset() == dt.timedelta(0)
    assert round_trip(tmp_path, pd.NaT) is pd.NaT
    assert round_trip(tmp_path, pd.NA) is pd.NA
    pattern = round_trip(tmp_path, re.compile(r"^[A-Z]\d+$", re.IGNORECASE))
    assert pattern.pattern == r"^[A-Z]\d+$" and pattern.flags & re.IGNORECASE and pattern.match("a12")


def test_mixed_type_frame_and_seeded_generator(tmp_path):
    """A column of mixed types crosses cell by cell; a seeded generator an exercise passes in
    crosses as its state and draws the same numbers."""
    frame = pd.DataFrame({"v": [1, "x", 2.5], "n": [1, 2, 3]}, index=pd.Index(["p", "q", "r"], name="k"))
    same_frame(round_trip(tmp_path, frame), frame)
    out = round_trip(tmp_path, np.random.default_rng(42))
    assert isinstance(out, np.random.Generator)
    assert out.random(3).tolist() == np.random.default_rng(42).random(3).tolist()


def test_a_str_subclass_arrives_as_plain_text(tmp_path):
    sneaky = type("Sneaky", (str,), {"__eq__": lambda self, other: True, "__hash__": str.__hash__})
    out = round_trip(tmp_path, sneaky("x"))
    assert type(out) is str and out != "y"


# --------------------------------------------------------------------------- what must not cross

@pytest.mark.parametrize("value", [
    EqualsEverything(3),
    [1, EqualsEverything(3)],
    {"answer": EqualsEverything(3)},
    {EqualsEverything(3): "key"},
    (1, {2, EqualsEverything(3)}),
    object(),
    np.array([object(), EqualsEverything(1)], dtype=object),
    pd.DataFrame({"mixed": [EqualsEverything(1), "a"]}),
    nested(boundary_data.MAX_DEPTH + 5),
], ids=["eq-int", "in-list", "dict-value", "dict-key", "nested", "object", "object-array", "frame-cell",
        "too-deep"])
def test_values_that_are_not_data_do_not_cross(tmp_path, value):
    """An object with its own ``__eq__`` would pass ``answer == expected`` on the trusted side."""
    with pytest.raises(Unencodable):
        Writer(str(tmp_path), "a1").encode(value)


# --------------------------------------------------------------------------- hostile files

def test_a_link_to_a_secret_is_not_read(tmp_path):
    """The learner's kernel can plant a link where the grader expects its file."""
    folder, secret = tmp_path / "boundary", tmp_path / "answer_key.json"
    folder.mkdir()
    secret.write_text('{"expected": 1234567}')
    np.save(tmp_path / "key.npy", np.array([1234567]))
    (folder / "a1.json").symlink_to(secret)
    (folder / "a1-1.npy").symlink_to(tmp_path / "key.npy")
    reader = Reader(str(folder))
    with pytest.raises(BadData) as caught:
        reader.read_json("a1.json")
    assert "1234567" not in str(caught.value)
    with pytest.raises(BadData):
        reader.decode({"$t": "array", "file": "a1-1.npy"})


def test_fifo_and_folder_are_not_regular_files(tmp_path):
    """A FIFO would block the grader on open (or read as empty); a folder is not a file."""
    os.mkfifo(tmp_path / "a1.json")
    (tmp_path / "a2.json").mkdir()

    def too_slow(*_args):
        raise TimeoutError("opening a FIFO blocked the reader")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(5)
    try:
        for name in ("a1.json", "a2.json"):
            with pytest.raises(BadData, match="not a regular file"):
                Reader(str(tmp_path)).read_bytes(name)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", ["../a1.json", "inner/a1.json", "/etc/passwd", "A1.json", "a1.pkl",
                                  ".a1.json", 7, None])
def test_names_the_grader_did_not_write_are_refused(tmp_path, name):
    """Every file named here exists: it is the name, not a missing file, that is refused."""
    folder = tmp_path / "boundary"
    (folder / "inner").mkdir(parents=True)
    for path in (tmp_path / "a1.json", folder / "inner" / "a1.json", folder / "A1.json",
                 folder / "a1.pkl", folder / ".a1.json"):
        path.write_text('{"expected": 1234567}')
    with pytest.raises(BadData, match="did not write"):
        Reader(str(folder)).read_bytes(name)


def test_size_limits(tmp_path, monkeypatch):
    """Sizes are checked before parsing: on the file, and on a Parquet frame's declared size."""
    entry = Writer(str(tmp_path), "a1").encode(pd.DataFrame({"n": range(1000)}))
    (tmp_path / "a2.json").write_text('{"v": "' + "x" * 1000 + '"}')
    monkeypatch.setattr(boundary_data, "MAX_FRAME_BYTES", 64)
    with pytest.raises(BadData, match="a frame of more than"):
        Reader(str(tmp_path)).decode(entry)
    monkeypatch.setattr(boundary_data, "MAX_FILE_BYTES", 100)
    with pytest.raises(BadData, match="larger than"):
        Reader(str(tmp_path)).read_json("a2.json")


@pytest.mark.parametrize("entry", [
    {"$t": "pickle", "v": "gASVAAAAAAAAAAAu"},
    {"$t": "dict", "k": [1, 2], "v": [1]},
    {"$t": "dict", "k": "ab", "v": ["a", "b"]},
    {"$t": "float", "v": "1e400"},
    {"$t": "np", "dtype": "object", "v": 1},
    {"$t": "re", "p": "(", "f": 0},
    {"$t": "frame", "file": "a1-1.parquet", "columns": [], "index_names": [None]},
    {"$t": "rng", "bit_generator": "seed", "state": {"$t": "dict", "k": [], "v": []}},
    {"v": 1},
    nested(boundary_data.MAX_DEPTH + 5),
], ids=["unknown-tag", "dict-lengths", "dict-keys-not-list", "float", "object-dtype", "bad-regex",
        "missing-file", "rng-not-a-generator", "no-tag", "too-deep"])
def test_malformed_entries(tmp_path, entry):
    with pytest.raises(BadData):
        Reader(str(tmp_path)).decode(entry)


class Marker:
    """Unpickling this creates a folder: proof that a pickle was run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_pickles_are_never_loaded(tmp_path):
    """An .npy holding an object array is a pickle; so is a pickle renamed .npy."""
    ran = tmp_path / "pickle-ran"
    np.save(tmp_path / "a1-1.npy", np.array([Marker(str(ran))], dtype=object), allow_pickle=True)
    (tmp_path / "a1-2.npy").write_bytes(pickle.dumps(Marker(str(ran))))
    for name in ("a1-1.npy", "a1-2.npy"):
        with pytest.raises(BadData):
            Reader(str(tmp_path)).decode({"$t": "array", "file": name})
    assert not ran.exists()


def test_files_that_are_not_what_they_claim(tmp_path):
    (tmp_path / "a1.json").write_text("{not json")
    (tmp_path / "a2.json").write_bytes(b'"\xff\xfe"')
    (tmp_path / "a1-1.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    reader = Reader(str(tmp_path))
    for name in ("a1.json", "a2.json"):
        with pytest.raises(BadData, match="not valid JSON"):
            reader.read_json(name)
    with pytest.raises(BadData, match="not readable Parquet"):
        reader.decode({"$t": "frame", "file": "a1-1.parquet", "columns": [], "index_names": [None]})


def test_the_writer_never_follows_a_planted_link(tmp_path):
    """Both sides write into a folder the other side can write to: a link planted at the
    temporary or the final name must not redirect the write outside it."""
    folder = tmp_path / "boundary"
    folder.mkdir()
    outside = {name: tmp_path / name for name in ("victim-part", "victim-final")}
    for path in outside.values():
        path.write_text("untouched")
    (folder / "a1-1.parquet.part").symlink_to(outside["victim-part"])
    (folder / "a1-1.parquet").symlink_to(outside["victim-final"])
    frame = pd.DataFrame({"n": [1, 2, 3]})
    entry = Writer(str(folder), "a1").encode(frame)
    assert entry["file"] == "a1-1.parquet"
    assert all(path.read_text() == "untouched" for path in outside.values())
    written = folder / "a1-1.parquet"
    assert written.is_file() and not written.is_symlink()
    assert not (folder / "a1-1.parquet.part").exists()
    same_frame(Reader(str(folder)).decode(entry), frame)


# --------------------------------------------------------------------------- Unavailable

def test_unavailable_fails_on_any_use():
    """A value that could not cross must fail loudly, naming the answer, never compare or
    test as something (a silent ``False`` or ``0`` could pass a check)."""
    model = Unavailable("model", "sklearn.pipeline.Pipeline", "not data")
    uses = [lambda: model.predict, lambda: model(1), lambda: model == 1, lambda: model != 1,
            lambda: bool(model), lambda: len(model), lambda: list(model), lambda: model[0],
            lambda: 1 in model, lambda: model < 1, lambda: model + 1, lambda: float(model),
            lambda: hash(model)]
    for use in uses:
        with pytest.raises(TypeError, match="model is a sklearn.pipeline.Pipeline"):
            use()
    assert (model is None) is False
    assert "model" in repr(model)


def test_frames_keep_their_column_labels_exactly(tmp_path):
    """An exercise may ask for columns named "age_group", and a hidden test may compare whole
    frames: the column index keeps its name and dtype across the boundary."""
    frame = pd.DataFrame({"a": [1], "b": [2]})
    frame.columns.name = "age_group"
    out = round_trip(tmp_path, frame)
    pdt.assert_frame_equal(out, frame)
    assert out.columns.name == "age_group"


def test_numpy_dates_with_any_unit_cross(tmp_path):
    for value in (np.datetime64("2024-01-01"), np.datetime64("2024-01", "M"), np.timedelta64(3, "D")):
        out = round_trip(tmp_path, value)
        assert out == value and out.dtype == value.dtype


@pytest.mark.parametrize("entry", [
    {"$t": "np", "dtype": "int8", "v": 1_000_000},
    {"$t": "np", "dtype": "datetime64[ns]", "v": 2**70},
    {"$t": "ts", "v": "garbage"},
    {"$t": "date", "v": "x"},
    {"$t": "td", "v": 2**70},
    {"$t": "rng", "bit_generator": "MT19937", "state": {"$t": "dict", "k": [], "v": []}},
    {"$t": "cells", "columns": [], "index_names": [None], "index": [], "dtypes": [], "data": [],
     "series_name": "s"},
])
def test_a_hostile_entry_raises_bad_data_and_nothing_else(tmp_path, entry):
    """Anything else would end the whole capture instead of marking one answer unreadable."""
    with pytest.raises(BadData):
        Reader(str(tmp_path)).decode(entry)


def test_a_name_with_a_trailing_newline_is_refused(tmp_path):
    (tmp_path / "a1.json\n").write_text("{}")
    with pytest.raises(BadData):
        Reader(str(tmp_path)).read_bytes("a1.json\n")
