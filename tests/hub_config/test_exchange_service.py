"""The Kubernetes exchange's rules, tested against the exchange service running under a real
local JupyterHub (its proxy, its REST API, its tokens), driven through nbgrader's exchange
classes as configured by the generated nbgrader_config.py, and by hand-made requests.

A trainer (member of the hub group fj-trainers) releases; learner ann fetches and submits; ann
cannot submit as bob however the request is made, cannot list or download bob's work or read
his feedback, cannot release or collect; the trainer collects into a course folder and releases
feedback; ann fetches only her own. Each test fails if the attack it names works.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from traitlets.config import PyFileConfigLoader

from hub_config import course as course_module
from hub_config.course import REPO
from hub_config.exchange import hubconfig
from hub_config.hub import PROXY, free_port

pytestmark = pytest.mark.integration

COURSE, ASSIGNMENT = "fj-course", "ps1"
TRAINER, ANN, BOB = "tutor", "ann", "bob"
NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@dataclass
class ExchangeHub:
    """A running hub with the exchange service, and the tokens of its people."""

    url: str
    base: Path
    store: Path
    admin_token: str
    tokens: dict[str, str]
    role_configs: dict[str, Path]

    @property
    def service_url(self) -> str:
        return f"{self.url}/services/{hubconfig.SERVICE_NAME}/"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        r = requests.request(method, f"{self.url}/hub/api{path}", timeout=30,
                             headers={"Authorization": f"token {self.admin_token}"}, **kwargs)
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text}"
        return r

    def raw(self, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        """A hand-made request to the service's API (what a learner could send with curl)."""
        headers = {**({"Authorization": f"token {token}"} if token else {}),
                   **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.service_url}api/courses/{COURSE}{path}",
                                headers=headers, timeout=60, **kwargs)


HUB_CONFIG = """
import sys
sys.path.insert(0, {repo!r})
from hub_config.exchange import hubconfig

c = get_config()  # noqa: F821
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_url!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api!r}
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {base!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {base!r} + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = {base!r} + "/cookie_secret"
c.JupyterHub.pid_file = {base!r} + "/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
# The tests' own service creates users, groups and tokens, as JupyterHub's tests do.
c.JupyterHub.services = [{{"name": "test-admin", "api_token": {admin_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "test-admin", "services": ["test-admin"],
                            "scopes": ["admin:users", "admin:groups", "tokens", "access:services"]}}]
hubconfig.configure(c, python=sys.executable, store={store!r}, courses=[{course!r}],
                    url={service_url!r}, max_mib=1)
"""


