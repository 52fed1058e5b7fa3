"""The live cohort report (hub_config/live_report.py): its data and page against a small graded
course, its cache, its access rules in process, and the service under a real JupyterHub.

The graded course: the fixture course released once (tests/grading's session fixture) and two
learners' submissions graded once for this module (the session's full ``cohort`` of broken
submissions takes over a minute and a half to grade).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from hub_helpers import wait_until
from jupyterhub.services.auth import HubOAuth
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer

from grading.settings import Settings
from hub_config import live_report
from hub_config.course import REPO
from hub_config.exchange.rules import INSTRUCTOR, LEARNER
from hub_config.hub import PROXY, free_port
from hub_config.hubclient import HubClient
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import (  # noqa: F401 (session fixtures, shared with this module)
    FIXTURE_COURSE,
    OTHER,
    WRONG,
    course_args,
    data_dir,
    released,
    run_cli,
    solved,
    submit,
    workspace,
)

EVIL = "<img src=x onerror=alert(1)>"
PREFIX = "/services/cohort-report/"
TRAINER, LEARNER_NAME = "tutor", "ann"


def run_async(coroutine):  # type: ignore[no-untyped-def]
    """asyncio.run in a thread of its own: in the same pytest session the browser tests'
    Playwright keeps an event loop running in the main thread, where asyncio.run refuses."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def graded(released: Settings, workspace: Path) -> Settings:  # noqa: F811
    """alice answers right, bob gets one check wrong; both graded once."""
    settings = Settings(notebooks=released.notebooks, course_dir=workspace / "live-report" / "course",
                        data_dir=released.data_dir)
    shutil.copytree(released.course_dir, settings.course_dir)
    submit(settings, "alice", ASSIGNMENT, solved(settings, ASSIGNMENT))
    submit(settings, "bob", ASSIGNMENT, solved(settings, ASSIGNMENT, WRONG))
    assert run_cli(*course_args(settings), "autograde", "--workers", "2", "--timeout", "10", "--quiet") == 0
    return settings


@pytest.fixture
def course(graded: Settings, tmp_path: Path) -> Settings:
    """A copy of the graded course a test may change (mtimes kept)."""
    settings = Settings(notebooks=graded.notebooks, course_dir=tmp_path / "course", data_dir=graded.data_dir)
    shutil.copytree(graded.course_dir, settings.course_dir)
    return settings


def add_status(settings: Settings, key: str, **entry: Any) -> None:
    statuses = json.loads(settings.status_file.read_text()) if settings.status_file.exists() else {}
    statuses[key] = entry
    settings.status_file.write_text(json.dumps(statuses))


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and any text inside a script."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data


def cell(data: dict, learner: str, assignment: str) -> dict:
    [found] = [entry["submissions"][assignment] for entry in data["learners"] if entry["name"] == learner]
    return found


# --------------------------------------------------------------------------- data and page

@pytest.mark.integration
def test_statuses_scores_and_pass_shares_in_course_order(course: Settings) -> None:
    # dave's submission is collected, not graded yet; erin's failed in the grader itself.
    submit(course, "dave", ASSIGNMENT)
    submit(course, "erin", OTHER)
    add_status(course, f"erin/{OTHER}", status="error", message="the grader failed")
    data = live_report.build(course, course.notebooks)

    assert [a["id"] for a in data["assignments"]] == [ASSIGNMENT, OTHER]  # the course's order
    assert [entry["name"] for entry in data["learners"]] == ["alice", "bob", "dave", "erin"]
    alice, bob = cell(data, "alice", ASSIGNMENT), cell(data, "bob", ASSIGNMENT)
    assert alice["status"] == bob["status"] == "graded"
    assert alice["score"] > bob["score"] and alice["max_score"] == bob["max_score"]
    dave = cell(data, "dave", ASSIGNMENT)
    assert (dave["status"], dave["label"], dave["score"]) == ("submitted", "submitted, not graded yet", None)
    erin = cell(data, "erin", OTHER)
    assert (erin["status"], erin["kind"], erin["message"]) == ("error", "problem", "the grader failed")
    assert cell(data, "alice", OTHER)["status"] == "not_submitted"
    assert data["summary"] == {"learners": 4, "submitted": 4, "graded": 2, "waiting": 1, "problems": 1}

    questions = {q["question"]: q for q in data["assignments"][0]["questions"]}
    # bob's wrong answer fails public_count_test; both pass children_count_test.
    assert (questions["public_count_test"]["passed"], questions["public_count_test"]["graded"]) == (1, 2)
    assert questions["public_count_test"]["share"] == 0.5
    assert questions["children_count_test"]["share"] == 1.0
    assert questions["interpretation"]["awaiting"] == 2  # written answers wait for a trainer

    page = live_report.Snapshot.make(("x",), data).main
    assert "submitted, not graded yet" in page and "the grader failed" in page


