"""The cohort report as a hub service for trainers: a page at /services/cohort-report/ that
follows the grading live.

``python -m grading report`` writes the report once. This service shows, per learner and
assignment, the grading status (from COURSE_DIR/grading_status.json, or "submitted, not graded
yet" for a submission collected under COURSE_DIR/submitted without one) and the score, and per
graded cell the share of learners who pass it, assignments in course order. The page polls a
JSON endpoint of the service every few seconds (a script served by the service itself, under a
strict Content-Security-Policy) and swaps in the new tables when the data changed.

The data is rebuilt only when the gradebook, the status file or the submitted folders changed
(their mtimes and sizes), in a worker thread, so that many open pages neither reread the
gradebook nor stall the service. Only trainers see it: the browser signs in through the hub
(OAuth), the hub grants access to the service only to its admins and the trainers' group
(``roles()``), and the service itself asks the hub whether the caller is an admin or in that
group; anyone else gets a one-line 403, with no data.

The hub runs it as a managed service (``service()`` and ``roles()`` give its configuration):
``python -m hub_config.live_report --course-dir DIR --notebooks DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import json
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from grading.settings import DEFAULT_COURSE_ID, Settings
from hub_config.course import REPO
from hub_config.exchange.rules import INSTRUCTOR, RuleError
from hub_config.exchange.service import DEFAULT_INSTRUCTOR_GROUP, Roles

log = logging.getLogger("fj-cohort-report")
SERVICE_NAME = "cohort-report"
DEFAULT_TRAINER_GROUP = DEFAULT_INSTRUCTOR_GROUP
POLL_SECONDS = 5
RETRY_SECONDS = 2.0  # after a failed rebuild, serve the last data this long before trying again
STATIC = Path(__file__).with_name("live_report_static")
STATIC_TYPES = {"live_report.js": "text/javascript; charset=utf-8",
                "live_report.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
NOT_TRAINER = "Only the course's trainers can see the cohort report."
SIGN_IN = "Sign in to the hub first (your session has ended: reload the page)."

# How each status shows (the grading statuses' meanings are grading.autograde.STATUSES).
LABELS = {"not_submitted": "not submitted", "submitted": "submitted, not graded yet",
          "resubmitted": "submitted again, not graded yet"}
NOTE_STATUSES = {"needs_review", "truncated_output", "touched_files", "cells_restored"}


def status_kind(status: str) -> str:
    """The page's colour class of a status: ok, pending, missing, note or problem."""
    if status == "graded":
        return "ok"
    if status in ("submitted", "resubmitted"):
        return "pending"
    if status == "not_submitted":
        return "missing"
    return "note" if status in NOTE_STATUSES else "problem"


def label(status: str) -> str:
    return LABELS.get(status, status.replace("_", " "))


# --------------------------------------------------------------------------- the data

