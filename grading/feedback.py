"""Feedback for learners: nbgrader's HTML feedback without hidden tests, plus a page for every
submission that could not be graded at all (invalid notebook, missing notebook), so that no
learner is left without an answer.

Hidden tests never reach the page: the feedback pipeline (see ``grading.nbgrader_config``) runs
ClearHiddenTests and then ``ShowOnlyCheckMessages``, which reduces each failed check to its
message. ``tests/grading/test_feedback.py`` scans generated pages for hidden-test text.

Nothing a learner wrote runs in the browser that opens a page: autograde stores sanitised
notebooks and the pipeline sanitises again (``grading.sanitize``); every page then loses any
script element and carries a Content-Security-Policy that forbids scripts, frames, forms and
outside requests (:func:`harden_page`).

One damaged submission never stops the others: a page nbgrader cannot render, or a submission
without a usable ``submission_secret.txt`` (nbgrader files released feedback under it), gets a
``feedback`` status and message in ``COURSE_DIR/grading_status.json`` and a line on stderr.
"""

from __future__ import annotations

import html
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from grading.autograde import STATUSES, read_statuses, write_statuses
from grading.collect import SECRET
from grading.errors import GradingError
from grading.nbgrader_config import check_result, make_api
from grading.settings import Settings

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                           "font-src data:; base-uri 'none'; form-action 'none'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
FEEDBACK_STATUSES: dict[str, str] = {
    "feedback_failed": "nbgrader could not render this submission's feedback; the learner got a "
                       "page saying so",
    "feedback_not_released": "the submission has no usable submission_secret.txt, under which "
                             "nbgrader files feedback for fetch_feedback; the page is in feedback/ "
                             "but could not be released",
}
# nbgrader writes secrets.token_hex(64); anything else is not a secret it wrote.
MAX_SECRET_BYTES = 1024
# Elements a feedback page never needs; with the policy above none could run or load anyway.
ACTIVE_ELEMENTS = ["script", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
                   "base", "link", "noscript", "template"]


@dataclass(frozen=True)
class Problem:
    """A submission whose feedback could not be produced or released, and why."""

    student: str
    assignment: str
    status: str
    message: str

    def __str__(self) -> str:
        return f"{self.student}/{self.assignment}: {self.status}: {self.message}"


# --------------------------------------------------------------------------- generating