@pytest.mark.integration
def test_a_submission_collected_again_after_grading_is_waiting(course: Settings) -> None:
    stamp = course.submitted("bob", ASSIGNMENT) / "timestamp.txt"
    stamp.write_text("2099-01-01 10:00:00.000000 UTC\n")
    data = live_report.build(course, course.notebooks)
    bob = cell(data, "bob", ASSIGNMENT)
    assert bob["status"] == "resubmitted" and bob["score"] is not None  # the earlier score shows
    assert cell(data, "alice", ASSIGNMENT)["status"] == "graded"


@pytest.mark.integration
def test_learner_names_and_messages_are_escaped(course: Settings) -> None:
    submit(course, EVIL, ASSIGNMENT)
    add_status(course, f"{EVIL}/{ASSIGNMENT}", status="timeout", message=f"stopped {EVIL}")
    statuses = json.loads(course.status_file.read_text())
    statuses[f"bob/{ASSIGNMENT}"].update(status="needs_review", message=f'"><script>alert(2)</script>{EVIL}')
    course.status_file.write_text(json.dumps(statuses))

    snapshot = run_async(live_report.Cohort(course, course.notebooks).current())
    page = live_report.render_page(snapshot, prefix=PREFIX, xsrf='x"><b>', interval=5)
    assert "<img" not in page and "alert(2)</script>" not in page and '"><b>' not in page
    assert html.escape(EVIL) in page and "stopped" in page
    tags = Tags()
    tags.feed(page)
    # As a browser parses it: no element or attribute a learner wrote, and only the service's
    # own script, by URL (nothing inline).
    assert not {"img", "b", "style"} & {tag for tag, _ in tags.found}
    attributes = {name for _, attrs in tags.found for name, _ in attrs}
    assert not [name for name in attributes if name.startswith("on") or name == "style"]
    assert [dict(attrs) for tag, attrs in tags.found if tag == "script"] == [
        {"src": f"{PREFIX}static/live_report.js", "defer": None}]
    assert tags.script_text == ""
    data = json.loads(snapshot.json)  # JSON holds the strings as they are (served as JSON, not HTML)
    assert cell(data, EVIL, ASSIGNMENT)["message"] == f"stopped {EVIL}"


@pytest.mark.integration
def test_the_data_is_reread_only_when_the_files_change(course: Settings) -> None:
    cohort = live_report.Cohort(course, course.notebooks)

    async def scenario() -> list[int]:
        reads = []
        first = await cohort.current()
        second = await cohort.current()
        assert second is first
        reads.append(cohort.reads)
        # Many pages asking at once while the files changed: one rebuild, in the worker thread.
        add_status(course, f"alice/{OTHER}", status="timeout", message="too slow")
        await asyncio.gather(*(cohort.current() for _ in range(10)))
        reads.append(cohort.reads)
        assert cell(json.loads(cohort.snapshot.json), "alice", OTHER)["status"] == "timeout"
        await cohort.current()
        reads.append(cohort.reads)
        submit(course, "frank", OTHER)  # a submission collected: its new folder changes the stamp
        await cohort.current()
        reads.append(cohort.reads)
        return reads

    assert run_async(scenario()) == [1, 2, 2, 3]


@pytest.mark.integration
def test_a_failed_rebuild_keeps_the_last_data_and_says_so(course: Settings, monkeypatch) -> None:
    def locked(*args: Any) -> dict:
        raise OSError(f"database is locked {EVIL}")

    cohort = live_report.Cohort(course, course.notebooks, retry_seconds=60)

    async def scenario() -> tuple[live_report.Snapshot, live_report.Snapshot, int]:
        good = await cohort.current()
        monkeypatch.setattr(live_report, "build", locked)
        add_status(course, f"alice/{OTHER}", status="timeout")
        bad = await cohort.current()
        await cohort.current()  # within retry_seconds of the failure: not retried
        return good, bad, cohort.reads

    good, bad, reads = run_async(scenario())
    assert reads == 2 and bad.version != good.version
    assert bad.data["learners"] == good.data["learners"]
    assert "The last refresh failed" in bad.main and html.escape(EVIL) in bad.main and "<img" not in bad.main


