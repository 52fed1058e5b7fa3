"""The command line, as a learner meets it: ``python -m synthetic_data ...`` in a fresh process.

Bad input must end with exit status 2 and one sentence on stderr (no traceback), and must leave
the file system exactly as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic_data.output.schema import TABLES, VIEWS

OPTIONS = ("--scale", "--seed", "--out", "--region", "--start", "--end", "--format")
FOLDERS = ("identifiable/", "reference/", "answer_key/")
TINY_ARGS = ("--scale", "0.01", "--region", "wales", "--start", "2016-04", "--end", "2017-03")


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthetic_data", *args], cwd=cwd, capture_output=True,
        text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (relative) with its bytes, or None for directories."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


# ------------------------------------------------------------------------------------ help


def test_top_level_help_lists_commands(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("generate", "tables", "dictionary", "report"):
        assert command in result.stdout


def test_top_level_help_mentions_options_and_folders(tmp_path):
    # A learner's first command is ``--help``: it should say what generate takes and writes.
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    missing = [o for o in OPTIONS + FOLDERS if o not in result.stdout]
    assert not missing, f"top-level --help does not mention {missing}"


def test_generate_help_mentions_every_option_and_folder(tmp_path):
    result = run("generate", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    missing = [o for o in OPTIONS + FOLDERS if o not in result.stdout]
    assert not missing, f"generate --help does not mention {missing}"
    assert result.stderr == ""


# ------------------------------------------------------------------------------ bad input

# (arguments other than --out, texts the one-line message must contain)
BAD_VALUES = [
    (("--scale", "0"), ("--scale", "got 0")),
    (("--scale", "-1"), ("--scale", "-1")),
    (("--scale", "nan"), ("--scale", "nan")),
    (("--region", "scotland"), ("--region", "scotland")),
    (("--start", "2020-01", "--end", "2019-12"), ("2020-01", "2019-12")),
    (("--start", "2020-13"), ("--start", "2020-13")),
    (("--format", "xlsx"), ("--format", "xlsx")),
]


def assert_one_line_error(result: subprocess.CompletedProcess, *names: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    for name in names:
        assert name in lines[0], f"{name!r} not named in {lines[0]!r}"
    assert "wrote" not in result.stdout


def assert_no_staging_left(folder: Path) -> None:
    leftovers = [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    assert not leftovers, leftovers


@pytest.mark.parametrize(("args", "names"), BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_bad_values_exit_2_with_one_line_and_write_nothing(tmp_path, args, names):
    result = run("generate", "--quiet", "--out", "new/data", *args, cwd=tmp_path)
    assert_one_line_error(result, *names)
    assert not (tmp_path / "new").exists(), "the parent of --out was created"
    assert list(tmp_path.iterdir()) == []


def test_out_is_an_existing_file(tmp_path):
    target = tmp_path / "data.csv"
    target.write_text("a,b\n1,2\n")
    before = snapshot(tmp_path)
    result = run("generate", "--quiet", "--out", "data.csv", *TINY_ARGS, cwd=tmp_path)
    assert_one_line_error(result, "--out", "data.csv")
    assert snapshot(tmp_path) == before


def test_out_holds_unrelated_files(tmp_path):
    folder = tmp_path / "mywork"
    folder.mkdir()
    (folder / "notes.txt").write_text("do not delete")
    before = snapshot(tmp_path)
    result = run("generate", "--quiet", "--out", "mywork", *TINY_ARGS, cwd=tmp_path)
    assert_one_line_error(result, "--out", "mywork", "notes.txt")
    assert snapshot(tmp_path) == before
    assert_no_staging_left(tmp_path)


@pytest.mark.parametrize("mode", [0o644, 0o755], ids=["plain_file", "executable_file"])
def test_out_below_a_file(tmp_path, mode):
    # A path below a file can never be created, whatever the permissions (root included).
    blocker = tmp_path / "notes"
    blocker.write_text("a file, not a folder")
    blocker.chmod(mode)
    before = snapshot(tmp_path)
    result = run("generate", "--quiet", "--out", "notes/sub/data", *TINY_ARGS, cwd=tmp_path)
    assert_one_line_error(result, "notes")
    assert snapshot(tmp_path) == before


def test_out_under_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        probe = locked / "probe"
        try:
            probe.mkdir()
        except PermissionError:
            pass
        else:
            probe.rmdir()
            pytest.skip("permissions are not enforced for this user (root)")
        result = run("generate", "--quiet", "--out", "locked/data", *TINY_ARGS, cwd=tmp_path)
        assert_one_line_error(result, "locked")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# ------------------------------------------------------------------- other commands


def test_tables_lists_every_table_with_its_folder(tmp_path):
    result = run("tables", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == [f"{t.view}/{t.name}" for t in TABLES]


def test_dictionary_prints_a_section_per_table(tmp_path):
    result = run("dictionary", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    headings = [line[4:].strip() for line in result.stdout.splitlines()
                if line.startswith("### ")]
    assert headings == [t.name for t in sorted(TABLES, key=lambda t: _VIEW_ORDER[t.view])]


_VIEW_ORDER = {view: i for i, view in enumerate(VIEWS)}


def test_dictionary_out_writes_the_same_text(tmp_path):
    printed = run("dictionary", cwd=tmp_path).stdout
    result = run("dictionary", "--out", "dict.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dict.md").read_text(encoding="utf-8").strip() == printed.strip()


def test_tiny_generate_succeeds_and_says_what_it_wrote(tmp_path):
    result = run("generate", "--quiet", "--out", "data", *TINY_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wrote data ("), result.stdout
    assert "data_dictionary.md" in lines[0]
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text(encoding="utf-8"))
    rows = manifest["row_counts"]
    assert f"({sum(rows.values()):,} rows in {len(rows)} tables)" in lines[0]
    assert len(rows) == len(TABLES)
    for folder in FOLDERS:
        assert (tmp_path / "data" / folder).is_dir()
    assert "Traceback" not in result.stderr
    assert_no_staging_left(tmp_path)


def test_dictionary_out_creates_missing_folders(tmp_path):
    result = run("dictionary", "--out", "docs/data/dictionary.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote docs/data/dictionary.md"
    text = (tmp_path / "docs" / "data" / "dictionary.md").read_text(encoding="utf-8")
    assert text.startswith("# Data dictionary")


@pytest.mark.parametrize(("out", "names"), [
    ("notes/sub/dictionary.md", ("notes", "is a file")),
    ("docs", ("--out docs", "is a folder")),
], ids=["below_a_file", "a_folder"])
def test_dictionary_out_that_cannot_be_written_is_one_line(tmp_path, out, names):
    (tmp_path / "notes").write_text("a file, not a folder")
    (tmp_path / "docs").mkdir()
    before = snapshot(tmp_path)
    result = run("dictionary", "--out", out, cwd=tmp_path)
    assert_one_line_error(result, *names)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------ usage errors name the command

# (command and its valid arguments, the mistyped option)
MISTYPED = [
    (("generate", "--out", "data"), "--sclae"),
    (("report",), "--dta"),
    (("dictionary",), "--output"),
    (("tables",), "--all"),
]


def test_mistyped_options_abbreviate_no_real_option():
    # argparse takes a prefix of an option as that option, which would run the command.
    from synthetic_data.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert sorted(c[0] for c, _ in MISTYPED) == sorted(commands)
    for (command, *_), typo in MISTYPED:
        options = [o for action in commands[command]._actions for o in action.option_strings]
        assert not [o for o in options if o.startswith(typo)], f"{typo} abbreviates an option of {command}"


@pytest.mark.parametrize(("command", "typo"), MISTYPED, ids=[c[0] for c, _ in MISTYPED])
def test_mistyped_option_prints_that_commands_usage_and_one_error(tmp_path, command, typo):
    result = run(*command, typo, "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    prog = f"python -m synthetic_data {command[0]}"
    assert result.stderr.startswith(f"usage: {prog} "), result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [f"{prog}: error: unrecognized arguments: {typo} 1"], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path):
    from importlib.metadata import version

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"python -m synthetic_data {version('family-justice-data-training')}"
