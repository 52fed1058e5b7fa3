"""Build the course book from the hand-written pages and what the rest of the platform produces.

    .venv/bin/python book/build_book.py [--data data/classroom] [--out book] [--no-release]

Steps, in order (each one prints its time, and the total is printed at the end):

1. ``release``: run ``python -m grading release``, which writes the released (solution-free)
   notebooks and ``released/course.json`` into this folder; skipped when the grading package
   has no command-line entry yet, or with ``--no-release`` (tests bring a released course of
   their own).
2. ``check``: refuse to go on if any released file holds solution or hidden-test text.
3. ``generate``: write ``_generated/``: the data dictionary and realism report of the dataset,
   a notebook list for each module page, the synthetic tables behind each real-dataset page, the
   workshop runbook of the hub set-up (or a note saying where it lives), the grading commands,
   MathJax, and the table of contents with every released notebook in it.
4. ``build``: ``jupyter-book build``, notebooks rendered without being executed.

Hand-written pages stay in git; ``_generated/`` and ``released/`` are rebuilt every time.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BOOK = Path(__file__).resolve().parent
REPO = BOOK.parent
GENERATED = "_generated"
RELEASED = "released"

# Text that only a source notebook holds; none of it may reach a learner.
FORBIDDEN_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

# nbgrader's fetch puts an assignment at ~/<id>/<id>.ipynb (Exchange.path_includes_course is
# off; the course home's Open link goes there too); the hub serves the book at /services/book/,
# so a host-relative link reaches the learner's own server on any hub.
HUB_LINK = "/hub/user-redirect/lab/tree/{id}/{id}.ipynb"
SELFCHECK = "python -m grading selfcheck {path}"

# The parts of MathJax 3 the book needs: the combined TeX/MathML component and what it loads
# on demand (TeX extensions, fonts, the menu and its accessibility tools).
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors")

# A duration written by hand ("about two hours", "45 minutes", "1.5 hrs"). Module and notebook
# times come from module.yaml alone (through released/course.json): a page that states one of
# its own could disagree with the course, so the build refuses it.
NUMBER_WORDS = ("a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve", "fifteen", "twenty", "thirty", "forty", "fifty",
                "sixty", "ninety", "half an?", "a few", "several", "a couple of")
HAND_WRITTEN_DURATION = re.compile(
    r"\b(?:\d+(?:[.,]\d+)?|" + "|".join(NUMBER_WORDS) + r")(?:\s+and\s+a\s+half)?"
    r"[\s-]+(?:hours?|hrs?|minutes?|mins?)\b", re.IGNORECASE)
# The hand-written pages a build reads: everything in the book's folder but what builds make.
NOT_HAND_WRITTEN = {"_build", GENERATED, RELEASED, "node_modules"}

# Which synthetic tables stand in for each real dataset: the page, then a test on a table of
# synthetic_data.output.schema.TABLES. New tables appear on the right page without editing the book.
HEALTH_EDUCATION = re.compile(
    r"hospital|admission|\bGP\b|general practi|emergency department|school|pupil|education|"
    r"looked[- ]after|SSDA903|PEDW|\bHES\b|\bNPD\b|WLGP|EDDS", re.IGNORECASE)
DATA_FIRST = re.compile(r"FamilyMan|Data First|family court record", re.IGNORECASE)


class BuildError(RuntimeError):
    """A problem with the book's inputs, with what to do about it."""


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    minutes: int
    notebook: str  # relative to released/

    @property
    def docname(self) -> str:
        """The notebook's page in the book (its path without the suffix)."""
        return f"{RELEASED}/{Path(self.notebook).with_suffix('').as_posix()}"


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    order: int
    summary: str = ""
    prerequisites: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    assignments: tuple[Assignment, ...] = field(default_factory=tuple)

    @property
    def minutes(self) -> int:
        return sum(a.minutes for a in self.assignments)


# --------------------------------------------------------------------------- the released course

