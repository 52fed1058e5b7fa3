"""The trusted replay runs the source notebook's own code, takes a learner's answers across as
data, copies only plain data files the learner wrote, and shows a learner no more of a failed
check than the author's message or the error's name."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grading import replay
from grading.boundary_data import Unavailable
from grading.replay import _data_files, _read_plain, bound_names, read_plan
from grading.trusted import (
    LEARNER_MODULE,
    LearnerError,
    LearnerTimeout,
    learner_module_source,
    learner_program,
    shown_message,
)

# --------------------------------------------------------------------------- bound_names

BINDING_SOURCE = """\
import os
from collections import Counter as C, OrderedDict
import os.path
a = 1
b, (c, *d) = 1, (2, 3, 4)
[e, f] = [5, 6]
g += 1
h: int = 2
i: int
x.attr = 1
y[0] = 2
for j, k in []:
    l = j
else:
    m = 0
with open("f") as n, open("g") as (o, p):
    q = 1
if a:
    r = 1
elif b:
    s = 2
else:
    t = 3
while False:
    u = 1
try:
    v = 1
    import json
except ValueError as err:
    w = 2
else:
    z = 3
finally:
    aa = 4
def func():
    inner = 1
async def afunc():
    pass
class Klass:
    member = 1
bb = (cc := 5) + 1
print(dd := 6)
ee = ff = 0
"""


def test_bound_names_finds_every_top_level_binding():
    """The names an answer cell binds are the answer: a name missed is an answer never checked."""
    names, imports = bound_names(BINDING_SOURCE)
    assert names == ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p",
                     "q", "r", "s", "t", "u", "v", "w", "z", "aa", "func", "afunc", "Klass", "bb", "cc",
                     "dd", "ee", "ff"]
    assert imports == ["import os", "from collections import Counter as C, OrderedDict",
                       "import os.path", "import json"]
    for not_a_name in ("os", "C", "OrderedDict", "json", "inner", "member", "x", "y", "attr", "err"):
        assert not_a_name not in names


def test_bound_names_of_broken_source():
    assert bound_names("def broken(:\n    pass") == ([], [])
    assert bound_names("") == ([], [])


# --------------------------------------------------------------------------- read_plan

def grading_cell(source: str, grade_id: str, *, solution: bool, grade: bool):
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution,
            "schema_version": 3, "task": False}
    if grade:
        meta["points"] = 1
    return new_code_cell(source, metadata={"nbgrader": meta})


ANSWER = """\
import math
totals = None
### BEGIN SOLUTION
import statistics as stats
from collections import Counter
try:
    import tomllib
except ImportError:
    tomllib = None
totals = [sum(row) for row in data]
mean = stats.mean(totals)
data = [row[:] for row in data]
counts = Counter(totals)
def double(x):
    return 2 * x
### END SOLUTION
totals"""

TEST = """\
assert totals is not None, "totals is still None."
### BEGIN HIDDEN TESTS
assert totals == [3, 7], "the totals are wrong."
assert double(21) == 42
### END HIDDEN TESTS"""


def write_source(folder: Path) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("# Totals"),
        new_code_cell("import pandas as pd\ndata = [[1, 2], [3, 4]]"),
        grading_cell("threshold = 10", "setup_locked", solution=False, grade=False),
        grading_cell(ANSWER, "totals", solution=True, grade=False),
        grading_cell(TEST, "totals_test", solution=False, grade=True),
    ])
    path = folder / "source.ipynb"
    nbformat.write(nb, path)
    return path


def test_read_plan_from_the_source_notebook(tmp_path):
    """The plan decides what the trusted side runs and which names it takes across: set-up
    names stay the source's, imports are re-run (not taken as answers), hidden tests are kept."""
    steps = read_plan(write_source(tmp_path))
    assert [(s.kind, s.grade_id) for s in steps] == [
        ("code", ""), ("code", "setup_locked"), ("answer", "totals"), ("test", "totals_test")]
    answer = steps[2]
    assert answer.names == ["totals", "mean", "counts", "double"]
    assert "data" not in answer.names  # bound by the set-up cell: the source's own value is used
    for imported in ("math", "stats", "Counter", "tomllib"):  # also when assigned as a fallback
        assert imported not in answer.names
    assert answer.imports.splitlines() == [
        "import math", "import statistics as stats", "from collections import Counter", "import tomllib"]
    assert answer.source == ""  # the solution itself is never run on the trusted side
    test = steps[3]
    assert test.source == TEST
    assert "assert double(21) == 42" in test.source
    assert steps[0].source.startswith("import pandas as pd")


# --------------------------------------------------------------------------- data files

