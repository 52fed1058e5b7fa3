"""Release: the learner versions of assignments, for nbgrader, for the book and for the exchange.

Each step is its own function; ``grading.cli`` runs them in order. The learner version is made
by nbgrader's ``generate_assignment`` (solutions replaced by stubs, hidden tests removed), copied
unchanged into ``book/released/<module>/<id>/`` for the course book, which also gets
``course.json`` describing every module and assignment in course order.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from grading.course import Assignment, Course
from grading.errors import GradingError
from grading.nbgrader_config import check_result, make_api, write_config_file
from grading.settings import Settings

COURSE_JSON = "course.json"


def prepare_course_dir(settings: Settings) -> Path:
    """Create the nbgrader course folder and write its nbgrader_config.py."""
    try:
        settings.course_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GradingError(f"cannot create course folder {settings.course_dir}: {err}") from err
    return write_config_file(settings)


def copy_sources(settings: Settings, assignments: list[Assignment]) -> None:
    """notebooks/<module>/<id>/ becomes source/<id>/, which is how nbgrader expects it.
    wrong.yaml stays behind: it is for ``check`` only."""
    for assignment in assignments:
        dest = settings.course_dir / "source" / assignment.id
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(assignment.folder, dest,
                        ignore=shutil.ignore_patterns("wrong.yaml", ".ipynb_checkpoints", "__pycache__"))


def generate_learner_versions(settings: Settings, assignments: list[Assignment]) -> None:
    """nbgrader generate_assignment: release/<id>/ and the assignment's cells in the gradebook."""
    api = make_api(settings)
    for assignment in assignments:
        check_result(api.generate_assignment(assignment.id, force=True, create=True),
                     f"generating the learner version of {assignment.id}")


def released_path(assignment: Assignment) -> str:
    """Where an assignment's learner notebook sits, relative to book/released/."""
    return f"{assignment.module}/{assignment.id}/{assignment.id}.ipynb"


def publish_to_book(settings: Settings, assignments: list[Assignment], book_dir: Path) -> list[Path]:
    """Copy each learner version (and any data files released with it) into the book."""
    written = []
    for assignment in assignments:
        source = settings.course_dir / "release" / assignment.id
        dest = book_dir / assignment.module / assignment.id
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(source, dest)
        written.append(book_dir / released_path(assignment))
    return written


def course_description(course: Course, book_dir: Path, course_id: str) -> dict:
    """course.json's content: modules in order, each with its assignments; ``notebook`` is the
    learner version's path relative to book/released/ and ``released`` says whether it is there."""
    modules = []
    for module in course.modules:
        modules.append({
            "id": module.name,
            "title": module.title,
            "order": module.order,
            "summary": module.summary,
            "prerequisites": list(module.prerequisites),
            "objectives": list(module.objectives),
            "assignments": [{
                "id": a.id,
                "title": a.title,
                "minutes": a.minutes,
                "notebook": released_path(a),
                "released": (book_dir / released_path(a)).is_file(),
            } for a in module.assignments],
        })
    return {"course_id": course_id, "modules": modules}


def write_course_json(course: Course, book_dir: Path, course_id: str) -> Path:
    path = book_dir / COURSE_JSON
    book_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(course_description(course, book_dir, course_id), indent=2)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def publish_to_exchange(settings: Settings, assignments: list[Assignment]) -> None:
    """nbgrader release_assignment: learners can then ``nbgrader fetch_assignment``."""
    if settings.exchange is None:
        return
    if not settings.exchange.is_dir():
        raise GradingError(f"exchange folder {settings.exchange} does not exist (create it with "
                           "mode 0777 and the sticky bit, as nbgrader expects)")
    api = make_api(settings)
    for assignment in assignments:
        check_result(api.release_assignment(assignment.id), f"releasing {assignment.id} to the exchange")
    protect_inbound(settings.exchange / settings.course_id / "inbound")


def protect_inbound(inbound: Path) -> None:
    """nbgrader makes inbound/ writable by everyone (learners submit into it) but not sticky, so
    a learner who learned the name of another's submission folder could rename or delete it.
    The sticky bit leaves each folder to the account that wrote it (and the owner of inbound/)."""
    if inbound.is_dir() and not inbound.is_symlink() and inbound.stat().st_uid == os.geteuid():
        inbound.chmod(stat.S_IMODE(inbound.stat().st_mode) | stat.S_ISVTX)