def load_course(released: Path) -> list[Module]:
    """Read ``released/course.json``: the modules in course order, each with its notebooks.

    An absent file is an empty course (nothing released yet). The file is a list of modules or
    an object with a ``modules`` list.
    """
    path = released / "course.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BuildError(f"{path} is not valid JSON ({err}); run `python -m grading release` "
                         "again") from err
    entries = data.get("modules") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise BuildError(f"{path}: expected a list of modules (or {{\"modules\": [...]}})")
    modules = []
    for entry in entries:
        try:
            assignments = tuple(
                Assignment(id=str(a["id"]), title=str(a["title"]), minutes=int(a["minutes"]),
                           notebook=str(a["notebook"]))
                for a in entry.get("assignments", []))
            module = Module(id=str(entry["id"]), title=str(entry["title"]),
                            order=int(entry["order"]), summary=str(entry.get("summary", "")),
                            prerequisites=tuple(entry.get("prerequisites") or ()),
                            objectives=tuple(entry.get("objectives") or ()),
                            assignments=assignments)
        except (KeyError, TypeError, ValueError) as err:
            raise BuildError(f"{path}: a module or assignment lacks a field or has a wrong "
                             f"type ({err!r}) in {entry!r}") from err
        for a in module.assignments:
            notebook = released / a.notebook
            if not notebook.is_file():
                raise BuildError(f"{path} lists {a.notebook} for {a.id}, but {notebook} does "
                                 "not exist; run `python -m grading release` again")
        modules.append(module)
    return sorted(modules, key=lambda m: m.order)


def find_forbidden(released: Path) -> list[str]:
    """Every released file that holds solution or hidden-test text, with the marker found."""
    problems = []
    if not released.exists():
        return problems
    for path in sorted(p for p in released.rglob("*") if p.is_file()):
        if path.suffix not in {".ipynb", ".json", ".md", ".py", ".txt"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        problems += [f"{path.relative_to(released)}: {marker}" for marker in FORBIDDEN_MARKERS
                     if marker in text]
    return problems


# --------------------------------------------------------------------------- generated pages

def module_notebooks_md(module: Module | None, module_id: str) -> str:
    """The notebook list included in a module page: read, open on the hub, download, self-check."""
    if module is None or not module.assignments:
        return ("```{note}\nNo notebook of this module has been released yet. Its notebooks "
                "appear here, in order, as soon as they are.\n```\n")
    lines = [
        f"This module has {len(module.assignments)} notebook"
        f"{'s' if len(module.assignments) != 1 else ''}, about {module.minutes} minutes of work "
        "in all. Take them in order.",
        "",
        "```{list-table}",
        ":header-rows: 1",
        ":class: fj-notebooks",
        ":widths: 40 10 50",
        "",
        "* - Notebook",
        "  - Time",
        "  - Work on it",
    ]
    for a in module.assignments:
        hub = HUB_LINK.format(id=a.id)
        file_name = Path(a.notebook).name
        lines += [
            f"* - {{doc}}`{_escape_role(a.title)} </{a.docname}>`",
            f"  - {a.minutes} min",
            f"  - <a href=\"{hub}\">Open on the hub</a> · "
            f"{{download}}`Download {file_name} </{RELEASED}/{a.notebook}>`",
        ]
    lines += ["```", ""]
    first = Path(module.assignments[0].notebook).name
    lines += [
        "**On the hub**, fetch each assignment first from the course home, the page your "
        "server opens on; *Open on the hub* then opens your copy (in a folder of your home named "
        "after the assignment). Submit from JupyterLab's *Nbgrader > Assignment List* when you "
        "are done.",
        "",
        "**On your own computer**, download a notebook, open it with JupyterLab from a clone of "
        "the platform (so that `load()` finds the data), and check your answers with the "
        "self-check, which runs the visible checks and tells you what they found:",
        "",
        "```bash",
        SELFCHECK.format(path=first),
        "```",
        "",
    ]
    return "\n".join(lines)


def _escape_role(text: str) -> str:
    return text.replace("<", r"\<").replace("`", "'")


def duration_text(minutes: int) -> str:
    """Minutes as the book states them: "45 minutes", "410 minutes (6 hours 50 minutes)"."""
    text = f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if hours:
        parts = [f"{hours} hour{'s' if hours != 1 else ''}"]
        if rest:
            parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
        text += f" ({' '.join(parts)})"
    return text


def module_time_md(module: Module | None, modules: list[Module]) -> str:
    """The *Estimated time* of a module page: the sum of its notebooks' times in course.json,
    which ``grading release`` copies from the module's module.yaml. A page never states a time
    of its own (see :func:`find_hand_written_durations`)."""
    if module is None or not module.assignments:
        return "Given here, from the times of its notebooks, once they are released.\n"
    count = len(module.assignments)
    text = (f"{duration_text(module.minutes)}: the time"
            f"{'s' if count != 1 else ''} of its {count if count != 1 else 'one'} notebook"
            f"{'s' if count != 1 else ''} below, for one learner working alone.")
    timed = [m for m in modules if m.assignments]
    if len(timed) > 1 and module.minutes == max(m.minutes for m in timed):
        text += " It is the longest module of the course."
    return text + " Allow more for reading and discussion in a workshop.\n"


def find_hand_written_durations(book: Path) -> list[str]:
    """Every place a hand-written page of the book states a duration in hours or minutes, as
    ``page:line: text``. Times come from module.yaml alone: the module pages include the time
    :func:`module_time_md` writes, and no page may state one of its own."""
    found = []
    for page in sorted(book.rglob("*.md")):
        relative = page.relative_to(book)
        if relative.parts[0] in NOT_HAND_WRITTEN or page.name == "README.md":
            continue
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{relative.as_posix()}:{number}: {m.group(0)!r}"
                      for m in HAND_WRITTEN_DURATION.finditer(line)]
    return found