def test_data_files_found_and_read(tmp_path):
    (tmp_path / "out" / "tables").mkdir(parents=True)
    files = {"request.json": b"{}", "out/table.csv": b"a,b\n1,2\n", "out/tables/t 1.parquet": b"PAR1"}
    for rel, data in files.items():
        (tmp_path / rel).write_bytes(data)
    found = _data_files(tmp_path)
    assert set(found) == set(files)
    assert found["request.json"][0] == 2
    for rel, data in files.items():
        assert _read_plain(tmp_path, rel) == data


def test_data_files_skip_links_code_and_odd_names(tmp_path, monkeypatch):
    """A learner could plant a link to a secret, a hard link to a file outside, or code: the
    trusted side must copy none of them."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "key.json").write_text('{"expected": 1234567}')
    (outside / "other.json").write_text('{"expected": 7654321}')
    work = tmp_path / "work"
    work.mkdir()
    (work / "passwd.txt").symlink_to("/etc/passwd")
    (work / "key.json").symlink_to(outside / "key.json")
    (work / "linked").symlink_to(outside, target_is_directory=True)
    os.link(outside / "other.json", work / "hard.json")
    (work / "pandas.py").write_text("raise SystemExit")
    (work / "big.csv").write_bytes(b"x" * 200)
    for odd in (".hidden.json", "-dash.json", "tab\tname.json", "new\nline.json"):
        (work / odd).write_text("{}")
    (work / "ok.json").write_text("{}")
    monkeypatch.setattr(replay, "MAX_COPIED_FILE", 100)
    assert set(_data_files(work)) == {"ok.json"}
    for rel in ("key.json", "hard.json", "big.csv", "linked/key.json"):
        assert _read_plain(work, rel) is None, rel
    monkeypatch.setattr(replay, "MAX_COPIED_FILE", 50 * 2**20)
    assert _read_plain(work, "passwd.txt") is None
    assert _read_plain(work, "big.csv") == b"x" * 200


def test_read_plain_follows_no_link_anywhere_on_the_path(tmp_path):
    outside = tmp_path / "outside" / "deep"
    outside.mkdir(parents=True)
    (outside / "key.json").write_text("secret")
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    (work / "out" / "deep").symlink_to(outside, target_is_directory=True)
    assert _read_plain(work, "out/deep/key.json") is None
    assert "out/deep/key.json" not in _data_files(work)


# --------------------------------------------------------------------------- shown_message

def raised(source: str, filename: str = "<ipython-input-3-0a1b2c>", namespace: dict | None = None):
    try:
        exec(compile(source, filename, "exec"), {} if namespace is None else namespace)
    except BaseException as err:  # noqa: BLE001
        return err
    raise AssertionError("the code did not raise")


def test_the_authors_assert_message_is_shown():
    error = raised('assert 1 + 1 == 3, "the totals are wrong."')
    assert shown_message(error) == "the totals are wrong."
    assert shown_message(raised("assert 1 + 1 == 3")) == "a check failed"


def test_a_library_assertion_shows_no_values():
    """``assert_frame_equal`` quotes both frames: the expected values are the answer key."""
    namespace = {"pd": pd, "answer": pd.DataFrame({"n": [111111]}), "expected": pd.DataFrame({"n": [987654]})}
    error = raised("pd.testing.assert_frame_equal(answer, expected)", namespace=namespace)
    assert isinstance(error, AssertionError) and "987654" in str(error)
    shown = shown_message(error)
    assert shown.startswith("AssertionError")
    for secret in ("987654", "111111", "column", "values"):
        assert secret not in shown


def test_an_assert_outside_the_test_cell_shows_no_message():
    error = raised('assert False, "expected 987654"', filename="/srv/helpers/check.py")
    assert "987654" not in shown_message(error)


def test_other_errors_show_their_name_only():
    error = raised('row = {}\nrow["secret_column_name"]')
    assert isinstance(error, KeyError)
    shown = shown_message(error)
    assert shown.startswith("KeyError") and "secret_column_name" not in shown
    shown = shown_message(raised('int("987654 is the expected total")'))
    assert shown.startswith("ValueError") and "987654" not in shown
    assert "987654" not in shown_message(raised('raise TypeError("987654")'))


def test_messages_about_the_learners_own_code_are_shown():
    assert shown_message(raised("totals")) == "NameError: name 'totals' is not defined"
    assert shown_message(LearnerError("double(...) raised ZeroDivisionError: division by zero")) == \
        "double(...) raised ZeroDivisionError: division by zero"
    assert "ran for more than 5 s" in shown_message(LearnerTimeout("double ran for more than 5 s"))
    model = Unavailable("model", "sklearn.pipeline.Pipeline", "not data")
    shown = shown_message(raised("model.predict([[1]])", namespace={"model": model}))
    assert shown.startswith("model is a sklearn.pipeline.Pipeline")


# --------------------------------------------------------------------------- learner_program

def test_learner_program_binds_nothing_in_the_learners_namespace():
    """The program runs in the learner's kernel: it must leave no name there (a name could
    shadow an answer) and install the module under its own name only."""
    install = learner_program("FUNCTIONS.clear()", install=True)
    again = learner_program("FUNCTIONS.clear()", install=False)
    assert repr(learner_module_source()) in install
    assert repr(learner_module_source()) not in again and len(again) < 300 < len(install)
    previous = sys.modules.get(LEARNER_MODULE)
    try:
        namespace: dict = {}
        exec(install, namespace)
        assert set(namespace) == {"__builtins__"}
        module = sys.modules[LEARNER_MODULE]
        module.FUNCTIONS[("a1", "double")] = len
        namespace = {}
        exec(again, namespace)
        assert set(namespace) == {"__builtins__"}
        assert module.FUNCTIONS == {}
        assert callable(module.export) and callable(module.serve) and module.Writer is not None
    finally:
        if previous is None:
            sys.modules.pop(LEARNER_MODULE, None)
        else:
            sys.modules[LEARNER_MODULE] = previous


def test_walrus_binds_in_conditions_and_comprehensions_but_not_in_lambdas():
    names, _ = bound_names("if (n := 10) > 5:\n    pass\nf = lambda: (q := 1)\n[y := i for i in range(2)]\n"
                           "while (w := 0):\n    pass\nfor v in (m := [1]):\n    pass")
    assert names == ["n", "f", "y", "w", "v", "m"]


def test_a_learner_error_never_echoes_its_message():
    """A learner's function could raise with repr() of a hidden test's inputs: only the type
    reaches the feedback."""
    from grading.trusted import LearnerError, LearnerFunction, shown_message

    class Kernel:
        folder = "."

        def call(self, *args):
            return {"ok": False, "type": "ValueError", "message": "SECRET-INPUT-0451"}

    function = LearnerFunction(Kernel(), "a1", "soundex")
    with pytest.raises(ValueError) as caught:
        function("Robert")
    assert isinstance(caught.value, LearnerError)
    shown = shown_message(caught.value)
    assert "SECRET-INPUT-0451" not in shown and "soundex" in shown and "ValueError" in shown


@pytest.mark.integration
def test_hidden_tests_never_reach_the_learners_kernel_even_when_the_replay_fails(tmp_path):
    """A learner who makes the trusted replay fail (a function that runs out its time, again
    and again) must not get the old behaviour back: the test cells then score zero, and their
    hidden part still never runs in the learner's kernel."""
    from nbformat.v4 import new_notebook

    from grading.execute import GradingExecute

    test = new_code_cell("assert x == 1, 'x is wrong'\n### BEGIN HIDDEN TESTS\nprint('HIDDEN-RAN')\n"
                         "assert x == 1, 'hidden'\n### END HIDDEN TESTS",
                         metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 1, "locked": True}})
    nb = new_notebook(cells=[new_code_cell("x = 1"), test])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}

    def broken(_connection_file):
        raise replay.ReplayError("the trusted grader did not start")

    executor = GradingExecute(timeout=30)
    executor.replay_factory = broken
    executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    outputs = str(nb.cells[1].outputs)
    assert "HIDDEN-RAN" not in outputs
    assert nb.cells[1].outputs and nb.cells[1].outputs[0]["output_type"] == "error"
    assert "trusted grader" in outputs
    assert "### BEGIN HIDDEN TESTS" in nb.cells[1].source  # the cell itself is kept whole


def test_a_grade_id_the_source_does_not_have_ahead_runs_nothing():
    """A submission can label a cell of its own as a check, or move one: the replay must not run
    the source's set-up cells out of order looking for it."""
    sent = []
    trusted = object.__new__(replay.TrustedReplay)
    trusted.steps = [replay.Step("code", source="a = 1"), replay.Step("answer", "q1", names=["x"]),
                     replay.Step("code", source="b = 2"), replay.Step("test", "q1_test", source="assert x")]
    trusted.position = 0
    trusted._request = lambda request, timeout: sent.append(request) or {"ok": True}
    trusted._limit = lambda: 1.0
    assert trusted._advance("made_up") is None and sent == []
    assert trusted._advance("q1_test").grade_id == "q1_test"
    assert [r["source"] for r in sent] == ["a = 1", "b = 2"]
    assert trusted._advance("q1") is None and len(sent) == 2  # behind us now: nothing re-run
