"""Submissions that try to earn marks they did not earn, or to read hidden tests and the answer
key, graded in one batch as root with a pool of sandbox accounts, beside honest and blank
controls. Hidden tests run in the trusted replay (grading/trusted.py), never in the learner's
kernel, and the answer key is closed to the grading accounts, as on the workshop server.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grading import cells
from grading.check import TAMPER
from grading.settings import REPO
from tests.grading.attacks import ASSIGNMENT, write
from tests.grading.attacks.test_attacks import _kernel_python, _leftovers, _scores, pool  # noqa: F401
from tests.grading.conftest import DATA_DIR, copy_course, learner_version, solved

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = f"{ASSIGNMENT}.ipynb"
MARKER = Path("/root/fj-trusted-side-ran-learner-code")

# Each is appended to (or replaces) an answer cell of the *blank* notebook: any mark is a mark
# the attacker did not earn.
ONE_LINE = ('get_ipython().input_transformers_cleanup.append(lambda l: ["pass\\n"] '
            'if any("assert" in x for x in l) else l)')
AST_DROP = '''
import ast
class _Drop(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_Drop())
'''
REBIND = '''
class Any:
    def __eq__(self, other): return True
    __ne__ = lambda self, other: False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __bool__(self): return True
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
n_public = n_children = cases = parties = load = len = isinstance = int = Any()
'''
class_answer = '''
class Five(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
n_public = Five(5)
n_children = Five(5)
'''
FAKE_LOAD = '''
import synthetic_data, pandas as pd
_real = synthetic_data.load
def _fake(name, *a, **k):
    if "key" in name or "truth" in name:
        kids = parties[parties.party_role.eq("subject_child")]
        return pd.DataFrame({"cafcass_person_id": kids.cafcass_person_id.unique(), "person_id": 1})
    return _real(name, *a, **k)
synthetic_data.load = load = _fake
n_children = 1
'''
READ_KEY = '''
import base64
try:
    rows = load(base64.b64decode("Y2FmY2Fzc19wZXJzb25fa2V5").decode())
    print("KEY ROWS", rows.head(20).to_csv())
except Exception as err:
    print("no key:", type(err).__name__)
for name in ["answer_key/cafcass_person_key.parquet", "answer_key/answer_key.duckdb"]:
    try:
        print("KEY BYTES", open(os.path.join(os.environ["FJ_DATA_DIR"], name), "rb").read(200))
    except Exception as err:
        print("no key file:", type(err).__name__)
'''
SHOW_HIDDEN = '''
import base64
get_ipython().events.register(
    "pre_run_cell", lambda info: print("CELL", base64.b64encode(info.raw_cell.encode()).decode()))
'''
DUMP_HISTORY = 'print("HISTORY", base64.b64encode("\\n".join(_ih).encode()).decode(), list(globals()))'
# Plants links where the grader reads answers, and code where it might import it.
PLANT = f'''
import os, re
def _plant(lines):
    text = "".join(lines)
    found = re.search(r"(/[^'\\"]*boundary-[^'\\"]*)", text)
    if found:
        folder = found.group(1)
        for name in ["a1.json", "a1-1.parquet", "a2.json", "q1.json"]:
            try:
                os.symlink("/etc/shadow", os.path.join(folder, name))
            except OSError:
                pass
    return lines
get_ipython().input_transformers_cleanup.append(_plant)
for name in ["pandas.py", "json.py", "synthetic_data.py", "sitecustomize.py"]:
    open(name, "w").write("open({str(MARKER)!r}, 'w').write('ran')\\n")
os.makedirs("numpy", exist_ok=True)
open("numpy/__init__.py", "w").write("open({str(MARKER)!r}, 'w').write('ran')\\n")
os.symlink("/etc/shadow", "results.json")
'''

TAMPERING = {
    "t1_one_line": ONE_LINE,
    "t2_ast": AST_DROP,
    "t3_rebind": REBIND,
    "t4_int_subclass": class_answer,
    "t5_fake_load": FAKE_LOAD,
    "t6_read_key": READ_KEY + SHOW_HIDDEN,
    "t7_plant": PLANT,
    "t8_kit": TAMPER,
}


def _append(nb: dict, grade_id: str, code: str) -> dict:
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = source + "\n" + code
    return nb


def test_tampering_earns_nothing_and_shows_no_hidden_test(released, workspace, pool,  # noqa: F811
                                                          closed_data_dir) -> None:
    settings = copy_course(released, workspace / "tampering" / "course")
    data = closed_data_dir
    blank = learner_version(settings, ASSIGNMENT)
    for student, code in TAMPERING.items():
        write(settings.submitted(student, ASSIGNMENT), _append(blank, "public_count", code))
    history = _append(_append(blank, "public_count", SHOW_HIDDEN), "children_count", DUMP_HISTORY)
    write(settings.submitted("t9_history", ASSIGNMENT), history)
    right = solved(settings, ASSIGNMENT)
    write(settings.submitted("h1_honest", ASSIGNMENT), right)
    write(settings.submitted("h2_honest_with_one_line", ASSIGNMENT), _append(right, "public_count", ONE_LINE))
    write(settings.submitted("k1_blank", ASSIGNMENT), blank)
    MARKER.unlink(missing_ok=True)

    run = subprocess.run(
        [sys.executable, "-m", "grading", "--notebooks", str(settings.notebooks), "--course-dir",
         str(settings.course_dir), "--data-dir", str(data), "autograde", "--quiet", "--workers", "2",
         "--sandbox-user", ",".join(a.name for a in pool), "--kernel-python", _kernel_python(),
         "--timeout", "60"],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr

    statuses = json.loads(settings.status_file.read_text())
    totals = {s: sum(v for v in g.values() if v is not None) for s, g in _scores(settings).items()}
    for student in [*TAMPERING, "t9_history", "k1_blank"]:
        assert totals[student] == 0, (student, _scores(settings)[student],
                                      statuses[f"{student}/{ASSIGNMENT}"])
    assert totals["h1_honest"] == 4 and totals["h2_honest_with_one_line"] == 4, statuses

    # No hidden test, in plain text or base64, and no answer-key row reached a graded notebook.
    source = cells.read_notebook(settings.course_dir / "source" / ASSIGNMENT / NOTEBOOK)
    hidden = [line for line, where in cells.secret_lines(source).items() if where.startswith("hidden")]
    encoded = [base64.b64encode(c.source.encode()).decode() for c in source.cells if cells.is_test_cell(c)]
    key = __import__("pandas").read_parquet(DATA_DIR / "answer_key" / "cafcass_person_key.parquet")
    key_values = [str(v) for v in key.iloc[:5, 1:].to_numpy().ravel() if len(str(v)) >= 6]
    shadow = Path("/etc/shadow").read_text().splitlines()[0]
    for student in [*TAMPERING, "t9_history"]:
        text = (settings.autograded(student, ASSIGNMENT) / NOTEBOOK).read_text()
        decoded = text
        for token in __import__("re").findall(r"[A-Za-z0-9+/=]{40,}", text):
            try:
                decoded += base64.b64decode(token).decode("utf-8", "replace")
            except ValueError:
                continue
        assert not [line for line in hidden if line in decoded], student
        assert not [block for block in encoded if block in text], student
        assert not [value for value in key_values if value in text], student
        assert shadow not in decoded, student
    assert "no key" in (settings.autograded("t6_read_key", ASSIGNMENT) / NOTEBOOK).read_text()
    # The trusted side imported nothing a learner wrote, and followed no planted link.
    assert not MARKER.exists()
    assert _leftovers(pool, -1) == []
