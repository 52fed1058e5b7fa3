"""nbgrader's configuration for this course, built in one place.

Every command builds its nbgrader objects from :func:`make_config`; ``release`` also writes the
same settings to ``COURSE_DIR/nbgrader_config.py`` so that plain ``nbgrader`` commands and the
hub's formgrader, run from the course folder, behave exactly as these commands do (feedback
without hidden tests included).
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from grading.cells import CODE_STUB, TEXT_STUB
from grading.settings import DATA_DIR_VARIABLE, Settings

DEFAULT_TIMEOUT = 60
IGNORED_FILES = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "wrong.yaml"]
FEEDBACK_PREPROCESSORS = [
    ("nbgrader.preprocessors", "GetGrades"),
    ("grading.preprocessors", "ShowOnlyCheckMessages"),
    ("nbgrader.preprocessors", "ClearHiddenTests"),
    ("grading.preprocessors", "GradingNotes"),
    # Off unless asked for (`feedback --model-answers`, `watch --self-paced`, `feedback-local`).
    ("grading.preprocessors", "ModelAnswers"),
    # Last before rendering: nothing a learner wrote or displayed runs in the reader's browser.
    # (nbconvert's own HTMLExporter.sanitize_html is not used: it shows a DataFrame's <thead>
    # and <th> as text, and nbgrader's templates bypass it for markdown cells.)
    ("grading.preprocessors", "SanitizeNotebook"),
    ("nbconvert.preprocessors", "CSSHTMLHeaderPreprocessor"),
]


def alembic_head_in_process() -> None:
    """nbgrader asks ``alembic heads`` for the schema version of every new gradebook, in a
    subprocess that costs seconds on a busy machine (``check`` creates one gradebook per
    assignment). The same answer comes from alembic's Python API, once per process."""
    from functools import lru_cache
    from pathlib import Path

    try:
        import nbgrader.api as nbgrader_api
    except ImportError:  # nbgrader missing: the commands will say so when they need it
        return

    @lru_cache(maxsize=1)
    def head() -> str:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(Path(nbgrader_api.__file__).parent / "alembic"))
        return ScriptDirectory.from_config(config).get_current_head()

    nbgrader_api.get_alembic_version = head


alembic_head_in_process()


def _feedback_classes() -> list[type]:
    import importlib

    return [getattr(importlib.import_module(module), name) for module, name in FEEDBACK_PREPROCESSORS]


def make_config(settings: Settings, timeout: int = DEFAULT_TIMEOUT, model_answers: bool = False) -> Config:
    """The traitlets Config for nbgrader: course folder and id, exchange, stubs, the files that
    are never released (wrong.yaml), execution timeout and the leak-free feedback pipeline
    (with ``model_answers``, written answers are followed by the source's model answer)."""
    c = Config()
    c.CourseDirectory.root = str(settings.course_dir)
    c.CourseDirectory.course_id = settings.course_id
    c.CourseDirectory.db_url = settings.db_url
    c.CourseDirectory.ignore = list(IGNORED_FILES)
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.OverwriteCells.add_missing_cells = True
    c.Execute.timeout = timeout
    c.GenerateFeedback.preprocessors = _feedback_classes()
    c.GradingNotes.status_file = str(settings.status_file)
    c.ModelAnswers.enabled = model_answers
    c.ModelAnswers.notebooks = str(settings.notebooks)
    c.ModelAnswers.source_dir = str(settings.course_dir / "source")
    if settings.exchange is not None:
        c.Exchange.root = str(settings.exchange)
        c.ExchangeReleaseAssignment.force = True
    return c


def config_file_text(settings: Settings, timeout: int = DEFAULT_TIMEOUT) -> str:
    """The same settings as an ``nbgrader_config.py`` for plain nbgrader commands."""
    imports = "\n".join(f"from {module} import {name}" for module, name in FEEDBACK_PREPROCESSORS)
    names = ", ".join(name for _, name in FEEDBACK_PREPROCESSORS)
    lines = [
        '"""Written by `python -m grading release`; edit the grading package, not this file."""',
        imports,
        "",
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.root = {str(settings.course_dir)!r}",
        f"c.CourseDirectory.course_id = {settings.course_id!r}",
        f"c.CourseDirectory.db_url = {settings.db_url!r}",
        f"c.CourseDirectory.ignore = {IGNORED_FILES!r}",
        f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}",
        f"c.ClearSolutions.text_stub = {TEXT_STUB!r}",
        "c.OverwriteCells.add_missing_cells = True",
        f"c.Execute.timeout = {timeout}",
        f"c.GenerateFeedback.preprocessors = [{names}]",
        f"c.GradingNotes.status_file = {str(settings.status_file)!r}",
        f"# Kernels find the dataset through ${DATA_DIR_VARIABLE} ({settings.data_dir} when graded "
        "by `python -m grading`).",
    ]
    if settings.exchange is not None:
        lines.append(f"c.Exchange.root = {str(settings.exchange)!r}")
    return "\n".join(lines) + "\n"


def write_config_file(settings: Settings, timeout: int = DEFAULT_TIMEOUT) -> Path:
    path = settings.course_dir / "nbgrader_config.py"
    path.write_text(config_file_text(settings, timeout), encoding="utf-8")
    return path


def make_api(settings: Settings, timeout: int = DEFAULT_TIMEOUT,
             model_answers: bool = False):  # -> NbGraderAPI
    """nbgrader's own API, configured for this course (imported late: it is slow to import)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = make_config(settings, timeout, model_answers)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def check_result(result: dict, what: str) -> None:
    """Turn a failed nbgrader API call into a GradingError carrying nbgrader's own reason."""
    from grading.errors import GradingError

    if result.get("success"):
        return
    lines = [line.strip() for line in (result.get("log") or "").splitlines()]
    errors = [line for line in lines if line and not line.startswith("[")
              and ("Error" in line or "error" in line) and "Please see" not in line]
    tail = (result.get("error") or "").strip().splitlines()
    reason = errors[-1] if errors else (tail[-1].strip() if tail else "no reason given")
    raise GradingError(f"{what} failed: {reason}")
