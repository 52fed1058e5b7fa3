"""The course home's content: each assignment's status from nbgrader's listing, and the page.

Pure functions (no server): ``states`` reads the listing nbgrader's assignment-list service
gives (the Assignments panel's JSON: released or fetched assignments, then the learner's own
submissions with their feedback) plus the learner's home; ``render`` writes the HTML. Every
name, title and path is escaped; nothing on the page needs JavaScript.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

# nbgrader's feedback page states each notebook's total first: "<h4>name (Score: 7.0 / 11.0)</h4>".
SCORE = re.compile(r"Score:\s*(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)")

NOT_RELEASED, NOT_FETCHED, FETCHED, SUBMITTED, FEEDBACK = (
    "not released yet", "not fetched", "fetched", "submitted", "feedback ready")
FETCH, OPEN, FETCH_FEEDBACK = "fetch", "open", "fetch_feedback"


@dataclass
class State:
    """What the learner's server knows of one assignment."""

    released: bool = False
    fetched: bool = False
    notebook: str | None = None  # the fetched notebook, relative to the server's root
    submitted: bool = False
    feedback_to_fetch: bool = False  # released feedback not fetched yet (or newer than the fetched)
    feedback_pages: list[str] = field(default_factory=list)  # fetched feedback, relative to the root
    score: tuple[float, float] | None = None

    @property
    def status(self) -> str:
        if self.feedback_pages or self.feedback_to_fetch:
            return FEEDBACK
        if self.submitted:
            return SUBMITTED
        if self.fetched:
            return FETCHED
        return NOT_FETCHED if self.released else NOT_RELEASED

    @property
    def action(self) -> str | None:
        """The one thing to do next: fetch the assignment, fetch its feedback, or open it."""
        if self.feedback_to_fetch:
            return FETCH_FEEDBACK
        if self.fetched:
            return OPEN
        return FETCH if self.released else None


def parse_score(text: str) -> tuple[float, float] | None:
    """The notebook's total from a feedback page nbgrader wrote ("Score: 7.0 / 11.0")."""
    match = SCORE.search(text)
    return (float(match.group(1)), float(match.group(2))) if match else None


def _inside(root: Path, relative: str) -> Path | None:
    """`relative` under `root`, or None if it would leave it."""
    path = (root / relative).resolve()
    return path if path == root or root in path.parents else None


def states(listing: list[dict[str, Any]], root_dir: str | Path, *, course_id: str | None = None,
           known: list[str] = ()) -> dict[str, State]:
    """Each assignment's state, from nbgrader's listing (paths relative to `root_dir`, as its
    assignment-list service gives them) and, for `known` ids the exchange no longer offers,
    from the learner's home (an assignment folder there is a fetched assignment)."""
    root = Path(root_dir).resolve()
    found: dict[str, State] = {}
    for entry in listing:
        if course_id and entry.get("course_id") not in (None, course_id):
            continue
        assignment_id = str(entry.get("assignment_id", ""))
        state = found.setdefault(assignment_id, State())
        status = entry.get("status")
        if status in ("released", "fetched"):
            state.released = True
            if status == "fetched":
                state.fetched = True
                state.notebook = _notebook(entry, assignment_id)
        elif status == "submitted" and entry.get("submissions"):
            state.submitted = True
            latest = max(entry["submissions"], key=lambda s: str(s.get("timestamp", "")))
            if latest.get("has_local_feedback") and latest.get("local_feedback_path"):
                folder = _inside(root, str(latest["local_feedback_path"]))
                if folder is not None and folder.is_dir():
                    state.feedback_pages = [str(p.relative_to(root)) for p in sorted(folder.glob("*.html"))]
            state.feedback_to_fetch = bool(latest.get("has_exchange_feedback")) and (
                not state.feedback_pages or bool(latest.get("feedback_updated")))
    for assignment_id in known:
        state = found.setdefault(assignment_id, State())
        if not state.fetched:
            for folder in (root / assignment_id, root / (course_id or "") / assignment_id):
                if _inside(root, str(folder.relative_to(root))) is not None and folder.is_dir():
                    state.fetched = True
                    notebooks = sorted(folder.glob("*.ipynb"))
                    own = folder / f"{assignment_id}.ipynb"
                    chosen = own if own.is_file() else (notebooks[0] if notebooks else folder)
                    state.notebook = str(chosen.relative_to(root))
                    break
    for state in found.values():
        scores = []
        for page in state.feedback_pages:
            try:
                scores.append(parse_score((root / page).read_text(encoding="utf-8", errors="replace")))
            except OSError:
                scores.append(None)
        if scores and all(scores):
            state.score = (sum(s[0] for s in scores), sum(s[1] for s in scores))
    return found