def stop(process: subprocess.Popen) -> None:
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        child.kill()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[ExchangeHub]:
    base = tmp_path_factory.mktemp("exchange-hub")
    store = base / "store"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    admin_token = secrets.token_hex(32)
    config = base / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(
        repo=str(REPO), bind_url=url, hub_url=f"http://127.0.0.1:{free_port()}",
        proxy_api=f"http://127.0.0.1:{free_port()}", proxy=str(PROXY), base=str(base),
        admin_token=admin_token, store=str(store), course=COURSE,
        service_url=f"http://127.0.0.1:{free_port()}"))
    log = artifacts_dir / "hub_config-exchange-hub.log"
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    with open(log, "w") as out:
        process = subprocess.Popen([str(REPO / ".venv" / "bin" / "jupyterhub"), "-f", str(config)],
                                   cwd=base, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        service = f"{url}/services/{hubconfig.SERVICE_NAME}/"
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"the hub exited; see {log}"
            try:
                if requests.get(service, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"the hub or the exchange did not start; see {log}"
            time.sleep(0.5)
        h = ExchangeHub(url=url, base=base, store=store, admin_token=admin_token, tokens={},
                        role_configs={})
        h.api("POST", "/users", json={"usernames": [TRAINER, ANN, BOB]})
        h.api("POST", "/groups/fj-trainers")
        h.api("POST", "/groups/fj-trainers/users", json={"users": [TRAINER]})
        for name in (TRAINER, ANN, BOB):
            # The scope a server's token carries for the service (hubconfig.server_token_scopes).
            r = h.api("POST", f"/users/{name}/tokens",
                      json={"scopes": [hubconfig.access_scope()], "note": "exchange test"})
            h.tokens[name] = r.json()["token"]
        course = course_module.load(path=os.devnull, exchange="service", exchange_url=service,
                                    state_dir=base / "state")
        h.role_configs = course_module.write_all_role_configs(course)
        yield h
    finally:
        stop(process)


def run(hub: ExchangeHub, operation: str, user: str, home: Path, *, course_dir: Path | None = None,
        token: str | None = None, **settings: Any) -> Any:
    """One nbgrader exchange operation as `user` would run it on their server: the role's
    generated nbgrader_config.py, the server's token, the home as the assignment folder."""
    role = "trainer" if user == TRAINER else "learner"
    config = PyFileConfigLoader("nbgrader_config.py", path=str(hub.role_configs[role])).load_config()
    config.ServiceExchange.api_token = token or hub.tokens[user]
    config.Exchange.assignment_dir = str(home)
    config.CourseDirectory.root = str(course_dir or home)
    for key, value in settings.items():
        section, name = key.split("__")
        setattr(config[section], name, value)
    home.mkdir(parents=True, exist_ok=True)
    factory = ExchangeFactory(config=config)
    exchange = getattr(factory, operation)(coursedir=CourseDirectory(config=config),
                                           authenticator=Authenticator(config=config), config=config)
    return exchange.start()


def files_body(files: dict[str, bytes], **extra: Any) -> str:
    return json.dumps({**extra, "files": {k: base64.b64encode(v).decode() for k, v in files.items()}})


def submissions_of(hub: ExchangeHub, student: str) -> list[dict]:
    r = hub.raw("GET", "/submissions", hub.tokens[TRAINER], params={"student": student})
    assert r.status_code == 200
    return r.json()


@pytest.fixture(scope="module")
def course(hub: ExchangeHub) -> dict[str, Path]:
    """Released by the trainer, fetched and submitted by ann and bob."""
    dirs = {name: hub.base / "homes" / name for name in (TRAINER, ANN, BOB)}
    course_dir = dirs[TRAINER] / "course"
    release = course_dir / "release" / ASSIGNMENT
    release.mkdir(parents=True)
    (release / f"{ASSIGNMENT}.ipynb").write_text(NB)
    (release / "data").mkdir()
    (release / "data" / "small.csv").write_text("a,b\n1,2\n")
    run(hub, "ReleaseAssignment", TRAINER, dirs[TRAINER], course_dir=course_dir,
        CourseDirectory__assignment_id=ASSIGNMENT)
    for learner in (ANN, BOB):
        run(hub, "FetchAssignment", learner, dirs[learner], CourseDirectory__assignment_id=ASSIGNMENT)
        (dirs[learner] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text(f"{NB}\n#{learner}")
        run(hub, "Submit", learner, dirs[learner], CourseDirectory__assignment_id=ASSIGNMENT)
    return {**dirs, "course_dir": course_dir}


def test_learners_fetch_and_submit_as_themselves(hub: ExchangeHub, course: dict[str, Path]) -> None:
    fetched = course[ANN] / ASSIGNMENT
    assert (fetched / "data" / "small.csv").read_text() == "a,b\n1,2\n"
    released = run(hub, "List", ANN, course[ANN])
    assert [(a["assignment_id"], a["status"]) for a in released] == [(ASSIGNMENT, "fetched")]
    [mine] = submissions_of(hub, ANN)
    assert mine["student_id"] == ANN and mine["timestamp"].endswith(" UTC")
    submitted = run(hub, "List", ANN, course[ANN], ExchangeList__cached=True)
    assert [(a["student_id"], len(a["submissions"])) for a in submitted] == [(ANN, 1)]


def test_a_learner_cannot_submit_as_someone_else(hub: ExchangeHub, course: dict[str, Path]) -> None:
    bob_before = submissions_of(hub, BOB)
    ann_before = len(submissions_of(hub, ANN))
    # nbgrader's own --student option: the service files it under the caller all the same.
    run(hub, "Submit", ANN, course[ANN], CourseDirectory__assignment_id=ASSIGNMENT,
        CourseDirectory__student_id=BOB)
    # Forged fields in the body and the query string.
    body = files_body({f"{ASSIGNMENT}.ipynb": f"{NB}\n#{ANN}".encode()}, student_id=BOB, student=BOB,
                      user=BOB)
    r = hub.raw("POST", f"/assignments/{ASSIGNMENT}/submissions", hub.tokens[ANN], data=body,
                params={"student": BOB, "student_id": BOB, "user": BOB},
                headers={"X-Forwarded-User": BOB})
    assert r.status_code == 201 and r.json()["student_id"] == ANN
    assert submissions_of(hub, BOB) == bob_before, "a submission was filed under bob"
    assert len(submissions_of(hub, ANN)) == ann_before + 2


@pytest.mark.parametrize("files", [
    {"../../index.sqlite": b"x"}, {"/etc/cron.d/x": b"x"}, {"../bob/ps1.ipynb": b"x"},
    {"a/../../../x": b"x"}, {".hidden": b"x"}, {"ps1.ipynb/": b"x"},
])
def test_path_traversal_in_names_is_refused(hub: ExchangeHub, course: dict[str, Path],
                                            files: dict[str, bytes]) -> None:
    before = {p.relative_to(hub.store) for p in hub.store.rglob("*")}
    count = len(submissions_of(hub, ANN))
    r = hub.raw("POST", f"/assignments/{ASSIGNMENT}/submissions", hub.tokens[ANN], data=files_body(files))
    assert r.status_code == 400 and "invalid file name" in r.json()["message"]
    assert "Traceback" not in r.text and "\n" not in r.json()["message"]
    assert len(submissions_of(hub, ANN)) == count
    after = {p.relative_to(hub.store) for p in hub.store.rglob("*")}
    assert after == before, "something was written for a refused request"
    assert not (hub.base / "x").exists() and not Path("/etc/cron.d/x").exists()


@pytest.mark.parametrize("path", ["/assignments/..%2F..%2Fstore/submissions",
                                  "/assignments/ps1%2F..%2F..%2Fx/submissions"])
def test_path_traversal_in_the_url_is_refused(hub: ExchangeHub, course: dict[str, Path], path: str) -> None:
    count = len(submissions_of(hub, ANN))
    r = hub.raw("POST", path, hub.tokens[ANN], data=files_body({"ps1.ipynb": b"x"}))
    assert r.status_code in (400, 404)
    assert len(submissions_of(hub, ANN)) == count


def test_oversized_uploads_are_refused(hub: ExchangeHub, course: dict[str, Path]) -> None:
    count = len(submissions_of(hub, ANN))
    big = course[ANN] / ASSIGNMENT / "big.bin"
    big.write_bytes(os.urandom(1200 * 1024))  # the service takes 1 MiB here
    try:
        # A client whose own limit is lifted: the service still refuses.
        with pytest.raises(ExchangeError, match="too large"):
            run(hub, "Submit", ANN, course[ANN], CourseDirectory__assignment_id=ASSIGNMENT,
                ServiceExchange__max_upload_mib=50)
    finally:
        big.unlink()
    many = {f"f{i}.txt": b"1" for i in range(500)}
    r = hub.raw("POST", f"/assignments/{ASSIGNMENT}/submissions", hub.tokens[ANN], data=files_body(many))
    assert r.status_code == 413
    try:  # far beyond the body limit: refused before it is read (an error or a closed connection)
        r = hub.raw("POST", f"/assignments/{ASSIGNMENT}/submissions", hub.tokens[ANN],
                    data=b"x" * (4 * 2**20))
        assert r.status_code >= 400
    except requests.ConnectionError:
        pass
    assert len(submissions_of(hub, ANN)) == count


def test_a_link_in_the_submission_folder_is_refused(hub: ExchangeHub, course: dict[str, Path]) -> None:
    count = len(submissions_of(hub, ANN))
    secret = course[BOB] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # someone else's file
    link = course[ANN] / ASSIGNMENT / "borrowed.ipynb"
    link.symlink_to(secret)
    try:
        with pytest.raises(ExchangeError, match="links cannot be uploaded"):
            run(hub, "Submit", ANN, course[ANN], CourseDirectory__assignment_id=ASSIGNMENT)
    finally:
        link.unlink()
    assert len(submissions_of(hub, ANN)) == count


def test_a_learner_cannot_list_or_download_another_submission(hub: ExchangeHub,
                                                              course: dict[str, Path]) -> None:
    [bobs] = submissions_of(hub, BOB)
    listed = run(hub, "List", ANN, course[ANN], ExchangeList__inbound=True, CourseDirectory__student_id=BOB)
    assert {a["student_id"] for a in listed} <= {ANN}
    r = hub.raw("GET", "/submissions", hub.tokens[ANN], params={"student": BOB})
    assert r.status_code == 200 and {s["student_id"] for s in r.json()} == {ANN}
    r = hub.raw("GET", f"/submissions/{bobs['id']}", hub.tokens[ANN])
    assert r.status_code in (403, 404) and "#bob" not in r.text
    assert "files" not in r.json()


def test_a_learner_cannot_release_collect_or_upload_feedback(hub: ExchangeHub,
                                                            course: dict[str, Path]) -> None:
    fake = course[ANN] / "course"
    (fake / "release" / "ps2").mkdir(parents=True)
    (fake / "release" / "ps2" / "ps2.ipynb").write_text(NB)
    with pytest.raises(ExchangeError, match="only the course's trainers"):
        run(hub, "ReleaseAssignment", ANN, course[ANN], course_dir=fake, CourseDirectory__assignment_id="ps2")
    r = hub.raw("PUT", f"/assignments/{ASSIGNMENT}", hub.tokens[ANN], params={"force": "1"},
                data=files_body({f"{ASSIGNMENT}.ipynb": b"replaced by ann"}))
    assert r.status_code == 403
    released = hub.raw("GET", "/assignments", hub.tokens[ANN]).json()
    assert [a["assignment_id"] for a in released] == [ASSIGNMENT]
    r = hub.raw("GET", f"/assignments/{ASSIGNMENT}", hub.tokens[ANN])
    assert b"replaced by ann" not in base64.b64decode(r.json()["files"][f"{ASSIGNMENT}.ipynb"])
    with pytest.raises(ExchangeError, match="only the course's trainers"):
        run(hub, "Collect", ANN, course[ANN], course_dir=fake, CourseDirectory__assignment_id=ASSIGNMENT)
    assert not (fake / "submitted").exists()
    r = hub.raw("DELETE", f"/assignments/{ASSIGNMENT}", hub.tokens[ANN])
    assert r.status_code == 403
    [bobs] = submissions_of(hub, BOB)
    forged = files_body({"ps1.html": b"<p>forged</p>"}, student_id=BOB, assignment_id=ASSIGNMENT,
                        timestamp=bobs["timestamp"])
    r = hub.raw("PUT", "/feedback", hub.tokens[ANN], data=forged)
    assert r.status_code == 403
    assert submissions_of(hub, BOB)[0]["feedback"] == {}


def test_unauthenticated_and_foreign_tokens_are_refused(hub: ExchangeHub, course: dict[str, Path]) -> None:
    for token in (None, "not-a-token", hub.admin_token):
        for method, path in [("GET", "/assignments"), ("GET", "/submissions"), ("GET", "/feedback"),
                             ("POST", f"/assignments/{ASSIGNMENT}/submissions")]:
            r = hub.raw(method, path, token, data=files_body({"a.ipynb": b"x"}))
            assert r.status_code == 403, (token, method, path, r.status_code)
            assert "Traceback" not in r.text
    # A token of ann's that was not granted the service (another app's token).
    r = hub.api("POST", f"/users/{ANN}/tokens", json={"scopes": ["read:users:name!user"]})
    assert hub.raw("GET", "/assignments", r.json()["token"]).status_code == 403
    with pytest.raises(ExchangeError):
        run(hub, "FetchAssignment", ANN, hub.base / "stranger", token="not-a-token",
            CourseDirectory__assignment_id=ASSIGNMENT)


def test_trainer_collects_and_releases_feedback_each_learner_gets_their_own(
        hub: ExchangeHub, course: dict[str, Path]) -> None:
    course_dir = course["course_dir"]
    run(hub, "Collect", TRAINER, course[TRAINER], course_dir=course_dir,
        CourseDirectory__assignment_id=ASSIGNMENT)
    for learner in (ANN, BOB):
        folder = course_dir / "submitted" / learner / ASSIGNMENT
        latest = submissions_of(hub, learner)[-1]
        assert (folder / "timestamp.txt").read_text() == latest["timestamp"]
        assert len((folder / "submission_secret.txt").read_text()) == 64
        assert (folder / f"{ASSIGNMENT}.ipynb").read_text().endswith(f"#{learner}")
        # What nbgrader generate_feedback leaves: pages and the submission's timestamp.
        feedback = course_dir / "feedback" / learner / ASSIGNMENT
        feedback.mkdir(parents=True)
        (feedback / f"{ASSIGNMENT}.html").write_text(f"<p>feedback for {learner}</p>")
        (feedback / "timestamp.txt").write_text(latest["timestamp"])
    run(hub, "ReleaseFeedback", TRAINER, course[TRAINER], course_dir=course_dir,
        CourseDirectory__assignment_id=ASSIGNMENT)

    run(hub, "FetchFeedback", ANN, course[ANN], CourseDirectory__assignment_id=ASSIGNMENT)
    pages = sorted((course[ANN] / ASSIGNMENT / "feedback").rglob("*.html"))
    latest = submissions_of(hub, ANN)[-1]["timestamp"]
    assert [p.relative_to(course[ANN]).as_posix() for p in pages] == [
        f"{ASSIGNMENT}/feedback/{latest}/{ASSIGNMENT}.html"]
    assert pages[0].read_text() == f"<p>feedback for {ANN}</p>"
    r = hub.raw("GET", "/feedback", hub.tokens[ANN], params={"student": BOB})
    texts = [base64.b64decode(v) for item in r.json() for v in item["files"].values()]
    assert texts == [f"<p>feedback for {ANN}</p>".encode()], "ann saw someone else's feedback"
    listed = run(hub, "List", ANN, course[ANN], ExchangeList__cached=True)
    newest = listed[0]["submissions"][-1]
    assert newest["has_local_feedback"] and newest["has_exchange_feedback"]
    assert not newest["feedback_updated"]


def test_the_store_is_out_of_learners_reach(hub: ExchangeHub) -> None:
    assert (hub.store.stat().st_mode & 0o077) == 0
    text = (hub.role_configs["learner"] / "nbgrader_config.py").read_text()
    assert "hub_config.exchange.client.ExchangeSubmit" in text and "Exchange.root" not in text


def test_bad_requests_get_one_line_not_a_traceback(hub: ExchangeHub) -> None:
    for body in (b"{", b"[]", json.dumps({"files": {"a.ipynb": "%%%"}}).encode()):
        r = hub.raw("POST", f"/assignments/{ASSIGNMENT}/submissions", hub.tokens[ANN], data=body)
        assert r.status_code == 400
        message = r.json()["message"]
        assert "\n" not in message and "Traceback" not in message
    r = hub.raw("GET", "/assignments/nope", hub.tokens[ANN])
    assert r.status_code == 404 and r.json() == {"message": "nope has not been released"}
    assert textwrap.dedent(r.text) == r.text


def test_the_assignments_panel_works_unchanged(hub: ExchangeHub, course: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """JupyterLab's Assignments panel (nbgrader's assignment_list server extension) on ann's
    server: her role's configuration folder and her server's token, as the spawner sets them."""
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(hub.role_configs["learner"]))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.tokens[ANN])
    monkeypatch.chdir(course[ANN])  # a server runs in its user's home
    panel = AssignmentList()
    panel.root_dir = str(course[ANN])
    listed = panel.list_assignments(course_id=COURSE)
    assert listed["success"], listed
    statuses = {(a["assignment_id"], a["status"], a.get("student_id", "")) for a in listed["value"]}
    assert (ASSIGNMENT, "fetched", "") in statuses and (ASSIGNMENT, "submitted", ANN) in statuses
    assert all(a.get("student_id", ANN) == ANN for a in listed["value"])
    submitted = panel.submit_assignment(COURSE, ASSIGNMENT)
    assert submitted["success"], submitted
    assert panel.fetch_feedback(COURSE, ASSIGNMENT)["success"]
