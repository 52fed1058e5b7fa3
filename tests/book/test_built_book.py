"""The built book, read file by file: nothing loaded from another host, no solution or hidden-test
text anywhere, no broken internal link, and the generated inputs in their places.

The book is built once per session (see conftest.py) from the fixture released course.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODULES = ["orientation", "data_quality", "linkage", "disclosure", "analysis", "capstone"]
# Attributes through which a page loads something (as opposed to linking to it).
RESOURCE_ATTRS = {
    "script": ["src"], "link": ["href"], "img": ["src", "srcset"], "iframe": ["src"],
    "source": ["src", "srcset"], "video": ["src", "poster"], "audio": ["src"], "embed": ["src"],
    "object": ["data"], "input": ["src"], "track": ["src"],
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")
# Host-relative links the hub answers (the learner's own server): the only absolute paths the
# book may use, since the hub serves the book itself below /services/book/.
HUB_PREFIX = "/hub/user-redirect/"


class Page(HTMLParser):
    """The parts of an HTML page these tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.resources: list[tuple[str, str]] = []  # (tag, url)
        self.links: list[str] = []  # <a href>
        self.ids: set[str] = set()
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for key in ("id", "name"):
            if values.get(key):
                self.ids.add(values[key])
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        for attr in RESOURCE_ATTRS.get(tag, []):
            if values.get(attr):
                urls = ([part.split()[0] for part in values[attr].split(",") if part.strip()]
                        if attr == "srcset" else [values[attr]])
                self.resources += [(tag, url) for url in urls]
        if "style" in values:
            self.styles.append(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def pages(built_book: Path) -> dict[Path, Page]:
    """Every page of the book (the theme's Jinja templates in _static/ are not pages)."""
    return {p: parse(p) for p in sorted(built_book.rglob("*.html"))
            if "_static" not in p.relative_to(built_book).parts}


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.scheme not in {"data"}) or url.startswith("//")


def test_every_module_and_notebook_page_was_built(built_book: Path, fixture_course: dict) -> None:
    for module in MODULES:
        assert (built_book / "modules" / f"{module}.html").is_file()
    for module in fixture_course["modules"]:
        for a in module["assignments"]:
            assert (built_book / "released" / Path(a["notebook"]).with_suffix(".html")).is_file()


def test_no_page_loads_anything_from_another_host(built_book: Path,
                                                  pages: dict[Path, Page]) -> None:
    found = []
    for path, page in pages.items():
        name = path.relative_to(built_book)
        found += [f"{name}: <{tag}> {url}" for tag, url in page.resources if is_external(url)]
        for style in page.styles:
            found += [f"{name}: style {m}" for m in CSS_URL.findall(style)
                      if is_external(m[0] or m[1])]
    for css in built_book.rglob("*.css"):
        for m in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            if is_external(m[0] or m[1]):
                found.append(f"{css.relative_to(built_book)}: {m[0] or m[1]}")
    assert not found, "assets loaded from other hosts:\n" + "\n".join(found)


