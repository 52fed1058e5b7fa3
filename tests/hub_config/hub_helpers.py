"""Helpers of the hub tests: the running hub's handle, a tiny dataset, polling."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from hub_config import signup_codes
from hub_config.course import REPO, Course
from hub_config.hubclient import HubClient, wait_for_hub
from hub_config.workshop import systemd_host
from hub_config.workshop.systemd_host import SystemdHost

FIXTURE_NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"
WORKSHOP_CONFIG = REPO / "hub_config" / "workshop" / "jupyterhub_config.py"
ASSIGNMENT = "orientation_01_hub"


def make_dataset(data_dir: Path) -> None:
    """A tiny dataset with the real one's layout (the tests need folders, not volume)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "manifest.json").write_text('{"version": "test", "files": {}}')
    for folder, files in {"identifiable": ["cafcass_cases.csv"],
                          "reference": ["local_authorities.csv", "dfj_areas.csv"],
                          "answer_key": ["cafcass_person_key.csv"]}.items():
        (data_dir / folder).mkdir(parents=True)
        for name in files:
            (data_dir / folder / name).write_text("id,value\n1,secret\n" if folder == "answer_key"
                                                   else "id,value\n1,2\n")


@dataclass
class Hub:
    """One running workshop hub and the people on it."""

    base: Path
    course: Course
    settings: Path
    url: str
    python: Path
    trainer: str
    learners: list[str]
    passwords: dict[str, str] = field(default_factory=dict)
    # A trainer name nobody has signed up at start (the sign-up attack tests aim at it).
    spare_trainer: str = ""
    # One-time sign-up codes the installer issued: every trainer's and every roster name's.
    codes: dict[str, str] = field(default_factory=dict)
    host: SystemdHost | None = None
    log: Path | None = None

    def start(self) -> None:
        """The hub as the installer's systemd service, on systemd booted for the tests."""
        self.host.start_hub(self.course, self.settings, self.log)
        wait_for_hub(self.url, timeout=90)

    def stop(self) -> None:
        if self.host is not None:
            self.host.stop_hub()

    def server_unit(self, name: str) -> str:
        return systemd_host.server_unit(name)

    def running_server_units(self) -> list[str]:
        return self.host.running_server_units()

    @property
    def codes_file(self) -> Path:
        """The hub's sign-up codes (hashes), where the installer and the hub keep them."""
        return signup_codes.codes_file(self.course.state_dir / "hub")

    def client(self, name: str) -> HubClient:
        """A logged-in session for a user of this hub."""
        client = HubClient(self.url)
        assert client.login(name, self.passwords[name]), f"{name} could not log in"
        return client


def wait_until(predicate, timeout: float = 30, interval: float = 0.5) -> bool:  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is true; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


# What a curious (or malicious) learner's code tries to open, during their session and while
# being graded. Filled in per hub by `probe_paths`.
PROBE_CODE = textwrap.dedent("""\
    import json, os
    outcomes = {}
    for label, path in PATHS.items():
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                open(path, 'rb').read(1)
            outcomes[label] = 'READ'
        except OSError as error:
            outcomes[label] = type(error).__name__
    print('PROBE' + json.dumps(outcomes))
""")


def probe_paths(hub: Hub, other: str) -> dict[str, str]:
    course = hub.course
    return {
        "other_home": str(course.home_dir / other),
        "trainer_home": str(course.home_dir / hub.trainer),
        "source_notebooks": str(course.course_dir / "source"),
        "gradebook": str(course.course_dir / "gradebook.db"),
        "submitted": str(course.course_dir / "submitted"),
        "answer_key": str(course.data_dir / "answer_key" / "cafcass_person_key.csv"),
        "exchange_inbound": str(course.exchange_dir / course.course_id / "inbound"),
        "hub_secrets": str(course.state_dir / "hub" / "jupyterhub_cookie_secret"),
    }


def ensure_accounts(hub: Hub, names: list[str]) -> dict[str, HubClient]:
    """Sign up (if needed) and have the trainer approve; return logged-in sessions.

    The trainer signs up with the one-time code the installer issued (the only way a trainer
    name can be signed up); learners sign up without one and wait for the trainer's approval.
    """
    sessions = {}
    trainer = HubClient(hub.url)
    if not trainer.login(hub.trainer, hub.passwords[hub.trainer]):
        message = trainer.signup(hub.trainer, hub.passwords[hub.trainer], code=hub.codes[hub.trainer])
        assert trainer.login(hub.trainer, hub.passwords[hub.trainer]), message
    for name in names:
        client = HubClient(hub.url)
        if not client.login(name, hub.passwords[name]):
            client.signup(name, hub.passwords[name])
            if not client.login(name, hub.passwords[name]):
                trainer.approve(name)
                assert client.login(name, hub.passwords[name])
        sessions[name] = client
    sessions[hub.trainer] = trainer
    return sessions