def test_service_and_roles_configure_the_hub() -> None:
    entry = live_report.service(python="/py", course_dir="/c", notebooks="/n", url="http://127.0.0.1:9",
                                trainer_group="trainers", user="grader")
    assert entry["name"] == "cohort-report" and entry["url"] == "http://127.0.0.1:9"
    assert entry["command"][:3] == ["/py", "-m", "hub_config.live_report"]
    assert {"--course-dir", "/c", "--notebooks", "/n", "trainers"} <= set(entry["command"])
    assert entry["user"] == "grader" and entry["oauth_no_confirm"] is True
    assert "user" not in live_report.service(python="/py", course_dir="/c", notebooks="/n", url="u",
                                             trainer_group="t")
    service_role, viewers = live_report.roles(trainer_group="trainers")
    assert service_role == {"name": "cohort-report", "scopes": ["read:users"], "services": ["cohort-report"]}
    assert viewers["groups"] == ["trainers"]
    assert viewers["scopes"] == ["access:services!service=cohort-report"]


# --------------------------------------------------------------------------- access, in process

class FakeRoles:
    async def role(self, name: str) -> str:
        return INSTRUCTOR if name == TRAINER else LEARNER


def fake_hub_auth() -> HubOAuth:
    """A HubOAuth whose callers are named by a test header (the hub is the integration test's)."""
    auth = HubOAuth(api_token="test", api_url="http://127.0.0.1:9/hub/api", base_url=PREFIX,
                    oauth_client_id="service-cohort-report", hub_prefix="/hub/",
                    oauth_redirect_uri=PREFIX + "oauth_callback",
                    access_scopes={live_report.access_scope()})

    async def get_user(handler, *, sync: bool = True) -> dict | None:  # noqa: ANN001
        name = handler.request.headers.get("X-Test-User")
        if not name:
            return None
        scopes = [live_report.access_scope()] if name != "outsider" else []
        return {"name": name, "kind": "user", "scopes": scopes}

    auth.get_user = get_user
    return auth


def serve(course: Settings, requests_: list[tuple[str, dict[str, str]]]) -> list[HTTPResponse]:
    async def scenario() -> list[HTTPResponse]:
        cohort = live_report.Cohort(course, course.notebooks)
        app = live_report.make_app(cohort, fake_hub_auth(), FakeRoles(), PREFIX)
        port = free_port()
        server = HTTPServer(app)
        server.listen(port, "127.0.0.1")
        client = AsyncHTTPClient()
        try:
            return [await client.fetch(f"http://127.0.0.1:{port}{path}", headers=headers, raise_error=False,
                                       follow_redirects=False) for path, headers in requests_]
        finally:
            server.stop()

    return run_async(scenario())


@pytest.fixture
def ungraded(tmp_path: Path) -> Settings:
    """A course folder before any grading: no gradebook, alice's submission collected, and a
    status for a learner with a hostile name."""
    settings = Settings(notebooks=FIXTURE_COURSE, course_dir=tmp_path / "course")
    submit(settings, "alice", ASSIGNMENT)
    add_status(settings, f"{EVIL}/{ASSIGNMENT}", status="timeout", message=EVIL)
    return settings


def test_only_trainers_get_the_page_and_the_data(ungraded: Settings) -> None:
    course = ungraded
    as_trainer, as_learner = {"X-Test-User": TRAINER}, {"X-Test-User": LEARNER_NAME}
    page, data, learner_page, learner_data, outsider, anonymous_page, anonymous_data, script = serve(course, [
        (PREFIX, as_trainer), (PREFIX + "api/cohort", as_trainer), (PREFIX, as_learner),
        (PREFIX + "api/cohort", as_learner), (PREFIX + "api/cohort", {"X-Test-User": "outsider"}),
        (PREFIX, {}), (PREFIX + "api/cohort", {}), (PREFIX + "static/live_report.js", {})])

    assert page.code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "alice" in page.body.decode() and "<img" not in page.body.decode()
    assert data.code == 200 and data.headers["Content-Type"] == "application/json"
    assert {entry["name"] for entry in json.loads(data.body)["learners"]} == {"alice", EVIL}
    assert "There is no gradebook yet" in page.body.decode()

    for refused in (learner_page, learner_data, outsider):
        assert refused.code == 403
        assert b"alice" not in refused.body and b"onerror" not in refused.body
    assert learner_page.body.decode() == live_report.NOT_TRAINER + "\n"
    assert learner_page.headers["Content-Type"].startswith("text/plain")
    assert json.loads(learner_data.body) == {"message": live_report.NOT_TRAINER}

    assert anonymous_page.code == 302
    assert anonymous_page.headers["Location"].startswith("/hub/api/oauth2/authorize?")
    assert anonymous_data.code == 403 and json.loads(anonymous_data.body) == {"message": live_report.SIGN_IN}
    assert script.code == 200 and script.headers["Content-Type"].startswith("text/javascript")