def classify_tables(tables: Iterable[object]) -> dict[str, list[object]]:
    """Which generated tables stand in for each real dataset (keys are the dataset pages)."""
    pages: dict[str, list[object]] = {"cafcass": [], "cafcass-cymru-sail": [], "data-first": [],
                                      "linked-health-education": []}
    for t in tables:
        name, view, text = t.name, t.view, t.description
        if view in {"answer_key", "reference"}:
            continue
        if view == "tre" and not HEALTH_EDUCATION.search(text) and not DATA_FIRST.search(text):
            pages["cafcass-cymru-sail"].append(t)
        elif DATA_FIRST.search(text) and not name.startswith("cafcass_"):
            pages["data-first"].append(t)
        elif HEALTH_EDUCATION.search(text) and not name.startswith("cafcass_"):
            pages["linked-health-education"].append(t)
        elif name.startswith("cafcass_"):
            pages["cafcass"].append(t)
    return pages


def tables_md(tables: list[object], missing: str) -> str:
    """A table of synthetic tables for a real-dataset page, or the note used when there is none."""
    if not tables:
        return f"```{{note}}\n{missing}\n```\n"
    lines = ["| Synthetic table | Folder | One row is | What it holds |", "|---|---|---|---|"]
    for t in tables:
        first = t.description.split(". ")[0].rstrip(".").replace("|", "/")
        lines.append(f"| `{t.name}` | `{t.view}/` | {t.unit} | {first}. |")
    lines += ["", "Every column, with the real field it stands in for, is in the "
              "{doc}`data dictionary </data/dictionary>`.", ""]
    return "\n".join(lines)


MISSING_TABLES = {
    "cafcass": "The dataset this book was built from has no Cafcass-like table.",
    "cafcass-cymru-sail": (
        "The dataset this book was built from has no de-identified, ALF-linked view yet. Until it "
        "has one, the Welsh records are the `cafcass_` tables with `service` equal to "
        "'Cafcass Cymru'."),
    "data-first": ("The dataset this book was built from has no table standing in for the "
                   "family court records yet."),
    "linked-health-education": ("The dataset this book was built from has no linked health "
                                "or education table yet."),
}


def runbook_md(repo: Path) -> str:
    """The hub set-up's workshop runbook, or a note saying where it will be."""
    path = repo / "hub_config" / "workshop" / "RUNBOOK.md"
    if not path.is_file():
        return ("```{note}\nThis copy of the book was built before the workshop hub's runbook "
                "was written. It will be `hub_config/workshop/RUNBOOK.md` in the platform's "
                "repository, and appears on this page once it exists.\n```\n")
    text = path.read_text(encoding="utf-8")
    # The runbook is included under this page's own title: its first heading goes, the others
    # move down a level so they nest beneath it.
    text = strip_title(text)
    text = re.sub(r"^(#{1,5})(\s)", r"#\1\2", text, flags=re.MULTILINE)
    return _unlink_relative(text, "hub_config/workshop/")


def _unlink_relative(text: str, base: str) -> str:
    """Turn Markdown links and images that point at repository files into text naming the file
    (the book does not hold those files, so the links would be broken)."""
    def repl(m: re.Match[str]) -> str:
        image, label, target = m.group(1), m.group(2), m.group(3)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) and not image:
            return m.group(0)
        if target.startswith("#"):
            return label
        where = target if target.startswith("/") else (Path(base) / target).as_posix()
        return f"{label} (`{where}`)"
    return re.sub(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)", repl, text)


def strip_title(text: str) -> str:
    """A generated Markdown document without its first top-level heading: the book's page that
    includes it has its own title."""
    return re.sub(r"\A\s*#\s[^\n]*\n", "", text, count=1)


