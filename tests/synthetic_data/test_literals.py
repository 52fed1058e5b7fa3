"""No rate in the generator's code: every rate, share and probability lives in a parameter file.

The README promises that a trainer can read (and change) what the synthetic world looks like in
``synthetic_data/params/*.yaml``, each value beside the publication it comes from. A number
typed into a module breaks that promise silently, so every module under ``synthetic_data/`` is
parsed with :mod:`ast` and its numeric literals are judged by this rule:

1. A float literal strictly between 0 and 1 is taken for a rate, share or probability (a
   negative one, ``-0.3``, is the literal 0.3 negated, so it counts too).
2. A number of any value compared with a uniform draw (``rng.random(n) < 1.0``, ``< 1``) is a
   probability, whatever it is.
3. A float 0.0 or 1.0 named as a rate (a dict key, keyword argument or assigned name containing
   "share", "rate", "prob" or "chance") is a rate of nothing or of everything: still a rate.

Other 0.0 and 1.0 literals are not flagged: clipping bounds, identities in ``np.where(..., 1.0)``
and zero defaults are arithmetic, and flagging them would bury the rates in noise. Strings and
docstrings are not literals. Integers other than in rule 2 are counts, codes and calendar facts.

The few literals that match the rule but are not parameters (a fourth root's exponent, numerical
tolerances, ...) are named in ``literal_allowlist.yaml`` with a reason. An entry is keyed by
module, value and a fragment of its line (not the line number, which moves with every edit),
with the number of times it occurs; an entry that no longer matches exactly that many literals
fails too, so the list cannot go stale silently.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "synthetic_data"
ALLOWLIST = Path(__file__).with_name("literal_allowlist.yaml")
RATE_WORDS = ("share", "rate", "prob", "chance")


@dataclass(frozen=True)
class Literal:
    """A numeric literal that looks like a rate: where it is and the line it is on."""

    module: str  # path relative to the repository, with forward slashes
    line: int
    value: float
    code: str  # the source line, stripped

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.value!r}"


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal, or of a negated one; None for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _is_uniform_draw(node: ast.AST) -> bool:
    """``<anything>.random(...)``: numpy's uniform draw on [0, 1)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "random")


def _names_a_rate(name: object) -> bool:
    return isinstance(name, str) and any(word in name.lower() for word in RATE_WORDS)


def _assigned_names(node: ast.AST) -> list[str]:
    """The names a keyword argument or an assignment gives its value."""
    if isinstance(node, ast.keyword):
        return [node.arg] if node.arg else []
    if isinstance(node, ast.Assign):
        targets: list[ast.AST] = list(node.targets)
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return []
    out = []
    for target in targets:
        if isinstance(target, ast.Name):
            out.append(target.id)
        elif isinstance(target, ast.Attribute):
            out.append(target.attr)
    return out


def _rate_nodes(tree: ast.AST) -> list[ast.AST]:
    """Literal nodes that the module docstring's rule counts as rates, in source order."""
    found: dict[int, ast.AST] = {}

    def keep(node: ast.AST) -> None:
        found[id(node)] = node

    def keep_unit(node: ast.AST | None) -> None:
        """Rule 3: a 0.0 or 1.0 float named as a rate (values between are rule 1's)."""
        if node is None:
            return
        inner = node.operand if isinstance(node, ast.UnaryOp) else node
        if isinstance(inner, ast.Constant) and type(inner.value) is float and inner.value in (0.0, 1.0):
            keep(inner)

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is float and 0.0 < node.value < 1.0:
            keep(node)  # rule 1
        elif isinstance(node, ast.Compare):  # rule 2
            operands = [node.left, *node.comparators]
            if any(_is_uniform_draw(o) for o in operands):
                for o in operands:
                    if _number(o) is not None:
                        keep(o.operand if isinstance(o, ast.UnaryOp) else o)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and _names_a_rate(key.value):
                    keep_unit(value)
        elif any(map(_names_a_rate, _assigned_names(node))):
            keep_unit(node.value)
    return sorted(found.values(), key=lambda n: (n.lineno, n.col_offset))


def scan_source(source: str, module: str) -> list[Literal]:
    """Every literal of ``source`` that looks like a rate (see the module docstring)."""
    lines = source.splitlines()
    return [Literal(module, node.lineno, float(node.value), lines[node.lineno - 1].strip())
            for node in _rate_nodes(ast.parse(source))]


