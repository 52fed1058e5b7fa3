"""``course_outline.json``: the course's map for learners' servers, written at release.

A learner's server must never read the course's sources (notebooks/ holds solutions and hidden
tests), so the course home cannot call ``grading.course.load_course`` itself. Releasing the
course writes this small file instead, world-readable, next to the released material (the hub's
state folder): module titles, assignment ids, titles and minutes, and each one's page in the
course book, in course order. Nothing else from notebooks/ goes in it.

    {"format": 1, "course_id": "fj-course",
     "modules": [{"id": "orientation", "title": "Orientation", "book_page": "modules/orientation.html",
                  "assignments": [{"id": "orientation_01_...", "title": "...", "minutes": 45,
                                   "book_page": "released/orientation/orientation_01_.../....html"}]}]}

Book pages are relative to the book's root (``/services/book/`` on a hub): a module's page is
``modules/<module>.html`` (book/_toc.yml) and a released notebook's is its path under
``released/`` with ``.html`` for ``.ipynb`` (grading.release.released_path, book/build_book.py).

Written by ``hub_config.course_ops.release`` (the demo), the workshop installer and the hub at
start when the clone's notebooks are newer (hub_config/course.py), the Kubernetes image's build
(hub_config/k8s/Dockerfile), or by hand::

    python -m hub_config.course_home.outline [--notebooks DIR] [--out FILE] [--course-id ID]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from grading.atomic import write_atomically

FORMAT = 1
BOOK_SOURCES = Path(__file__).resolve().parents[2] / "book"


def describe(course: Any, course_id: str, book: Path = BOOK_SOURCES) -> dict[str, Any]:
    """The outline of a ``grading.course.Course`` (modules and assignments already in course
    order). A module's book page is given only when the book has a page for it."""
    modules = []
    for module in course.modules:
        has_page = any((book / "modules" / f"{module.name}{suffix}").is_file()
                       for suffix in (".md", ".ipynb"))
        modules.append({
            "id": module.name,
            "title": module.title,
            "book_page": f"modules/{module.name}.html" if has_page else None,
            "assignments": [{
                "id": a.id,
                "title": a.title,
                "minutes": a.minutes,
                "book_page": book_page(a.module, a.id),
            } for a in module.assignments],
        })
    return {"format": FORMAT, "course_id": course_id, "modules": modules}


def book_page(module: str, assignment_id: str) -> str:
    """A released notebook's page in the book: grading.release.released_path (where the release
    puts the notebook under book/released/) with .html for .ipynb, as Jupyter Book names it."""
    return f"released/{module}/{assignment_id}/{assignment_id}.html"


def write_outline(notebooks: Path, dest: Path, course_id: str, book: Path = BOOK_SOURCES) -> Path:
    """Describe the course under `notebooks` into `dest`, world-readable, replacing any older
    outline in one step (a server reading it meanwhile sees the old or the new one, whole)."""
    from grading.course import load_course

    text = json.dumps(describe(load_course(notebooks), course_id, book), indent=1) + "\n"
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(dest, text.encode())
    return dest


def sources_mtime(notebooks: Path, book: Path = BOOK_SOURCES) -> float:
    """When what the outline is made of last changed: the notebooks folder, its module folders
    and their module.yaml (an assignment or module added, renamed, retitled or reordered), and
    the book's module pages (whose existence gives a module its link)."""
    notebooks = Path(notebooks)
    paths = [notebooks, book / "modules"]
    if notebooks.is_dir():
        for folder in notebooks.iterdir():
            if folder.is_dir():
                paths += [folder, folder / "module.yaml"]
    times = []
    for path in paths:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)


def is_stale(notebooks: Path, dest: Path, book: Path = BOOK_SOURCES) -> bool:
    """True if `dest` is missing or older than the course under `notebooks` (sources_mtime)."""
    try:
        written = Path(dest).stat().st_mtime
    except OSError:
        return True
    return sources_mtime(notebooks, book) > written


def read_outline(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The outline at `path`, its fields checked and typed; None if there is none or it is not
    an outline (the course home then lists what the exchange offers)."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        return None
    modules = []
    for module in data["modules"]:
        if not isinstance(module, dict) or not isinstance(module.get("assignments"), list):
            continue
        assignments = []
        for entry in module["assignments"]:
            if not isinstance(entry, dict) or not entry.get("id"):
                continue
            try:
                minutes = int(entry.get("minutes") or 0)
            except (TypeError, ValueError):
                minutes = 0
            assignments.append({"id": str(entry["id"]), "title": str(entry.get("title") or entry["id"]),
                                "minutes": minutes, "book_page": _page(entry.get("book_page"))})
        module_id = str(module.get("id", ""))
        modules.append({"id": module_id, "title": str(module.get("title") or module_id),
                        "book_page": _page(module.get("book_page")), "assignments": assignments})
    course_id = data.get("course_id")
    return {"format": data.get("format", FORMAT), "course_id": str(course_id) if course_id else None,
            "modules": modules}


def _page(value: object) -> str | None:
    """A book page path as the outline gives it: relative, inside the book, or nothing."""
    if not isinstance(value, str) or not value or value.startswith("/") or "://" in value:
        return None
    if any(part in ("", ".", "..") for part in value.split("/")):
        return None
    return value


def assignment_order(outline: dict[str, Any] | None) -> dict[str, int]:
    """Each assignment id's position in the course."""
    if not outline:
        return {}
    ids = [a["id"] for module in outline["modules"] for a in module["assignments"]]
    return {assignment_id: position for position, assignment_id in reversed(list(enumerate(ids)))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hub_config.course_home.outline",
        description="Write course_outline.json, the course's map the course home shows learners "
                    "(module and assignment titles, times and book pages, in course order; nothing "
                    "else from the notebooks). Without --out or --course-id, they come from the hub's "
                    "settings (course.yaml, then the file FJ_HUB_SETTINGS or --settings names): "
                    "STATE_DIR/course_outline.json and the course id.")
    parser.add_argument("--notebooks", type=Path, default=BOOK_SOURCES.parent / "notebooks", metavar="DIR",
                        help="the course's source notebooks, a folder per module (default: this clone's "
                             "notebooks/)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write it (default: course_outline.json in the hub's state folder)")
    parser.add_argument("--course-id", metavar="ID", help="the nbgrader course id (default: the hub's)")
    parser.add_argument("--settings", type=Path, metavar="FILE",
                        default=os.environ.get("FJ_HUB_SETTINGS") or "/etc/fj-training/course.yaml",
                        help="the hub's settings file, read only for the defaults above (default: "
                             "$FJ_HUB_SETTINGS, else /etc/fj-training/course.yaml where it exists)")
    args = parser.parse_args(argv)
    out, course_id = args.out, args.course_id
    from grading.errors import GradingError

    try:
        if out is None or course_id is None:
            from hub_config.course import load

            course = load(args.settings if args.settings.is_file() else None)
            out = out or course.outline_file
            course_id = course_id or course.course_id
        dest = write_outline(args.notebooks, out, course_id)
    except (GradingError, OSError, ValueError) as error:
        print(f"course outline not written: {error}", file=sys.stderr)
        return 2
    outline = read_outline(dest) or {"modules": []}
    count = sum(len(module["assignments"]) for module in outline["modules"])
    print(f"Wrote {dest}: {len(outline['modules'])} modules, {count} assignments, course {course_id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
