"""The course home (hub_config/course_home/): the outline written at release, the page's statuses
from a learner's home and nbgrader's exchange, escaping, the role configs and hub settings that
switch it on, the Assignments panel in course order; then, on a real hub, a learner landing on
it, fetching from it and finding the notebook to open."""

from __future__ import annotations

import html
import json
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hub_helpers import FIXTURE_NOTEBOOKS, Hub, ensure_accounts

from hub_config import course, course_home, course_ops
from hub_config import hub as hub_settings
from hub_config.course_home import outline, page
from hub_config.course_home.handlers import order_assignment_list, sort_listing
from hub_config.k8s import render

COURSE_ID = "fj-course"
HOSTILE_TITLE = '<script>alert("title")</script> & <img src=x onerror=alert(1)>'
HOSTILE_ID = 'x"><img src=x onerror=alert(2)>'


def ids_of(description: dict) -> list[str]:
    return [a["id"] for module in description["modules"] for a in module["assignments"]]


def test_the_outline_is_the_course_in_order_and_nothing_else(tmp_path: Path) -> None:
    from grading.course import load_course
    from grading.release import released_path

    dest = outline.write_outline(course.REPO / "notebooks", tmp_path / "state" / "course_outline.json",
                                 COURSE_ID)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644, "learners' servers read it"
    written = json.loads(dest.read_text())
    real = load_course(course.REPO / "notebooks")
    assert ids_of(written) == [a.id for a in real.assignments]
    assert ids_of(written)[0].startswith("orientation_01")
    assert [m["id"] for m in written["modules"]] == [m.name for m in real.modules]
    assert written["course_id"] == COURSE_ID
    for module in written["modules"]:
        assert set(module) == {"id", "title", "book_page", "assignments"}
        assert module["book_page"] == f"modules/{module['id']}.html", "book/_toc.yml names module pages"
        for entry in module["assignments"]:
            assert set(entry) == {"id", "title", "minutes", "book_page"}
            assignment = real.find(entry["id"])
            assert (entry["title"], entry["minutes"]) == (assignment.title, assignment.minutes)
            # The book's page of a released notebook: its path under released/, as HTML.
            assert entry["book_page"] == "released/" + released_path(assignment).replace(".ipynb", ".html")
    text = dest.read_text()
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "assert ", "import "):
        assert marker not in text
    # A fixture module without a page in the book gets no module link.
    fixture = outline.write_outline(FIXTURE_NOTEBOOKS.parent / "written_answers", tmp_path / "o.json",
                                    COURSE_ID)
    assert json.loads(fixture.read_text())["modules"][0]["book_page"] is None