def sign_up_with_codes(url: str, hub_dir: Path, names: list[str], password: str) -> None:
    """Sign `names` up on a running hub with one-time codes issued into its state folder (as the
    installer issues a roster's), so that each account is ready at once."""
    codes = signup_codes.SignupCodes(signup_codes.codes_file(hub_dir)).issue(names, reissue=True)
    for name in names:
        message = HubClient(url).signup(name, password, code=codes[name])
        assert "account is ready" in message, f"{name}: {message}"


def deep_merge(base: dict, override: dict) -> dict:
    """helm's merge of a chart's defaults with values files (the k8s values tests)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def as_trainer_in_gradebook(hub: Hub, code: str) -> str:
    """Run Python as the trainer with ``gb``, the hub's gradebook, open; return the last line
    it prints (the gradebook is the trainers' only)."""
    db = hub.course.course_dir / "gradebook.db"
    script = ("from nbgrader.api import Gradebook\n"
              f"gb = Gradebook('sqlite:///{db}', '{hub.course.course_id}')\n{code}\ngb.close()\n")
    out = subprocess.run(["runuser", "-u", hub.trainer, "--", str(hub.python), "-c", script],
                         capture_output=True, text=True, check=True, cwd="/tmp").stdout
    return out.strip().splitlines()[-1]


def log_in(page, hub: Hub, name: str, landing: str = "**/user/{name}/**",  # type: ignore[no-untyped-def]
           timeout: int = 120_000) -> None:
    """Log in through the hub's form in a browser page and wait to land on ``landing``."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.passwords[name])
    page.click("#login_submit")
    page.wait_for_url(landing.format(name=name), timeout=timeout)


def start_demo(state: Path, data: Path, book: Path, port: int, log: Path,
               notebooks: Path = FIXTURE_NOTEBOOKS) -> subprocess.Popen:
    """`python -m hub_config.demo` on `port`, its output appended to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "hub_config.demo", "--port", str(port), "--state-dir", str(state),
         "--data-dir", str(data), "--notebooks", str(notebooks), "--book-dir", str(book)],
        cwd=REPO, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_banner(log: Path, process: subprocess.Popen, times: int = 1, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text().count("Press Ctrl-C") >= times:
            return
        assert process.poll() is None, log.read_text()
        time.sleep(0.5)
    raise AssertionError(f"the demo did not start:\n{log.read_text()}")


def stop_with_ctrl_c(process: subprocess.Popen) -> list[psutil.Process]:
    children = psutil.Process(process.pid).children(recursive=True)
    assert any("configurable-http-proxy" in " ".join(c.cmdline()) for c in children)
    os.killpg(process.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    process.wait(timeout=60)
    _, alive = psutil.wait_procs(children, timeout=15)
    return alive


@dataclass
class RunningDemo:
    """A demo hub started by :func:`running_demo`."""

    url: str
    state: Path
    accounts: dict[str, str]
    log: Path
    pid: int = 0  # the demo runner's (the hub is its child)


@contextmanager
def running_demo(name: str, artifacts_dir: Path,
                 notebooks: Path = FIXTURE_NOTEBOOKS) -> Iterator[RunningDemo]:
    """`python -m hub_config.demo` on a free port with a tiny dataset and book, its log in
    test-artifacts/hub_config-NAME.log; stopped (Ctrl-C, then killed) and removed afterwards."""
    from hub_config.hub import free_port

    base = Path(tempfile.mkdtemp(prefix=f"fj-{name}-", dir="/tmp"))
    state, data, book = base / "state", base / "data", base / "book"
    make_dataset(data)
    book.mkdir()
    (book / "index.html").write_text("<h1>Family justice data course book</h1>")
    log = artifacts_dir / f"hub_config-{name}.log"
    log.write_text("")
    port = free_port()
    process = start_demo(state, data, book, port, log, notebooks=notebooks)
    try:
        wait_for_banner(log, process)
        accounts = yaml.safe_load((state / "credentials.yaml").read_text())
        yield RunningDemo(f"http://127.0.0.1:{port}", state, accounts, log, pid=process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)
