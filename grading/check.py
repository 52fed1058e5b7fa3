"""The course's quality gate, run in CI over every assignment.

For each assignment, in a throw-away course folder:

1. the source follows notebooks/README.md (no outputs, objectives and estimated time at the
   top, a visible assert in every test cell, a message on every hidden assert, a hint before
   every answer cell, no hard-coded data paths, no answer key outside hidden tests, a wrong.yaml
   naming real answer cells), and every figure its text states about the data (a claim) still
   holds on the dataset;
2. nbgrader generates the learner version, and no solution or hidden-test line appears in it;
3. four submissions are autograded exactly as a cohort's would be: the solution must earn
   full marks, the released notebook unchanged must run without errors outside its test cells
   and earn zero, the typical wrong answers of wrong.yaml must earn partial marks, and the
   released notebook with a cell that tampers with its own kernel (``TAMPER``: every later
   check turned into ``pass``, asserts removed from the syntax tree, the builtins tests use
   rebound, every later cell printed in base64) must earn zero and show no hidden test.

Assignments are checked in parallel (a worker per core); each prints its solution's run time.
"""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grading import cells, scan
from grading.course import Assignment, Course
from grading.errors import GradingError

ESTIMATED_TIME = re.compile(r"Estimated time:\s*(\d+)\s*minutes", re.IGNORECASE)
HARD_CODED = ("data/classroom", "answer_key/", "identifiable/", ".parquet")
ANSWER_STUDENTS = ("solution", "released", "wrong")
# Across assignments, lines shorter than this ("return None", "continue") are common idiom,
# not answers.
SHARED_LINE_LENGTH = 20
# A hint: an HTML <details> block whose summary starts with "Hint", closed, with text in it. It
# shows collapsed in JupyterLab, in the book and in nbconvert's HTML without any script.
HINT = re.compile(r"<details>\s*<summary>\s*(?:<b>|<strong>)?\s*Hint\b.*?</summary>(?P<body>.*?)</details>",
                  re.IGNORECASE | re.DOTALL)
# A figure the text states about the data: an HTML comment naming a claim of the assignment's
# claims file (notebooks/<module>/_claims/<id>.yaml), invisible once rendered.
CLAIM_MARKER = re.compile(r"<!--\s*claim:\s*(?P<ids>[^>]*?)\s*-->", re.IGNORECASE)
CLAIM_ID = re.compile(r"^[a-z][a-z0-9_]*$")
CLAIMS_FOLDER = "_claims"
CLAIM_TIMEOUT = 600


@dataclass
class CheckResult:
    """What ``check`` found for one assignment."""

    assignment: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = [f"{who} {got:g}/{out_of:g}" for who, (got, out_of) in self.scores.items()]
        head = f"{'ok  ' if self.ok else 'FAIL'} {self.assignment}: solution ran in {self.seconds:.1f} s"
        head += f" ({', '.join(parts)})" if parts else ""
        return "\n".join([head, *(f"       - {p}" for p in self.problems)])


# --------------------------------------------------------------------------- static checks

def backward_leaks(course: Course) -> list[str]:
    """Solution or hidden-test lines of an assignment shown by an EARLIER one's notebook.

    Learners can open every released notebook, so an earlier notebook must never give away a
    later one's answers. A later notebook may hand out an earlier one's solution as given code
    (linkage_03 starts from linkage_02's cleaning functions); trainers who grade the earlier one
    release the later one after its deadline (notebooks/README.md).
    """
    problems = []
    shown: list[tuple[Assignment, set[str]]] = []
    for assignment in course.assignments:
        try:
            nb = cells.read_notebook(assignment.notebook)
        except GradingError:
            continue
        secrets = {line: where for line, where in cells.secret_lines(nb).items()
                   if len(line) >= SHARED_LINE_LENGTH}
        for earlier, lines in shown:
            for line in sorted(set(secrets) & lines):
                problems.append(f"{earlier.id} shows {line!r}, a line of the {secrets[line]} in the "
                                f"later assignment {assignment.id}")
        shown.append((assignment, cells.visible_lines(nb)))
    return problems


