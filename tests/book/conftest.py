"""Fixtures for the course book's tests: the build script, a released course, a built book.

The integration tests build the book once per session into a temporary folder, from a copy of
the hand-written pages, the fixture released course in ``fixtures/released`` (so they do not
depend on the grading tools) and a small generated dataset.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "book"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_RELEASED = FIXTURES / "released"
# Hand-written sources of the book: everything in book/ except what a build makes.
NOT_SOURCES = {"_build", "_generated", "released", "node_modules", "__pycache__"}
# A small dataset: Wales at a small scale over five financial years (a few seconds).
TINY = {"scale": 0.03, "region": "wales", "start": "2014-04", "end": "2019-03", "seed": 42}


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_book", BOOK / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_book"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_book() -> ModuleType:
    """book/build_book.py, imported as a module."""
    return _load_build_script()


def copy_book_sources(dest: Path) -> Path:
    """Copy the book's hand-written pages (not its generated folders) into ``dest``."""
    shutil.copytree(BOOK, dest, ignore=lambda folder, names: [
        n for n in names if Path(folder) == BOOK and n in NOT_SOURCES])
    return dest


@pytest.fixture(scope="session")
def solution_strings() -> list[str]:
    """Text the fixture course's source notebooks held in solution and hidden-test regions."""
    return json.loads((FIXTURES / "solution_strings.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fixture_course() -> dict:
    return json.loads((FIXTURE_RELEASED / "course.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset generated for the session, or the one FJ_BOOK_TEST_DATA names."""
    if os.environ.get("FJ_BOOK_TEST_DATA"):
        return Path(os.environ["FJ_BOOK_TEST_DATA"])
    from synthetic_data.api import generate

    return generate(tmp_path_factory.mktemp("book-data") / "data", progress=False, **TINY)


@pytest.fixture(scope="session")
def built_book(build_book: ModuleType, tiny_data: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book built once for the session; returns its HTML folder."""
    root = tmp_path_factory.mktemp("book-build")
    book = copy_book_sources(root / "book")
    shutil.copytree(FIXTURE_RELEASED, book / "released")
    start = time.perf_counter()
    build_book.generate(book, tiny_data, mathjax=BOOK / "node_modules" / "mathjax")
    html = build_book.build(book, root / "out", strict=True)
    print(f"book built in {time.perf_counter() - start:.1f} s")
    assert (html / "index.html").is_file()
    return html


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def book_url(built_book: Path) -> Iterator[str]:
    """The built book served over HTTP on localhost, below a prefix as the hub serves it."""
    root = built_book.parent / "served"
    prefix = "services/book"
    (root / prefix).parent.mkdir(parents=True, exist_ok=True)
    if not (root / prefix).exists():
        (root / prefix).symlink_to(built_book, target_is_directory=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/{prefix}/"
    finally:
        server.shutdown()
        server.server_close()
