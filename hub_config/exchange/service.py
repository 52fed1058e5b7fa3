"""The exchange as a JupyterHub service: who is calling comes from the hub, never the request.

Every request carries a hub token (a single-user server's JUPYTERHUB_API_TOKEN); the hub says
whose it is and whether it may use this service. Whether the caller is an instructor (a hub
admin or a member of the instructors' group) is asked of the hub with the service's own token.
Learners list and fetch released assignments, submit as themselves (the store names and dates
the submission), list their own submissions and fetch their own feedback; instructors also
release, list and download every submission and upload feedback. Refusals are one line of JSON
(``{"message": ...}``), never a traceback.

Run by the hub (or beside it) with JupyterHub's service variables set:
``python -m hub_config.exchange.service --store DIR --course fj-course``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from jupyterhub.services.auth import HubAuth, HubAuthenticated, UserNotAllowed
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from hub_config.exchange import payload
from hub_config.exchange.rules import (
    INSTRUCTOR,
    Limits,
    RuleError,
    check_id,
    check_user,
    require_instructor,
    role_of,
)
from hub_config.exchange.store import Store

log = logging.getLogger("fj-exchange")
SERVICE_NAME = "fj-exchange"
DEFAULT_INSTRUCTOR_GROUP = "fj-trainers"
ROLE_CACHE_SECONDS = 30


class Roles:
    """Callers' roles, asked of the hub with the service's token (cached briefly)."""

    def __init__(self, api_url: str, api_token: str, instructor_group: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token
        self.instructor_group = instructor_group
        self._cache: dict[str, tuple[float, str]] = {}

    async def role(self, name: str) -> str:
        """'instructor' or 'learner' for a hub user."""
        cached = self._cache.get(name)
        if cached and time.monotonic() - cached[0] < ROLE_CACHE_SECONDS:
            return cached[1]
        request = HTTPRequest(f"{self.api_url}/users/{quote(name)}",
                              headers={"Authorization": f"token {self.api_token}"})
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as err:
            raise RuleError("the hub did not confirm who you are; try again", 503) from err
        role = role_of(json.loads(response.body), self.instructor_group)
        self._cache[name] = (time.monotonic(), role)
        return role


class ExchangeHandler(HubAuthenticated, web.RequestHandler):
    """Authenticates every request through the hub and turns refusals into one-line JSON."""

    def initialize(self, store: Store, hub_auth: HubAuth, roles: Roles, limits: Limits) -> None:
        self.store = store
        self.hub_auth = hub_auth
        self.roles = roles
        self.limits = limits
        self.caller = ""
        self.role = ""

    def get_current_user(self) -> Any:
        return getattr(self, "_caller_model", None)

    async def prepare(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        if not model:
            raise RuleError("sign in to the hub first (no valid hub token)", 403)
        try:
            model = self.check_hub_user(model)
        except UserNotAllowed:
            raise RuleError("this hub token may not use the exchange", 403) from None
        if model.get("kind", "user") != "user":
            raise RuleError("only hub users use the exchange", 403)
        self._caller_model = model
        self.caller = check_user(model["name"])
        self.role = await self.roles.role(self.caller)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RuleError):
            message = str(exc)
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = "the exchange could not do this; ask a trainer"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RuleError):
            status_code = exc.status
            log.info("refused %s %s for %s: %s", self.request.method, self.request.path,
                     self.caller or "?", exc)
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, RuleError):
            super().log_exception(typ, value, tb)

    def reply(self, value: Any, status: int = 200) -> None:
        """A JSON answer."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

    def files_from_body(self) -> payload.Files:
        """The uploaded files, every name and size checked."""
        return payload.decode(self.request.body, self.limits)

    def body_field(self, name: str) -> Any:
        """A field of a JSON body (instructors' feedback uploads name their student)."""
        try:
            return json.loads(self.request.body).get(name)
        except (ValueError, AttributeError):
            raise RuleError("the request is not valid JSON") from None

    def files_reply(self, files: payload.Files, **extra: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(payload.encode(files, **extra))


class Health(web.RequestHandler):
    """The service's root answers without a login (the hub and probes check it is up)."""

    def get(self) -> None:
        self.finish({"service": "fj-exchange", "ok": True})


class Assignments(ExchangeHandler):
    async def get(self, course: str) -> None:
        self.reply(self.store.released(course))


class Assignment(ExchangeHandler):
    async def get(self, course: str, assignment: str) -> None:
        self.files_reply(self.store.released_files(course, check_id(assignment)))

    async def put(self, course: str, assignment: str) -> None:
        require_instructor(self.role)
        files = self.files_from_body()
        force = self.get_query_argument("force", "0") == "1"
        self.store.release(course, check_id(assignment), files, force=force)
        log.info("%s released %s/%s (%d files)", self.caller, course, assignment, len(files))
        self.reply({"released": assignment}, 201)

    async def delete(self, course: str, assignment: str) -> None:
        require_instructor(self.role)
        self.store.unrelease(course, check_id(assignment))
        self.reply({"removed": assignment})


class Submit(ExchangeHandler):
    async def post(self, course: str, assignment: str) -> None:
        # The student is the caller, whatever the body or the URL says.
        files = self.files_from_body()
        record = self.store.submit(course, check_id(assignment), self.caller, files)
        log.info("%s submitted %s/%s at %s", self.caller, course, assignment, record["timestamp"])
        self.reply({k: record[k] for k in ("id", "student_id", "assignment_id", "timestamp")}, 201)


class Submissions(ExchangeHandler):
    async def get(self, course: str) -> None:
        assignment = self.get_query_argument("assignment", None)
        student = self.get_query_argument("student", None)
        if self.role != INSTRUCTOR:
            student = self.caller  # a learner lists only their own, whatever they ask
        self.reply(self.store.submissions(course, student=student, assignment=assignment))


class Submission(ExchangeHandler):
    async def get(self, course: str, submission_id: str) -> None:
        # Downloading submissions is collecting: the instructors' alone (learners keep their own
        # work in their home and see their submissions listed).
        require_instructor(self.role)
        record = self.store.submission(course, submission_id)
        self.files_reply(self.store.submission_files(record),
                         **{k: record[k] for k in ("student_id", "assignment_id", "timestamp", "secret")})


class Feedback(ExchangeHandler):
    async def get(self, course: str) -> None:
        assignment = self.get_query_argument("assignment", None)
        found = self.store.feedback(course, self.caller, assignment)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps([{**f, "files": payload.to_json(f["files"])} for f in found]))

    async def put(self, course: str) -> None:
        require_instructor(self.role)
        files = self.files_from_body()
        timestamp = self.body_field("timestamp")
        if not isinstance(timestamp, str) or len(timestamp) > 64:
            raise RuleError("the feedback names no submission timestamp")
        result = self.store.put_feedback(course, check_user(self.body_field("student_id")),
                                         check_id(self.body_field("assignment_id")), timestamp, files)
        self.reply(result, 201)


