"""Collect and export: nbgrader's own commands over a whole cohort."""

from __future__ import annotations

from pathlib import Path

from grading.errors import GradingError
from grading.nbgrader_config import check_result, make_api
from grading.settings import Settings


def collect(settings: Settings, assignment_ids: list[str]) -> dict[str, int]:
    """With an exchange, nbgrader collect (newest submission of every learner) into
    submitted/<learner>/<assignment>/. Without one, submissions are placed in submitted/
    directly, so this only counts them. Returns submissions per assignment."""
    if settings.exchange is not None:
        if not settings.exchange.is_dir():
            raise GradingError(f"exchange folder {settings.exchange} does not exist")
        api = make_api(settings)
        for assignment_id in assignment_ids:
            check_result(api.collect(assignment_id, update=True), f"collecting {assignment_id}")
    counts = {}
    root = settings.submitted()
    for assignment_id in assignment_ids:
        counts[assignment_id] = sum(1 for d in root.glob(f"*/{assignment_id}") if d.is_dir()) \
            if root.is_dir() else 0
    return counts


def export(settings: Settings, to: Path) -> Path:
    """nbgrader's CSV export of the gradebook (one row per learner, assignment)."""
    if not settings.gradebook.is_file():
        raise GradingError(f"no gradebook at {settings.gradebook}: run release and autograde first")
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    to.parent.mkdir(parents=True, exist_ok=True)
    with Gradebook(settings.db_url, settings.course_id) as gb:
        CsvExportPlugin(to=str(to)).export(gb)
    return to
