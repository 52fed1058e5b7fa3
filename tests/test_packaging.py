"""The project as a package: it installs from a wheel and works outside a clone, its learner path
runs on Windows, its declared dependencies agree with the pinned lock, and its licence and
citation files are valid.

The wheel tests build a real wheel from a copy of the sources and install it with pip into a
folder of its own; every program then runs in a fresh process from a folder outside the clone.
"""

from __future__ import annotations

import ast
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DISTRIBUTION = PYPROJECT["project"]["name"]
SCRIPTS = {"fj-data": "synthetic_data", "fj-grading": "grading"}
POSIX_ONLY = ("pwd", "resource", "grp", "fcntl", "termios")
# The smallest dataset the generator makes: one month of Wales at a thousandth of national volumes.
TINY = ("--scale", "0.001", "--region", "wales", "--start", "2016-04", "--end", "2016-04")


def _package_version() -> str:
    """``synthetic_data.__version__`` as the build reads it (pyproject's dynamic version), without
    importing the package (in this folder ``synthetic_data`` would be the tests' namesake)."""
    tree = ast.parse((REPO / "synthetic_data" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] \
                == ["__version__"]:
            return ast.literal_eval(node.value)
    raise AssertionError("synthetic_data/__init__.py sets no __version__")


VERSION = _package_version()


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that points a program at the clone or its dataset."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FJ_DATA_DIR", "FJ_HUB_SETTINGS")}
    return {**env, "PYTHONWARNINGS": "ignore", **extra}


# ------------------------------------------------------------------------------ the wheel


def _build_isolated() -> bool:
    """Build in pip's isolated environment unless this one already has the build backend the
    project asks for (as `make install` does, pip then fetches it)."""
    for spec in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(spec)
        try:
            if not requirement.specifier.contains(installed_version(requirement.name)):
                return True
        except PackageNotFoundError:
            return True
    return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built by pip from a copy of the sources (building in the clone would write
    build/ into it)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    for package in ("synthetic_data", "grading", "hub_config"):
        shutil.copytree(REPO / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
    out = tmp_path_factory.mktemp("wheel")
    isolation = [] if _build_isolated() else ["--no-build-isolation"]
    result = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation,
                  "-w", str(out), str(source)], cwd=source, timeout=300)
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed by pip into a folder of its own (the dependencies are this
    environment's)."""
    target = tmp_path_factory.mktemp("site")
    result = run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                  str(target), str(wheel)], cwd=target)
    assert result.returncode == 0, result.stderr
    return target


@pytest.mark.slow
def test_wheel_holds_every_data_file_and_declares_its_parts(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "synthetic_data").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped - names == set(), "files of synthetic_data/ missing from the wheel"
    for package, patterns in PYPROJECT["tool"]["setuptools"]["package-data"].items():
        for pattern in patterns:
            assert any(Path(n).match(f"{package}/{pattern}") for n in names), \
                f"package-data {package}: {pattern} matches nothing in the wheel"
    assert not [n for n in names if "node_modules" in n]
    assert f"Version: {VERSION}" in metadata
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.M))
    assert extras == {"data", "course", "hub", "book", "test"}
    core = {Requirement(line.split(": ", 1)[1]).name for line in metadata.splitlines()
            if line.startswith("Requires-Dist: ") and "extra ==" not in line}
    assert core == {"numpy", "pandas", "pyarrow", "duckdb", "pyyaml"}
    for script, package in SCRIPTS.items():
        assert f"{script} = {package}.cli:main" in entry_points


