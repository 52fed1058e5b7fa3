"""How the hubs start servers: a few at a time (QueuedStart), and on a workshop server each
learner's as a systemd unit of its own (CourseSpawner).

On a workshop server every learner's server is a transient systemd service, started by
jupyterhub-systemdspawner (what The Littlest JupyterHub uses) as the learner's unix account.
systemd then holds the limits a shared 2-core machine needs, in the kernel's cgroups:

- memory: ``mem_limit`` is the unit's MemoryMax, for the server and every kernel it starts;
  a kernel over it is killed, the server stays (OOMPolicy=continue);
- CPU: ``cpu_limit`` cores at most per learner (CPUQuota), and every server in one slice,
  ``fj-training.slice``: the kernel shares CPU between cgroups, so a learner running eight
  processes gets no more than one running one, and the hub (outside the slice) keeps its share
  however busy the cohort is;
- an end: stopping a server stops its unit, and everything the learner started in it, even
  processes that left their session, since nothing leaves its cgroup;
- no way up: NoNewPrivileges, so no set-uid program raises a learner's privileges.

The demo runs every server as its own account, with no limits (DemoSpawner).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner, Spawner
from jupyterhub.utils import url_path_join
from systemdspawner import SystemdSpawner, systemd
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Integer

from hub_config import accounts
from hub_config.course import Course

# Every course server's unit is in this slice (systemd makes it at the first start).
SERVER_SLICE = "fj-training.slice"
UNIT_NAME_TEMPLATE = "fj-server-{USERNAME}"


class StartQueue:
    """First come, first served places for servers that are starting, shared by the hub's spawners.

    A starting server is CPU-bound (about 2 CPU-seconds of imports and set-up). When fifty start
    at once on 2 cores, each takes a hundred seconds, and the hub, its proxy and the readiness
    checks starve with them: the hub's calls to the proxy time out, and a server that did start
    is stopped again ("Failed to add ... to proxy"), which the learner sees as an error page.
    With a few places, each server starts in seconds, in login order, and the rest wait.
    """

    def __init__(self, places: int) -> None:
        self.places = places
        self._free = asyncio.Semaphore(places)
        self.waiting: list[str] = []

    def ahead_of(self, name: str) -> int | None:
        """How many servers are waiting before `name`'s (None once it is not waiting)."""
        return self.waiting.index(name) if name in self.waiting else None

    async def take(self, name: str) -> None:
        self.waiting.append(name)
        try:
            await self._free.acquire()
        finally:
            self.waiting.remove(name)

    def give_back(self) -> None:
        self._free.release()


def default_start_places() -> int:
    """Two starting servers per core keep the CPU busy while one of them waits on the disk."""
    return max(2, 2 * (os.cpu_count() or 1))