def file_stamp(settings: Settings) -> tuple:
    """What changes when the data may have: the gradebook (and its WAL), the status file, and
    the submitted folders (a new learner's folder, a submission collected into one). Only
    stat calls: cheap enough for every request."""
    parts: list[tuple] = []
    for path in (settings.gradebook, settings.gradebook.with_name(settings.gradebook.name + "-wal"),
                 settings.status_file, settings.submitted()):
        try:
            st = path.stat()
            parts.append((path.name, st.st_mtime_ns, st.st_size))
        except OSError:
            parts.append((path.name, None, None))
    try:
        with os.scandir(settings.submitted()) as entries:
            parts.extend(sorted((e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in entries
                                if e.is_dir(follow_symlinks=False)))
    except OSError:
        pass
    return tuple(parts)


def _number(value: Any) -> float | None:
    """A float for JSON, None for missing values (pandas' NaN)."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def build(settings: Settings, notebooks: Path) -> dict[str, Any]:
    """The report's data, JSON-ready (reads the gradebook: run it in a worker thread)."""
    from grading.autograde import STATUSES
    from grading.course import load_course
    from grading.errors import GradingError
    from grading.report import PENDING_STATUSES, live_scores, pass_rates

    try:
        course_assignments = load_course(notebooks).assignments
    except GradingError as err:
        log.warning("course order unknown: %s", err)
        course_assignments = []
    titles = {a.id: a.title for a in course_assignments}
    scores, questions = live_scores(settings, [a.id for a in course_assignments])
    rates = pass_rates(questions)
    assignments = []
    for assignment in dict.fromkeys(scores.assignment):
        rows = scores[scores.assignment == assignment]
        max_scores = [m for m in map(_number, rows.max_score) if m is not None]
        assignments.append({
            "id": assignment, "title": titles.get(assignment, assignment),
            "max_score": max(max_scores) if max_scores else None,
            "questions": [{"notebook": q["notebook"], "question": q["question"], "kind": q["kind"],
                           "max_score": _number(q["max_score"]), "graded": int(q["graded"]),
                           "passed": int(q["passed"]), "awaiting": int(q["awaiting"]),
                           "share": _number(q["share"])}
                          for q in rates[rates.assignment == assignment].to_dict("records")]})
    learners: dict[str, dict[str, Any]] = {}
    for row in scores.sort_values("learner", kind="stable").to_dict("records"):
        learners.setdefault(row["learner"], {})[row["assignment"]] = {
            "status": row["status"], "label": label(row["status"]), "kind": status_kind(row["status"]),
            "message": row["message"] if isinstance(row["message"], str) else "",
            "score": _number(row["score"]), "max_score": _number(row["max_score"]),
            "percent": _number(row["percent"]), "needs_manual_grade": bool(row["needs_manual_grade"])}
    statuses = [s for by_assignment in learners.values() for s in by_assignment.values()]
    return {
        "course_id": settings.course_id,
        "gradebook": settings.gradebook.is_file(),
        "assignments": assignments,
        "learners": [{"name": name, "submissions": subs} for name, subs in learners.items()],
        "summary": {
            "learners": len(learners),
            "submitted": sum(s["status"] != "not_submitted" for s in statuses),
            "graded": sum(s["kind"] in ("ok", "note") for s in statuses),
            "waiting": sum(s["kind"] == "pending" for s in statuses),
            "problems": sum(s["kind"] == "problem" for s in statuses)},
        "statuses": {**STATUSES, **PENDING_STATUSES},
    }


@dataclass(frozen=True)
class Snapshot:
    """One build of the data, with its JSON and its page's tables rendered once for every
    request until the files change."""

    stamp: tuple
    data: dict[str, Any]
    version: str
    json: bytes
    main: str

    @classmethod
    def make(cls, stamp: tuple, data: dict[str, Any]) -> Snapshot:
        text = json.dumps(data, sort_keys=True)
        # The version names the data, not the build: a rebuild with nothing new changes nothing.
        version = hashlib.sha256(text.encode()).hexdigest()[:16]
        now = datetime.now()
        body = json.dumps({**data, "version": version, "updated": now.isoformat(timespec="seconds")})
        return cls(stamp=stamp, data=data, version=version, json=body.encode(), main=render_main(data, now))


class Cohort:
    """The report's data, rebuilt (in one worker thread) only when the files behind it changed;
    requests arriving during a rebuild wait for that one."""

    def __init__(self, settings: Settings, notebooks: Path, retry_seconds: float = RETRY_SECONDS) -> None:
        self.settings = settings
        self.notebooks = Path(notebooks)
        self.retry_seconds = retry_seconds
        self.snapshot: Snapshot | None = None
        self.reads = 0  # gradebook reads so far (the cache's tests count them)
        self._task: asyncio.Future | None = None
        self._failed: tuple[tuple, float] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cohort-report")

    def read(self, stamp: tuple) -> Snapshot:
        """Read the files and render (in the worker thread)."""
        self.reads += 1
        return Snapshot.make(stamp, build(self.settings, self.notebooks))

    def _due(self, stamp: tuple) -> bool:
        if self.snapshot is None:
            return True
        if self._failed and self._failed[0] == stamp:
            return time.monotonic() - self._failed[1] >= self.retry_seconds
        return self.snapshot.stamp != stamp

    async def current(self) -> Snapshot:
        """The data as of now: the cached snapshot unless a file behind it changed."""
        stamp = file_stamp(self.settings)
        if self._due(stamp):
            if self._task is None or self._task.done():
                self._task = asyncio.ensure_future(self._rebuild(stamp))
            await asyncio.shield(self._task)
        assert self.snapshot is not None
        return self.snapshot

    async def _rebuild(self, stamp: tuple) -> None:
        try:
            snapshot = await asyncio.get_running_loop().run_in_executor(self._executor, self.read, stamp)
        except Exception as err:  # the last good data stays, with the failure shown above it
            log.warning("could not rebuild the report: %s", err, exc_info=not isinstance(err, OSError))
            self._failed = (stamp, time.monotonic())
            old = self.snapshot.data if self.snapshot else {"course_id": self.settings.course_id}
            message = f"{type(err).__name__}: {err}"[:500]
            self.snapshot = replace(Snapshot.make(stamp, {**old, "error": message}),
                                    stamp=self.snapshot.stamp if self.snapshot else ())
            return
        self._failed = None
        self.snapshot = snapshot


# --------------------------------------------------------------------------- the page

def _e(value: Any) -> str:
    """HTML-escaped text (quotes too: it also goes into attributes)."""
    return html.escape(str(value), quote=True)


def _score(sub: dict[str, Any]) -> str:
    if sub["score"] is None:
        return ""
    text = f"{sub['score']:g}"
    if sub["max_score"]:
        text += f" / {sub['max_score']:g}"
    if sub["percent"] is not None:
        text += f" ({sub['percent']:.0f}%)"
    return text


def render_main(data: dict[str, Any], when: datetime) -> str:
    """The page's tables (the part the script swaps in when the data changes). Every string
    that comes from a learner or a file is escaped."""
    parts = ['<main id="report">']
    summary = data.get("summary")
    if data.get("error"):
        parts.append(f'<p class="error" role="alert">The last refresh failed ({_e(data["error"])}); '
                     "the tables show the last data read.</p>")
    if summary is None:
        parts.append("</main>")
        return "".join(parts)
    parts.append(
        f'<p class="summary">{summary["learners"]} learners, {summary["submitted"]} submissions: '
        f'{summary["graded"]} graded, {summary["waiting"]} waiting to be graded, '
        f'{summary["problems"]} with a problem status. Data as of {when:%H:%M:%S}.</p>')
    if not data.get("gradebook"):
        parts.append("<p>There is no gradebook yet: release the course and grade submissions "
                     "(<code>python -m grading autograde</code>).</p>")
    assignments = data["assignments"]
    parts.append('<h2>Learners</h2><div class="scroll"><table class="grid"><thead><tr>'
                 '<th scope="col">Learner</th>')
    parts.extend(f'<th scope="col" title="{_e(a["id"])}">{_e(a["title"])}</th>' for a in assignments)
    parts.append("</tr></thead><tbody>")
    for learner in data["learners"]:
        parts.append(f'<tr><th scope="row">{_e(learner["name"])}</th>')
        for a in assignments:
            sub = learner["submissions"].get(a["id"])
            if sub is None or sub["status"] == "not_submitted":
                parts.append('<td class="s-missing" title="not submitted">&ndash;</td>')
                continue
            title = sub["label"] + (f": {sub['message']}" if sub["message"] else "")
            manual = (' <span class="manual" title="written answers wait for a trainer\'s grade">'
                      "+ written</span>" if sub["needs_manual_grade"] else "")
            parts.append(f'<td class="s-{_e(sub["kind"])}" title="{_e(title)}">'
                         f'<span class="status">{_e(sub["label"])}</span> '
                         f'<span class="score">{_e(_score(sub))}</span>{manual}</td>')
        parts.append("</tr>")
    parts.append("</tbody></table></div>")

    parts.append("<h2>Questions: share of graded submissions that earn all the points</h2>")
    asked = [a for a in assignments if a["questions"]]
    if not asked:
        parts.append("<p>Nothing graded yet.</p>")
    for a in asked:
        parts.append(f'<h3>{_e(a["title"])}</h3><table class="questions"><thead><tr>'
                     '<th scope="col">Question</th><th scope="col">Notebook</th><th scope="col">Kind</th>'
                     '<th scope="col">Passed</th><th scope="col">Share</th>'
                     '<th scope="col">Waiting for a trainer</th></tr></thead><tbody>')
        for q in a["questions"]:
            share = q["share"]
            meter = (f'<meter min="0" max="1" value="{share:.3f}"></meter> {100 * share:.0f}%'
                     if share is not None else "&ndash;")
            parts.append(f'<tr><th scope="row">{_e(q["question"])}</th><td>{_e(q["notebook"])}</td>'
                         f'<td>{_e(q["kind"])}</td><td>{q["passed"]} of {q["graded"]}</td>'
                         f'<td>{meter}</td><td>{q["awaiting"] or ""}</td></tr>')
        parts.append("</tbody></table>")

    problems = [(learner["name"], a, learner["submissions"][a["id"]]) for a in assignments
                for learner in data["learners"]
                if learner["submissions"].get(a["id"], {}).get("kind") in ("problem", "note")]
    if problems:
        parts.append('<h2>Submissions to look at</h2><table class="problems"><thead><tr>'
                     '<th scope="col">Learner</th><th scope="col">Assignment</th>'
                     '<th scope="col">Status</th><th scope="col">Message</th></tr></thead><tbody>')
        parts.extend(f'<tr><td>{_e(name)}</td><td>{_e(a["title"])}</td>'
                     f'<td class="s-{_e(sub["kind"])}">{_e(sub["label"])}</td>'
                     f'<td>{_e(sub["message"])}</td></tr>'
                     for name, a, sub in problems)
        parts.append("</tbody></table>")
    parts.append("<h2>Statuses</h2><dl>")
    parts.extend(f"<dt>{_e(label(s))}</dt><dd>{_e(meaning)}</dd>" for s, meaning in data["statuses"].items())
    parts.append("</dl></main>")
    return "".join(parts)


def render_page(snapshot: Snapshot, *, prefix: str, xsrf: str, interval: int) -> str:
    """The whole page: no inline script or style (the CSP allows neither)."""
    course = _e(snapshot.data.get("course_id", ""))
    p = _e(prefix)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Cohort report: {course}</title>"
        f'<link rel="stylesheet" href="{p}static/live_report.css">'
        f'<script src="{p}static/live_report.js" defer></script></head>'
        f'<body data-version="{_e(snapshot.version)}" data-xsrf="{_e(xsrf)}" '
        f'data-data-url="{p}api/cohort" data-page-url="{p}" data-interval="{int(interval)}">'
        f"<header><h1>Cohort report: {course}</h1>"
        f'<p id="live-status" aria-live="polite">Refreshes every {int(interval)} s '
        "while this page is open.</p>"
        f"</header>{snapshot.main}</body></html>")


