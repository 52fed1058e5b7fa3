"""``python -m hub_config.warmup``: start the learners' servers before a session begins.

A workshop starts with "everyone log in now"; a cold server takes seconds to a minute to start
when fifty start at once. Started ahead, logging in is a redirect to a running server. This
command asks the hub (its REST API, with a trainer's token) to start the server of every
approved learner, a few at a time, waits until each is ready and prints how long each took.

The idle culler stops servers nobody uses (course.yaml's ``idle_timeout_seconds``). With
``--until HH:MM`` the command then stays running and reports activity for the servers it
started, every few minutes, until the session starts, so that none of them is culled before
anyone arrives; after that the culler treats them like any other server. The hub's admin page
(*Start All*) starts servers too, but cannot keep them from the culler.

    FJ_HUB_TOKEN=... python -m hub_config.warmup --hub https://hub.example.org --until 09:30

The token comes from the hub's *Token* page of a trainer's account (trainers are the hub's
admins, so it may start anyone's server); it is read from FJ_HUB_TOKEN, never from the command
line, where other users could read it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import requests

TOKEN_VARIABLE = "FJ_HUB_TOKEN"
DEFAULT_CONCURRENCY = 5
HOLD_EVERY_SECONDS = 120


class WarmupError(RuntimeError):
    """The hub refused or did not answer as expected (one line, for the trainer)."""


class MissingUser(WarmupError):
    """The hub has no such user (yet)."""


@dataclass(frozen=True)
class Started:
    """One learner's server: seconds until ready, or why it did not start."""

    name: str
    seconds: float = 0.0
    error: str = ""


class HubAPI:
    """The few calls of the hub's REST API that warming up needs."""

    def __init__(self, hub_url: str, token: str, timeout: float = 30) -> None:
        self.base = hub_url.rstrip("/") + "/hub/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        try:
            r = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as err:
            raise WarmupError(f"the hub at {self.base} did not answer ({type(err).__name__})") from None
        if r.status_code in (401, 403):
            raise WarmupError("the hub refused the token: use a token of a trainer's account "
                              "(the hub's Token page), in FJ_HUB_TOKEN")
        return r

    def learners(self) -> list[str]:
        """Every user who is not an admin (the hub holds approved accounts only)."""
        r = self._call("GET", "/users")
        if r.status_code != 200:
            raise WarmupError(f"listing users answered {r.status_code}")
        return sorted(u["name"] for u in r.json() if not u.get("admin"))

    def server(self, name: str) -> dict:
        r = self._call("GET", f"/users/{quote(name)}")
        if r.status_code == 404:
            raise MissingUser(f"no user {name!r} on the hub (404)")
        if r.status_code != 200:
            raise WarmupError(f"no user {name!r} on the hub ({r.status_code})")
        return (r.json().get("servers") or {}).get("", {})

    def create(self, name: str) -> None:
        """Add a learner the hub has not seen log in yet (a roster name that signed up, or will:
        the hub creates its users at their first login, so a warm-up before it would miss them)."""
        r = self._call("POST", f"/users/{quote(name)}")
        if r.status_code not in (201, 409):  # 409: created meanwhile
            raise WarmupError(f"adding {name} to the hub answered {r.status_code}: {r.text[:200]}")

    def start(self, name: str) -> None:
        r = self._call("POST", f"/users/{quote(name)}/server")
        if r.status_code not in (201, 202, 400):  # 400: already running
            raise WarmupError(f"starting {name}'s server answered {r.status_code}: {r.text[:200]}")

    def touch(self, names: Sequence[str], when: datetime) -> None:
        """Report activity now for these users' servers (what a server's own heartbeat does)."""
        stamp = when.isoformat().replace("+00:00", "Z")
        for name in names:
            self._call("POST", f"/users/{quote(name)}/activity",
                       json={"last_activity": stamp, "servers": {"": {"last_activity": stamp}}})