def make_app(store: Store, hub_auth: HubAuth, roles: Roles, prefix: str, limits: Limits) -> web.Application:
    """The service's routes below `prefix` (JUPYTERHUB_SERVICE_PREFIX)."""
    prefix = "/" + prefix.strip("/") + "/"
    api = prefix + "api/courses/([^/]+)"
    args = {"store": store, "hub_auth": hub_auth, "roles": roles, "limits": limits}
    return web.Application([
        (prefix, Health),
        (prefix[:-1], Health),
        (api + "/assignments", Assignments, args),
        (api + "/assignments/([^/]+)", Assignment, args),
        (api + "/assignments/([^/]+)/submissions", Submit, args),
        (api + "/submissions", Submissions, args),
        (api + "/submissions/([^/]+)", Submission, args),
        (api + "/feedback", Feedback, args),
    ])


def main(argv: list[str] | None = None) -> None:
    """Start the service with the hub's service variables (JUPYTERHUB_API_TOKEN and friends)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="the folder only this service uses")
    parser.add_argument("--course", action="append", required=True, help="a course id it serves")
    parser.add_argument("--instructor-group", default=DEFAULT_INSTRUCTOR_GROUP,
                        help=f"hub group whose members (and hub admins) are instructors "
                             f"(default: {DEFAULT_INSTRUCTOR_GROUP})")
    parser.add_argument("--listen", default=os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8080"),
                        help="where to listen (default: $JUPYTERHUB_SERVICE_URL)")
    parser.add_argument("--max-mib", type=int, default=50, help="largest upload in MiB (default: 50)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fj-exchange %(levelname)s %(message)s")

    api_token = os.environ["JUPYTERHUB_API_TOKEN"]
    api_url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", SERVICE_NAME)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{name}/")
    # Only tokens allowed to reach this service; a short cache, so a revoked token stops working
    # within half a minute.
    hub_auth = HubAuth(api_token=api_token, api_url=api_url, cache_max_age=30,
                       access_scopes={f"access:services!service={name}"})
    limits = Limits(max_total_bytes=args.max_mib * 2**20, max_file_bytes=min(args.max_mib, 20) * 2**20)
    store = Store(args.store, args.course)
    app = make_app(store, hub_auth, Roles(api_url, api_token, args.instructor_group), prefix, limits)
    listen = urlparse(args.listen)
    server = HTTPServer(app, max_body_size=limits.max_body_bytes, xheaders=True)
    server.listen(listen.port or 8080, listen.hostname or "127.0.0.1")
    log.info("serving %s at %s%s", ", ".join(args.course), args.listen, prefix)
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:  # the hub stops its managed services with SIGINT
        log.info("stopped")


if __name__ == "__main__":
    main()