def module_problems(course: Course) -> list[str]:
    """Layout faults and modules without a written interpretation."""
    problems = list(course.problems)
    for module in course.modules:
        written = False
        for assignment in module.assignments:
            if assignment.folder.is_dir() and not assignment.notebook.is_file():
                problems.append(f"{assignment.folder} has no {assignment.notebook.name}")
            try:
                nb = cells.read_notebook(assignment.notebook)
            except GradingError:
                continue
            written = written or any(cells.is_written_answer(c) for c in nb.cells)
        if module.assignments and not written:
            problems.append(f"module {module.name} has no manually graded written interpretation "
                            "(a graded markdown solution cell)")
    return problems


def _asserts(source: str, where: str, problems: list[str]) -> list[ast.Assert]:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        problems.append(f"{where} is not valid Python: {err.msg} (line {err.lineno})")
        return []
    return [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]


def static_problems(assignment: Assignment, nb: object) -> list[str]:
    """Everything notebooks/README.md requires that can be seen without running anything."""
    problems: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {index + 1} has outputs or an execution count: clear them before "
                            "committing")
    top = nb.cells[0] if nb.cells else None
    if top is None or top.cell_type != "markdown":
        problems.append("the top cell must be markdown: title, learning objectives, estimated time")
    else:
        if "learning objectives" not in top.source.lower():
            problems.append("the top cell does not state its 'Learning objectives'")
        minutes = ESTIMATED_TIME.search(top.source)
        if minutes is None:
            problems.append("the top cell does not say 'Estimated time: N minutes'")
        elif assignment.minutes and int(minutes.group(1)) != assignment.minutes:
            problems.append(f"the top cell says {minutes.group(1)} minutes, module.yaml says "
                            f"{assignment.minutes}")
    ids = [cells.grade_id(c) for c in nb.cells if cells.grade_id(c)]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"grade_id {duplicate} is used by more than one cell")
    answer_ids = set()
    problems += hint_problems(nb)
    for index, cell in enumerate(nb.cells):
        label = cells.grade_id(cell) or f"cell {index + 1}"
        if any(path in cell.source for path in HARD_CODED):
            problems.append(f"{label} hard-codes a data path; use load('table') only")
        if cells.is_answer_cell(cell):
            answer_ids.add(cells.grade_id(cell))
            outside, inside = cells.split_regions(cell.source, cells.BEGIN_SOLUTION, cells.END_SOLUTION)
            if not inside:
                problems.append(f"answer cell {label} has no ### BEGIN SOLUTION region")
            if not any(line.strip() and not line.strip().startswith("#") for line in outside):
                problems.append(f"answer cell {label} sets no harmless default outside its solution "
                                "region, so the released notebook would fail with NameError")
        if cells.is_test_cell(cell):
            if not cells.points(cell):
                problems.append(f"test cell {label} has no points")
            if not _asserts(cells.visible_source(cell), f"visible part of {label}", problems):
                problems.append(f"test cell {label} has no visible assert")
            hidden = cells.hidden_source(cell)
            for node in _asserts(hidden, f"hidden part of {label}", problems) if hidden.strip() else []:
                if node.msg is None:
                    problems.append(f"a hidden assert in {label} (line {node.lineno} of the hidden "
                                    "tests) has no message for the learner")
        if cell.cell_type == "code":
            visible = cells.split_regions(cells.visible_source(cell), cells.BEGIN_SOLUTION,
                                          cells.END_SOLUTION)
            for table in scan.answer_key_tables():
                if table in "\n".join(visible[0] + visible[1]):
                    problems.append(f"{label} reads the answer key ({table}) outside hidden tests; "
                                    "learners cannot read it")
    problems += _wrong_answer_problems(assignment, answer_ids)
    return problems


def has_hint(cell: object) -> bool:
    """True for an ungraded markdown cell holding a non-empty ``<details><summary>Hint`` block.

    Graded markdown cells do not count: nbgrader replaces their solution region, and a written
    answer is not the place for help with a code exercise."""
    if cell.cell_type != "markdown" or cells.is_solution(cell) or cells.is_grade(cell):
        return False
    return any(match.group("body").strip() for match in HINT.finditer(cell.source))


