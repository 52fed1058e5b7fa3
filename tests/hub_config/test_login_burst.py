"""Everyone logs in at once, as a workshop starts: every learner gets their course home.

A real demo hub (JupyterHub, its proxy, its services) on a free port; N learners with ready
accounts log in at the same moment, each in a session of its own that does what a browser does:
the login form, /hub/spawn, the spawn-pending page and its progress event stream, the reload
that lands on the server's course home, then JupyterLab. A learner may wait, but no answer along
the way may be an error page (status 400 or more: a "server not running", a "too many users", a
proxy error) and the hub must not have stopped a server it started.

Meanwhile the servers' processes are watched from outside: a server is starting from the moment
its process exists until it listens. The hub lets only a few start at once (spawners.QueuedStart),
since fifty starting together on two cores starve the hub and its proxy until spawns fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from hub_helpers import running_demo, sign_up_with_codes

from hub_config.course import REPO
from hub_config.hubclient import HubClient
from hub_config.spawners import default_start_places

pytestmark = pytest.mark.integration

LEARNERS = 10
PASSWORD = "burst-of-logins-1"


def log_in_and_open(url: str, name: str, start: threading.Barrier) -> HubClient | str:
    """One learner's browser: log in when everyone does, wait for the server, open it.
    Returns the session, or what went wrong in one line."""
    client = HubClient(url)
    start.wait()
    try:
        if not client.login(name, PASSWORD):
            return f"{name} could not log in"
        client.start_server(timeout=240)
    except Exception as error:  # noqa: BLE001 (every learner's outcome is reported)
        return f"{name}: {type(error).__name__}: {error}"
    return client


class StartWatch(threading.Thread):
    """Samples the servers under a process: how many exist, how many have yet to listen."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(root_pid)
        self.seen: set[int] = set()
        self.most_starting = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            starting = 0
            for proc in self.root.children(recursive=True):
                try:
                    if "jupyterhub.singleuser" not in " ".join(proc.cmdline()):
                        continue
                    self.seen.add(proc.pid)
                    if not any(c.status == psutil.CONN_LISTEN for c in proc.net_connections("tcp")):
                        starting += 1
                except psutil.Error:
                    continue
            self.most_starting = max(self.most_starting, starting)


def test_every_learner_of_a_burst_reaches_the_course_home(artifacts_dir: Path) -> None:
    names = [f"burst{i:02d}" for i in range(LEARNERS)]
    with running_demo("login-burst", artifacts_dir) as demo:
        sign_up_with_codes(demo.url, demo.state / "hub", names, PASSWORD)
        watch = StartWatch(demo.pid)
        watch.start()
        start = threading.Barrier(LEARNERS)
        try:
            with ThreadPoolExecutor(max_workers=LEARNERS) as pool:
                outcomes = list(pool.map(lambda name: log_in_and_open(demo.url, name, start), names))
        finally:
            watch.done.set()
            watch.join()
        hub_log = (demo.state / "jupyterhub.log").read_text()
    (artifacts_dir / "hub_config-login-burst-hub.log").write_text(hub_log)
    failed = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not failed, "\n".join(failed)
    for name, client in zip(names, outcomes, strict=True):
        assert isinstance(client, HubClient)
        assert client.error_pages() == [], f"{name} saw error pages: {client.error_pages()}"
        landing = client.landing
        assert landing is not None and landing.status_code == 200
        assert landing.url.split("?")[0].endswith(f"/user/{name}/course"), landing.url
        assert "Course home" in landing.text
    assert "to avoid inconsistent state" not in hub_log, "the hub stopped a server it had started"
    assert len(watch.seen) >= LEARNERS, f"saw {len(watch.seen)} servers start, not {LEARNERS}"
    assert watch.most_starting <= default_start_places(), (
        f"{watch.most_starting} servers were starting at once; the hub allows {default_start_places()}")


PROBE = """
import json, sys
import jsonschema
from jupyter_server.serverapp import ServerApp
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
print(json.dumps({"argv": sys.argv[1:], "name": __name__, "iri": "iri" in checker.checkers,
                  "uri": "uri" in checker.checkers, "loaded": "rfc3987_syntax" in sys.modules
                  and sys.modules["rfc3987_syntax"] is not None}))
"""


def test_a_server_starts_without_the_iri_grammars_and_with_everything_else(tmp_path: Path) -> None:
    """hub_config.course_home.launch runs a module as `python -m` does (arguments, __main__), and
    jsonschema then skips only the `iri` format checks whose grammars cost a second per start."""
    (tmp_path / "probe_server.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    launch = [sys.executable, "-m", "hub_config.course_home.launch"]
    launched = subprocess.run([*launch, "probe_server", "--a", "b"], capture_output=True, text=True,
                              env=env, cwd=REPO, check=True)
    plain = subprocess.run([sys.executable, "-m", "probe_server"], capture_output=True, text=True, env=env,
                           cwd=REPO, check=True)
    assert json.loads(launched.stdout) == {"argv": ["--a", "b"], "name": "__main__", "iri": False,
                                           "uri": True, "loaded": False}
    assert json.loads(plain.stdout)["loaded"] is True, "without the launcher the grammars load"
    version = subprocess.run([*launch, "jupyterhub.singleuser", "--version"], capture_output=True,
                             text=True, cwd=REPO, check=True)
    assert version.stdout.strip()[:1].isdigit(), version.stdout