def test_reading_an_outline_refuses_what_it_does_not_expect(tmp_path: Path) -> None:
    assert outline.read_outline(None) is None
    assert outline.read_outline(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert outline.read_outline(tmp_path / "bad.json") is None
    (tmp_path / "odd.json").write_text(json.dumps({"modules": [
        {"id": "m", "title": "M", "book_page": "https://elsewhere.example/x",
         "assignments": [{"id": "a", "minutes": "lots", "book_page": "../../hub/admin"},
                         {"title": "no id"}]}]}))
    read = outline.read_outline(tmp_path / "odd.json")
    assert read["modules"][0]["book_page"] is None
    assert read["modules"][0]["assignments"] == [{"id": "a", "title": "a", "minutes": 0, "book_page": None}]


def test_every_name_on_the_page_is_escaped() -> None:
    hostile = {"course_id": COURSE_ID, "modules": [{
        "id": "m<b>", "title": HOSTILE_TITLE, "book_page": "modules/m.html",
        "assignments": [{"id": HOSTILE_ID, "title": HOSTILE_TITLE, "minutes": 5,
                         "book_page": "released/m/x/x.html"}]}]}
    found = {HOSTILE_ID: page.State(released=True)}
    html = page.render(hostile, found, base_url="/user/a/", book="/services/book/", xsrf='"><x',
                       notice=HOSTILE_TITLE, error=HOSTILE_TITLE, user="<u>")
    assert "<script>alert" not in html and "<img" not in html and "<u>" not in html
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in html
    assert 'value="x&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"' in html
    assert 'value="&quot;&gt;&lt;x"' in html
    assert "<script" not in html.lower(), "the page needs no JavaScript"
    # A fetched notebook whose path holds markup is linked, quoted.
    found = {HOSTILE_ID: page.State(released=True, fetched=True, notebook=f"{HOSTILE_ID}/n.ipynb")}
    html = page.render(hostile, found, base_url="/user/a/", book="/services/book/", xsrf="t")
    assert 'href="/user/a/lab/tree/x%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%282%29%3E/n.ipynb"' in html


# --------------------------------------------------------------------------- statuses

NOTEBOOK = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Task"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture()
def exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A learner's home and an nbgrader exchange, and the assignment-list service of nbgrader's
    server extension (the Assignments panel's) configured for them, as a server would be."""
    from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

    home, root, config = tmp_path / "home", tmp_path / "exchange", tmp_path / "config"
    for folder in (home, root / COURSE_ID / "inbound", root / COURSE_ID / "feedback", config):
        folder.mkdir(parents=True)
    (config / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(root)!r}\nc.Exchange.cache = {str(tmp_path / 'cache')!r}\n")
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "no-user-config"))
    monkeypatch.chdir(home)  # a server runs in its home, where nbgrader fetches
    manager = AssignmentList()
    manager.root_dir = str(home)
    return manager, home, root


def release(root: Path, assignment_id: str) -> None:
    folder = root / COURSE_ID / "outbound" / assignment_id
    folder.mkdir(parents=True)
    (folder / f"{assignment_id}.ipynb").write_text(json.dumps(NOTEBOOK))


def release_feedback(root: Path, home: Path, assignment_id: str, score: str) -> None:
    """What the trainer's release_feedback leaves in the exchange for the latest submission."""
    from nbgrader.utils import notebook_hash

    cache = sorted(home.parent.glob(f"cache/{COURSE_ID}/*+{assignment_id}+*"))[-1]
    secret = (cache / "submission_secret.txt").read_text()
    name = notebook_hash(secret=secret, notebook_id=assignment_id)
    (root / COURSE_ID / "feedback" / f"{name}.html").write_text(
        f"<html><body><h4>{assignment_id} (Score: {score})</h4>"
        "<li>Test cell (Score: 1.0 / 1.0)</li></body></html>")