def hint_problems(nb: object) -> list[str]:
    """Answer cells without a hint a learner can reveal when stuck.

    Each code answer cell needs a hint block in a markdown cell after the previous answer cell
    and before it (normally at the end of its instructions), so that the hint sits next to the
    exercise it is about and every exercise has its own."""
    problems = []
    hint_seen = False
    for index, cell in enumerate(nb.cells):
        if has_hint(cell):
            hint_seen = True
        elif cells.is_answer_cell(cell):
            if not hint_seen:
                label = cells.grade_id(cell) or f"cell {index + 1}"
                problems.append(f"answer cell {label} has no hint: end its instructions with "
                                "<details><summary>Hint</summary> ... </details> (notebooks/README.md)")
            hint_seen = False
    return problems


# --------------------------------------------------------------------------- claims

def claims_path(assignment: Assignment) -> Path:
    """Where an assignment's claims live: beside the module's assignment folders, not in one,
    because an assignment folder is released whole and a claim's code may compute an answer."""
    return assignment.folder.parent / CLAIMS_FOLDER / f"{assignment.id}.yaml"


def claim_markers(nb: object) -> dict[str, str]:
    """Claim ids named in the notebook's markdown, each with the first cell naming it."""
    found: dict[str, str] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for match in CLAIM_MARKER.finditer(cell.source):
            for claim_id in re.split(r"[\s,]+", match.group("ids").strip()):
                if claim_id:
                    found.setdefault(claim_id, cells.grade_id(cell) or f"cell {index + 1}")
    return found


@dataclass
class Claims:
    """An assignment's claims file: shared ``setup`` code and, per claim id, what the text says
    (``says``), the figure (``value``), how far the data may stray from it (``tolerance``) and
    the code computing it from the dataset (``compute``, its last line an expression)."""

    setup: str = ""
    claims: dict[str, dict] = field(default_factory=dict)


def read_claims(path: Path) -> Claims:
    """The claims file at ``path`` (an empty one if it does not exist); GradingError if malformed."""
    if not path.is_file():
        return Claims()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise GradingError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict) or not isinstance(data.get("claims", {}), dict):
        raise GradingError(f"{path} must hold 'setup' (code) and 'claims' (a mapping of claim ids)")
    return Claims(setup=str(data.get("setup") or ""), claims=dict(data.get("claims") or {}))


def _claim_shape_problems(claim_id: str, claim: object) -> list[str]:
    if not CLAIM_ID.match(claim_id):
        return [f"claim id {claim_id!r} should be lower_case_with_underscores"]
    if not isinstance(claim, dict):
        return [f"claim {claim_id} should be a mapping with says, value, tolerance and compute"]
    problems = [f"claim {claim_id} has no {key!r}" for key in ("says", "value", "tolerance", "compute")
                if key not in claim]
    for key in ("value", "tolerance"):
        if key in claim and (isinstance(claim[key], bool) or not isinstance(claim[key], int | float)):
            problems.append(f"claim {claim_id}: {key} should be a number, not {claim[key]!r}")
    if isinstance(claim.get("tolerance"), int | float) and claim["tolerance"] < 0:
        problems.append(f"claim {claim_id}: tolerance cannot be negative")
    return problems


# Runs in a fresh interpreter with FJ_DATA_DIR set: reads {"setup": code, "claims": {id: code}}
# on stdin, prints {id: [value, error]} on stdout. Each claim's last line is an expression.
_CLAIM_RUNNER = r"""
import ast, json, sys, traceback
request = json.load(sys.stdin)
from synthetic_data import connect, load
namespace = {"load": load, "connect": connect}
out = {}
try:
    exec(compile(request["setup"], "<setup>", "exec"), namespace)
except Exception as err:
    print(json.dumps({"__setup__": [None, f"{type(err).__name__}: {err}"]}))
    sys.exit(0)
for claim_id, code in request["claims"].items():
    try:
        tree = ast.parse(code, filename=claim_id)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        if last is None:
            raise ValueError("the last line of compute must be an expression giving the figure")
        scope = dict(namespace)
        exec(compile(tree, claim_id, "exec"), scope)
        out[claim_id] = [float(eval(compile(ast.Expression(last.value), claim_id, "eval"), scope)), None]
    except Exception as err:
        out[claim_id] = [None, f"{type(err).__name__}: {err}"]
print(json.dumps(out))
"""


