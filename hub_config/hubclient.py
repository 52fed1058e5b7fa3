"""A small HTTP client for a course hub: sign up, approve, log in, start servers, call the API.

The demo uses it to create its accounts, the tests to drive a real hub the way a browser does,
and the load benchmark to log many learners in at once.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass

import requests


class HubError(RuntimeError):
    """The hub answered, but not as a working course hub should."""


@dataclass
class HubClient:
    """One browser-like session on a hub at `url` (for example http://127.0.0.1:8000)."""

    url: str
    session: requests.Session | None = None
    username: str | None = None

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.session = self.session or requests.Session()

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
        """Start the user's server through /hub/spawn and wait for JupyterLab; return seconds."""
        began = time.monotonic()
        self.session.get(f"{self.url}/hub/spawn", timeout=timeout)
        self.wait_for_lab(timeout - (time.monotonic() - began))
        return time.monotonic() - began

    def wait_for_lab(self, timeout: float = 120) -> None:
        """Poll the user's JupyterLab page (completing the server's OAuth with the hub) until
        it loads, then check the server's API answers."""
        deadline = time.monotonic() + timeout
        last = None
        lab = f"/user/{self.username}/lab"
        while time.monotonic() < deadline:
            r = self.session.get(f"{self.url}{lab}", timeout=60)
            last = r.status_code
            if r.status_code == 424:
                raise HubError(f"{self.username}'s server failed to start (see the hub's log)")
            if r.status_code == 200 and r.url.split("?")[0].endswith(lab):
                status = self.session.get(f"{self.url}/user/{self.username}/api/status", timeout=30)
                last = status.status_code
                if status.status_code == 200:
                    return
            time.sleep(0.5)
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