def _notebook(entry: dict[str, Any], assignment_id: str) -> str | None:
    notebooks = [nb for nb in entry.get("notebooks") or [] if nb.get("path")]
    for nb in notebooks:
        if nb.get("notebook_id") == assignment_id:
            return str(nb["path"])
    if notebooks:
        return str(notebooks[0]["path"])
    return str(entry["path"]) if entry.get("path") else None


# --------------------------------------------------------------------------- the page

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1b1b1b;
       background: #fafafa; line-height: 1.45; }
header, main { max-width: 60rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1.25rem; }
nav a { margin-right: 1.25rem; }
h1 { font-size: 1.6rem; margin: .4rem 0 .6rem; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 .4rem; }
.welcome { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .4rem 1.2rem; }
.notice { border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.notice.ok { background: #e6f4ea; border: 1px solid #8bc34a; }
.notice.error { background: #fdecea; border: 1px solid #e57373; }
table { border-collapse: collapse; width: 100%; background: #fff; table-layout: fixed; }
col.c-title { width: 42%; } col.c-time { width: 10%; } col.c-status { width: 21%; }
col.c-action { width: 15%; } col.c-book { width: 12%; }
td { overflow-wrap: anywhere; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
th { font-weight: 600; font-size: .9rem; color: #555; }
td.minutes { white-space: nowrap; }
.status-not-released-yet { color: #777; }
.status-fetched { color: #0b5394; }
.status-submitted { color: #7a4f01; }
.status-feedback-ready { color: #1e6b2e; font-weight: 600; }
form { margin: 0; }
button, a.action { font: inherit; font-size: .9rem; padding: .2rem .8rem; border-radius: 4px;
                   border: 1px solid #1565c0; background: #1976d2; color: #fff; cursor: pointer;
                   text-decoration: none; display: inline-block; white-space: nowrap; }
td.book { white-space: nowrap; }
.id { color: #666; font-size: .85rem; font-family: ui-monospace, monospace; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _url(base: str, path: str) -> str:
    return base + quote(path)


def _minutes(minutes: int) -> str:
    if minutes <= 0:
        return ""
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours and rest else f"{hours} h" if hours else f"{rest} min"


def _number(value: float) -> str:
    return f"{value:g}"


def welcome(book: str) -> str:
    return f"""<section class="welcome">
<p>Welcome. The course is a series of notebooks, module by module, in the order below; each
states how long it takes and has its page in the <a href="{_e(book)}">course book</a>. For each
one:</p>
<ol>
<li><strong>Fetch</strong> it: a copy of its notebook goes into your home folder, yours to work in.</li>
<li><strong>Work</strong> through it in JupyterLab. The checks you can see tell you as you go
whether an answer is on the right track; each exercise has a hint.</li>
<li><strong>Validate</strong> it (the notebook's <em>Validate</em> button) to run every visible
check at once.</li>
<li><strong>Submit</strong> it from JupyterLab's <em>Nbgrader &gt; Assignment List</em>. Grading adds
checks you do not see, so make sure each answer does what the task asks.</li>
<li><strong>Fetch feedback</strong> here once your submission has been graded: this page then
shows your score, with a link to the feedback.</li>
</ol>
<p>Working on your own? <a href="{_e(book)}start/learning-alone.html">Learning alone</a> in the
book says how to get unstuck.</p>
</section>"""


def _action(assignment_id: str, state: State, *, base_url: str, xsrf: str) -> str:
    action = state.action
    if action == OPEN and state.notebook:
        return f'<a class="action" href="{_e(_url(base_url + "lab/tree/", state.notebook))}">Open</a>'
    if action in (FETCH, FETCH_FEEDBACK):
        label = "Fetch" if action == FETCH else "Fetch feedback"
        return (f'<form method="post" action="{_e(base_url)}course/{action}">'
                f'<input type="hidden" name="_xsrf" value="{_e(xsrf)}">'
                f'<input type="hidden" name="assignment_id" value="{_e(assignment_id)}">'
                f'<button type="submit">{label}</button></form>')
    return ""


def _status(state: State, *, base_url: str) -> str:
    status = state.status
    text = _e(status)
    if state.score is not None:
        text += f" &middot; score {_e(_number(state.score[0]))} / {_e(_number(state.score[1]))}"
    if state.feedback_pages:
        text += f' &middot; <a href="{_e(_url(base_url + "files/", state.feedback_pages[0]))}">feedback</a>'
    return f'<td class="status status-{_e(status.replace(" ", "-"))}">{text}</td>'


def _row(assignment: dict[str, Any], state: State, *, base_url: str, book: str, xsrf: str) -> str:
    assignment_id = assignment["id"]
    page = assignment.get("book_page")
    title = _e(assignment.get("title") or assignment_id)
    book_link = f'<a href="{_e(book + quote(page))}">book page</a>' if page else ""
    return (f'<tr id="{_e("a-" + assignment_id)}" data-assignment="{_e(assignment_id)}">'
            f'<td><span class="title">{title}</span><br><span class="id">{_e(assignment_id)}</span></td>'
            f'<td class="minutes">{_e(_minutes(int(assignment.get("minutes") or 0)))}</td>'
            f'{_status(state, base_url=base_url)}'
            f'<td class="action">{_action(assignment_id, state, base_url=base_url, xsrf=xsrf)}</td>'
            f'<td class="book">{book_link}</td></tr>')


def _table(assignments: list[dict[str, Any]], found: dict[str, State], **links: str) -> str:
    rows = "\n".join(_row(a, found.get(a["id"], State()), **links) for a in assignments)
    return ('<table><colgroup><col class="c-title"><col class="c-time"><col class="c-status">'
            '<col class="c-action"><col class="c-book"></colgroup>'
            "<thead><tr><th>Assignment</th><th>Time</th><th>Status</th><th>Next</th><th>Book</th>"
            f"</tr></thead><tbody>\n{rows}\n</tbody></table>")


def render(outline: dict[str, Any] | None, found: dict[str, State], *, base_url: str, book: str,
           xsrf: str, notice: str = "", error: str = "", user: str = "") -> str:
    """The whole page. `base_url` is the server's (``/user/NAME/``), `book` the book's root
    (``/services/book/``); `notice` and `error` are plain text shown above the course."""
    links = {"base_url": base_url, "book": book, "xsrf": xsrf}
    sections = []
    listed: set[str] = set()
    for module in (outline or {}).get("modules", []):
        listed.update(a["id"] for a in module["assignments"])
        minutes = sum(int(a.get("minutes") or 0) for a in module["assignments"])
        heading = _e(module.get("title") or module.get("id"))
        if module.get("book_page"):
            heading = f'<a href="{_e(book + quote(module["book_page"]))}">{heading}</a>'
        total = f' <span class="id">({_e(_minutes(minutes))})</span>' if minutes else ""
        table = _table(module["assignments"], found, **links)
        sections.append(f'<section class="module" data-module="{_e(module.get("id", ""))}">'
                        f"<h2>{heading}{total}</h2>\n{table}</section>")
    others = [{"id": i, "title": i, "minutes": 0, "book_page": None}
              for i in sorted(found) if i and i not in listed and (found[i].released or found[i].fetched
                                                                   or found[i].submitted)]
    if others:
        heading = "Other assignments" if outline else "Assignments"
        sections.append(f'<section class="module" data-module=""><h2>{heading}</h2>\n'
                        f"{_table(others, found, **links)}</section>")
    if not sections:
        sections.append("<p>No assignment has been released yet. Come back once your trainer has "
                        "released the course.</p>")
    banners = ""
    if notice:
        banners += f'<p class="notice ok" role="status">{_e(notice)}</p>'
    if error:
        banners += f'<p class="notice error" role="alert">{_e(error)}</p>'
    who = f" <span class=\"id\">signed in as {_e(user)}</span>" if user else ""
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Course home - Family justice data training</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<nav><a href="{_e(base_url)}lab">Open JupyterLab</a><a href="{_e(book)}">Course book</a>{who}</nav>
<h1>Family justice data training</h1>
</header>
<main>
{banners}
{welcome(book)}
{body}
</main>
</body>
</html>
"""
