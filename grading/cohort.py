"""Collect and export: nbgrader's own commands over a whole cohort."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from grading.collect import CollectResult, collect_assignments
from grading.errors import GradingError
from grading.settings import Settings


def collect(settings: Settings, assignment_ids: list[str],
            known: Collection[tuple[str, str]] = ()) -> CollectResult:
    """With an exchange, each learner's newest acceptable submission into
    submitted/<learner>/<assignment>/ (see ``grading.collect``: nothing a learner wrote is
    trusted). Without one, submissions are placed in submitted/ directly, so this only counts
    them. Returns what was collected and what was refused (but not refusals in ``known``,
    reported already)."""
    if settings.exchange is not None:
        if not settings.exchange.is_dir():
            raise GradingError(f"exchange folder {settings.exchange} does not exist")
        result = collect_assignments(settings, assignment_ids, known=known)
    else:
        result = CollectResult()
    root = settings.submitted()
    for assignment_id in assignment_ids:
        result.collected.setdefault(assignment_id, [])
        result.counts[assignment_id] = sum(
            1 for d in root.glob(f"*/{assignment_id}") if d.is_dir() and not d.is_symlink()) \
            if root.is_dir() else 0
    return result


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