class QueuedStart(Spawner):
    """A spawner whose servers start a few at a time; the others wait their turn. Put it before
    the spawner that starts the process (``class X(QueuedStart, SystemdSpawner)``).

    ``start`` takes a place in the hub's StartQueue, starts the process, and gives the place
    back only once the server answers HTTP, so that the places bound the servers that are
    actually starting. Waiting learners read their place in the queue on the spawn-pending page
    (the spawner's progress events).
    """

    start_places = Integer(
        0, config=True,
        help="Servers allowed to start at once (0: two per CPU core). The others wait their turn.")

    _queue: StartQueue | None = None
    _http: AsyncHTTPClient | None = None

    def start_queue(self) -> StartQueue:
        if QueuedStart._queue is None:
            QueuedStart._queue = StartQueue(self.start_places or default_start_places())
        return QueuedStart._queue

    async def start(self) -> Any:
        queue = self.start_queue()
        await queue.take(self.user.name)
        try:
            started = await super().start()
            if not started:
                raise RuntimeError(f"the server of {self.user.name} did not start")
            ip, port = started
            await self._answering(url_path_join(f"http://{ip or '127.0.0.1'}:{port}", self.server.base_url))
            return ip, port
        finally:
            queue.give_back()

    # JupyterHub asks every Spawner subclass to define these; the spawner after this one in the
    # class's order does the work.
    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)

    async def poll(self) -> int | None:
        return await super().poll()

    async def _answering(self, url: str) -> None:
        """Return once the server answers `url` (any status under 500), as the hub's own
        readiness check does; raise if its process exits first. Uses a client of its own:
        the hub's shared one (ten connections) also carries its calls to the proxy."""
        if QueuedStart._http is None:
            QueuedStart._http = AsyncHTTPClient(force_instance=True, max_clients=64)
        request = HTTPRequest(url, follow_redirects=False, connect_timeout=5, request_timeout=30)
        while True:
            status = await self.poll()
            if status is not None:
                raise RuntimeError(f"the server of {self.user.name} exited ({status}) while starting")
            try:
                answer = await QueuedStart._http.fetch(request, raise_error=False)
                if answer.code < 500:
                    return
            except (OSError, HTTPClientError):
                pass  # not listening yet, or too busy to answer in time
            await asyncio.sleep(0.25)

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        """The learner's place in the queue while they wait, then that their server is starting."""
        queue = self.start_queue()
        shown = None
        while (ahead := queue.ahead_of(self.user.name)) is not None:
            if ahead != shown:
                shown = ahead
                yield {"progress": 10, "message": (
                    f"Servers start a few at a time; {ahead} to start before yours." if ahead
                    else "Your server starts next.")}
            await asyncio.sleep(0.5)
        yield {"progress": 40, "message": "Starting your server."}


class CourseSpawner(QueuedStart, SystemdSpawner):
    """Each server a systemd unit of its own, run as its hub user's unix account, made safe for
    a course (see the module's docstring for the limits).

    Before a server starts, the hub user's unix account is created if missing (home 0700, in the
    learner or trainer group), and refused if it exists outside those groups.
    """

    course: Course | None = None
    _starting = False

    async def start(self) -> Any:
        accounts.ensure_course_account(self.course, self.user.name)
        self._starting = True
        try:
            return await super().start()
        finally:
            self._starting = False

    async def poll(self) -> int | None:
        """None while the unit runs. A unit that failed while starting raises at once, rather
        than SystemdSpawner waiting out the whole start timeout for it."""
        if await systemd.service_running(self.unit_name):
            return None
        if self._starting and await systemd.service_failed(self.unit_name):
            raise RuntimeError(f"the server of {self.user.name} failed as it started; the hub's "
                               f"machine says why: journalctl -u {self.unit_name}")
        return 1


def systemd_missing() -> str | None:
    """Why this machine cannot start servers as systemd units, or None if it can."""
    if shutil.which("systemd-run") is None or shutil.which("systemctl") is None:
        return "systemd-run and systemctl are not installed"
    if not Path("/run/systemd/system").is_dir():
        return "systemd is not running as this machine's init (no /run/systemd/system)"
    return None


class DemoSpawner(QueuedStart, SimpleLocalProcessSpawner):
    """The demo's spawner: every server as the demo's own account (SimpleLocalProcessSpawner),
    started through the queue like a workshop's."""


def course_spawner(course: Course) -> type[CourseSpawner]:
    """The spawner class bound to a course (JupyterHub instantiates it per user)."""
    return type("BoundCourseSpawner", (CourseSpawner,), {"course": course})


def configure_course_spawner(c: Any, course: Course) -> None:
    """A workshop server's spawner settings: servers as systemd units with the course's limits.
    The memory limit is common to both hubs (hub.configure_common)."""
    c.JupyterHub.spawner_class = course_spawner(course)
    c.SystemdSpawner.unit_name_template = UNIT_NAME_TEMPLATE
    c.SystemdSpawner.slice = SERVER_SLICE
    c.SystemdSpawner.disable_user_sudo = True  # NoNewPrivileges
    # Where the kernel accounts swap apart (cgroup v2), none: the limit is the memory a learner
    # has, not memory plus the machine's swap.
    c.SystemdSpawner.unit_extra_properties = {"MemorySwapMax": "0"}
    if course.cpu_limit:
        c.Spawner.cpu_limit = course.cpu_limit