def scan_package(root: Path = PACKAGE) -> list[Literal]:
    """Every module under ``root``, in path order."""
    out: list[Literal] = []
    for path in sorted(root.rglob("*.py")):
        out += scan_source(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    return out


@dataclass(frozen=True)
class Allowed:
    """An allow-list entry: literals of ``value`` on lines of ``module`` containing ``code``."""

    module: str
    value: float
    code: str
    count: int
    reason: str

    def matches(self, literal: Literal) -> bool:
        return (literal.module == self.module and literal.value == self.value
                and self.code in literal.code)

    def __str__(self) -> str:
        return f"{self.module}: {self.value!r} on a line with {self.code!r}"


def load_allowlist(path: Path = ALLOWLIST) -> list[Allowed]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["allowed"]
    # float() also reads values PyYAML leaves as strings, such as 1e-9 written without a point.
    return [Allowed(e["module"], float(e["value"]), str(e["code"]), int(e.get("count", 1)),
                    str(e.get("reason", ""))) for e in entries]


def check(literals: list[Literal], allowed: list[Allowed]) -> tuple[list[Literal], list[str]]:
    """(literals no entry allows, entries that do not match exactly their count of literals)."""
    unexplained = [lit for lit in literals if not any(a.matches(lit) for a in allowed)]
    stale = []
    for entry in allowed:
        n = sum(entry.matches(lit) for lit in literals)
        if n != entry.count:
            stale.append(f"{entry}: expected {entry.count} occurrence(s), found {n}")
    return unexplained, stale


# The scanner itself, on small sources, so that it can be seen to fail.

def values(source: str) -> list[float]:
    return [lit.value for lit in scan_source(source, "m.py")]


def test_a_probability_in_code_is_found_with_its_module_and_line() -> None:
    found = scan_source("import numpy as np\n\nkeep = rng.random(n) < 0.8\n", "pkg/m.py")
    assert [str(lit) for lit in found] == ["pkg/m.py:3: 0.8"]
    assert found[0].code == "keep = rng.random(n) < 0.8"


def test_strings_and_docstrings_are_not_literals() -> None:
    assert values('"""Half the time: 0.5."""\nlabel = "0.25"\nx = f"{y:.1f} 0.3"\n') == []


def test_fractions_are_found_wherever_they_are_even_negated_or_as_exponents() -> None:
    assert values("a = rng.uniform(-0.3, 0.3, n)\nb = x ** 0.25\nc = f(p=1e-9)\n") == [0.3, 0.3, 0.25, 1e-9]


def test_zero_and_one_are_rates_only_when_used_or_named_as_rates() -> None:
    assert values("y = np.clip(x, 0.0, 1.0)\nz = np.where(c, w, 1.0)\nt = d.get(k, 0.0)\n") == []
    assert values("a = rng.random(n) < 1.0\nb = 1 > gen.random()\n") == [1.0, 1.0]
    named = 's = {"ed_share": 0.0, "mean": 1.0}\nf(keep_rate=1.0)\nDEATH_PROB = 0.0\nn: float = 1.0\n'
    assert values(named) == [0.0, 1.0, 0.0]


def test_other_numbers_are_not_rates() -> None:
    assert values("n = 365\nm = x * 2.0\nk = 10**9\ng = 1.25\n") == []


def test_allow_list_entries_explain_their_literals_and_go_stale_when_they_no_longer_match() -> None:
    found = scan_source("a = x ** 0.25\nb = y ** 0.25\nc = rng.random(n) < 0.4\n", "m.py")
    fourth_root = Allowed("m.py", 0.25, "** 0.25", 2, "a fourth root")
    assert check(found, [fourth_root]) == ([found[2]], [])
    gone = Allowed("m.py", 0.5, "round(", 1, "a midpoint")
    unexplained, stale = check(found, [fourth_root, gone])
    assert unexplained == [found[2]] and stale == ["m.py: 0.5 on a line with 'round(': expected 1 "
                                                   "occurrence(s), found 0"]
    once = Allowed("m.py", 0.25, "** 0.25", 1, "a fourth root")
    assert check(found, [once])[1] == ["m.py: 0.25 on a line with '** 0.25': expected 1 occurrence(s), "
                                       "found 2"]


# The generator.

def test_every_allow_list_entry_names_a_module_and_gives_a_reason() -> None:
    for entry in load_allowlist():
        assert (REPO / entry.module).is_file(), f"{entry}: no such module"
        assert entry.reason.strip(), f"{entry}: give the reason it is not a parameter"
        assert entry.code.strip(), f"{entry}: give a fragment of its line"


def test_no_rate_is_written_in_code() -> None:
    unexplained, _ = check(scan_package(), load_allowlist())
    assert not unexplained, (
        "rates written in code: move each into the parameter file of its stage "
        "(synthetic_data/params/*.yaml, with its source), or, if it is not a parameter, name it in "
        f"{ALLOWLIST.name} with the reason:\n  " + "\n  ".join(map(str, unexplained)))


def test_every_allow_listed_literal_still_occurs() -> None:
    _, stale = check(scan_package(), load_allowlist())
    assert not stale, (f"{ALLOWLIST.name} names literals that changed or went away; update or "
                       "remove the entries:\n  " + "\n  ".join(stale))

