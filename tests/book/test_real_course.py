"""The course's real notebooks, released as `make book` releases them, build into the book with
a page for every assignment, without a line of any solution or hidden test, and with the module
times module.yaml gives."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import ModuleType

import pytest

from grading import cells
from grading.cli import main as grading_cli
from grading.course import load_course
from grading.settings import DEFAULT_NOTEBOOKS, REPO
from tests.book.conftest import copy_book_sources

DATA = REPO / "data" / "classroom"
SHORTEST_SECRET = 20  # shorter lines (`return None`) may appear in any prose


def _page_text(path: Path) -> str:
    """A built file's text as a reader sees it: tags dropped (code is split into highlighted
    spans), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8", errors="replace")))


@pytest.mark.integration
def test_the_real_course_builds_into_the_book_without_its_secrets(tmp_path: Path,
                                                                  build_book: ModuleType) -> None:
    if not (DATA / "manifest.json").is_file():
        pytest.fail("the classroom dataset is missing: run `make data`")
    course = load_course(DEFAULT_NOTEBOOKS)
    book = copy_book_sources(tmp_path / "book")
    assert grading_cli(["--notebooks", str(DEFAULT_NOTEBOOKS), "--course-dir",
                        str(tmp_path / "course"), "--data-dir", str(DATA),
                        "release", "--book-dir", str(book / "released")]) == 0

    modules = build_book.generate(book, DATA, mathjax=REPO / "book" / "node_modules" / "mathjax")
    out = build_book.build(book, tmp_path / "site", strict=True)
    listed = {a.id for m in modules for a in m.assignments}
    assert listed == {a.id for a in course.assignments}

    # A later notebook may hand out an earlier one's solution as given code (grading.check's
    # backward_leaks), and a notebook's own released text is compared line by line by `check`;
    # no page may show a later assignment's solution or hidden tests, and pages of no
    # notebook may show none at all.
    order = {a.id: n for n, a in enumerate(course.assignments)}
    secrets: dict[str, tuple[int, str]] = {}
    for assignment in course.assignments:
        for line, where in cells.secret_lines(cells.read_notebook(assignment.notebook)).items():
            if len(line) >= SHORTEST_SECRET:
                secrets.setdefault(line, (order[assignment.id], f"{assignment.id} {where}"))
    found = []
    for path in sorted(p for p in out.rglob("*") if p.suffix in {".html", ".ipynb", ".txt"}):
        page_of = [order[i] for i in order if i in path.name]
        shown_at = page_of[0] if page_of else -1  # pages of no notebook may show nothing
        text = _page_text(path)
        found += [f"{path.relative_to(out)}: {where}: {line!r}"
                  for line, (owner, where) in secrets.items() if owner > shown_at and line in text]
    assert not found, "solution or hidden-test text in the built book:\n" + "\n".join(found[:20])
    for assignment in course.assignments:
        assert any(assignment.id in p.name for p in out.rglob("*.html")) or any(
            assignment.id in _page_text(p) for p in (out / "modules").glob("*.html")), assignment.id

    # Times come from module.yaml alone: each module page states its notebooks' sum, and the
    # overview the course's total.
    for module in course.modules:
        minutes = sum(a.minutes for a in module.assignments)
        stated = _estimated_time(out / "modules" / f"{module.name}.html")
        assert stated.startswith(f"{build_book.duration_text(minutes)}:"), (module.name, stated)
    total = sum(a.minutes for a in course.assignments)
    assert f"In all, {build_book.duration_text(total)} of notebooks" in " ".join(
        _page_text(out / "modules" / "index.html").split())


def _estimated_time(path: Path) -> str:
    """The definition of a module page's *Estimated time*, as a reader sees it."""
    match = re.search(r"<dt[^>]*>\s*Estimated time\s*</dt>\s*<dd>(.*?)</dd>",
                      path.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert match, f"{path.name} has no Estimated time"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())
