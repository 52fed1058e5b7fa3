"""Writing a dataset: determinism, the manifest, all-or-nothing output, types and the dictionary."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import synthetic_data
from synthetic_data.api import TABLE_NAMES, generate, load
from synthetic_data.core.errors import InputError
from synthetic_data.core.params import PARAM_FILES, PARAMS_DIR
from synthetic_data.output.dictionary import render_dictionary
from synthetic_data.output.schema import TABLES, TABLES_BY_NAME, VIEWS
from synthetic_data.output.writers import DatasetWriter

generate_module = importlib.import_module("synthetic_data.pipeline")  # the module, not the function

# Smaller than the session's tiny dataset: these tests generate several datasets of their own.
MINI = {"scale": 0.01, "region": "wales", "start": "2016-04", "end": "2017-03"}
ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "string": pa.string(),
               "date": pa.date32(), "bool": pa.bool_()}
# Tables that depend only on the map of authorities and areas, not on the seed.
SEED_FREE = {"local_authorities", "dfj_areas", "lsoa"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_files(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative posix path), the manifest included.

    DuckDB databases are compared by content in test_databases, not by bytes."""
    return {p.relative_to(folder).as_posix(): sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".duckdb"}


def siblings_left_behind(folder: Path) -> list[str]:
    return [p.name for p in folder.parent.iterdir()
            if ".partial-" in p.name or ".old-" in p.name]