def test_mathjax_is_served_by_the_book(built_book: Path, pages: dict[Path, Page]) -> None:
    linkage = pages[built_book / "modules" / "linkage.html"]
    scripts = [url for tag, url in linkage.resources if tag == "script" and "mathjax" in url]
    assert scripts and all(url.startswith("../_static/mathjax/") for url in scripts)
    assert (built_book / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (built_book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_no_solution_or_hidden_test_text_anywhere(built_book: Path,
                                                  solution_strings: list[str]) -> None:
    forbidden = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                 *solution_strings]
    found = []
    for path in sorted(p for p in built_book.rglob("*") if p.is_file()):
        if path.suffix not in {".html", ".js", ".ipynb", ".txt", ".md", ".json", ".inv"}:
            continue
        if "mathjax" in path.parts:
            continue
        text = html.unescape(path.read_text(encoding="utf-8", errors="replace"))
        found += [f"{path.relative_to(built_book)}: {s!r}" for s in forbidden if s in text]
    assert not found, "solution text in the built book:\n" + "\n".join(found)


def test_no_broken_internal_link(built_book: Path, pages: dict[Path, Page]) -> None:
    broken = []
    for path, page in pages.items():
        name = path.relative_to(built_book)
        for url in page.links + [u for _, u in page.resources]:
            parts = urlsplit(url)
            if is_external(url) or parts.scheme == "data" or url.startswith("mailto:"):
                continue
            if parts.path.startswith("/"):
                if not parts.path.startswith(HUB_PREFIX):
                    broken.append(f"{name}: {url} (absolute paths break below /services/book/)")
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or built_book.resolve() not in target.parents:
                broken.append(f"{name}: {url} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[Path(target)].ids if Path(target) in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{name}: {url} (no #{parts.fragment} there)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_module_page_links_each_notebook_three_ways(built_book: Path, pages: dict[Path, Page],
                                                    fixture_course: dict) -> None:
    for module in fixture_course["modules"]:
        path = built_book / "modules" / f"{module['id']}.html"
        links = pages[path].links
        for a in module["assignments"]:
            aid = a["id"]
            assert f"/hub/user-redirect/lab/tree/{aid}/{aid}.ipynb" in links
            page = "../released/" + a["notebook"].replace(".ipynb", ".html")
            assert page in links
            downloads = [u for u in links if u.endswith(f"/{aid}.ipynb") and "_downloads" in u]
            assert len(downloads) == 1
            served = (path.parent / downloads[0]).resolve()
            assert json.loads(served.read_text()) == json.loads(
                (FIXTURES / "released" / a["notebook"]).read_text())
        assert "python -m grading selfcheck" in re.sub(r"<[^>]+>", "", path.read_text())


def test_module_without_released_notebooks_says_so(built_book: Path) -> None:
    text = (built_book / "modules" / "capstone.html").read_text()
    assert "No notebook of this module has been released yet" in text


def test_data_pages_hold_the_generated_dictionary_and_report(built_book: Path,
                                                             pages: dict[Path, Page]) -> None:
    dictionary = (built_book / "data" / "dictionary.html").read_text()
    assert "cafcass_cases" in dictionary and "real field" in dictionary
    realism = built_book / "data" / "realism.html"
    text = realism.read_text()
    assert "Target" in text and "Generated" in text
    images = [url for tag, url in pages[realism].resources if tag == "img"]
    assert len(images) >= 5
    for url in images:
        assert (realism.parent / url).resolve().read_bytes()[:4] == b"\x89PNG"
    cafcass = (built_book / "data" / "real" / "cafcass.html").read_text()
    assert "cafcass_cases" in cafcass


def test_glossary_defines_the_terms(built_book: Path) -> None:
    text = (built_book / "glossary.html").read_text()
    for term in ["s31", "s8", "SGO", "DFJ area", "ALF", "WOB", "LSOA", "Five Safes",
                 "split-file", "output checking",
                 # the methods the analysis and linkage notebooks use
                 "Kaplan-Meier estimator", "censoring", "hazard ratio",
                 "Cox proportional hazards model", "precision", "recall", "blocking",
                 "m probability", "u probability", "m and u probabilities", "EM algorithm",
                 "Jaro-Winkler similarity", "Levenshtein distance", "Soundex", "match weight",
                 "false match", "missed match", "gold standard", "silver standard",
                 "clerical review", "Splink", "funnel plot", "p% rule", "l-diversity",
                 "quasi-identifier", "answer key", "SSDA903"]:
        assert re.search(rf'<dt id="term-[^"]*">{re.escape(term)}', text), term


def test_trainers_guide_has_the_runbook_or_says_where_it_is(built_book: Path) -> None:
    text = (built_book / "trainers" / "runbook.html").read_text()
    assert "RUNBOOK.md" in text or "A week before" in text or "week before" in text.lower()


def _text(path: Path) -> str:
    """A page's text as a reader sees it, whitespace collapsed."""
    body = path.read_text(encoding="utf-8")
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _estimated_time(path: Path) -> str:
    """The definition of a module page's *Estimated time*."""
    match = re.search(r"<dt[^>]*>\s*Estimated time\s*</dt>\s*<dd>(.*?)</dd>",
                      path.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert match, f"{path.name} has no Estimated time"
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))).strip()


def test_module_pages_state_the_times_course_json_gives(built_book: Path,
                                                        fixture_course: dict) -> None:
    """Times come from module.yaml alone, through course.json: a module page states the sum of
    its released notebooks' minutes and no time of its own."""
    released = {m["id"]: sum(a["minutes"] for a in m["assignments"])
                for m in fixture_course["modules"]}
    for module in MODULES:
        stated = _estimated_time(built_book / "modules" / f"{module}.html")
        if module in released:
            assert stated.startswith(f"{released[module]} minutes"), (module, stated)
        else:
            assert "once they are released" in stated, (module, stated)
        assert "About" not in stated and "hours" not in stated.split(":")[0]
    overview = _text(built_book / "modules" / "index.html")
    assert f"In all, {sum(released.values())} minutes" in overview


# A sentence that puts the learner (or "each method") next to the answer key must say that it
# is not the learners' to read (the realism report's "true ethnicity from the answer key" is
# about how the data was made, and passes).
ANSWER_KEY = re.compile(r"answer key", re.IGNORECASE)
LEARNER = re.compile(r"\b(you|your|yourself|learners?)\b|against the answer key", re.IGNORECASE)
WHOSE = re.compile(r"grader|trainer|never|cannot|not |hidden test|only|safe", re.IGNORECASE)


def test_no_page_says_learners_read_the_answer_key(built_book: Path,
                                                   pages: dict[Path, Page]) -> None:
    found = []
    for path in pages:
        relative = path.relative_to(built_book)
        if relative.parts[0] in {"released", "_sources", "genindex.html", "search.html"}:
            continue
        for sentence in re.split(r"(?<=[.;:!?])\s+", _text(path)):
            if (ANSWER_KEY.search(sentence) and LEARNER.search(sentence)
                    and not WHOSE.search(sentence)):
                found.append(f"{relative}: {sentence.strip()[:200]}")
    assert not found, "pages that suggest learners read the answer key:\n" + "\n".join(found)
    linkage = _text(built_book / "modules" / "linkage.html")
    assert "silver standard" in linkage and "you never read it" in linkage


def test_the_self_paced_page_says_where_help_is(built_book: Path) -> None:
    text = (built_book / "start" / "learning-alone.html").read_text()
    assert "When you are stuck" in text and "Hint" in text
    assert "glossary" in text and "data dictionary" in text