def evaluate_claims(claims: Claims, data_dir: Path, timeout: int = CLAIM_TIMEOUT) -> dict[str, tuple]:
    """Each claim's figure computed from the dataset in ``data_dir``: {id: (value, error)}.

    A separate interpreter keeps the claims' imports and memory out of the checking process, and
    finds the dataset exactly as learners' kernels do, through FJ_DATA_DIR."""
    if not claims.claims:
        return {}
    codes = {k: str(v.get("compute", "")) for k, v in claims.claims.items() if isinstance(v, dict)}
    request = {"setup": claims.setup, "claims": codes}
    env = dict(os.environ, FJ_DATA_DIR=str(data_dir), MPLBACKEND="Agg")
    try:
        done = subprocess.run([sys.executable, "-c", _CLAIM_RUNNER], input=json.dumps(request),
                              capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"__setup__": (None, f"the claims took more than {timeout} s")}
    lines = done.stdout.strip().splitlines()
    try:
        raw = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        raw = {}
    if not raw:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"__setup__": (None, f"the claims could not be run: {tail}")}
    return {k: (v[0], v[1]) for k, v in raw.items()}


def claim_problems(assignment: Assignment, nb: object, data_dir: Path | None) -> list[str]:
    """Markers naming unknown claims, claims no marker names, malformed claims and (with a
    dataset) claims the data no longer support: a generator change that breaks a figure the
    text states fails the course instead of misleading a learner."""
    path = claims_path(assignment)
    try:
        claims = read_claims(path)
    except GradingError as err:
        return [str(err)]
    markers = claim_markers(nb)
    problems = [f"{where} names claim {claim_id}, which {path.name} in {CLAIMS_FOLDER}/ does not define"
                for claim_id, where in markers.items() if claim_id not in claims.claims]
    problems += [f"claim {claim_id} of {path} is named by no <!-- claim: {claim_id} --> in the notebook"
                 for claim_id in claims.claims if claim_id not in markers]
    shaped = {}
    for claim_id, claim in claims.claims.items():
        found = _claim_shape_problems(str(claim_id), claim)
        problems += found
        if not found:
            shaped[str(claim_id)] = claim
    if data_dir is None or not shaped:
        return problems
    results = evaluate_claims(Claims(claims.setup, shaped), data_dir)
    if "__setup__" in results:
        return [*problems, f"the claims of {path.name} fail: {results['__setup__'][1]}"]
    for claim_id, claim in shaped.items():
        value, error = results.get(claim_id, (None, "not computed"))
        if error is not None:
            problems.append(f"claim {claim_id} ({claim['says']}) could not be computed: {error}")
        elif abs(value - float(claim["value"])) > float(claim["tolerance"]):
            problems.append(f"claim {claim_id} ({claim['says']}) is no longer true: the data give "
                            f"{value:.6g}, the text says {claim['value']:g} "
                            f"(tolerance {claim['tolerance']:g})")
    return problems


def read_wrong_answers(assignment: Assignment) -> dict[str, str]:
    path = assignment.wrong_answers
    if not path.is_file():
        raise GradingError(f"{path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise GradingError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise GradingError(f"{path} must map answer cells' grade_ids to code")
    return {str(k): str(v) for k, v in data.items()}


def _wrong_answer_problems(assignment: Assignment, answer_ids: set[str]) -> list[str]:
    try:
        wrong = read_wrong_answers(assignment)
    except GradingError as err:
        return [str(err)]
    if not wrong:
        return [f"{assignment.wrong_answers} has no wrong answer"]
    return [f"wrong.yaml names {key}, which is not an answer cell" for key in wrong
            if key not in answer_ids]


# --------------------------------------------------------------------------- running

def _submission(released: object, source: object, wrong: dict[str, str] | None) -> object:
    """The released notebook with answer cells filled in: the solution, or wrong answers."""
    import copy

    nb = copy.deepcopy(released)
    solutions = {cells.grade_id(c): c for c in source.cells if cells.is_answer_cell(c)}
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if cells.is_answer_cell(cell) and gid in solutions and wrong is not None:
            cell.source = wrong.get(gid, cells.solution_filled(solutions[gid])).rstrip("\n")
    return nb


def _auto_score(nb: object) -> tuple[float, float]:
    from nbgrader.utils import determine_grade

    got = out_of = 0.0
    for cell in nb.cells:
        if cells.is_test_cell(cell):
            score, max_score = determine_grade(cell)
            got += score or 0.0
            out_of += max_score
    return got, out_of


def _errors(nb: object, test_cells: bool) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cells.is_test_cell(cell) != test_cells:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" or (output.get("output_type") == "stream"
                                                        and output.get("name") == "stderr"):
                what = (f"{output.get('ename')}: {output.get('evalue')}" if output.get("ename")
                        else "wrote to stderr (a warning?), which nbgrader scores as a failure")
                found.append(f"{cells.grade_id(cell) or f'cell {index + 1}'}: {what}".strip())
    return found


