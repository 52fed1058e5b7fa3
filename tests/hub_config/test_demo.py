"""The local demo (`make demo` ends with `python -m hub_config.demo`), run for real on a free
port: it releases the course, starts the hub with its proxy and services, creates the printed
accounts; a learner sees the assignment ready to fetch and the book; Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hub_helpers import ASSIGNMENT, make_dataset, start_demo, stop_with_ctrl_c, wait_for_banner

from hub_config.hub import free_port
from hub_config.hubclient import HubClient

pytestmark = pytest.mark.integration


def test_demo_runs_the_course_hub_and_ctrl_c_stops_everything(artifacts_dir: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="fj-demo-", dir="/tmp"))
    state, data, book = base / "state", base / "data", base / "book"
    make_dataset(data)
    book.mkdir()
    (book / "index.html").write_text("<h1>Family justice data course book</h1>")
    log = artifacts_dir / "hub_config-demo.log"
    log.write_text("")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_demo(state, data, book, port, log)
    try:
        wait_for_banner(log, process)
        accounts = yaml.safe_load((state / "credentials.yaml").read_text())
        assert accounts["learner1"] in log.read_text(), "the passwords are printed"
        learner = HubClient(url)
        assert learner.login("learner1", accounts["learner1"])
        learner.start_server(timeout=180)
        listing = learner.lab_api("assignments?course_id=fj-course").json()["value"]
        assert [(a["assignment_id"], a["status"]) for a in listing] == [(ASSIGNMENT, "released")]
        assert learner.lab_api("formgrader").status_code == 404
        r = learner.lab_api("api/kernelspecs")
        assert r.status_code == 200
        # Learners get the data read-only and without the answer key.
        view = state / "learner-data"
        assert (view / "reference").exists() and not (view / "answer_key").exists()
        assert not (view / "reference").stat().st_mode & 0o222
        assert "course book" in learner.session.get(f"{url}/services/book/", timeout=30).text
        # The demo signs its accounts up with one-time codes (kept as hashes in a 0600 file);
        # anyone else's sign-up waits for the trainer, and a trainer name needs its code.
        codes_file = state / "hub" / "signup_codes.json"
        assert stat.S_IMODE(codes_file.stat().st_mode) == 0o600
        assert accounts["trainer"] not in codes_file.read_text()
        assert HubClient(url).login("trainer", accounts["trainer"])
        assert "waits for a trainer" in HubClient(url).signup("intruder", "a-long-password-1")
        assert not HubClient(url).login("intruder", "a-long-password-1")
        alive = stop_with_ctrl_c(process)
        assert not alive, f"left running after Ctrl-C: {alive}"
        assert "The demo hub has stopped" in log.read_text()

        # A second run brings the same accounts back.
        process = start_demo(state, data, book, port, log)
        wait_for_banner(log, process, times=2)
        assert HubClient(url).login("learner1", accounts["learner1"])
        assert not stop_with_ctrl_c(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)
