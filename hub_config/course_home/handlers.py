"""The course home's handlers, and the course order of nbgrader's Assignments panel.

Statuses and actions go through the server's own nbgrader assignment-list service (the object
behind the Assignments panel's ``/assignments`` API, configured from the server's
nbgrader_config.py), so fetching here is exactly the panel's fetch: the same exchange classes,
into the same folder, for the folder exchange and the exchange service alike.
"""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from hub_config.course_home import HOME_PATH, OUTLINE_VARIABLE, page
from hub_config.course_home.outline import assignment_order, read_outline

MANAGER = "assignment_list_manager"  # where nbgrader's extension keeps its service
OWN_MANAGER = "fj_course_home_manager"
BOOK_SERVICE = "services/book/"


def outline_path() -> str | None:
    return os.environ.get(OUTLINE_VARIABLE)


def course_id_of(outline: dict[str, Any] | None) -> str | None:
    return (outline or {}).get("course_id") or os.environ.get("FJ_COURSE_ID") or None


class CourseHomeHandler(JupyterHandler):
    """GET: the course home. POST .../fetch or .../fetch_feedback: that action, then the page."""

    auth_resource = "contents"

    @property
    def manager(self) -> Any:
        return self.settings.get(MANAGER) or self.settings[OWN_MANAGER]

    def book_url(self) -> str:
        hub_prefix = os.environ.get("JUPYTERHUB_BASE_URL", "/")
        return url_path_join(hub_prefix, BOOK_SERVICE)

    def listing(self, course_id: str | None) -> tuple[list[dict[str, Any]], str]:
        """nbgrader's listing (released, fetched, submitted) and an error message if it failed."""
        result = self.manager.list_assignments(course_id=course_id)
        if result.get("success"):
            return list(result["value"]), ""
        self.log.error("course home: nbgrader could not list assignments: %s", result.get("value"))
        return [], "The list of released assignments could not be read; try again in a moment."

    def show(self, outline: dict[str, Any] | None, *, notice: str = "", error: str = "",
             status: int = 200) -> None:
        course_id = course_id_of(outline)
        listing, list_error = self.listing(course_id)
        known = [a["id"] for module in (outline or {}).get("modules", []) for a in module["assignments"]]
        root = Path(self.settings.get("server_root_dir") or self.manager.root_dir).expanduser()
        found = page.states(listing, root, course_id=course_id, known=known)
        user = self.current_user
        name = (getattr(user, "display_name", None) or getattr(user, "username", "")) if user else ""
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(page.render(outline, found, base_url=self.base_url, book=self.book_url(),
                                xsrf=_text(self.xsrf_token),
                                notice=notice, error=error or list_error, user=name))

    @web.authenticated
    @authorized
    def get(self) -> None:
        outline = read_outline(outline_path())
        done = self.get_query_argument("fetched", "")
        notice = ""
        if done:
            title = _title(outline, done)
            notice = f"Fetched {title}: open it below." if title else ""
        self.show(outline, notice=notice)

    @web.authenticated
    @authorized
    def post(self, action: str) -> None:
        outline = read_outline(outline_path())
        course_id = course_id_of(outline)
        assignment_id = self.get_body_argument("assignment_id", "")
        listing, _ = self.listing(course_id)
        statuses = {(str(a.get("assignment_id")), a.get("status")) for a in listing}
        home = url_path_join(self.base_url, HOME_PATH)
        if action == "fetch" and (assignment_id, "fetched") in statuses:
            # Already fetched (a second click, another tab): nothing to do but show it.
            self.redirect(f"{home}?fetched={quote(assignment_id)}#{quote('a-' + assignment_id)}", status=303)
            return
        # Fetch what is released; fetch feedback for what was submitted.
        if (assignment_id, "released" if action == "fetch" else "submitted") not in statuses:
            self.show(outline, error=f"{assignment_id or 'That assignment'} is not available to "
                      f"{'fetch' if action == 'fetch' else 'fetch feedback for'}.", status=409)
            return
        do = self.manager.fetch_assignment if action == "fetch" else self.manager.fetch_feedback
        try:
            result = do(course_id, assignment_id)
        except Exception:  # nbgrader reports failures in its result; this is a last resort
            self.log.error("course home: %s of %s failed:\n%s", action, assignment_id, traceback.format_exc())
            result = {"success": False, "value": ""}
        if not result.get("success"):
            self.log.error("course home: %s of %s failed: %s", action, assignment_id, result.get("value"))
            self.show(outline, error=f"Could not {action.replace('_', ' ')} {assignment_id}: "
                      f"{_last_line(result.get('value'))}", status=500)
            return
        query = f"?fetched={quote(assignment_id)}" if action == "fetch" else ""
        self.redirect(f"{home}{query}#{quote('a-' + assignment_id)}", status=303)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _title(outline: dict[str, Any] | None, assignment_id: str) -> str:
    for module in (outline or {}).get("modules", []):
        for assignment in module["assignments"]:
            if assignment["id"] == assignment_id:
                return assignment["title"]
    return ""


def _last_line(value: object) -> str:
    """The message of nbgrader's traceback, without the exception's name."""
    lines = [line.strip() for line in str(value or "").strip().splitlines() if line.strip()]
    if not lines:
        return "see the server's log"
    return re.sub(r"^[\w.]+(?:Error|Exception): ", "", lines[-1])[:300]


def sort_listing(listing: list[dict[str, Any]], outline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """nbgrader's listing in course order; assignments the outline does not name keep their
    order, after the course's."""
    order = assignment_order(outline)
    if not order:
        return listing
    last = len(order)
    indexed = list(enumerate(listing))
    indexed.sort(key=lambda pair: (order.get(str(pair[1].get("assignment_id")), last), pair[0]))
    return [entry for _, entry in indexed]


def order_assignment_list(webapp: Any) -> None:
    """Make the Assignments panel's listing (``/assignments`` and the answers of its actions)
    follow the course's order. The panel shows entries in the order it receives them."""
    manager = webapp.settings.get(MANAGER)
    if manager is None or getattr(manager, "_fj_course_order", False):
        return
    unordered = manager.list_assignments

    def list_assignments(course_id: str | None = None) -> dict[str, Any]:
        result = unordered(course_id=course_id)
        if result.get("success") and isinstance(result.get("value"), list):
            result["value"] = sort_listing(result["value"], read_outline(outline_path()))
        return result

    manager.list_assignments = list_assignments
    manager._fj_course_order = True


def load(serverapp: Any) -> None:
    """Register the course home (and its own nbgrader listing service, used only if nbgrader's
    assignment-list extension is switched off)."""
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

    webapp = serverapp.web_app
    own = AssignmentList(parent=serverapp)
    own.root_dir = serverapp.root_dir
    webapp.settings[OWN_MANAGER] = own
    base_url = webapp.settings["base_url"]
    webapp.add_handlers(".*$", [
        (url_path_join(base_url, HOME_PATH) + "/?", CourseHomeHandler),
        (url_path_join(base_url, HOME_PATH, r"(?P<action>fetch|fetch_feedback)"), CourseHomeHandler),
    ])
    order_assignment_list(webapp)
    serverapp.log.info("course home at %s (outline %s)", url_path_join(base_url, HOME_PATH),
                       outline_path() or "not set")