# What a hostile learner adds to a blank notebook, hoping to earn marks or read hidden tests.
TAMPER = r'''
import ast, base64
_ip = get_ipython()
_ip.input_transformers_cleanup.append(
    lambda lines: ["pass\n"] if any("assert" in l for l in lines) else lines)
class _DropAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
_ip.ast_transformers.append(_DropAsserts())
_ip.events.register("pre_run_cell",
                    lambda info: print("CELL", base64.b64encode(info.raw_cell.encode()).decode()))
class _Any:
    def __eq__(self, other): return True
    __ne__ = lambda self, other: False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    def __bool__(self): return True
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
_ip.events.register("post_run_cell", lambda result: _ip.user_ns.update(
    {k: _Any() for k, v in list(_ip.user_ns.items()) if v is None and not k.startswith("_")}))
_ip.user_ns.update(isinstance=lambda *args: True, len=lambda *args: 1)
'''


def tampered(released):
    """The released notebook with ``TAMPER`` run after its first code cell."""
    import copy

    from nbformat.v4 import new_code_cell

    nb = copy.deepcopy(released)
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells) - 1)
    cell = new_code_cell(TAMPER)
    if nb.get("nbformat_minor", 0) < 5:
        cell.pop("id", None)  # cell ids arrived with nbformat 4.5
    nb.cells.insert(first + 1, cell)
    return nb


def check_assignment(assignment: Assignment, data_dir: str, timeout: int) -> CheckResult:
    """Check one assignment end to end (see the module's docstring). Never raises."""
    result = CheckResult(assignment.id)
    try:
        _check(assignment, Path(data_dir), timeout, result)
    except Exception as err:  # one broken assignment must not stop the others
        result.problems.append(f"check could not finish: {type(err).__name__}: {err}")
    return result


