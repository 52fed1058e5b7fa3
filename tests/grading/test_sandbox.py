"""Which grading accounts could read the answer key: grading with --sandbox-user refuses a
dataset whose answer key a learner's kernel, running as one of those accounts, could open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grading.sandbox import Account, answer_key_readers

NOBODY = Account("nobody", 65534, 65534)


@pytest.mark.parametrize(("mode", "gid", "readable"), [
    (0o755, 0, True),          # open to all: the dataset as generated
    (0o705, 0, True),          # others may read and enter
    (0o750, 0, False),         # the workshop server: a group the account is not in
    (0o700, 0, False),         # root only
    (0o750, NOBODY.gid, True),  # the account's own group may read it
    (0o710, NOBODY.gid, False),  # the group may pass through but not list or read
])
def test_answer_key_readers(tmp_path: Path, mode: int, gid: int, readable: bool) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a folder's group needs root")
    key = tmp_path / "answer_key"
    key.mkdir()
    os.chown(key, 0, gid)
    key.chmod(mode)
    assert answer_key_readers(tmp_path, [NOBODY]) == (["nobody"] if readable else [])


def test_no_answer_key_means_nobody_reads_it(tmp_path: Path) -> None:
    assert answer_key_readers(tmp_path, [NOBODY]) == []