# --------------------------------------------------------------------------- under a real hub

@pytest.fixture(scope="module")
def hub(graded: Settings, tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[str]:
    """The exchange tests' local hub (dummy authenticator, the pinned proxy, a token for the
    tests' own admin service) with the cohort report configured as the integrator would."""
    from test_exchange_service import HUB_CONFIG, stop

    base = tmp_path_factory.mktemp("live-report-hub")
    url = f"http://127.0.0.1:{free_port()}"
    admin_token = secrets.token_hex(32)
    config = base / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(
        repo=str(REPO), bind_url=url, hub_url=f"http://127.0.0.1:{free_port()}",
        proxy_api=f"http://127.0.0.1:{free_port()}", proxy=str(PROXY), base=str(base),
        admin_token=admin_token, store=str(base / "store"), course="fj-course",
        service_url=f"http://127.0.0.1:{free_port()}") + (
        "from hub_config import live_report\n"
        f"c.JupyterHub.services.append(live_report.service(python=sys.executable, "
        f"course_dir={str(graded.course_dir)!r}, notebooks={str(graded.notebooks)!r}, "
        f"url='http://127.0.0.1:{free_port()}', trainer_group='fj-trainers'))\n"
        "c.JupyterHub.load_roles.extend(live_report.roles(trainer_group='fj-trainers'))\n"))
    log = artifacts_dir / "hub_config-live-report-hub.log"
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    with open(log, "w") as out:
        process = subprocess.Popen([str(REPO / ".venv" / "bin" / "jupyterhub"), "-f", str(config)],
                                   cwd=base, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)

    def up() -> bool:
        assert process.poll() is None, f"the hub exited; see {log}"
        try:
            return requests.get(f"{url}{PREFIX}health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    try:
        assert wait_until(up, timeout=90), f"the hub or the report did not start; see {log}"
        admin = {"Authorization": f"token {admin_token}"}
        r = requests.post(f"{url}/hub/api/users", json={"usernames": [TRAINER, LEARNER_NAME]}, headers=admin,
                          timeout=30)
        assert r.status_code == 201, r.text
        # The group exists: roles() names it, and the hub creates it at start.
        r = requests.post(f"{url}/hub/api/groups/fj-trainers/users", json={"users": [TRAINER]},
                          headers=admin, timeout=30)
        assert r.status_code == 200, r.text
        yield url
    finally:
        stop(process)


@pytest.mark.integration
def test_under_the_hub_only_trainers_see_the_report(hub: str) -> None:
    page_url, data_url = f"{hub}{PREFIX}", f"{hub}{PREFIX}api/cohort"

    trainer = HubClient(hub)
    assert trainer.login(TRAINER, "any password")  # the dummy authenticator takes any
    page = trainer.session.get(page_url, timeout=60)  # through the hub's OAuth and back
    assert page.status_code == 200 and page.url == page_url, page.text[:500]
    assert "alice" in page.text and "Cohort report" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    data = trainer.session.get(data_url, timeout=60)
    assert data.status_code == 200 and data.headers["Content-Type"] == "application/json"
    assert {"alice", "bob"} <= {entry["name"] for entry in data.json()["learners"]}
    # What the page's script sends: a same-origin fetch with the page's XSRF token. Without the
    # token, the session cookie alone does not let another site's script read the data.
    xsrf = html.unescape(re.search(r'data-xsrf="([^"]*)"', page.text).group(1))
    fetch = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
    with_token = trainer.session.get(data_url, headers={**fetch, "X-XSRFToken": xsrf}, timeout=30)
    assert with_token.status_code == 200
    assert trainer.session.get(data_url, headers=fetch, timeout=30).status_code == 403

    learner = HubClient(hub)
    assert learner.login(LEARNER_NAME, "any password")
    for url in (page_url, data_url):
        refused = learner.session.get(url, timeout=60)
        assert refused.status_code == 403, (url, refused.status_code)
        assert "alice" not in refused.text and "bob" not in refused.text
    token = learner.token()  # the learner's own API token is refused by the service itself
    refused = requests.get(data_url, headers={"Authorization": f"token {token}"}, timeout=30)
    assert refused.status_code == 403 and refused.json() == {"message": live_report.NOT_TRAINER}

    anonymous = requests.get(page_url, allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302 and "/hub/api/oauth2/authorize" in anonymous.headers["Location"]
    assert "/hub/login" in requests.get(page_url, timeout=60).url
    refused = requests.get(data_url, allow_redirects=False, timeout=30)
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/json"