def start_one(api: HubAPI, name: str, timeout: float, clock: Callable[[], float] = time.monotonic) -> Started:
    """Start a learner's server and wait until the hub says it is ready."""
    began = clock()
    try:
        try:
            server = api.server(name)
        except MissingUser:
            api.create(name)
            server = api.server(name)
        if server.get("ready"):
            return Started(name, 0.0)
        api.start(name)
        while clock() - began < timeout:
            server = api.server(name)
            if server.get("ready"):
                return Started(name, clock() - began)
            if not server.get("pending") and server.get("stopped", False):
                return Started(name, error="the server stopped while starting (see the hub's log)")
            time.sleep(0.5)
        return Started(name, error=f"not ready within {timeout:.0f} s")
    except WarmupError as err:
        return Started(name, error=str(err))


def warm_up(api: HubAPI, names: Sequence[str], *, concurrency: int = DEFAULT_CONCURRENCY,
            timeout: float = 600) -> list[Started]:
    """Start every named server, `concurrency` at a time (fifty at once would start no faster
    on a small machine, and would make each learner's wait longer)."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(lambda name: start_one(api, name, timeout), names))


def hold_until(api: HubAPI, names: Sequence[str], until: datetime, *,
               every: float = HOLD_EVERY_SECONDS, now: Callable[[], datetime] = lambda: datetime.now(UTC),
               sleep: Callable[[float], None] = time.sleep) -> int:
    """Report activity for `names` every `every` seconds until `until`; return how many times."""
    times = 0
    while True:
        current = now()
        if current >= until:
            return times
        api.touch(names, current)
        times += 1
        sleep(min(every, max(0.0, (until - current).total_seconds())))


def session_start(text: str, today: datetime | None = None) -> datetime:
    """``HH:MM`` (today, local time; tomorrow if already past) as an aware UTC datetime."""
    try:
        hour, minute = (int(part) for part in text.split(":"))
        local = (today or datetime.now().astimezone()).replace(hour=hour, minute=minute, second=0,
                                                               microsecond=0)
    except ValueError:
        raise WarmupError(f"--until must be a time such as 09:30, not {text!r}") from None
    if local < (today or datetime.now().astimezone()):
        local += timedelta(days=1)
    return local.astimezone(UTC)


def main(argv: list[str] | None = None) -> int:
    """Start the learners' servers; with --until, keep them from the culler until then."""
    parser = argparse.ArgumentParser(prog="python -m hub_config.warmup", description=__doc__.split("\n\n")[0],
                                     epilog="The token is read from FJ_HUB_TOKEN.")
    parser.add_argument("--hub", default="http://127.0.0.1:8000", help="the hub's address "
                        "(default: http://127.0.0.1:8000)")
    parser.add_argument("--learners", default="", metavar="NAME[,NAME...]",
                        help="these learners, added to the hub if they have not logged in yet "
                             "(default: every account that is not a trainer)")
    parser.add_argument("--until", default="", metavar="HH:MM",
                        help="keep the started servers from the idle culler until this time today")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"servers starting at once (default: {DEFAULT_CONCURRENCY})")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each server")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        print(f"warmup: set {TOKEN_VARIABLE} to a trainer's token from the hub's Token page", file=sys.stderr)
        return 2
    try:
        until = session_start(args.until) if args.until else None
        api = HubAPI(args.hub, token)
        names = [n for n in args.learners.split(",") if n] or api.learners()
        began = time.monotonic()
        results = warm_up(api, names, concurrency=args.concurrency, timeout=args.timeout)
        ready = [r for r in results if not r.error]
        for result in results:
            print(f"{result.name}: " + (f"ready after {result.seconds:.1f} s" if not result.error
                                        else f"NOT STARTED: {result.error}"), flush=True)
        print(f"{len(ready)} of {len(results)} servers ready in {time.monotonic() - began:.1f} s", flush=True)
        if until is not None and ready:
            print(f"keeping them from the idle culler until {args.until}", flush=True)
            hold_until(api, [r.name for r in ready], until)
    except WarmupError as err:
        print(f"warmup: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if len(ready) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
