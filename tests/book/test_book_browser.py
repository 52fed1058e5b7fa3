"""The built book in a real browser (Debian's chromium through Playwright), served below
/services/book/ as the hub serves it: the landing page, the table of contents to every module,
the search box and the mathematics, with no request to any other host. Screenshots go to
test-artifacts/book/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

MODULE_TITLES = {
    "orientation": "Orientation: family justice data",
    "data_quality": "Data quality",
    "linkage": "Record linkage",
    "disclosure": "Disclosure control",
    "analysis": "Analysis",
    "capstone": "Capstone",
}


@pytest.fixture(scope="module")
def shots(artifacts_dir: Path) -> Path:
    folder = artifacts_dir / "book"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: object, book_url: str) -> Iterator[object]:
    """A fresh page that records every request the book makes, and any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def _assert_local_only(page: object, book_url: str) -> None:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(book_url))
    elsewhere = [u for u in page.requests
                 if not u.startswith((origin + "/", "data:", "blob:", "about:"))]
    assert not elsewhere, f"requests to other hosts: {elsewhere}"


def test_toc_reaches_every_module(page: object, book_url: str, shots: Path) -> None:
    page.goto(book_url)
    for path in ["I am learning on my own", "I am running a workshop",
                 "I am about to get access to real data"]:
        assert page.get_by_text(path, exact=True).first.is_visible()
    page.screenshot(path=str(shots / "index.png"), full_page=True)

    nav = page.locator("nav.bd-docs-nav")
    for module, title in MODULE_TITLES.items():
        nav.get_by_role("link", name=title, exact=True).click()
        page.wait_for_url(re.compile(rf"/services/book/modules/{module}\.html"))
        assert page.locator("article h1").first.inner_text().startswith(title)
        assert page.get_by_role("heading", name="At a glance").is_visible()
        page.screenshot(path=str(shots / f"module-{module}.png"), full_page=True)

    # A notebook in its released, solution-free form, reached from its module's page.
    page.goto(book_url + "modules/orientation.html")
    page.locator("article").get_by_role("link", name="The Five Safes and how a TRE works").click()
    page.wait_for_url(re.compile(r"orientation_02_five_safes\.html"))
    assert "YOUR CODE HERE" in page.locator("article").inner_text()
    page.screenshot(path=str(shots / "notebook.png"), full_page=True)
    _assert_local_only(page, book_url)
    assert not page.errors, page.errors


def test_search_finds_pages(page: object, book_url: str, shots: Path) -> None:
    page.goto(book_url + "glossary.html")
    page.locator(".search-button-field:visible").first.click()
    box = page.locator("input[name='q']:visible").first
    box.fill("supervision")
    box.press("Enter")
    page.wait_for_url(re.compile(r"search\.html\?q=supervision"))
    results = page.locator("#search-results ul.search li")
    results.first.wait_for()
    assert results.count() >= 2
    assert "Glossary" in page.locator("#search-results").inner_text()
    page.screenshot(path=str(shots / "search.png"), full_page=True)
    results.first.locator("a").first.click()
    page.wait_for_load_state()
    assert "search.html" not in page.url
    _assert_local_only(page, book_url)


def test_mathematics_is_typeset_from_the_book_itself(page: object, book_url: str,
                                                     shots: Path) -> None:
    page.goto(book_url + "modules/linkage.html")
    page.locator("mjx-container").first.wait_for()
    page.locator("mjx-container[display='true']").first.screenshot(
        path=str(shots / "mathjax.png"))
    _assert_local_only(page, book_url)
    assert any("/_static/mathjax/" in u for u in page.requests)


def test_realism_report_plots_load(page: object, book_url: str, shots: Path) -> None:
    page.goto(book_url + "data/realism.html")
    images = page.locator("article img")
    assert images.count() >= 5
    loaded = page.evaluate(
        "() => [...document.querySelectorAll('article img')].every(i => i.complete && "
        "i.naturalWidth > 0)")
    assert loaded
    page.screenshot(path=str(shots / "realism.png"))
    _assert_local_only(page, book_url)
