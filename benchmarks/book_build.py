"""Benchmark a full build of the course book, from nothing, as `make book` does it.

    .venv/bin/python benchmarks/book_build.py [--data data/classroom]

Copies the book's hand-written pages into a temporary folder (so no earlier build's cache
helps), runs `python -m grading release` into it when the grading command line exists (otherwise
uses book/released, or the test fixture course if nothing has been released), then times the
build script's two steps: generating the inputs (data dictionary, realism report, notebook lists,
MathJax) and the jupyter-book build. Prints each step's time and the total against the target.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
FIXTURE = REPO / "tests" / "book" / "fixtures" / "released"
NOT_SOURCES = {"_build", "_generated", "released", "node_modules", "__pycache__"}
TARGET_SECONDS = 120.0


def load_build_script() -> object:
    spec = importlib.util.spec_from_file_location("build_book", BOOK / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_book"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "classroom")
    args = parser.parse_args()
    if not (args.data / "manifest.json").is_file():
        print(f"No dataset at {args.data}: run `make data` first.")
        return 1
    build_book = load_build_script()
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        book = Path(tmp) / "book"
        shutil.copytree(BOOK, book, ignore=lambda folder, names: [
            n for n in names if Path(folder) == BOOK and n in NOT_SOURCES])
        timings = []
        start = time.perf_counter()
        if (REPO / "grading" / "__main__.py").is_file():
            subprocess.run([sys.executable, "-m", "grading", "release"], cwd=REPO, check=True)
            source = "grading release"
        elif (BOOK / "released" / "course.json").is_file():
            source = "book/released"
        else:
            source = "the test fixture course"
        released = BOOK / "released" if (BOOK / "released").is_dir() else FIXTURE
        shutil.copytree(released, book / "released")
        timings.append(("release", time.perf_counter() - start))
        step = time.perf_counter()
        modules = build_book.generate(book, args.data.resolve(),
                                      mathjax=BOOK / "node_modules" / "mathjax")
        timings.append(("generate", time.perf_counter() - step))
        step = time.perf_counter()
        html = build_book.build(book, Path(tmp) / "out")
        timings.append(("jupyter-book", time.perf_counter() - step))
        total = time.perf_counter() - start
        pages = sum(1 for p in html.rglob("*.html") if "_static" not in p.parts)
    notebooks = sum(len(m.assignments) for m in modules)
    print(f"book: {pages} pages, {notebooks} released notebooks (from {source}), "
          f"dataset {args.data}")
    for name, seconds in timings:
        print(f"  {name:13s} {seconds:6.1f} s")
    verdict = "within" if total < TARGET_SECONDS else "OVER"
    print(f"full book build: {total:.1f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
