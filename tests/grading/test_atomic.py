"""A file written atomically is whole or absent: no temporary file is left when it fails."""

from __future__ import annotations

import stat

import pytest

from grading.atomic import write_atomically


def test_the_file_is_replaced_whole_with_its_mode(tmp_path) -> None:
    dest = tmp_path / "record.json"
    dest.write_text("old")
    write_atomically(dest, b"new", mode=0o600, sync=True)
    assert dest.read_bytes() == b"new"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_failed_write_leaves_the_old_state_and_no_temporary_file(tmp_path) -> None:
    dest = tmp_path / "page.html"
    dest.mkdir()  # the rename onto a folder fails after the data is written
    with pytest.raises(OSError):
        write_atomically(dest, b"data")
    assert dest.is_dir() and [p.name for p in tmp_path.iterdir()] == ["page.html"]