# -------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files_in_process_and_from_the_cli(tmp_path):
    a = generate(tmp_path / "a", seed=7, formats=("parquet", "csv"), **MINI)
    cli = subprocess.run(
        [sys.executable, "-m", "synthetic_data", "generate", "--quiet", "--out", "b",
         "--seed", "7", "--format", "parquet,csv", "--scale", str(MINI["scale"]),
         "--region", MINI["region"], "--start", MINI["start"], "--end", MINI["end"]],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert cli.returncode == 0, cli.stderr
    b = tmp_path / "b"
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    hashes_a, hashes_b = data_files(a), data_files(b)
    assert hashes_a == hashes_b
    assert any(name.endswith(".csv") for name in hashes_a)
    assert any(name.endswith(".parquet") for name in hashes_a)


def test_different_seed_gives_different_data(tmp_path):
    folder_a = generate(tmp_path / "a", seed=1, **MINI)
    folder_b = generate(tmp_path / "b", seed=2, **MINI)
    a, b = data_files(folder_a), data_files(folder_b)
    assert a.keys() == b.keys()
    empty_in_both = 0
    for name in a:
        table_name = Path(name).stem
        if table_name in SEED_FREE or name == "data_dictionary.md":
            assert a[name] == b[name], f"{name} should not depend on the seed"
        elif name.endswith(".parquet") and not (pq.read_metadata(folder_a / name).num_rows
                                                or pq.read_metadata(folder_b / name).num_rows):
            empty_in_both += 1  # deaths are rare in this one-year, 1 % Welsh extract (and its TRE)
        else:
            assert a[name] != b[name], f"{name} is the same under seeds 1 and 2"
    assert empty_in_both <= 2


# ----------------------------------------------------------------------------- manifest


def test_manifest_describes_the_run(tiny_dataset, tiny_settings):
    manifest = json.loads((tiny_dataset / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == synthetic_data.__version__
    assert manifest["config"]["seed"] == tiny_settings["seed"]
    expected = {k: tiny_settings[k] for k in ("scale", "seed", "region", "start", "end")}
    assert {k: manifest["config"][k] for k in expected} == expected
    assert manifest["config"]["formats"] == ["parquet"]
    assert "out" not in manifest["config"], "where a dataset was written is not what it is"
    assert manifest["chunks"] == 1


def test_manifest_names_every_parameter_file_by_hash(tiny_dataset):
    manifest = json.loads((tiny_dataset / "manifest.json").read_text(encoding="utf-8"))
    digests = manifest["parameters_sha256"]
    yaml_files = sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))
    assert sorted(digests) == yaml_files
    assert set(PARAM_FILES) <= set(digests)
    for name, digest in digests.items():
        assert digest == sha256(PARAMS_DIR / f"{name}.yaml"), name


def test_manifest_row_counts_are_the_rows_in_the_files(tiny_dataset):
    manifest = json.loads((tiny_dataset / "manifest.json").read_text(encoding="utf-8"))
    rows = manifest["row_counts"]
    assert set(rows) == set(TABLE_NAMES)
    for spec in TABLES:
        path = tiny_dataset / spec.view / f"{spec.name}.parquet"
        assert pq.ParquetFile(path).metadata.num_rows == rows[spec.name], spec.name
    assert rows["cafcass_cases"] > 100, "the tiny dataset should hold a useful number of cases"


def test_manifest_file_hashes_match_the_files(tiny_dataset):
    manifest = json.loads((tiny_dataset / "manifest.json").read_text(encoding="utf-8"))
    on_disk = data_files(tiny_dataset)
    hashed = {k: v for k, v in on_disk.items()
              if k not in ("manifest.json", "data_dictionary.md")}
    assert manifest["files"] == hashed
    assert len(hashed) == len(TABLES)


# ---------------------------------------------------------------------------- atomicity


class Boom(RuntimeError):
    pass


def fail_after(monkeypatch, calls: int, exc: type[BaseException] = Boom) -> None:
    """Make DatasetWriter.write raise on its ``calls + 1``-th call, after real writes."""
    real = DatasetWriter.write
    count = {"n": 0}

    def write(self, name, frame):
        if count["n"] >= calls:
            raise exc("simulated failure while writing " + name)
        count["n"] += 1
        return real(self, name, frame)

    monkeypatch.setattr(DatasetWriter, "write", write)


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_failure_mid_run_leaves_no_folder(tmp_path, monkeypatch, exc):
    out = tmp_path / "data"
    fail_after(monkeypatch, 4, exc)
    with pytest.raises(exc):
        generate(out, **MINI)
    assert not out.exists()
    assert siblings_left_behind(out) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("step", ["cafcass_tables", "write_manifest"],
                         ids=["records_step", "manifest"])
def test_failure_in_a_pipeline_step_leaves_no_folder(tmp_path, monkeypatch, step):
    def broken(*args, **kwargs):
        raise Boom(f"{step} failed")

    monkeypatch.setattr(generate_module, step, broken)
    with pytest.raises(Boom):
        generate(tmp_path / "data", **MINI)
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_an_earlier_dataset_intact(tmp_path, monkeypatch):
    out = generate(tmp_path / "data", seed=1, formats=("parquet", "csv"), **MINI)
    before = data_files(out)
    fail_after(monkeypatch, 6)
    with pytest.raises(Boom):
        generate(out, seed=2, **MINI)
    assert data_files(out) == before
    assert siblings_left_behind(out) == []


def test_rerun_replaces_an_earlier_dataset(tmp_path):
    out = generate(tmp_path / "data", seed=1, formats=("parquet", "csv"), **MINI)
    (out / "identifiable" / "learner_scratch.txt").write_text("left by a learner")
    out = generate(out, seed=2, **MINI)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["seed"] == 2
    # Nothing of the earlier dataset survives: no CSVs, no stray file.
    assert not list(out.rglob("*.csv"))
    assert not (out / "identifiable" / "learner_scratch.txt").exists()
    hashed = {k for k in data_files(out) if k not in ("manifest.json", "data_dictionary.md")}
    assert hashed == set(manifest["files"])
    assert siblings_left_behind(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_written_table_matches_schema(tiny_dataset, name):
    spec = TABLES_BY_NAME[name]
    path = tiny_dataset / spec.view / f"{name}.parquet"
    assert path.is_file(), f"{name} not written to {spec.view}/"
    written = pq.read_table(path)
    assert written.schema.names == spec.column_names
    for col in spec.columns:
        field = written.schema.field(col.name)
        assert field.type == ARROW_TYPES[col.dtype], (col.name, field.type, col.dtype)
        if not col.nullable:
            assert written.column(col.name).null_count == 0, f"{name}.{col.name} has nulls"


def test_every_file_written_belongs_to_a_table_in_its_view(tiny_dataset):
    expected = {f"{t.view}/{t.name}.parquet" for t in TABLES}
    written = {p.relative_to(tiny_dataset).as_posix()
               for p in tiny_dataset.rglob("*.parquet")}
    assert written == expected
    assert sorted(p.name for p in tiny_dataset.iterdir() if p.is_dir()) == sorted(VIEWS)


@pytest.mark.slow
def test_classroom_dataset_matches_schema_and_manifest(classroom_dataset):
    manifest = json.loads((classroom_dataset / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["region"] == "both"
    assert manifest["chunks"] >= 1
    for spec in TABLES:
        written = pq.read_table(classroom_dataset / spec.view / f"{spec.name}.parquet")
        assert written.num_rows == manifest["row_counts"][spec.name], spec.name
        assert written.schema.names == spec.column_names, spec.name
        for col in spec.columns:
            assert written.schema.field(col.name).type == ARROW_TYPES[col.dtype], col.name
            if not col.nullable:
                assert written.column(col.name).null_count == 0, (spec.name, col.name)
    assert manifest["files"] == {
        k: v for k, v in data_files(classroom_dataset).items()
        if k not in ("manifest.json", "data_dictionary.md")}


# ------------------------------------------------------------------------------ load


def test_load_gives_dates_as_datetime64(tiny_dataset):
    for spec in TABLES:
        frame = load(spec.name, tiny_dataset)
        assert list(frame.columns) == spec.column_names
        assert len(frame) == pq.ParquetFile(
            tiny_dataset / spec.view / f"{spec.name}.parquet").metadata.num_rows
        for col in spec.columns:
            if col.dtype == "date":
                assert np.issubdtype(frame[col.name].dtype, np.datetime64), (spec.name, col.name)


def test_load_unknown_table_names_the_known_ones(tiny_dataset):
    with pytest.raises(InputError) as err:
        load("cafcass_kases", tiny_dataset)
    message = str(err.value)
    assert "cafcass_kases" in message
    assert "cafcass_cases" in message


def test_connect_opens_a_views_database_read_only(tiny_dataset):
    con = synthetic_data.connect("tre", tiny_dataset)
    try:
        rows = con.sql("SELECT count(*) FROM cafcass.cases").fetchone()[0]
        assert rows == len(load("tre_cafcass_cases", tiny_dataset))
        with pytest.raises(Exception, match="read-only"):
            con.execute("DELETE FROM cafcass.cases")
    finally:
        con.close()


def test_databases_hold_every_file_row_for_row(tiny_dataset):
    """The databases are loaded from the batches as they are written, not from the files:
    every table must still hold its file's rows, in order, with its description."""
    import duckdb

    from synthetic_data.output.databases import DATABASE_VIEWS, schema_and_table

    for view in DATABASE_VIEWS:
        con = duckdb.connect(str(tiny_dataset / view / f"{view}.duckdb"), read_only=True)
        try:
            held = {(s, t): c for s, t, c in con.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables()").fetchall()}
            expected = [spec for spec in TABLES if spec.view in (view, "reference")]
            assert len(held) == len(expected)
            for spec in expected:
                schema, name = schema_and_table(spec.name, spec.view)
                assert held[(schema, name)] == spec.description
                got = con.execute(f'SELECT * FROM "{schema}"."{name}" ORDER BY rowid').arrow()
                got = got.read_all() if hasattr(got, "read_all") else got
                want = pq.read_table(tiny_dataset / spec.view / f"{spec.name}.parquet")
                assert got.column_names == want.column_names, spec.name
                assert got.cast(want.schema).equals(want), spec.name
        finally:
            con.close()


def test_connect_names_the_views_when_one_is_unknown(tiny_dataset, tmp_path):
    with pytest.raises(InputError, match="identifiable, tre, answer_key"):
        synthetic_data.connect("secret", tiny_dataset)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match="does not exist"):
        synthetic_data.connect("answer_key", tmp_path)


def test_load_from_a_folder_without_manifest(tmp_path):
    (tmp_path / "identifiable").mkdir()
    with pytest.raises(InputError) as err:
        load("cafcass_cases", tmp_path)
    message = str(err.value)
    assert "manifest.json" in message
    assert "generate" in message
    assert str(tmp_path) in message


def test_load_of_a_table_whose_file_is_missing(tmp_path):
    out = generate(tmp_path / "data", **MINI)
    (out / "answer_key" / "world_people.parquet").unlink()
    with pytest.raises(InputError) as err:
        load("world_people", out)
    assert "world_people" in str(err.value)


# ------------------------------------------------------------------------ dictionary


def dictionary_sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


@pytest.mark.parametrize("source", ["rendered", "written"])
def test_dictionary_documents_every_table_and_column(tiny_dataset, source):
    text = (render_dictionary() if source == "rendered"
            else (tiny_dataset / "data_dictionary.md").read_text(encoding="utf-8"))
    sections = dictionary_sections(text)
    assert set(sections) == set(TABLE_NAMES)
    for spec in TABLES:
        section = sections[spec.name]
        documented = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
        assert documented == spec.column_names, spec.name
        for col in spec.columns:
            row = next(line for line in section.splitlines()
                       if line.startswith(f"| `{col.name}` |"))
            assert col.dtype in row
            assert ("may be empty" in row) == col.nullable, (spec.name, col.name)


def test_written_dictionary_is_the_rendered_one(tiny_dataset):
    assert (tiny_dataset / "data_dictionary.md").read_text(encoding="utf-8") == render_dictionary()


# --------------------------------------------------------------------- csv and parquet


@pytest.fixture(scope="module")
def csv_and_parquet(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("formats") / "data"
    return generate(out, seed=3, formats=("parquet", "csv"), **MINI)


@pytest.fixture(scope="module")
def csv_only(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("csv_only") / "data"
    return generate(out, seed=3, formats=("csv",), **MINI)


def read_csv_by_schema(path: Path, name: str) -> pd.DataFrame:
    """Read a CSV with the types its schema declares (what a careful analyst would do)."""
    spec = TABLES_BY_NAME[name]
    text_cols = {c.name: "string" for c in spec.columns if c.dtype in ("string", "date")}
    frame = pd.read_csv(path, dtype=text_cols, keep_default_na=False, na_values=[""])
    for col in spec.columns:
        if col.dtype == "date":
            frame[col.name] = pd.to_datetime(frame[col.name]).astype("datetime64[s]")
    return frame


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_csv_and_parquet_hold_the_same_data(csv_and_parquet, name):
    spec = TABLES_BY_NAME[name]
    parquet = pq.read_table(csv_and_parquet / spec.view / f"{name}.parquet").to_pandas()
    csv = read_csv_by_schema(csv_and_parquet / spec.view / f"{name}.csv", name)
    assert len(csv) == len(parquet)
    assert list(csv.columns) == list(parquet.columns)
    for col in spec.columns:
        a, b = parquet[col.name], csv[col.name]
        assert (a.isna().to_numpy() == b.isna().to_numpy()).all(), (name, col.name)
        present = a.notna().to_numpy()
        if col.dtype == "date":
            left = pd.to_datetime(a[present]).astype("datetime64[s]").to_numpy()
            assert (left == b[present].to_numpy()).all(), (name, col.name)
        elif col.dtype == "float":
            assert np.allclose(a[present].to_numpy(float), b[present].to_numpy(float)), col.name
        elif col.dtype == "bool":
            assert (a[present].astype(bool).to_numpy()
                    == b[present].astype(str).str.lower().eq("true").to_numpy()).all(), col.name
        elif col.dtype == "int":
            assert (a[present].to_numpy().astype(np.int64)
                    == b[present].to_numpy().astype(np.int64)).all(), (name, col.name)
        else:
            assert (a[present].astype(str).to_numpy()
                    == b[present].astype(str).to_numpy()).all(), (name, col.name)


def test_manifest_of_both_formats_hashes_both(csv_and_parquet):
    manifest = json.loads((csv_and_parquet / "manifest.json").read_text(encoding="utf-8"))
    for spec in TABLES:
        for fmt in ("parquet", "csv"):
            key = f"{spec.view}/{spec.name}.{fmt}"
            assert manifest["files"][key] == sha256(csv_and_parquet / key)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_load_gives_the_same_frame_from_csv_as_from_parquet(csv_and_parquet, csv_only, name):
    # Same seed and settings: the CSV-only dataset holds the same data; load() must read it
    # back with the schema's types (NHS numbers stay text, empty text columns stay text).
    from_parquet = load(name, csv_and_parquet)
    from_csv = load(name, csv_only)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