# --------------------------------------------------------------------------- the service

class Refused(Exception):
    """A request this service answers with one line and a status, never data."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Secured(web.RequestHandler):
    """Headers every answer carries: nothing runs or loads but the service's own files."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")


class TrainerHandler(HubOAuthenticated, Secured):
    """Signed in through the hub, and a trainer (a hub admin or in the trainers' group)."""

    api = False  # the JSON endpoint answers 403 where the page sends the browser to sign in

    def initialize(self, cohort: Cohort, hub_auth: HubOAuth, roles: Roles, prefix: str,
                   interval: int = POLL_SECONDS) -> None:
        self.cohort = cohort
        self.hub_auth = hub_auth
        self.roles = roles
        self.prefix = prefix
        self.interval = interval
        self.caller: dict | None = None

    def get_current_user(self) -> dict | None:
        return self.caller

    async def prepare(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            if self.api:
                raise Refused(403, SIGN_IN)
            self.redirect(self.get_login_url())
            return
        try:
            model = self.check_hub_user(model)
        except UserNotAllowed:
            raise Refused(403, NOT_TRAINER) from None
        if model.get("kind", "user") != "user":
            raise Refused(403, NOT_TRAINER)
        try:
            role = await self.roles.role(model["name"])
        except RuleError as err:
            raise Refused(err.status, str(err)) from None
        if role != INSTRUCTOR:
            log.info("refused %s (not a trainer)", model["name"])
            raise Refused(403, NOT_TRAINER)
        self.caller = model

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, Refused):
            message = str(exc)
        elif status_code == 403:
            message = NOT_TRAINER
        else:
            message = "The cohort report could not answer; the service's log says why."
        if self.api:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": message}))
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(message + "\n")

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, Refused):
            status_code = exc.status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, Refused):
            super().log_exception(typ, value, tb)