def generate_feedback(settings: Settings, assignment_ids: list[str], students: list[str] | None = None,
                      model_answers: bool = False) -> list[Path]:
    """feedback/<learner>/<assignment>/<notebook>.html for every graded submission (or only
    those of ``students``); returns the pages written for submissions that could not be graded
    or rendered. With ``model_answers``, each written answer is followed by the model answer
    and rubric of the source notebook (``grading.preprocessors.ModelAnswers``)."""
    api = make_api(settings, model_answers=model_answers)
    problems: list[Problem] = []
    for assignment_id in assignment_ids:
        if any(settings.autograded().glob(f"*/{assignment_id}/*.ipynb")):
            problems += _generate(settings, api, assignment_id, students)
    written = write_ungraded_notes(settings, assignment_ids, students)
    for problem in problems:
        written += _write_failure_notes(settings, problem)
    for assignment_id in assignment_ids:
        for page in sorted(settings.feedback().glob(f"*/{assignment_id}/*.html")):
            if students is not None and page.parent.parent.name not in students:
                continue
            if page.is_file() and not page.is_symlink():
                page.write_text(harden_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    _record(settings, "generate", assignment_ids, problems, students)
    return written


def _generate(settings: Settings, api, assignment_id: str,
              students: list[str] | None = None) -> list[Problem]:
    """nbgrader's generate_feedback for the whole assignment; when it fails, again one learner
    at a time, so that only the submissions it cannot render are left without a page. With
    ``students``, one learner at a time from the start (those with an autograded notebook)."""
    if students is not None:
        graded = {p.parent.parent.name for p in settings.autograded().glob(f"*/{assignment_id}/*.ipynb")}
        missing = sorted(set(students) & graded)
    else:
        result = api.generate_feedback(assignment_id, force=True)
        missing = _without_pages(settings, assignment_id)
        if result.get("success"):
            return []
        if not missing:
            check_result(result, f"generating feedback for {assignment_id}")
    problems = []
    for student in missing:
        try:
            check_result(api.generate_feedback(assignment_id, student_id=student, force=True),
                         f"generating feedback for {student}/{assignment_id}")
        except GradingError as err:
            problems.append(Problem(student, assignment_id, "feedback_failed", str(err)))
    return problems


def _without_pages(settings: Settings, assignment_id: str) -> list[str]:
    """Learners with an autograded notebook of the assignment but no feedback page for it."""
    students = set()
    for notebook in settings.autograded().glob(f"*/{assignment_id}/*.ipynb"):
        student = notebook.parent.parent.name
        if not (settings.feedback(student, assignment_id) / f"{notebook.stem}.html").is_file():
            students.add(student)
    return sorted(students)


def write_ungraded_notes(settings: Settings, assignment_ids: list[str],
                         students: list[str] | None = None) -> list[Path]:
    """A short page for each notebook that was not graded, saying why, in nbgrader's layout
    (only for ``students``, when given)."""
    from nbgrader.api import Gradebook

    statuses = read_statuses(settings)
    written = []
    with Gradebook(settings.db_url, settings.course_id) as gb:
        names = {a.name: [n.name for n in a.notebooks] for a in gb.assignments}
    for key, entry in statuses.items():
        student, assignment_id = key.split("/", 1)
        if assignment_id not in assignment_ids or (students is not None and student not in students):
            continue
        for name in names.get(assignment_id, []):
            if (settings.autograded(student, assignment_id) / f"{name}.ipynb").is_file():
                continue
            folder = settings.feedback(student, assignment_id)
            folder.mkdir(parents=True, exist_ok=True)
            page = folder / f"{name}.html"
            page.write_text(_note_page(assignment_id, name, entry), encoding="utf-8")
            written.append(page)
    return written


def _write_failure_notes(settings: Settings, problem: Problem) -> list[Path]:
    """A page for each notebook whose feedback nbgrader could not render."""
    folder = settings.feedback(problem.student, problem.assignment)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in sorted(settings.autograded(problem.student, problem.assignment).glob("*.ipynb")):
        page = folder / f"{notebook.stem}.html"
        if not page.exists():
            page.write_text(_page(
                f"Feedback: {notebook.stem}", f"{problem.assignment}: {notebook.stem}",
                "<p><strong>Your submission was graded, but its feedback page could not be "
                "produced.</strong></p><p>Your trainer has been told and will send it to you.</p>"),
                encoding="utf-8")
            written.append(page)
    return written


def _note_page(assignment_id: str, notebook: str, entry: dict) -> str:
    status = str(entry.get("status", "error"))
    return _page(
        f"Feedback: {notebook}", f"{assignment_id}: {notebook}",
        "<p><strong>Your submission could not be graded, so it scored zero.</strong></p>"
        f"<p>Status: <code>{html.escape(status)}</code>: {html.escape(STATUSES.get(status, ''))}.</p>"
        f"<p>{html.escape(str(entry.get('message', '')))}</p>"
        "<p>Fix the notebook (or ask your trainer) and submit it again.</p>")


def _page(title: str, heading: str, body: str) -> str:
    """A page of our own: the titles are escaped here, ``body`` must be escaped already."""
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>{CSP_META}"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(heading)}</h1>{body}</body></html>\n")