def _check(assignment: Assignment, data_dir: Path, timeout: int, result: CheckResult) -> None:
    import nbformat

    from grading import autograde, release
    from grading.settings import Settings

    source = cells.read_notebook(assignment.notebook)
    result.problems += static_problems(assignment, source)
    result.problems += claim_problems(assignment, source, data_dir)
    with tempfile.TemporaryDirectory(prefix=f"fj-check-{assignment.id}-") as tmp:
        settings = Settings(notebooks=assignment.folder.parent.parent, course_dir=Path(tmp) / "course",
                            data_dir=data_dir)
        release.prepare_course_dir(settings)
        release.copy_sources(settings, [assignment])
        release.generate_learner_versions(settings, [assignment])
        released = cells.read_notebook(settings.course_dir / "release" / assignment.id /
                                       f"{assignment.id}.ipynb")
        folder = settings.course_dir / "release" / assignment.id
        texts = {f"{assignment.id}.ipynb": cells.released_text(released)}
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix != ".ipynb":
                texts[str(path.relative_to(folder))] = path.read_bytes().decode("utf-8", "replace")
        text = "\n".join(texts.values())
        for line, where in cells.secret_lines(source).items():
            for name, content in texts.items():
                if line in content:
                    result.problems.append(f"the released {name} contains a line of the {where}: {line!r}")
        for marker in (cells.BEGIN_SOLUTION, cells.BEGIN_HIDDEN):
            if marker in text:
                result.problems.append(f"the released notebook still contains '{marker}'")
        try:
            wrong = read_wrong_answers(assignment)
        except GradingError:
            wrong = {}
        variants = {"solution": _submission(released, source, {}), "released": released}
        if wrong:
            variants["wrong"] = _submission(released, source, wrong)
        variants["tampered"] = tampered(released)
        for student, nb in variants.items():
            folder = settings.submitted(student, assignment.id)
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{assignment.id}.ipynb")
        tasks = autograde.find_submissions(settings, [assignment.id])
        scratch = Path(tmp) / "scratch"
        scratch.mkdir(mode=0o711)
        options = autograde.Options(db_url=settings.db_url, data_dir=str(data_dir),
                                    scratch_root=str(scratch), timeout=timeout, memory_mb=0,
                                    ignore=tuple(release_ignore()))
        outcomes = {o.student: o for o in autograde.autograde(settings, tasks, options, workers=1,
                                                              progress=False)}
    for student in variants:
        outcome = outcomes[student]
        if outcome.status not in ("graded",) and student != "tampered":
            result.problems.append(f"the {student} version ended with status {outcome.status}: "
                                   f"{outcome.message}")
        if assignment.id not in outcome.notebooks:
            if student == "tampered":
                result.problems.append(f"the tampered version could not be graded ({outcome.status}: "
                                       f"{outcome.message})")
            continue
        nb = nbformat.reads(outcome.notebooks[assignment.id], as_version=4)
        got, out_of = _auto_score(nb)
        result.scores[student] = (got, out_of)
        if student == "solution":
            result.seconds = outcome.seconds
            for error in _errors(nb, test_cells=False) + _errors(nb, test_cells=True):
                result.problems.append(f"the solution fails at {error}")
            if got != out_of:
                result.problems.append(f"the solution earns {got:g} of {out_of:g} points, not full marks")
        elif student == "released":
            for error in _errors(nb, test_cells=False):
                result.problems.append(f"the released notebook, unchanged, fails at {error}")
            if got != 0:
                result.problems.append(f"the released notebook, unchanged, earns {got:g} points, not zero")
        elif student == "tampered":
            if got != 0:
                result.problems.append(f"a blank notebook that tampers with its kernel earns {got:g} "
                                       "points, not zero")
            shown = cells.released_text([cell.get("outputs", []) for cell in nb.cells])
            for line, where in cells.secret_lines(source).items():
                if where.startswith("hidden") and (line in shown or _b64_hides(line, source, shown)):
                    result.problems.append(f"a tampering notebook's output shows a line of the {where}")
                    break
        elif not 0 < got < out_of:
            result.problems.append(f"the wrong answers of wrong.yaml earn {got:g} of {out_of:g} points, "
                                   "not partial marks")


def _b64_hides(line: str, source, shown: str) -> bool:
    """Whether the output holds, in base64, a test cell that contains ``line``."""
    import base64

    for cell in source.cells:
        if cells.is_test_cell(cell) and line in cell.source \
                and base64.b64encode(cell.source.encode()).decode() in shown:
            return True
    return False


def release_ignore() -> list[str]:
    from grading.nbgrader_config import IGNORED_FILES

    return IGNORED_FILES


def check_course(course: Course, assignments: list[Assignment], data_dir: Path, timeout: int,
                 workers: int, echo: Callable[[str], object] = print) -> bool:
    """Check every assignment (a worker per core) and the course layout; True if all pass."""
    started = time.perf_counter()
    problems = module_problems(course) + backward_leaks(course)
    for problem in problems:
        echo(f"FAIL course: {problem}")
    if not assignments:
        echo(f"No assignments found in {course.root}: nothing to check.")
        return not problems
    results: list[CheckResult] = []
    if workers <= 1 or len(assignments) == 1:
        for assignment in assignments:
            results.append(check_assignment(assignment, str(data_dir), timeout))
            echo(results[-1].summary())
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(assignments)), mp_context=context) as pool:
            futures = [pool.submit(check_assignment, a, str(data_dir), timeout) for a in assignments]
            for future in as_completed(futures):
                results.append(future.result())
                echo(results[-1].summary())
    failed = [r for r in results if not r.ok]
    echo(f"{len(results) - len(failed)} of {len(results)} assignment(s) pass"
         f"{' and the course layout is fine' if not problems else ''} "
         f"({time.perf_counter() - started:.1f} s, {workers} worker(s)).")
    return not failed and not problems


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
