"""The workshop hub end to end, with real processes: JupyterHub, configurable-http-proxy,
single-user servers running as real unix users, nbgrader's exchange and the grading pipeline.

The tests run in file order and share one hub: sign-up and approval, spawn, release, fetch,
submit, collect, autograde, feedback, the security boundaries, then a restart.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from hub_helpers import (
    ASSIGNMENT,
    FIXTURE_NOTEBOOKS,
    PROBE_CODE,
    Hub,
    as_trainer_in_gradebook,
    ensure_accounts,
    probe_paths,
    wait_until,
)

from hub_config import course_ops, memory
from hub_config.hubclient import HubClient
from hub_config.spawners import SERVER_SLICE

pytestmark = pytest.mark.integration

NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
def test_signup_roster_and_trainer_approval(hub: Hub) -> None:
    trainer = HubClient(hub.url)
    # A trainer name signs up only with its one-time code (another module may have done it).
    if not trainer.login(hub.trainer, hub.passwords[hub.trainer]):
        message = trainer.signup(hub.trainer, hub.passwords[hub.trainer], code=hub.codes[hub.trainer])
        assert trainer.login(hub.trainer, hub.passwords[hub.trainer]), message

    on_roster, waiting = hub.learners[0], hub.learners[1]
    message = HubClient(hub.url).signup(on_roster, hub.passwords[on_roster], code=hub.codes[on_roster])
    assert "account is ready" in message
    assert HubClient(hub.url).login(on_roster, hub.passwords[on_roster]), "a roster name's code approves it"

    message = HubClient(hub.url).signup(waiting, hub.passwords[waiting])
    assert "waits for a trainer" in message
    assert not HubClient(hub.url).login(waiting, hub.passwords[waiting]), "sign-ups wait for approval"
    trainer.approve(waiting)
    assert HubClient(hub.url).login(waiting, hub.passwords[waiting])

    # Someone signing up as a system account is never approved automatically, and a wrong
    # password never logs in.
    HubClient(hub.url).signup("postgres", "a-long-password-1")
    assert not HubClient(hub.url).login("postgres", "a-long-password-1")
    assert not HubClient(hub.url).login(on_roster, "wrong-password")


def test_servers_run_as_their_own_unix_users(hub: Hub) -> None:
    sessions = ensure_accounts(hub, hub.learners[:2])
    for name in [hub.trainer, *hub.learners[:2]]:
        sessions[name].start_server(timeout=120)
        r = sessions[name].lab_api("api/contents/hello.txt", "PUT",
                                   json={"type": "file", "format": "text", "content": "hi"})
        assert r.status_code in (200, 201), r.text
        home = Path(pwd.getpwnam(name).pw_dir)
        assert home.parent == hub.course.home_dir
        assert (home / "hello.txt").stat().st_uid == pwd.getpwnam(name).pw_uid
        assert stat.S_IMODE(home.stat().st_mode) == 0o700, "homes must be private"
        env = sessions[name].lab_api("api/kernelspecs")
        assert env.status_code == 200
        # Each server is a systemd unit of its own, running as its user, with the course's limits
        # held by the kernel's cgroups.
        unit = hub.server_unit(name)
        assert hub.host.unit_property(unit, "ActiveState") == "active"
        assert hub.host.unit_property(unit, "User") == str(pwd.getpwnam(name).pw_uid)
        assert hub.host.unit_property(unit, "NoNewPrivileges") == "yes"
        group = hub.host.unit_property(unit, "ControlGroup")
        assert group.startswith(f"/fj.slice/{SERVER_SLICE}/"), group
        limit = hub.host.cgroup_file("memory", group, "memory.limit_in_bytes")
        assert int(limit.read_text()) == memory.parse_size(hub.course.mem_limit)
        quota = hub.host.cgroup_file("cpu", group, "cpu.cfs_quota_us")
        period = hub.host.cgroup_file("cpu", group, "cpu.cfs_period_us")
        assert int(quota.read_text()) == int(hub.course.cpu_limit * int(period.read_text()))
        server_pid = int(hub.host.unit_property(unit, "MainPID"))
        assert server_pid > 0
        pids = hub.host.run(["cat", f"/sys/fs/cgroup/memory{group}/cgroup.procs"]).stdout.split()
        assert str(server_pid) in pids, "the server runs inside the limit"


def test_a_kernel_over_the_memory_limit_is_stopped_and_the_server_stays(hub: Hub) -> None:
    # One learner's analysis that loads too much must not take the machine (or their own
    # server, with its unsaved work) down with it.
    name = hub.learners[1]
    client = ensure_accounts(hub, [name])[name]
    client.start_server(timeout=120)
    too_much = memory.parse_size(hub.course.mem_limit) + 256 * 2**20
    outcome, printed = client.run_code(f"held = b'x' * {too_much}\nprint('held it')", timeout=180)
    assert (outcome, printed) == ("died", ""), "the kernel is stopped before it holds more than the limit"
    unit = hub.server_unit(name)
    assert hub.host.unit_property(unit, "ActiveState") == "active", "the server outlives its kernel"
    group = hub.host.unit_property(unit, "ControlGroup")
    oom = dict(line.split() for line in
               hub.host.cgroup_file("memory", group, "memory.oom_control").read_text().splitlines())
    assert int(oom["oom_kill"]) >= 1, "the unit's memory limit stopped it"
    assert client.run_code("print(6 * 7)") == ("ok", "42\n"), "and the learner carries on"


def test_a_learner_running_many_processes_gets_no_more_cpu_than_one_running_one(hub: Hub) -> None:
    # On a shared 2-core machine, one learner's parallel job must not slow everyone else down:
    # each server is capped at cpu_limit cores, and the kernel shares CPU between units, not
    # between processes (one cgroup of five busy processes would leave the one-process learner
    # two fifths of the machine).
    greedy, modest = hub.learners[1], hub.learners[2]
    sessions = ensure_accounts(hub, [greedy, modest])
    for name in (greedy, modest):
        sessions[name].start_server(timeout=120)
    # In sessions of their own, so that they outlast run_code's kernel.
    spin = ("import subprocess, sys\n"
            "for _ in range({n}):\n"
            "    subprocess.Popen([sys.executable, '-c', 'import time\\nend = time.time() + 8\\n"
            "while time.time() < end: pass'], start_new_session=True)\nprint('spinning')")
    assert sessions[greedy].run_code(spin.format(n=4)) == ("ok", "spinning\n")
    assert sessions[modest].run_code(spin.format(n=1)) == ("ok", "spinning\n")

    def used() -> dict[str, float]:
        """CPU seconds used so far by the processes in each learner's unit."""
        seconds = {}
        for name in (greedy, modest):
            pids = hub.host.unit_pids(hub.server_unit(name))
            seconds[name] = sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)
        return seconds

    time.sleep(1)
    before, started = used(), time.monotonic()
    time.sleep(3)
    after, seconds = used(), time.monotonic() - started
    cores = {name: (after[name] - before[name]) / seconds for name in (greedy, modest)}
    assert cores[greedy] <= hub.course.cpu_limit * 1.1, cores
    assert cores[modest] >= 0.75, cores