class Page(TrainerHandler):
    async def get(self) -> None:
        snapshot = await self.cohort.current()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(render_page(snapshot, prefix=self.prefix, xsrf=self.xsrf_token.decode("ascii"),
                                interval=self.interval))


class Data(TrainerHandler):
    api = True

    async def get(self) -> None:
        snapshot = await self.cohort.current()
        self.set_header("Content-Type", "application/json")
        # Revalidated on every poll: tornado answers 304 when the ETag (the body's hash) matches.
        self.set_header("Cache-Control", "private, no-cache")
        self.finish(snapshot.json)


class Static(Secured):
    """The page's script and style sheet (no data in them: no sign-in needed)."""

    def get(self, name: str) -> None:
        self.set_header("Content-Type", STATIC_TYPES[name])
        self.set_header("Cache-Control", "max-age=300")
        self.finish((STATIC / name).read_bytes())


class Health(Secured):
    """Answers without a sign-in (the hub and the tests check the service is up); no data."""

    def get(self) -> None:
        self.finish({"service": SERVICE_NAME, "ok": True})


class OAuthCallback(Secured, HubOAuthCallbackHandler):
    def initialize(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth


def make_app(cohort: Cohort, hub_auth: HubOAuth, roles: Roles, prefix: str,
             interval: int = POLL_SECONDS, cookie_secret: bytes | None = None) -> web.Application:
    """The service's routes below ``prefix`` (JUPYTERHUB_SERVICE_PREFIX)."""
    prefix = "/" + prefix.strip("/") + "/"
    args = {"cohort": cohort, "hub_auth": hub_auth, "roles": roles, "prefix": prefix, "interval": interval}
    static = "|".join(name.replace(".", r"\.") for name in STATIC_TYPES)
    return web.Application([
        (prefix, Page, args),
        (prefix[:-1], web.RedirectHandler, {"url": prefix}),
        (prefix + "api/cohort", Data, args),
        (prefix + f"static/({static})", Static),
        (prefix + "health", Health),
        (prefix + "oauth_callback", OAuthCallback, {"hub_auth": hub_auth}),
    ], cookie_secret=cookie_secret or os.urandom(32), xsrf_cookies=False)


# --------------------------------------------------------------------------- hub configuration

def access_scope(name: str = SERVICE_NAME) -> str:
    """The scope a user needs to sign in to the service."""
    return f"access:services!service={name}"


def service(*, python: Path | str, course_dir: Path | str, notebooks: Path | str, url: str,
            trainer_group: str = DEFAULT_TRAINER_GROUP, user: str | None = None,
            course_id: str = DEFAULT_COURSE_ID, name: str = SERVICE_NAME) -> dict[str, Any]:
    """A managed service entry for c.JupyterHub.services; add ``roles()`` to load_roles too.

    ``url`` is where it listens (``http://127.0.0.1:PORT``). ``user``, when the hub runs as root,
    is the unix account it runs as: one that may read the course folder (it is the trainers'
    group's alone on the workshop server) and the clone; None runs it as the hub's own user."""
    command = [str(python), "-m", "hub_config.live_report", "--course-dir", str(course_dir),
               "--notebooks", str(notebooks), "--course-id", course_id, "--trainer-group", trainer_group]
    entry: dict[str, Any] = {
        "name": name, "url": url, "command": command, "cwd": str(REPO),
        # Trainers are not asked to confirm the sign-in; the link shows only to those with access.
        "oauth_no_confirm": True, "display": True,
    }
    if user:
        entry["user"] = user
    return entry


def roles(*, trainer_group: str = DEFAULT_TRAINER_GROUP, name: str = SERVICE_NAME) -> list[dict[str, Any]]:
    """Entries for c.JupyterHub.load_roles: the service may read users (to ask who is in the
    trainers' group or an admin); members of the trainers' group may sign in to it (admins may
    already). Learners may not: the hub refuses them before the service does."""
    return [
        {"name": name, "scopes": ["read:users"], "services": [name]},
        {"name": f"{name}-viewers", "scopes": [access_scope(name)], "groups": [trainer_group]},
    ]


def main(argv: list[str] | None = None) -> None:
    """Start the service with the hub's service variables (JUPYTERHUB_API_TOKEN and friends)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course-dir", type=Path, required=True, help="the nbgrader course folder")
    parser.add_argument("--notebooks", type=Path, required=True, help="the course's notebooks/ (its order)")
    parser.add_argument("--course-id", default=DEFAULT_COURSE_ID, help=f"default: {DEFAULT_COURSE_ID}")
    parser.add_argument("--trainer-group", default=DEFAULT_TRAINER_GROUP,
                        help=f"hub group whose members (and hub admins) see the report "
                             f"(default: {DEFAULT_TRAINER_GROUP})")
    parser.add_argument("--listen", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8080"),
                        help="where to listen (default: $JUPYTERHUB_SERVICE_URL)")
    parser.add_argument("--interval", type=int, default=POLL_SECONDS,
                        help=f"seconds between the page's checks for new data (default: {POLL_SECONDS})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s cohort-report %(levelname)s %(message)s")
    # Open pages poll every few seconds: log refusals and errors, not every answered request.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)

    api_token = os.environ["JUPYTERHUB_API_TOKEN"]
    api_url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", SERVICE_NAME)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/")
    # OAuth settings (client id, callback, access scopes) come from the hub's variables; a short
    # cache, so a revoked session stops working within half a minute.
    hub_auth = HubOAuth(api_token=api_token, api_url=api_url, cache_max_age=30)
    settings = Settings(notebooks=args.notebooks, course_dir=args.course_dir, course_id=args.course_id)
    cohort = Cohort(settings, args.notebooks)
    # Sessions outlive a restart of the service, not a new token.
    secret = hashlib.sha256(b"fj cohort-report cookies\0" + api_token.encode()).digest()
    app = make_app(cohort, hub_auth, Roles(api_url, api_token, args.trainer_group), prefix,
                   max(2, args.interval), cookie_secret=secret)
    listen = urlparse(args.listen)
    HTTPServer(app, xheaders=True).listen(listen.port or 8080, listen.hostname or "127.0.0.1")
    log.info("serving the cohort report of %s at %s%s", settings.course_dir, args.listen, prefix)
    IOLoop.current().add_callback(cohort.current)  # read once now: the first page opens at once
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:  # the hub stops its managed services with SIGINT
        log.info("stopped")


if __name__ == "__main__":
    main()