def grading_commands_md(python: str, repo: Path) -> str:
    """``python -m grading --help``, or a note when the grading commands are not there yet."""
    if not (repo / "grading" / "__main__.py").is_file():
        return ("```{note}\nThe grading commands were not installed when this copy of the book "
                "was built; `python -m grading --help` lists them.\n```\n")
    done = subprocess.run([python, "-m", "grading", "--help"], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        return f"```{{note}}\n`python -m grading --help` failed:\n\n{done.stderr.strip()}\n```\n"
    return f"```text\n$ python -m grading --help\n{done.stdout.rstrip()}\n```\n"


def make_toc(template: dict, modules: list[Module]) -> dict:
    """The template table of contents, each module page given its released notebooks."""
    by_id = {m.id: m for m in modules}
    toc = json.loads(json.dumps(template))  # a deep copy
    listed = set()
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            file = str(chapter.get("file", ""))
            if file.startswith("modules/") and file.split("/", 1)[1] in by_id:
                module = by_id[file.split("/", 1)[1]]
                listed.add(module.id)
                if module.assignments:
                    chapter["sections"] = [{"file": a.docname} for a in module.assignments]
    unknown = sorted(set(by_id) - listed)
    if unknown:
        raise BuildError(f"released/course.json has modules with no page in book/_toc.yml: "
                         f"{', '.join(unknown)}; write book/modules/<id>.md and list it")
    return toc


# --------------------------------------------------------------------------- the steps

def run_release(python: str, repo: Path) -> bool:
    """``python -m grading release``; False when the grading command-line is not there yet."""
    if not (repo / "grading" / "__main__.py").is_file():
        print("release: the grading package has no command line yet; using the released "
              "notebooks already in book/released (if any)")
        return False
    done = subprocess.run([python, "-m", "grading", "release"], cwd=repo)
    if done.returncode != 0:
        raise BuildError(f"`python -m grading release` failed (exit {done.returncode})")
    return True


def generate(book: Path, data: Path, repo: Path = REPO, python: str = sys.executable,
             mathjax: Path | None = None) -> list[Module]:
    """Write ``book/_generated/`` from the dataset, the released course and the repository."""
    released = book / RELEASED
    problems = find_forbidden(released)
    if problems:
        raise BuildError("released notebooks hold solution or hidden-test text; the book will "
                         "not publish them:\n  " + "\n  ".join(problems))
    modules = load_course(released)
    durations = find_hand_written_durations(book)
    if durations:
        raise BuildError("hand-written pages state durations; module and notebook times come "
                         "from module.yaml alone (a module page includes "
                         "../_generated/modules/<id>-time.md instead):\n  "
                         + "\n  ".join(durations))

    out = book / GENERATED
    if out.exists():
        shutil.rmtree(out)
    (out / "modules").mkdir(parents=True)
    (out / "datasets").mkdir()

    # The data: its own dictionary (the one written with it), the realism report with plots.
    if not (data / "manifest.json").is_file():
        raise BuildError(f"{data} is not a generated dataset (no manifest.json); run `make data`")
    dictionary = data / "data_dictionary.md"
    if dictionary.is_file():
        text = dictionary.read_text(encoding="utf-8")
    else:
        from synthetic_data.output.dictionary import render_dictionary
        text = render_dictionary()
    (out / "data_dictionary.md").write_text(strip_title(text), encoding="utf-8")
    from synthetic_data.realism.report import write_report
    summary = write_report(data, out / "realism")
    report = out / "realism" / "report.md"
    report.write_text(strip_title(report.read_text(encoding="utf-8")), encoding="utf-8")
    (out / "realism" / "summary.txt").write_text(str(summary) + "\n", encoding="utf-8")
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    (out / "dataset.md").write_text(_dataset_md(manifest), encoding="utf-8")

    # The modules' notebooks.
    by_id = {m.id: m for m in modules}
    for page in sorted((book / "modules").glob("*.md")):
        module_id = page.stem
        if module_id == "index":
            continue
        (out / "modules" / f"{module_id}.md").write_text(
            module_notebooks_md(by_id.get(module_id), module_id), encoding="utf-8")
        (out / "modules" / f"{module_id}-time.md").write_text(
            module_time_md(by_id.get(module_id), modules), encoding="utf-8")
    (out / "modules" / "overview.md").write_text(_overview_md(modules), encoding="utf-8")

    # The real datasets' synthetic stand-ins.
    from synthetic_data.output.schema import TABLES
    for page, tables in classify_tables(TABLES).items():
        (out / "datasets" / f"{page}.md").write_text(tables_md(tables, MISSING_TABLES[page]),
                                                     encoding="utf-8")

    # The trainer's guide: the hub's runbook and the grading commands.
    (out / "runbook.md").write_text(runbook_md(repo), encoding="utf-8")
    (out / "grading_commands.md").write_text(grading_commands_md(python, repo), encoding="utf-8")

    copy_mathjax(mathjax or book / "node_modules" / "mathjax", out / "extra" / "_static" / "mathjax")

    template = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    (out / "_toc.yml").write_text(yaml.safe_dump(make_toc(template, modules), sort_keys=False),
                                  encoding="utf-8")
    return modules


def _dataset_md(manifest: dict) -> str:
    config = manifest.get("config", {})
    rows = manifest.get("row_counts", {})
    return (f"This book describes a dataset generated at scale {config.get('scale')} "
            f"(region: {config.get('region')}, {config.get('start')} to {config.get('end')}, "
            f"seed {config.get('seed')}): {sum(rows.values()):,} rows in {len(rows)} tables.\n")


def _overview_md(modules: list[Module]) -> str:
    if not modules:
        return "No notebook has been released yet.\n"
    lines = ["| Module | Notebooks | Time |", "|---|---|---|"]
    for m in modules:
        lines.append(f"| {{doc}}`{_escape_role(m.title)} </modules/{m.id}>` | "
                     f"{len(m.assignments)} | {m.minutes} min |")
    total = sum(m.minutes for m in modules)
    count = sum(len(m.assignments) for m in modules)
    lines.append(f"| **In all** | **{count}** | **{total} min** |")
    lines += ["", f"In all, {duration_text(total)} of notebooks."]
    return "\n".join(lines) + "\n"


def copy_mathjax(source: Path, dest: Path) -> None:
    """Copy the parts of MathJax the book loads, so that no page fetches it from elsewhere."""
    es5 = source / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise BuildError(f"MathJax is missing from {source}: run `make install` (it runs "
                         "`npm ci --prefix book`)")
    dest.mkdir(parents=True, exist_ok=True)
    for part in MATHJAX_PARTS:
        src = es5 / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        elif src.is_file():
            shutil.copyfile(src, dest / part)
    shutil.copyfile(source / "LICENSE", dest / "LICENSE")


def build(book: Path, out: Path, python: str = sys.executable, strict: bool = False) -> Path:
    """Run jupyter-book on ``book`` (with the generated table of contents); return the HTML.

    ``strict`` turns Sphinx's warnings (a broken cross-reference, a missing include) into
    errors. The tests build strictly; ``make book`` does not, so that a warning about content
    made elsewhere (a notebook, the runbook) is printed without stopping the book.
    """
    command = [python, "-c", "from jupyter_book.cli.main import main; main()", "build", str(book),
               "--toc", str(book / GENERATED / "_toc.yml"), "--path-output", str(out), "--quiet"]
    if strict:
        command += ["--warningiserror", "--keep-going"]
    done = subprocess.run(command, cwd=book)
    if done.returncode != 0:
        raise BuildError(f"jupyter-book failed (exit {done.returncode}); its warnings are above")
    return out / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO / "data" / "classroom",
                        help="the generated dataset the book describes (default data/classroom)")
    parser.add_argument("--book", type=Path, default=BOOK,
                        help="the book's source folder (default: this script's folder)")
    parser.add_argument("--out", type=Path, default=None,
                        help="build into OUT/_build/html (default: the book folder)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on any Sphinx warning (broken references, missing includes)")
    parser.add_argument("--no-release", action="store_true",
                        help="use the released notebooks already in BOOK/released")
    args = parser.parse_args(argv)
    book = args.book.resolve()
    out = (args.out or book).resolve()
    timings: list[tuple[str, float]] = []
    start = time.perf_counter()
    try:
        step = time.perf_counter()
        if not args.no_release:
            run_release(sys.executable, REPO)
        timings.append(("release", time.perf_counter() - step))
        step = time.perf_counter()
        modules = generate(book, args.data.resolve())
        timings.append(("generate", time.perf_counter() - step))
        step = time.perf_counter()
        html = build(book, out, strict=args.strict)
        timings.append(("build", time.perf_counter() - step))
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    total = time.perf_counter() - start
    notebooks = sum(len(m.assignments) for m in modules)
    print(f"book: {len(modules)} modules with released notebooks, {notebooks} notebooks; "
          f"{html}/index.html")
    print("book build time: " + ", ".join(f"{name} {secs:.1f} s" for name, secs in timings)
          + f"; total {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
