"""The fixture set of broken submissions: at least 30 ways a learner's submission can go wrong.

Each case turns the learner version of ``orientation_01_counting_cases`` (filled in with the
right answers) into a submission folder, and names the status autograde must give it. Built
from the fresh release at test time, so they never fall out of step with the fixture course.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT = "orientation_01_counting_cases"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


@dataclass(frozen=True)
class Case:
    name: str
    statuses: frozenset[str]
    make: Callable[[dict, Path], None]
    runs_kernel: bool = True


def _write(nb: dict, folder: Path, name: str = NOTEBOOK) -> None:
    (folder / name).write_text(json.dumps(nb), encoding="utf-8")


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _answer(code: str, grade_id: str = "children_count") -> Callable[[dict, Path], None]:
    """The right notebook, with one answer cell replaced by ``code``."""
    def make(nb: dict, folder: Path) -> None:
        nb = copy.deepcopy(nb)
        _cell(nb, grade_id)["source"] = code
        _write(nb, folder)
    return make


def _edit(change: Callable[[dict], None]) -> Callable[[dict, Path], None]:
    def make(nb: dict, folder: Path) -> None:
        nb = copy.deepcopy(nb)
        change(nb)
        _write(nb, folder)
    return make


def _raw(data: bytes) -> Callable[[dict, Path], None]:
    def make(nb: dict, folder: Path) -> None:
        (folder / NOTEBOOK).write_bytes(data)
    return make


def _drop(grade_id: str) -> Callable[[dict], None]:
    return lambda nb: nb["cells"].remove(_cell(nb, grade_id))


def _retype(grade_id: str, to: str) -> Callable[[dict], None]:
    def change(nb: dict) -> None:
        cell = _cell(nb, grade_id)
        cell["cell_type"] = to
        if to == "markdown":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        else:
            cell["outputs"], cell["execution_count"] = [], None
    return change


def _meta(grade_id: str, **changes: object) -> Callable[[dict], None]:
    def change(nb: dict) -> None:
        meta = _cell(nb, grade_id)["metadata"]["nbgrader"]
        for key, value in changes.items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
    return change


def _strip_all_metadata(nb: dict) -> None:
    for cell in nb["cells"]:
        cell["metadata"] = {}


def _strip_one(grade_id: str) -> Callable[[dict], None]:
    return lambda nb: _cell(nb, grade_id).__setitem__("metadata", {})


def _duplicate(grade_id: str) -> Callable[[dict], None]:
    def change(nb: dict) -> None:
        cell = _cell(nb, grade_id)
        nb["cells"].insert(nb["cells"].index(cell) + 1, copy.deepcopy(cell))
    return change


def _renamed(nb: dict, folder: Path) -> None:
    _write(nb, folder, "my_answers.ipynb")


def _empty(nb: dict, folder: Path) -> None:
    (folder / "notes.txt").write_text("I ran out of time\n")


def _symlinked(nb: dict, folder: Path) -> None:
    target = folder.parent.parent / "alice" / ASSIGNMENT / NOTEBOOK
    os.symlink(target, folder / NOTEBOOK)


def _with_symlink(nb: dict, folder: Path) -> None:
    _write(nb, folder)
    os.symlink("/etc/passwd", folder / "passwd.txt")


CASES: list[Case] = [
    # Not notebooks at all.
    Case("invalid_json", frozenset({"invalid_notebook"}), _raw(b'{"cells": [{"cell_type": "code",'), False),
    Case("empty_file", frozenset({"invalid_notebook"}), _raw(b""), False),
    Case("json_list", frozenset({"invalid_notebook"}), _raw(b"[1, 2, 3]"), False),
    Case("binary_garbage", frozenset({"invalid_notebook"}), _raw(bytes(range(256)) * 4), False),
    Case("future_nbformat", frozenset({"invalid_notebook"}),
         _raw(json.dumps({"cells": [], "metadata": {}, "nbformat": 99, "nbformat_minor": 0}).encode()),
         False),
    Case("cells_not_a_list", frozenset({"invalid_notebook"}),
         _raw(json.dumps({"cells": "none", "metadata": {}, "nbformat": 4, "nbformat_minor": 4}).encode()),
         False),
    # Missing notebooks.
    Case("renamed_notebook", frozenset({"missing_notebook"}), _renamed, False),
    Case("no_notebook", frozenset({"missing_notebook"}), _empty, False),
    Case("notebook_is_a_symlink", frozenset({"missing_notebook"}), _symlinked, False),
    # Deleted, re-typed, edited cells and damaged metadata.
    Case("deleted_test_cell", frozenset({"cells_restored"}), _edit(_drop("public_count_test"))),
    Case("deleted_answer_cell", frozenset({"cells_restored"}), _edit(_drop("children_count"))),
    Case("deleted_written_answer", frozenset({"cells_restored"}), _edit(_drop("interpretation"))),
    Case("retyped_test_cell", frozenset({"cells_restored"}),
         _edit(_retype("children_count_test", "markdown"))),
    Case("retyped_answer_cell", frozenset({"cells_restored"}), _edit(_retype("public_count", "markdown"))),
    Case("edited_test_cell", frozenset({"cells_restored"}),
         _edit(lambda nb: _cell(nb, "public_count_test").__setitem__("source", "pass"))),
    Case("unlocked_test_cell", frozenset({"graded", "cells_restored"}),
         _edit(_meta("children_count_test", locked=False))),
    Case("changed_points", frozenset({"cells_restored"}), _edit(_meta("public_count_test", points=100))),
    Case("duplicated_answer_cell", frozenset({"cells_restored"}), _edit(_duplicate("public_count"))),
    Case("metadata_of_one_cell_removed", frozenset({"cells_restored"}),
         _edit(_strip_one("children_count_test"))),
    Case("all_metadata_removed", frozenset({"cells_restored", "invalid_metadata"}),
         _edit(_strip_all_metadata)),
    Case("corrupt_points", frozenset({"invalid_metadata"}), _edit(_meta("public_count_test", points="lots"))),
    Case("no_kernelspec", frozenset({"graded"}), _edit(lambda nb: nb.__setitem__("metadata", {}))),
    Case("other_kernel", frozenset({"graded"}), _edit(lambda nb: nb["metadata"].__setitem__(
        "kernelspec", {"name": "ir", "display_name": "R", "language": "R"}))),
    # Code that misbehaves.
    Case("infinite_loop", frozenset({"timeout"}), _answer("while True:\n    pass")),
    Case("loop_ignoring_interrupts", frozenset({"timeout"}), _answer(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n    time.sleep(0.1)")),
    Case("kernel_exits", frozenset({"kernel_died"}), _answer("import os\nos._exit(3)")),
    Case("kernel_segfaults", frozenset({"kernel_died"}), _answer("import ctypes\nctypes.string_at(0)")),
    Case("memory_bomb", frozenset({"graded"}), _answer("hog = bytearray(64 * 2**30)\nn_children = None")),
    Case("enormous_output", frozenset({"truncated_output"}), _answer('print("x" * 3_000_000)')),
    Case("endless_printing", frozenset({"truncated_output", "timeout"}), _answer(
        "for i in range(100_000):\n    print(i, 'the same line again and again')")),
    Case("deletes_its_files", frozenset({"touched_files"}), _answer(
        "import os\nfor f in os.listdir('.'):\n    os.remove(f)")),
    Case("removes_its_folder", frozenset({"touched_files"}), _answer(
        "import os, shutil\nshutil.rmtree(os.getcwd(), ignore_errors=True)")),
    Case("writes_a_huge_file", frozenset({"touched_files"}), _answer(
        "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (300 * 2**20))")),
    Case("reads_the_answer_key", frozenset({"needs_review"}), _answer(
        'key = load("cafcass_person_key")\nn_children = None')),
    Case("opens_answer_key_path", frozenset({"needs_review"}), _answer(
        'import os\nprint(os.listdir(os.environ["FJ_DATA_DIR"] + "/answer_key"))')),
    Case("reads_other_learners", frozenset({"needs_review"}), _answer(
        "import glob\nprint(glob.glob('../../submitted/*/*/*.ipynb'))")),
    Case("prints_input_history", frozenset({"needs_review"}), _answer("print(In)")),
    Case("raises_an_error", frozenset({"graded"}), _answer("raise ValueError('not finished')")),
    Case("syntax_error", frozenset({"graded"}), _answer("n_children = (")),
    Case("writes_to_stderr", frozenset({"graded"}), _answer("import sys\nprint('oops', file=sys.stderr)")),
    Case("symlink_beside_notebook", frozenset({"graded"}), _with_symlink),
]