def test_a_learner_cannot_read_anothers_server_token(hub: Hub) -> None:
    # SystemdSpawner hands each server its environment, the learner's hub API token included,
    # in a file under /run/UNIT/: another learner reading it could act as them on the hub.
    owner, other = hub.learners[1], hub.learners[2]
    sessions = ensure_accounts(hub, [owner, other])
    for name in (owner, other):
        sessions[name].start_server(timeout=120)
    unit = hub.server_unit(owner).removesuffix(".service")
    folder, env_file = f"/run/{unit}", f"/run/{unit}/{unit}.env"
    assert "JUPYTERHUB_API_TOKEN=" in hub.host.run(["cat", env_file]).stdout, "the file the attack aims at"
    probe = ("import os\n"
             f"for path, look in (({folder!r}, os.listdir), ({env_file!r}, lambda p: open(p).read())):\n"
             "    try:\n"
             "        look(path)\n"
             "        print('READ', path)\n"
             "    except OSError as error:\n"
             "        print(type(error).__name__, path)\n")
    outcome, printed = sessions[other].run_code(probe)
    assert outcome == "ok" and "READ" not in printed, printed
    assert printed.count("PermissionError") == 2, printed


def test_nothing_a_learner_leaves_running_outlives_their_server(hub: Hub) -> None:
    # A process started in a session of its own escaped the server's process group, so under
    # LocalProcessSpawner it ran on after the server stopped; in a unit it cannot leave its cgroup.
    name = hub.learners[2]
    client = ensure_accounts(hub, [name])[name]
    client.start_server(timeout=120)
    mark = str(10**6 + secrets.randbelow(10**6))  # sleep's seconds, unique to this test
    left = ("import subprocess\n"
            f"subprocess.Popen(['setsid', 'sleep', '{mark}'], start_new_session=True)\nprint('left')")
    assert client.run_code(left) == ("ok", "left\n")

    def still_running() -> list[int]:
        return [p.pid for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", mark]]

    assert wait_until(lambda: bool(still_running()), timeout=10), "it runs while the server does"
    r = client.session.delete(f"{hub.url}/hub/api/users/{name}/server", timeout=60,
                              headers={"Authorization": f"token {client.token()}"})
    assert r.status_code in (202, 204), r.text
    assert wait_until(lambda: not still_running(), timeout=60), "it ended with the server"
    assert hub.server_unit(name) not in hub.running_server_units()


def test_learners_lack_the_formgrader_and_trainers_have_it(hub: Hub) -> None:
    sessions = ensure_accounts(hub, hub.learners[:1])
    learner, trainer = sessions[hub.learners[0]], sessions[hub.trainer]
    assert learner.lab_api("formgrader").status_code == 404
    assert learner.lab_api(f"assignments?course_id={hub.course.course_id}").status_code == 200
    r = trainer.lab_api("formgrader")
    assert r.status_code == 200
    assert "frame-ancestors 'self'" in r.headers.get("Content-Security-Policy", "")


def fetched_notebook(client: HubClient) -> dict:
    r = client.lab_api(f"api/contents/{NOTEBOOK}")
    assert r.status_code == 200, r.text
    return r.json()["content"]


def save_with_answer(client: HubClient, source: str) -> None:
    notebook = fetched_notebook(client)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "answer":
            cell["source"] = source
    r = client.lab_api(f"api/contents/{NOTEBOOK}", "PUT",
                       json={"type": "notebook", "format": "json", "content": notebook})
    assert r.status_code == 200, r.text


def assignment_action(client: HubClient, action: str, course_id: str) -> dict:
    r = client.lab_api(f"assignments/{action}", "POST",
                       data={"course_id": course_id, "assignment_id": ASSIGNMENT})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result.get("success"), result
    return result


def test_release_fetch_submit(hub: Hub) -> None:
    course = hub.course
    released = course_ops.release(course, hub.python, FIXTURE_NOTEBOOKS, as_user=hub.trainer)
    assert released == [ASSIGNMENT]
    sessions = ensure_accounts(hub, hub.learners[:2])
    good, curious = sessions[hub.learners[0]], sessions[hub.learners[1]]

    listing = good.lab_api(f"assignments?course_id={course.course_id}").json()
    assert [a["assignment_id"] for a in listing["value"]] == [ASSIGNMENT]
    assert listing["value"][0]["status"] == "released"

    for client in (good, curious):
        assignment_action(client, "fetch", course.course_id)
    assert "### BEGIN HIDDEN TESTS" not in json.dumps(fetched_notebook(good)), "hidden tests leaked"

    save_with_answer(good, "import os\nfrom pathlib import Path\n"
                     "reference_files = sorted(p.name for p in "
                     "(Path(os.environ['FJ_DATA_DIR']) / 'reference').iterdir())\n")
    paths = probe_paths(hub, other=hub.learners[0])
    save_with_answer(curious, f"PATHS = {paths!r}\n" + PROBE_CODE + "reference_files = ['x']\n")
    for client in (good, curious):
        assignment_action(client, "submit", course.course_id)
    listing = good.lab_api(f"assignments?course_id={course.course_id}").json()["value"]
    assert any(a["status"] == "submitted" for a in listing)


def test_collect_autograde_feedback(hub: Hub) -> None:
    course = hub.course
    course_ops.collect(course, hub.python, ASSIGNMENT, as_user=hub.trainer, notebooks=FIXTURE_NOTEBOOKS)
    for name in hub.learners[:2]:
        assert (course.course_dir / "submitted" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    course_ops.autograde(course, hub.python, ASSIGNMENT, notebooks=FIXTURE_NOTEBOOKS)
    course_ops.feedback(course, hub.python, ASSIGNMENT, as_user=hub.trainer, notebooks=FIXTURE_NOTEBOOKS)

    scores = gradebook_scores(hub)
    assert scores[hub.learners[0]] == 2.0, "the correct answer earns full marks, hidden tests included"

    sessions = ensure_accounts(hub, hub.learners[:1])
    assignment_action(sessions[hub.learners[0]], "fetch_feedback", course.course_id)
    home = Path(pwd.getpwnam(hub.learners[0]).pw_dir)
    pages = list((home / ASSIGNMENT / "feedback").glob("*/*.html"))
    assert pages, "feedback was fetched into the learner's assignment folder"
    assert "BEGIN HIDDEN TESTS" not in pages[0].read_text()


def gradebook_scores(hub: Hub) -> dict[str, float]:
    return json.loads(as_trainer_in_gradebook(hub, (
        f"import json\nprint(json.dumps({{s.student.id: s.score for s in "
        f"gb.assignment_submissions('{ASSIGNMENT}')}}))")))


def test_grading_runs_learner_code_without_access(hub: Hub) -> None:
    """The curious learner's submission tried to read everything while being graded."""
    graded = hub.course.course_dir / "autograded" / hub.learners[1] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    text = graded.read_text()
    outcomes = json.loads(text.split("PROBE", 1)[1].split("\\n", 1)[0].replace('\\"', '"'))
    readable = {label for label, outcome in outcomes.items() if outcome == "READ"}
    # Hidden tests read the answer key in the trusted replay, as root: a learner's kernel,
    # under a grading account, reads nothing, the answer key included.
    assert readable == set(), outcomes


def test_learners_cannot_read_what_is_not_theirs(hub: Hub) -> None:
    learner = hub.learners[1]
    paths = probe_paths(hub, other=hub.learners[0])
    paths["reference"] = str(hub.course.data_dir / "reference")
    out = subprocess.run(["runuser", "-u", learner, "--", str(hub.python), "-c",
                          f"PATHS = {paths!r}\n" + PROBE_CODE],
                         capture_output=True, text=True, check=True, cwd="/tmp").stdout
    outcomes = json.loads(out.split("PROBE", 1)[1])
    assert outcomes.pop("reference") == "READ", "learners read the shared data"
    assert all(outcome == "PermissionError" for outcome in outcomes.values()), outcomes
    # nor write to the shared data
    target = str(hub.course.data_dir / "reference" / "x")
    r = subprocess.run(["runuser", "-u", learner, "--", "touch", target], capture_output=True)
    assert r.returncode != 0


def test_learners_cannot_reach_other_servers_or_the_admin_api(hub: Hub) -> None:
    sessions = ensure_accounts(hub, hub.learners[:2])
    me, other = sessions[hub.learners[1]], hub.learners[0]
    r = me.session.get(f"{hub.url}/user/{other}/api/contents", timeout=60)
    assert r.status_code == 403 or f"/user/{me.username}/" in r.url, (r.status_code, r.url)
    assert "hello.txt" not in r.text
    token = me.token()
    headers = {"Authorization": f"token {token}"}
    assert me.session.get(f"{hub.url}/hub/api/users", headers=headers, timeout=30).status_code == 403
    r = me.session.post(f"{hub.url}/hub/api/users/{other}/server", headers=headers, timeout=30)
    assert r.status_code in (403, 404)
    r = me.session.get(f"{hub.url}/user/{other}/api/contents", headers=headers, timeout=30,
                       allow_redirects=False)
    assert r.status_code in (302, 403)
    # and the trainer's approval page is for trainers only
    r = me.session.get(f"{hub.url}/hub/authorize", timeout=30)
    assert r.status_code == 403


def test_book_is_served_by_the_hub(hub: Hub) -> None:
    client = HubClient(hub.url)
    r = client.session.get(f"{hub.url}/services/book/", timeout=30)
    assert r.status_code == 200 and "course book" in r.text


def test_restart_keeps_accounts_files_and_submissions(hub: Hub) -> None:
    before = gradebook_scores(hub)
    hub.stop()
    assert hub.running_server_units() == [], "stopping the hub stops every server's unit"
    hub.start()
    for name in [hub.trainer, *hub.learners[:2]]:
        assert HubClient(hub.url).login(name, hub.passwords[name]), f"{name} lost their account"
        assert (Path(pwd.getpwnam(name).pw_dir) / "hello.txt").read_text() == "hi"
    assert gradebook_scores(hub) == before
    inbound = hub.course.exchange_dir / hub.course.course_id / "inbound"
    assert sum(1 for p in inbound.iterdir() if p.name.startswith(hub.learners[0] + "+")) >= 1
    client = hub.client(hub.learners[0])
    client.start_server(timeout=120)
    assert client.lab_api("api/contents/hello.txt").status_code == 200
    assert os.path.exists(hub.course.state_dir / "hub" / "jupyterhub.sqlite")
