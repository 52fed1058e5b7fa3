"""A small HTTP client for a course hub: sign up, approve, log in, start servers, call the API.

The demo uses it to create its accounts, the tests to drive a real hub the way a browser does,
and the load benchmark to log many learners in at once.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import requests
import websocket

# Answers a busy hub (or its proxy) gives for a moment and that a browser user would retry: the
# hub's "too many users trying to log in" (429, with Retry-After) and the proxy's 502-504.
TRANSIENT = frozenset({429, 502, 503, 504})


class HubError(RuntimeError):
    """The hub answered, but not as a working course hub should."""


@dataclass
class HubClient:
    """One browser-like session on a hub at `url` (for example http://127.0.0.1:8000)."""

    url: str
    session: requests.Session | None = None
    username: str | None = None
    # Every answer this session got, redirects included, as (status, method, url): a learner's
    # browser would have shown each one, so a test can say that none was an error page.
    seen: list[tuple[int, str, str]] = field(default_factory=list)
    # The page the spawn ended on (the server's default URL, the course home on course hubs).
    landing: requests.Response | None = None
    # The spawn's progress events, as the spawn-pending page showed them.
    progress_events: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.session = self.session or requests.Session()
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *_args: object, **_kwargs: object) -> None:
        self.seen.append((response.status_code, response.request.method or "", response.url))

    def error_pages(self) -> list[tuple[int, str, str]]:
        """The answers so far that a browser would have shown as an error page (status >= 400)."""
        return [entry for entry in self.seen if entry[0] >= 400]

    def _xsrf(self, path: str) -> str:
        self.session.get(f"{self.url}{path}", timeout=30)
        return self.cookie("_xsrf", "/hub/")

    def cookie(self, name: str, path: str) -> str:
        """A cookie by name for a path: the hub and each server set their own `_xsrf`."""
        for cookie in self.session.cookies:
            if cookie.name == name and path.startswith(cookie.path.rstrip("/") or "/"):
                return cookie.value or ""
        return ""

    def signup(self, username: str, password: str, code: str | None = None) -> str:
        """Post the sign-up form, with the name's one-time sign-up code if given (trainer names
        need theirs; any other name without one waits for a trainer's approval); return the
        result message the page shows."""
        xsrf = self._xsrf("/hub/signup")
        data = {"username": username, "signup_password": password,
                "signup_password_confirmation": password, "_xsrf": xsrf}
        if code:
            data["signup_code"] = code
        r = self.session.post(f"{self.url}/hub/signup", timeout=30, data=data)
        if r.status_code != 200:
            raise HubError(f"sign-up of {username} answered {r.status_code}")
        return signup_message(r.text)

    def login(self, username: str, password: str) -> bool:
        """Log in through the form; True if the hub accepted the password and approval."""
        xsrf = self._xsrf("/hub/login")
        r = self.session.post(f"{self.url}/hub/login?next=", timeout=60, allow_redirects=False,
                              data={"username": username, "password": password, "_xsrf": xsrf})
        ok = r.status_code in (302, 303) and "jupyterhub-session-id" in self.session.cookies
        if ok:
            self.username = username
        return ok

    def approve(self, username: str) -> None:
        """As a trainer: approve a pending sign-up through the authorization page's own link
        (NativeAuthenticator toggles approval; the link carries the trainer's xsrf token)."""
        row = self._authorization_row(username)
        if row is None:
            raise HubError(f"{username} has not signed up")
        href, label = row
        if label == "Unauthorize":
            return
        r = self.session.get(f"{self.url}{href}", timeout=30)
        if r.status_code != 200:
            raise HubError(f"approving {username} answered {r.status_code}")

    def is_approved(self, username: str) -> bool:
        row = self._authorization_row(username)
        return row is not None and row[1] == "Unauthorize"

    def _authorization_row(self, username: str) -> tuple[str, str] | None:
        """The approve/withdraw link of a user on /hub/authorize and its label."""
        import html
        import re

        r = self.session.get(f"{self.url}/hub/authorize", timeout=30)
        if r.status_code != 200:
            raise HubError(f"the authorisation page answered {r.status_code}")
        match = re.search(r'href="([^"]*/authorize/' + re.escape(username)
                          + r'\?_xsrf=[^"]*)" role="button">(\w+)<', r.text)
        if match is None:
            return None
        href = html.unescape(match.group(1))
        return (href if href.startswith("/") else "/" + href), match.group(2)

    def token(self) -> str:
        """An API token for the logged-in user (made through the hub's token page API)."""
        xsrf = self.cookie("_xsrf", "/hub/")
        r = self.session.post(f"{self.url}/hub/api/users/{self.username}/tokens", timeout=30,
                              json={"note": "hubclient", "expires_in": 3600},
                              headers={"X-XSRFToken": xsrf, "Referer": f"{self.url}/hub/token"})
        if r.status_code != 201:
            raise HubError(f"token request answered {r.status_code}: {r.text[:200]}")
        return r.json()["token"]

    def start_server(self, timeout: float = 120) -> float:
        """Start the user's server as a browser does, then wait for JupyterLab; return seconds.

        /hub/spawn starts the server and, if it is not up within the hub's slow-spawn timeout,
        sends the browser to the spawn-pending page, which follows the hub's progress event
        stream until the server is ready and then reloads (landing on the server's default
        URL). A transient answer (the hub's 429 with its Retry-After, the proxy's 502-504) is
        waited out and retried, as a learner would; a spawn the hub reports as failed raises.
        """
        began = time.monotonic()
        deadline = began + timeout
        r = self._get_through(f"{self.url}/hub/spawn", deadline)
        if "/hub/spawn-pending/" in r.url and r.status_code == 200:
            self.follow_progress(r.text, deadline)
            r = self._get_through(r.url, deadline)
        self.landing = r
        if r.status_code >= 400 and "/hub/" in r.url:  # the hub's error page, not the server's
            raise HubError(f"{self.username}'s server did not start: {r.url} answered {r.status_code}")
        self.wait_for_lab(deadline - time.monotonic())
        return time.monotonic() - began

    def _get_through(self, url: str, deadline: float) -> requests.Response:
        """GET a page, waiting out transient answers until `deadline`."""
        while True:
            r = self.session.get(url, timeout=max(5.0, min(120.0, deadline - time.monotonic())))
            if r.status_code not in TRANSIENT:
                return r
            wait = retry_after(r)
            if time.monotonic() + wait > deadline:
                raise HubError(f"{self.username}: {url} still answered {r.status_code} at the deadline")
            time.sleep(wait)

    def follow_progress(self, pending_page: str, deadline: float) -> list[dict]:
        """Read the spawn's progress event stream (the one the spawn-pending page listens to)
        until the hub says the server is ready; raise if it says the spawn failed. Returns the
        events (their messages are what the learner reads on the page)."""
        match = re.search(r'EventSource\("([^"]+)"\)', pending_page)
        if match is None:
            raise HubError(f"{self.username}'s spawn-pending page has no progress stream")
        stream = urljoin(self.url + "/", html.unescape(match.group(1)))
        events = self.progress_events
        while time.monotonic() < deadline:
            with self.session.get(stream, stream=True, timeout=(30, 60),
                                  headers={"Accept": "text/event-stream"}) as r:
                if r.status_code in TRANSIENT:
                    time.sleep(retry_after(r))
                    continue
                if r.status_code != 200:
                    raise HubError(f"{self.username}'s progress stream answered {r.status_code}")
                for line in r.iter_lines(decode_unicode=True):
                    if not line or not line.startswith("data:"):
                        continue
                    event = json.loads(line[len("data:"):])
                    events.append(event)
                    if event.get("failed"):
                        raise HubError(f"{self.username}'s server failed to start: "
                                       f"{event.get('message', 'no message')}")
                    if event.get("ready"):
                        return events
                    if time.monotonic() > deadline:
                        break
            # The stream ended without a verdict (the spawn finished between two reads, or
            # the connection dropped): the spawn-pending page decides on its reload.
            return events
        raise HubError(f"{self.username}'s server was not ready by the deadline")

    def wait_for_lab(self, timeout: float = 120) -> None:
        """Poll the user's JupyterLab page (completing the server's OAuth with the hub) until
        it loads, then check the server's API answers. The hub answers 424 for a server that
        is not running (not starting either): that is a failure, not something to wait for."""
        deadline = time.monotonic() + timeout
        last = None
        lab = f"/user/{self.username}/lab"
        while time.monotonic() < deadline:
            r = self.session.get(f"{self.url}{lab}", timeout=60)
            last = r.status_code
            if r.status_code == 424:
                raise HubError(f"{self.username}'s server is not running (see the hub's log)")
            if r.status_code == 200 and r.url.split("?")[0].endswith(lab):
                status = self.session.get(f"{self.url}/user/{self.username}/api/status", timeout=30)
                last = status.status_code
                if status.status_code == 200:
                    return
            if "/hub/spawn-pending/" in r.url and r.status_code >= 400:
                raise HubError(f"{self.username}'s server failed to start ({r.status_code}, see the hub log)")
            if "/hub/spawn-pending/" in r.url and r.status_code == 200:
                # Still starting: wait on the progress stream, as the pending page does,
                # rather than reloading it.
                self.follow_progress(r.text, deadline)
                continue
            time.sleep(retry_after(r) if r.status_code in TRANSIENT else 1.0)
        raise HubError(f"{self.username}'s server was not ready in {timeout:.0f}s (last {last})")

    def lab_api(self, path: str, method: str = "GET", **kwargs: object) -> requests.Response:
        """Call the user's own server (for example `assignments?course_id=...`)."""
        if not self.cookie("_xsrf", f"/user/{self.username}/"):
            # A new session must open a page first: that completes the server's OAuth with the
            # hub and sets the server's own cookies, which API calls and POSTs need.
            self.session.get(f"{self.url}/user/{self.username}/lab", timeout=60)
        xsrf = self.cookie("_xsrf", f"/user/{self.username}/")
        headers = {"X-XSRFToken": xsrf}
        return self.session.request(method, f"{self.url}/user/{self.username}/{path.lstrip('/')}",
                                    headers=headers, timeout=120, **kwargs)


    def run_code(self, code: str, timeout: float = 120) -> tuple[str, str]:
        """Run ``code`` in a new kernel of the user's own server, as a notebook cell would, and
        return (outcome, what it printed). outcome: "ok", "error", or "died" when the kernel
        died (or was killed) before it replied. The kernel is shut down afterwards."""
        token = self.token()
        headers = {"Authorization": f"token {token}"}
        server = f"{self.url}/user/{self.username}"
        r = requests.post(f"{server}/api/kernels", headers=headers, json={"name": "python3"}, timeout=60)
        if r.status_code != 201:
            raise HubError(f"starting a kernel answered {r.status_code}: {r.text[:200]}")
        kernel = r.json()["id"]
        session = uuid.uuid4().hex
        socket_url = server.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels?session_id={session}"
        ws = websocket.create_connection(socket_url, timeout=timeout,
                                         header=[f"Authorization: token {token}"])
        printed: list[str] = []
        try:
            request = execute_request(code, session, self.username or "")
            ws.send(json.dumps(request))
            while True:
                try:
                    message = json.loads(ws.recv())
                except websocket.WebSocketConnectionClosedException:
                    return "died", "".join(printed)
                kind, content = message.get("msg_type"), message.get("content", {})
                if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                    return "died", "".join(printed)
                if message.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                    continue
                if kind == "stream":
                    printed.append(content.get("text", ""))
                elif kind == "execute_reply":
                    return content.get("status", "error"), "".join(printed)
        finally:
            ws.close()
            requests.delete(f"{server}/api/kernels/{kernel}", headers=headers, timeout=60)


def execute_request(code: str, session: str, username: str) -> dict:
    """A kernel message (Jupyter messaging 5.3) asking to run `code` as a notebook does."""
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "session": session,
                       "username": username, "version": "5.3", "date": datetime.now(UTC).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}


def retry_after(response: requests.Response, default: float = 2.0, longest: float = 60.0) -> float:
    """Seconds to wait before trying again: the answer's Retry-After if it has one (the hub's
    429 suggests a random 30-60 s; capped, since the waiting is ours), else `default`."""
    try:
        return min(longest, max(0.5, float(response.headers.get("Retry-After", default))))
    except ValueError:
        return default


def signup_message(page: str) -> str:
    """The result message of a sign-up page (the whole page if it has none)."""
    match = re.search(r'role="alert"[^>]*>(.*?)</div>', page, re.S)
    if not match:
        return page
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def wait_for_hub(url: str, timeout: float = 60) -> None:
    """Wait until the hub answers through its proxy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url.rstrip('/')}/hub/api/", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise HubError(f"no hub at {url} after {timeout:.0f}s")