def test_statuses_come_from_the_home_and_the_exchange(exchange) -> None:  # type: ignore[no-untyped-def]
    manager, home, root = exchange
    ids = [f"m_{n:02d}_task" for n in range(1, 27)]  # 26 assignments, as the course has
    described = {"course_id": COURSE_ID, "modules": [
        {"id": "m", "title": "Module", "book_page": None,
         "assignments": [{"id": i, "title": f"Task {i}", "minutes": 10, "book_page": None} for i in ids]}]}
    for assignment_id in ids[:-1]:  # the last one is not released yet
        release(root, assignment_id)
    fetched, submitted, graded, waiting = ids[1], ids[2], ids[3], ids[4]
    for assignment_id in (fetched, submitted, graded, waiting):
        assert manager.fetch_assignment(COURSE_ID, assignment_id)["success"]
    for assignment_id in (submitted, graded, waiting):
        assert manager.submit_assignment(COURSE_ID, assignment_id)["success"]
    release_feedback(root, home, graded, "7.0 / 11.0")
    release_feedback(root, home, waiting, "2.0 / 2.0")
    assert manager.fetch_feedback(COURSE_ID, graded)["success"]

    began = time.perf_counter()
    listing = manager.list_assignments(course_id=COURSE_ID)["value"]
    found = page.states(listing, home, course_id=COURSE_ID, known=ids)
    html = page.render(described, found, base_url="/user/a/", book="/services/book/", xsrf="t")
    assert time.perf_counter() - began < 1.0, "the page answers in well under a second"

    assert found[ids[0]].status == page.NOT_FETCHED and found[ids[0]].action == page.FETCH
    assert found[fetched].status == page.FETCHED and found[fetched].action == page.OPEN
    assert found[fetched].notebook == f"{fetched}/{fetched}.ipynb"
    assert found[submitted].status == page.SUBMITTED and found[submitted].action == page.OPEN
    assert found[graded].status == page.FEEDBACK and found[graded].score == (7.0, 11.0)
    assert found[graded].action == page.OPEN
    assert found[waiting].status == page.FEEDBACK and found[waiting].action == page.FETCH_FEEDBACK
    assert found[waiting].score is None
    assert found[ids[-1]].status == page.NOT_RELEASED and found[ids[-1]].action is None

    rows = re.findall(r'<tr id="a-([^"]+)"', html)
    assert rows == ids, "the page lists the course in order"
    row = {i: re.search(rf'<tr id="a-{i}".*?</tr>', html).group(0) for i in ids}
    assert 'action="/user/a/course/fetch"' in row[ids[0]] and "not fetched" in row[ids[0]]
    assert f'href="/user/a/lab/tree/{fetched}/{fetched}.ipynb">Open<' in row[fetched]
    assert "score 7 / 11" in row[graded] and f"/user/a/files/{graded}/feedback/" in row[graded]
    assert 'action="/user/a/course/fetch_feedback"' in row[waiting]
    assert "not released yet" in row[ids[-1]] and "<form" not in row[ids[-1]]

    # A fetched assignment the exchange no longer offers is still the learner's to open.
    shutil.rmtree(root / COURSE_ID / "outbound" / fetched)
    listing = manager.list_assignments(course_id=COURSE_ID)["value"]
    assert page.states(listing, home, course_id=COURSE_ID, known=ids)[fetched].action == page.OPEN


def test_the_assignments_panel_gets_the_course_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "course_outline.json"
    path.write_text(json.dumps({"course_id": COURSE_ID, "modules": [
        {"id": "orientation", "title": "O", "assignments": [{"id": "orientation_01_x"}]},
        {"id": "analysis", "title": "A", "assignments": [{"id": "analysis_01_x"}]}]}))
    monkeypatch.setenv(course_home.OUTLINE_VARIABLE, str(path))
    nbgrader_order = [{"assignment_id": "analysis_01_x", "status": "released"},
                      {"assignment_id": "extra_01_x", "status": "released"},
                      {"assignment_id": "orientation_01_x", "status": "fetched"},
                      {"assignment_id": "analysis_01_x", "status": "submitted"}]
    ordered = sort_listing(nbgrader_order, outline.read_outline(path))
    assert [(a["assignment_id"], a["status"]) for a in ordered] == [
        ("orientation_01_x", "fetched"), ("analysis_01_x", "released"), ("analysis_01_x", "submitted"),
        ("extra_01_x", "released")]

    class Manager:
        def list_assignments(self, course_id: str | None = None) -> dict:
            return {"success": True, "value": list(nbgrader_order)}

    class App:
        settings = {"assignment_list_manager": Manager()}

    order_assignment_list(App)
    order_assignment_list(App)  # at load and at start: wrapped once
    listed = App.settings["assignment_list_manager"].list_assignments(course_id=COURSE_ID)["value"]
    assert [a["assignment_id"] for a in listed][:2] == ["orientation_01_x", "analysis_01_x"]


