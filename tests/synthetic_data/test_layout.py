"""The generator's layout keeps its promises: stages depend only on earlier stages, no module
imports another in a circle, and no module reaches for another's private names.

A newcomer reads the packages in pipeline order (core, world, capture, proceedings, output,
linkage, linked, realism) and can trust that a stage does not depend on a later one. These tests
read the import statements (every one, including those inside functions) rather than importing
anything, so they are fast and see imports that only run on some paths.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "synthetic_data"

# Which packages each stage may import from (besides itself). The top-level modules (api, cli,
# pipeline, __init__, __main__) are the public face and may import any stage.
ALLOWED = {
    "core": set(),
    "world": {"core"},
    # Capture knows nothing of cases: any source (Cafcass's own records included) uses it.
    "capture": {"core", "world"},
    "proceedings": {"core", "world", "capture"},
    "output": {"core"},
    "linkage": {"core", "world", "output"},
    "linked": {"core", "world", "proceedings", "capture", "linkage", "output"},
    "realism": {"core", "world", "proceedings", "linkage", "output", "api"},
}
FACE = {"__init__", "__main__", "api", "cli", "pipeline"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for each import of a synthetic_data module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names
                      if alias.name.split(".")[0] == "synthetic_data"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] == "synthetic_data":
                found.append((base, [alias.name for alias in node.names], node.lineno))
    return found


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(target: str, names: list[str], known: dict[str, Path]) -> list[str]:
    """The modules an import statement loads: `from pkg import mod` loads pkg.mod."""
    loaded = [target] if target in known else []
    loaded += [f"{target}.{name}" for name in names if f"{target}.{name}" in known]
    return loaded


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, names, _ in imports_of(path):
            edges[name].update(m for m in resolve(target, names, known) if m != name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm), ignoring
    the imports a package's __init__ makes of its own modules (that is how packages re-export)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def without_package_reexports(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    known = modules()
    return {name: {t for t in targets if not (known[name].name == "__init__.py" and t.startswith(name + "."))}
            for name, targets in edges.items()}


def test_no_module_imports_another_in_a_circle() -> None:
    found = cycles(without_package_reexports(graph()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(group) for group in found)


def test_each_stage_imports_only_earlier_stages() -> None:
    wrong = []
    for name, targets in graph().items():
        stage = stage_of(name)
        if stage in FACE:
            continue
        allowed = ALLOWED.get(stage)
        assert allowed is not None, f"{name}: stage {stage!r} is not in this test's ALLOWED table"
        wrong += [f"{name} imports {t}" for t in sorted(targets)
                  if stage_of(t) != stage and stage_of(t) not in allowed and stage_of(t) != "__init__"]
    assert not wrong, "imports against the pipeline order:\n  " + "\n  ".join(wrong)


def test_no_module_imports_another_modules_private_names() -> None:
    known = modules()
    private = [f"{name}:{line} takes {n} from {target}"
               for name, path in known.items() for target, names, line in imports_of(path)
               for n in names if n.startswith("_") and not n.startswith("__") and target != name]
    assert not private, "private names used across modules:\n  " + "\n  ".join(private)


def test_the_checks_see_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    source = tmp_path / "synthetic_data" / "stage" / "mod.py"
    source.parent.mkdir(parents=True)
    source.write_text("from synthetic_data.core.params import _load\nfrom . import sibling\n"
                      "def f():\n    import synthetic_data.world.people\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "synthetic_data"
    try:
        assert imports_of(source) == [("synthetic_data.core.params", ["_load"], 1),
                                      ("synthetic_data.stage", ["sibling"], 2),
                                      ("synthetic_data.world.people", [], 4)]
    finally:
        PACKAGE = saved
