"""Load on a course hub: N learners log in and start their servers at the same moment.

Starts the demo hub (JupyterHub, its proxy, the book and the idle culler) on a free port with a
scratch state folder, signs N learners up (each with its one-time sign-up code, as a roster's
learners do, so nobody waits for a trainer's approval), then logs them all in and
starts every server at once, one thread per learner, each doing what a browser does (the
spawn-pending page's progress stream, then the course home; hubclient.HubClient.start_server).
The hub starts the servers a few at a time (spawners.QueuedStart). Any error page a learner is shown
fails the run. Prints the time until every JupyterLab answered, the median and 95th percentile
of login-to-lab-ready, and the memory of the idle servers (proportional set size, so shared
libraries are counted once).

    python benchmarks/hub_load.py [--learners N]      # default 10; the target is 50
    python benchmarks/hub_load.py --ahead             # servers started before anyone logs in
    python benchmarks/hub_load.py --workshop          # the workshop server instead (as root)

With --workshop, the hub is the workshop server's: the installer's systemd service, on systemd
booted in namespaces of its own (hub_config/workshop/systemd_host.py), starting each learner's
server as a systemd unit under a unix account of its own (created at first login), as on a
real workshop server. Accounts and groups carry a random prefix and are removed afterwards.

With --ahead, a trainer's token starts every server first (`python -m hub_config.warmup`, as a
trainer does before a session; the time it took is printed), and login-to-lab-ready is then
measured against running servers.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

from hub_config import accounts, runtime
from hub_config.course import Course
from hub_config.demo.__main__ import DEMO_CONFIG, demo_course, learner_data_view, write_settings
from hub_config.hub import free_port
from hub_config.hubclient import HubClient, wait_for_hub
from hub_config.signup_codes import SignupCodes, codes_file
from hub_config.warmup import HubAPI, warm_up
from hub_config.workshop import install, systemd_host

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def start_hub(state: Path, settings: Path) -> subprocess.Popen:
    """The demo's hub (JupyterHub, its proxy and services) on the settings file, logging into
    STATE/jupyterhub.log."""
    env = {**os.environ, "FJ_HUB_SETTINGS": str(settings),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(state / "jupyterhub.log", "w")  # noqa: SIM115 (open for the hub's lifetime)
    return subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(DEMO_CONFIG)],
                            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_hub(hub: subprocess.Popen, children: list[psutil.Process], state: Path) -> None:
    """Stop the hub and everything it started, then remove the scratch state folder."""
    if hub.poll() is None:
        children = children or psutil.Process(hub.pid).children(recursive=True)
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(timeout=120)
        except subprocess.TimeoutExpired:
            hub.kill()
    _, alive = psutil.wait_procs(children, timeout=10)
    for proc in alive:
        proc.kill()
    subprocess.run(["chmod", "-R", "u+w", str(state)], check=False)
    shutil.rmtree(state, ignore_errors=True)


@dataclass
class Workshop:
    """A scratch workshop server: its course, its systemd host and its accounts."""

    base: Path
    course: Course
    host: systemd_host.SystemdHost
    trainer: str

    @property
    def log(self) -> Path:
        return self.base / "jupyterhub.log"


def start_workshop(n: int) -> tuple[Workshop, list[str]]:
    """The workshop server's hub, as root, on systemd booted for the run; returns it and the
    learners' names (on its roster)."""
    if os.geteuid() != 0:
        sys.exit("hub_load --workshop creates unix accounts: run it as root")
    if why := systemd_host.available():
        sys.exit(f"hub_load --workshop needs systemd here: {why}")
    prefix = "fjb" + secrets.token_hex(2)
    base = Path(tempfile.mkdtemp(prefix="fj-hub-load-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "state"
    names = [f"{prefix}l{i:03d}" for i in range(n)]
    course = systemd_host.scratch_course(base, prefix, [f"{prefix}tr"])
    data_folders = [course.data_dir / f for f in ("identifiable", "reference", "answer_key")]
    for folder in (base / "home", base / "book", state / "hub", *data_folders):
        folder.mkdir(parents=True, exist_ok=True)
    (base / "home").chmod(0o755)
    (course.data_dir / "manifest.json").write_text('{"version": "hub_load", "files": {}}')
    (base / "book" / "index.html").write_text("<h1>Course book</h1>")
    course.roster_file.write_text("\n".join(names) + "\n")
    python = runtime.ensure_runtime(state / "runtime")
    course = course.replace(extra={**course.extra, "python": str(python)})
    install.write_settings(state / "course.yaml", course)
    accounts.prepare_shared_folders(course)
    workshop = Workshop(base, course, systemd_host.SystemdHost(base / "systemd"), course.trainers[0])
    workshop.log.touch()
    workshop.host.start()
    workshop.host.start_hub(course, state / "course.yaml", workshop.log)
    return workshop, names


def stop_workshop(workshop: Workshop, names: list[str]) -> None:
    """Stop the hub and systemd, remove the accounts, groups and scratch folder."""
    workshop.host.stop_hub()
    workshop.host.stop()
    accounts.remove_course_accounts(workshop.course, [*names, workshop.trainer])
    subprocess.run(["rm", "-rf", str(workshop.base)], check=False)


def unit_memory(workshop: Workshop, names: list[str]) -> list[int]:
    """PSS of each learner's server unit (every process in it), as server_memory for the demo."""
    sizes = []
    for name in names:
        total = 0
        for pid in workshop.host.unit_pids(systemd_host.server_unit(name)):
            try:
                info = psutil.Process(pid).memory_full_info()
                total += getattr(info, "pss", info.rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if total:
            sizes.append(total)
    return sizes


def login_and_start(url: str, name: str, password: str) -> float:
    """Seconds from login to a ready JupyterLab; raises if the learner was shown an error page."""
    began = time.monotonic()
    client = HubClient(url)
    if not client.login(name, password):
        raise RuntimeError(f"{name} could not log in")
    client.start_server(timeout=600)
    if client.error_pages():
        raise RuntimeError(f"{name} was shown error pages: {client.error_pages()[:3]}")
    return time.monotonic() - began


def server_memory(hub_pid: int) -> list[int]:
    """PSS (or RSS where PSS is unavailable) of every single-user server under the hub."""
    sizes = []
    for proc in psutil.Process(hub_pid).children(recursive=True):
        try:
            if "jupyterhub.singleuser" not in " ".join(proc.cmdline()):
                continue
            info = proc.memory_full_info()
            sizes.append(getattr(info, "pss", info.rss))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return sizes


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--learners", "-n", type=int, default=int(os.environ.get("HUB_LOAD_N", 10)))
    parser.add_argument("--ahead", action="store_true", help="start the servers before the logins")
    parser.add_argument("--keep-log", type=Path, default=None,
                        help="copy the hub's log here before the scratch folder is removed")
    parser.add_argument("--workshop", action="store_true",
                        help="the workshop server's hub (systemd units, unix accounts; as root)")
    args = parser.parse_args()
    n = args.learners
    workshop: Workshop | None = None
    hub: subprocess.Popen | None = None
    if args.workshop:
        workshop, names = start_workshop(n)
        course, trainer, log = workshop.course, workshop.trainer, workshop.log
        state = workshop.base
        url = course.extra["bind_url"]
    else:
        state, course, names = demo_state(n)
        trainer, log = "trainer", state / "jupyterhub.log"
        url = course.extra["bind_url"]
        hub = start_hub(state, state / "settings.yaml")
    children: list[psutil.Process] = []
    try:
        wait_for_hub(url, timeout=90)
        password = "load-test-password-1"
        began = time.monotonic()
        codes = SignupCodes(codes_file(course.state_dir / "hub")).issue([*names, trainer], reissue=True)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda name: HubClient(url).signup(name, password, code=codes[name]), names))
        signup_seconds = time.monotonic() - began
        print(f"hub_load: {n} learners on {os.cpu_count()} cores "
              f"({psutil.virtual_memory().total / 2**30:.0f} GiB), "
              f"{'workshop server' if workshop else 'demo'}; sign-ups took {signup_seconds:.1f} s",
              flush=True)
        idle_before = psutil.virtual_memory().used
        if args.ahead:
            client = HubClient(url)
            client.signup(trainer, password, code=codes[trainer])
            if not client.login(trainer, password):
                raise RuntimeError("the trainer could not log in")
            began = time.monotonic()
            started = warm_up(HubAPI(url, client.token()), names)
            failed = [r for r in started if r.error]
            if failed:
                raise RuntimeError(f"warm-up failed for {failed[0].name}: {failed[0].error}")
            print(f"warm-up (servers started ahead): {time.monotonic() - began:.1f} s", flush=True)
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            durations = list(pool.map(lambda name: login_and_start(url, name, password), names))
        all_ready = time.monotonic() - began
        time.sleep(5)  # let the servers settle to idle
        sizes = unit_memory(workshop, names) if workshop else server_memory(hub.pid)
        used = psutil.virtual_memory().used - idle_before
        if hub is not None:
            children = psutil.Process(hub.pid).children(recursive=True)
        print(f"time to all ready:            {all_ready:.1f} s"
              f"{' (servers started ahead)' if args.ahead else ' (cold)'}")
        print(f"login-to-lab-ready median:    {statistics.median(durations):.1f} s")
        print(f"login-to-lab-ready p95:       {percentile(durations, 0.95):.1f} s")
        print(f"memory per idle server (PSS): {statistics.mean(sizes) / 2**20:.0f} MiB "
              f"over {len(sizes)} servers")
        print(f"machine memory per learner:   {used / n / 2**20:.0f} MiB (system-wide increase / N)")
    finally:
        if args.keep_log and log.exists():
            shutil.copy(log, args.keep_log)
        if workshop is not None:
            stop_workshop(workshop, names)
        else:
            stop_hub(hub, children, state)


def demo_state(n: int) -> tuple[Path, Course, list[str]]:
    """The demo's scratch state for ``n`` learners (on its roster) and its settings file."""
    state = Path(tempfile.mkdtemp(prefix="fj-hub-load-"))
    port = free_port()
    data = REPO / "data" / "classroom"
    course = demo_course(state, data if data.exists() else state / "no-data", port)
    # No course is released here, and the self-paced grader refuses to run without one: left
    # on, the hub would restart it every half minute, a load no real hub has.
    course = course.replace(extra={**course.extra, "self_paced_feedback": False})
    if data.exists():
        learner_data_view(data, Path(course.extra["learner_data_dir"]))
    else:
        Path(course.extra["learner_data_dir"]).mkdir(parents=True, exist_ok=True)
    # nbgrader's exchange, as the demo makes it: writable by all, sticky.
    course.exchange_dir.mkdir(parents=True, exist_ok=True)
    course.exchange_dir.chmod(0o1777)
    names = [f"learner{i:03d}" for i in range(n)]
    course.roster_file.write_text("\n".join(names) + "\n")
    write_settings(course, state / "settings.yaml")
    return state, course, names


if __name__ == "__main__":
    main()