@pytest.mark.slow
def test_installed_wheel_generates_and_loads_outside_the_clone(installed: Path, tmp_path: Path) -> None:
    env = clean_env(PYTHONPATH=str(installed))
    work = tmp_path / "elsewhere"
    work.mkdir()
    generated = run([sys.executable, "-m", "synthetic_data", "generate", "--quiet", "--out",
                     "data/classroom", *TINY], cwd=work, env=env)
    assert generated.returncode == 0, generated.stderr
    script = textwrap.dedent("""
        import json
        import synthetic_data
        from synthetic_data import connect, load
        from hub_config.course import load as course_settings
        import grading.settings
        cases = load("cafcass_cases")  # the dataset found from the current folder
        with connect("tre") as tre:
            people = tre.sql("SELECT count(*) FROM cafcass.people").fetchone()[0]
        print(json.dumps({"module": synthetic_data.__file__, "grading": grading.settings.__file__,
                          "cases": len(cases), "people": people,
                          "course": course_settings().course_id,
                          "grading_data": str(grading.settings.default_data_dir())}))
    """)
    loaded = run([sys.executable, "-c", script], cwd=work, env=env)
    assert loaded.returncode == 0, loaded.stderr
    facts = json.loads(loaded.stdout)
    assert Path(facts["module"]).is_relative_to(installed), facts["module"]
    assert Path(facts["grading"]).is_relative_to(installed), facts["grading"]
    rows = json.loads((work / "data" / "classroom" / "manifest.json").read_text(encoding="utf-8"))
    rows = rows["row_counts"]
    assert facts["cases"] == rows["cafcass_cases"] > 0
    assert facts["people"] == rows["tre_cafcass_people"] > 0
    assert facts["course"]
    assert Path(facts["grading_data"]).resolve() == (work / "data" / "classroom").resolve()
    assert sorted(p.name for p in work.iterdir()) == ["data"], "wrote outside --out"


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_installed_commands_say_their_version(installed: Path, tmp_path: Path, script: str) -> None:
    result = run([str(installed / "bin" / script), "--version"], cwd=tmp_path,
                 env=clean_env(PYTHONPATH=str(installed)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{script} {VERSION}"


# --------------------------------------------------------------------------- --version


@pytest.mark.parametrize("package", sorted(SCRIPTS.values()))
def test_version_comes_from_the_installed_distribution(package: str, tmp_path: Path) -> None:
    result = run([sys.executable, "-m", package, "--version"], cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"python -m {package} {installed_version(DISTRIBUTION)}"


@pytest.mark.parametrize("package", sorted(SCRIPTS.values()))
def test_version_without_an_installed_distribution_is_the_package_own(package: str, tmp_path: Path) -> None:
    # Once the modules are imported, sys.path is emptied, so that no distribution's metadata can
    # be found: as in a clone that was never installed.
    script = textwrap.dedent(f"""
        import sys
        from importlib.metadata import PackageNotFoundError, version
        import {package}.cli as cli
        import synthetic_data
        sys.path.clear()
        try:
            version({DISTRIBUTION!r})
        except PackageNotFoundError:
            pass
        else:
            raise SystemExit("the distribution is still found")
        print(cli.version() == synthetic_data.__version__ == {VERSION!r})
    """)
    result = run([sys.executable, "-c", script], cwd=tmp_path, env=clean_env(PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# ------------------------------------------------------------------------ Windows laptops

BLOCKER = textwrap.dedent("""
    import sys

    class PosixOnly:
        '''Refuses the modules a Windows Python does not have.'''
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError(f"No module named {{name!r}} (as on Windows)")
            return None

    sys.meta_path.insert(0, PosixOnly())
""")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "data"
    result = run([sys.executable, "-m", "synthetic_data", "generate", "--quiet", "--out", str(out),
                  *TINY], cwd=out.parent, env=clean_env(PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr
    return out


def test_learner_path_runs_without_posix_only_modules(tiny_data: Path, tmp_path: Path) -> None:
    script = BLOCKER.format(blocked=POSIX_ONLY) + textwrap.dedent(f"""
        from synthetic_data import connect, load, schema
        cases = load("cafcass_cases", {str(tiny_data)!r})
        with connect("tre", {str(tiny_data)!r}) as tre:
            n = tre.sql("SELECT count(*) FROM cafcass.cases").fetchone()[0]
        assert n == len(cases) > 0, (n, len(cases))
        assert schema("cafcass_cases").name == "cafcass_cases"
        print("loaded", len(cases))
    """)
    result = run([sys.executable, "-c", script], cwd=tmp_path, env=clean_env(PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("loaded ")


def _top_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is imported (not inside a function or class)."""
    found: set[str] = set()
    pending = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody", "handlers"):
                pending += getattr(node, field, [])
        elif isinstance(node, ast.ExceptHandler):
            pending += node.body
    return found


def test_selfcheck_imports_no_posix_only_module_of_ours(tmp_path: Path) -> None:
    # The learner's `python -m grading selfcheck` imports these of our modules; nbgrader and
    # Jupyter guard their own POSIX imports by platform, which a test on Linux cannot fake.
    script = textwrap.dedent("""
        import sys
        import grading.cli, grading.selfcheck, grading.execute
        print("\\n".join(sorted(m.__file__ for name, m in sys.modules.items()
                                if name.split(".")[0] in ("grading", "synthetic_data"))))
    """)
    result = run([sys.executable, "-c", script], cwd=tmp_path, env=clean_env(PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr
    files = [Path(line) for line in result.stdout.splitlines()]
    assert any(f.name == "selfcheck.py" for f in files)
    offending = {f.relative_to(REPO).as_posix(): sorted(_top_level_imports(f) & set(POSIX_ONLY))
                 for f in files}
    assert {f: m for f, m in offending.items() if m} == {}


# ------------------------------------------------------------- dependencies against the lock


def _pins() -> dict[str, str]:
    """requirements.txt's exact pins, name -> version (a wildcard pin gives its lowest release)."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, pinned = line.partition("==")
            pins[Requirement(name).name.lower()] = pinned.strip().removesuffix(".*")
    return pins


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += [s for s in extra if not s.startswith(DISTRIBUTION)]
    return [Requirement(s) for s in specs]


def _locked() -> set[str]:
    names = set()
    for path in ("requirements.txt", "constraints.txt"):
        for line in (REPO / path).read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            if line:
                names.add(Requirement(line).name.lower().replace("_", "-"))
    return names


def test_every_pin_lies_within_its_declared_range() -> None:
    pins = _pins()
    declared = {r.name.lower(): r for r in _declared()}
    outside = {name: (pins[name], str(r.specifier)) for name, r in declared.items()
               if name in pins and not r.specifier.contains(Version(pins[name]))}
    assert outside == {}
    unranged = [name for name in pins if name in declared and not declared[name].specifier]
    assert unranged == [], "a pinned package is declared without a range"


def test_this_environment_satisfies_every_declared_dependency() -> None:
    # The environment `make install` built from the lock is one the declared ranges allow.
    unmet = {}
    for requirement in _declared():
        try:
            found = installed_version(requirement.name)
        except PackageNotFoundError:
            found = "not installed"
        if found == "not installed" or not requirement.specifier.contains(found, prereleases=True):
            unmet[requirement.name] = (found, str(requirement.specifier))
    assert unmet == {}


def test_every_declared_dependency_is_in_the_lock() -> None:
    missing = [r.name for r in _declared() if r.name.lower().replace("_", "-") not in _locked()]
    assert missing == []


def test_extras_cover_every_part() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == {"data", "course", "hub", "book", "test"}
    assert set(PYPROJECT["project"]["scripts"]) == set(SCRIPTS)


# ------------------------------------------------------------ licence, citation, changelog


def test_license_is_mit_with_its_holder() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert re.search(r"^Copyright \(c\) \d{4} Family justice data training platform contributors$",
                     text, re.M)
    assert PYPROJECT["project"]["license"] == "MIT"


def test_citation_is_valid_cff_of_this_version() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):  # required by CFF 1.2.0
        assert cff.get(key), key
    assert all(isinstance(a, dict) and a.get("name") for a in cff["authors"]), "authors as entities"
    assert cff["type"] == "software"
    assert cff["license"] == PYPROJECT["project"]["license"]
    assert str(cff["version"]) == VERSION
    released = datetime.date.fromisoformat(str(cff["date-released"]))
    assert released <= datetime.date.today()
    allowed = {"abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi",
               "identifiers", "keywords", "license", "license-url", "message", "preferred-citation",
               "references", "repository", "repository-artifact", "repository-code", "title", "type",
               "url", "version"}
    assert set(cff) <= allowed, set(cff) - allowed


def test_changelog_has_unreleased_and_this_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert headings[0] == ("Unreleased", "")
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert (VERSION, str(cff["date-released"])) in headings
    sections = set(re.findall(r"^### (\w+)$", text, re.M))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