def test_hubs_open_every_server_on_the_course_home(tmp_path: Path) -> None:
    from traitlets.config import Config

    c = course.load(path="/dev/null", state_dir=tmp_path / "state")
    dirs = course.write_all_role_configs(c)
    for role in ("learner", "trainer"):
        server = json.loads((dirs[role] / "jupyter_server_config.json").read_text())
        assert server["ServerApp"]["jpserver_extensions"][course_home.EXTENSION] is True
        # The course home comes from the installed project: no config edits a path.
        assert not (dirs[role] / "jupyter_server_config.py").exists()
    learner = json.loads((dirs["learner"] / "jupyter_server_config.json").read_text())
    assert learner["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    # Until a release writes it, the hub writes the outline of the clone's course.
    assert ids_of(json.loads(c.outline_file.read_text()))[0].startswith("orientation_01")
    # The Kubernetes image's configs switch it on the same way (the image installs the project).
    k8s = render.render(tmp_path / "k8s")["learner"]
    assert not (k8s / "jupyter_server_config.py").exists()
    server = json.loads((k8s / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"][course_home.EXTENSION] is True

    config = Config()
    hub_settings.configure_common(config, c, python=Path("/usr/bin/python3"), hub_dir=tmp_path / "hub",
                                  bind_url="http://127.0.0.1:1", learner_data_dir=tmp_path / "data")
    assert config.Spawner.default_url == "/course"
    outline_file = str(tmp_path / "state" / "course_outline.json")
    assert config.Spawner.environment[course_home.OUTLINE_VARIABLE] == outline_file


def test_the_hub_rewrites_an_outline_older_than_the_clones_notebooks(tmp_path: Path) -> None:
    import os

    c = course.load(path="/dev/null", state_dir=tmp_path / "state")
    notebooks = course.REPO / "notebooks"
    # A release from other notebooks (the demo's --notebooks) is newer than the clone's: kept.
    c.outline_file.parent.mkdir(parents=True)
    c.outline_file.write_text(json.dumps({"format": 1, "course_id": COURSE_ID, "modules": []}))
    assert not outline.is_stale(notebooks, c.outline_file)
    course.write_all_role_configs(c)
    assert json.loads(c.outline_file.read_text())["modules"] == []
    # Once a module.yaml changes after it (a `git pull`), the next hub start rewrites it.
    old = outline.sources_mtime(notebooks) - 60
    os.utime(c.outline_file, (old, old))
    assert outline.is_stale(notebooks, c.outline_file)
    course.write_all_role_configs(c)
    assert ids_of(json.loads(c.outline_file.read_text()))[0].startswith("orientation_01")
    assert not outline.is_stale(notebooks, c.outline_file)
    assert outline.is_stale(notebooks, tmp_path / "missing.json")


def test_the_outline_command_writes_where_the_hubs_settings_say(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "course.yaml"
    settings.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state")}))
    assert outline.main(["--settings", str(settings)]) == 0
    written = json.loads((tmp_path / "state" / course_home.OUTLINE_NAME).read_text())
    assert written["course_id"] == COURSE_ID and ids_of(written)[0].startswith("orientation_01")
    assert f"{len(ids_of(written))} assignments, course {COURSE_ID}" in capsys.readouterr().out
    dest = tmp_path / "elsewhere.json"
    assert outline.main(["--notebooks", str(FIXTURE_NOTEBOOKS), "--out", str(dest), "--course-id", "c1"]) == 0
    assert json.loads(dest.read_text())["course_id"] == "c1"
    assert outline.main(["--notebooks", str(tmp_path / "none"), "--out", str(dest), "--course-id", "c1"]) == 2
    assert "course outline not written" in capsys.readouterr().err


# --------------------------------------------------------------------------- on a real hub

SECOND = "analysis_01_hub"


def two_module_course(base: Path) -> Path:
    """The hub fixture's orientation module and a copy of it as an analysis module (order 5),
    whose id sorts first: course order and nbgrader's alphabetical order differ."""
    notebooks = base / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    folder = notebooks / "analysis" / SECOND
    folder.mkdir(parents=True)
    source = FIXTURE_NOTEBOOKS / "orientation" / "orientation_01_hub"
    shutil.copy(source / "orientation_01_hub.ipynb", folder / f"{SECOND}.ipynb")
    shutil.copy(source / "wrong.yaml", folder / "wrong.yaml")
    (notebooks / "analysis" / "module.yaml").write_text(yaml.safe_dump({
        "title": "Analysis (hub test fixture)", "order": 5, "summary": "A copy.",
        "assignments": [{"id": SECOND, "title": "A second notebook", "minutes": 7}]}))
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return notebooks


@pytest.mark.integration
def test_a_learner_lands_on_the_course_home_and_fetches_from_it(hub: Hub) -> None:
    learner = hub.learners[2]
    sessions = ensure_accounts(hub, [learner])
    client = sessions[learner]
    base = Path(tempfile.mkdtemp(prefix="fj-course-home-", dir="/tmp"))
    home = hub.course.home_dir / learner
    outbound = hub.course.exchange_dir / COURSE_ID / "outbound" / SECOND
    try:
        released = course_ops.release(hub.course, hub.python, two_module_course(base), as_user=hub.trainer)
        assert sorted(released) == [SECOND, "orientation_01_hub"]
        client.start_server(timeout=120)
        fetched_before = {p.name for p in home.iterdir()}

        r = client.session.get(f"{hub.url}/user/{learner}/", timeout=60)
        assert r.status_code == 200 and r.url.split("?")[0].endswith(f"/user/{learner}/course"), r.url
        rows = re.findall(r'<tr id="a-([^"]+)"', r.text)
        assert rows[:2] == ["orientation_01_hub", SECOND], rows
        assert "Welcome" in r.text and 'href="/services/book/"' in r.text
        assert f'href="/services/book/released/analysis/{SECOND}/{SECOND}.html"' in r.text
        row = re.search(rf'<tr id="a-{SECOND}".*?</tr>', r.text).group(0)
        assert "not fetched" in row
        form = re.search(r'<form method="post" action="([^"]+)">.*?name="_xsrf" value="([^"]+)"', row)
        assert form, row

        # The page's own form, as a browser without JavaScript sends it.
        r = client.session.post(f"{hub.url}{form.group(1)}", timeout=120,
                                data={"_xsrf": html.unescape(form.group(2)), "assignment_id": SECOND},
                                headers={"Referer": r.url})
        assert r.status_code == 200, r.text[:2000]
        row = re.search(rf'<tr id="a-{SECOND}".*?</tr>', r.text).group(0)
        assert "status-fetched" in row, row
        assert f'href="/user/{learner}/lab/tree/{SECOND}/{SECOND}.ipynb">Open<' in row
        assert (home / SECOND / f"{SECOND}.ipynb").is_file(), "fetched into the learner's home"
        # A second click changes nothing; a post without the page's XSRF token is refused.
        again = client.session.post(f"{hub.url}{form.group(1)}", timeout=120, headers={"Referer": r.url},
                                    data={"_xsrf": html.unescape(form.group(2)), "assignment_id": SECOND})
        assert again.status_code == 200 and "status-fetched" in again.text
        forged = client.session.post(f"{hub.url}{form.group(1)}", timeout=60,
                                     data={"assignment_id": "orientation_01_hub"})
        assert forged.status_code == 403
        assert not (home / "orientation_01_hub").exists() or "orientation_01_hub" in fetched_before

        # The Assignments panel's listing is in course order too.
        listing = client.lab_api(f"assignments?course_id={COURSE_ID}").json()["value"]
        ids = [a["assignment_id"] for a in listing if a["status"] in ("released", "fetched")]
        assert ids.index("orientation_01_hub") < ids.index(SECOND), ids
    finally:
        # Other modules sharing the hub expect only their own assignments in the exchange.
        shutil.rmtree(outbound, ignore_errors=True)
        shutil.rmtree(home / SECOND, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