def harden_page(text: str) -> str:
    """A feedback page with no script element, event handler or ``javascript:`` link left, and
    the Content-Security-Policy as the first thing in its head, before anything it governs.
    The notebook it shows is sanitised already (``grading.sanitize``); this is the second line,
    and the policy stops whatever both missed. Idempotent."""
    from bs4 import BeautifulSoup

    from grading.sanitize import safe_url

    soup = BeautifulSoup(text, "html.parser")
    for element in soup.find_all(ACTIVE_ELEMENTS):
        element.decompose()
    for element in soup.find_all(True):
        for name in list(element.attrs):
            value = element.attrs[name]
            value = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on") or \
                    (name.lower() in ("href", "src", "action", "formaction", "xlink:href", "srcdoc",
                                      "data") and not safe_url(value, image=element.name == "img")):
                del element.attrs[name]
        if element.name == "meta" and element.get("http-equiv", "").lower() != "content-type" \
                and element.get("http-equiv"):
            element.decompose()
    if soup.html is None:
        soup.insert(0, soup.new_tag("html"))
    if soup.head is None:
        soup.html.insert(0, soup.new_tag("head"))
    policy = soup.new_tag("meta")
    policy.attrs = {"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY}
    charset = soup.head.find("meta", charset=True)
    if charset is not None:
        charset.insert_after(policy)
    else:
        soup.head.insert(0, policy)
    return re.sub(r"^(<!DOCTYPE[^>]*>)\s*", r"\1\n", str(soup), flags=re.IGNORECASE)


# --------------------------------------------------------------------------- releasing

def release_feedback(settings: Settings, assignment_ids: list[str],
                     students: list[str] | None = None) -> list[Problem]:
    """Release every feedback page (or those of ``students``) to the exchange as nbgrader's
    release_feedback does (``<exchange>/<course>/feedback/<md5(secret + notebook)>.html``, which
    learners' ``nbgrader fetch_feedback`` finds), one submission at a time: one without a usable
    secret is reported and skipped, and the others are released."""
    if settings.exchange is None:
        return []
    _outbound(settings)
    problems = []
    for assignment_id in assignment_ids:
        for folder in sorted(settings.feedback().glob(f"*/{assignment_id}")):
            student = folder.parent.name
            if students is not None and student not in students:
                continue
            if folder.is_symlink() or folder.parent.is_symlink() or not folder.is_dir():
                continue
            pages = sorted(p for p in folder.glob("*.html") if p.is_file() and not p.is_symlink())
            if not pages:
                continue
            try:
                secret = read_secret(settings, student, assignment_id)
            except GradingError as err:
                problems.append(Problem(student, assignment_id, "feedback_not_released", str(err)))
                continue
            for page in pages:
                release_page(settings, secret, page.stem, page.read_bytes())
    _record(settings, "release", assignment_ids, problems, students)
    return problems


def release_page(settings: Settings, secret: str, notebook: str, page: bytes) -> Path:
    """File one page where ``nbgrader fetch_feedback`` looks for the feedback on ``notebook``
    of the submission with this secret (written in full, then renamed into place)."""
    from nbgrader.utils import notebook_hash

    outbound = _outbound(settings)
    name = notebook_hash(secret=secret, notebook_id=notebook)
    tmp = outbound / f"{name}-tmp.html"
    tmp.unlink(missing_ok=True)
    tmp.write_bytes(page)
    tmp.chmod(0o644)
    dest = outbound / f"{name}.html"
    tmp.replace(dest)
    return dest


def _outbound(settings: Settings) -> Path:
    assert settings.exchange is not None
    outbound = settings.exchange / settings.course_id / "feedback"
    if not outbound.is_dir():
        outbound.mkdir(parents=True)
        outbound.chmod(0o711)  # learners may fetch a page whose name they know, not list them
    return outbound


def read_secret(settings: Settings, student: str, assignment_id: str,
                roots: tuple[str, ...] = ("autograded", "feedback", "submitted")) -> str:
    """The submission's secret exactly as nbgrader hashes it (the file's whole text), from the
    autograded, feedback or submitted copy (of ``roots``), whichever exists first. The
    autograded copy comes first: autograde writes it for every submission it grades, while
    nbgrader leaves the feedback copy of an earlier submission in place when the new one could
    not be graded (its page must go to the new submission). The file is opened without
    following links and must be a small regular file holding what nbgrader writes."""
    for root in roots:
        try:
            data = _read_nofollow(settings.course_dir, (root, student, assignment_id,
                                                        "submission_secret.txt"))
        except FileNotFoundError:
            continue
        except OSError as err:
            raise GradingError(f"its submission_secret.txt cannot be read safely ({err.strerror or err})"
                               ) from err
        try:
            secret = data.decode("ascii")
        except UnicodeDecodeError:
            raise GradingError("its submission_secret.txt is not a secret nbgrader wrote") from None
        if not SECRET.match(secret.strip()):
            raise GradingError("its submission_secret.txt is not a secret nbgrader wrote")
        return secret
    raise GradingError("it has no submission_secret.txt (was it submitted with nbgrader?), so its "
                       "feedback cannot be filed for fetch_feedback")


def _read_nofollow(root: Path, parts: tuple[str, ...]) -> bytes:
    """Read root/parts... opening every component without following a link; a regular file of
    at most MAX_SECRET_BYTES only."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts[:-1]:
            if part in ("", ".", "..") or "/" in part:
                raise FileNotFoundError(part)
            inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        inner = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
        os.close(fd)
        fd = inner
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > MAX_SECRET_BYTES:
            raise OSError(0, "too large for a secret")
        return os.read(fd, MAX_SECRET_BYTES + 1)[:MAX_SECRET_BYTES]
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- reporting

def _record(settings: Settings, stage: str, assignment_ids: list[str], problems: list[Problem],
            students: list[str] | None = None) -> None:
    """Each problem on stderr and under its submission's ``feedback`` key in
    grading_status.json (when autograde gave it an entry); the key of a submission of these
    assignments (and ``students``, when given) without a problem at this stage is cleared."""
    for problem in problems:
        print(f"feedback: {problem}", file=sys.stderr)
    try:
        statuses = read_statuses(settings)
    except GradingError:
        return
    found = {f"{p.student}/{p.assignment}": p for p in problems}
    stage_statuses = {"generate": "feedback_failed", "release": "feedback_not_released"}[stage]
    changed = False
    for key, entry in statuses.items():
        student, _, assignment_id = key.partition("/")
        if assignment_id not in assignment_ids or (students is not None and student not in students):
            continue
        problem = found.pop(key, None)
        if problem is not None:
            entry.update(feedback=problem.status, feedback_message=problem.message)
            changed = True
        elif entry.get("feedback") == stage_statuses:
            entry.pop("feedback", None)
            entry.pop("feedback_message", None)
            changed = True
    # A submission graded some other way has no entry of autograde's: stderr says it all.
    if changed and settings.status_file.parent.is_dir():
        write_statuses(settings, statuses)
