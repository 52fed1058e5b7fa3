"""`python -m hub_config.demo`: the local demo hub that `make demo` ends with.

Releases the course found under notebooks/, starts JupyterHub (with its proxy, the book and the
idle culler) on http://127.0.0.1:8000, creates a trainer and a few learners, prints their
passwords and waits. Ctrl-C stops the hub, which stops everything it started. State lives under
build/demo/ and survives restarts (same accounts, same passwords, same work).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import yaml

from hub_config import course_ops, signup_codes
from hub_config.course import REPO, Course, load
from hub_config.hubclient import HubClient, wait_for_hub

DEMO_CONFIG = REPO / "hub_config" / "demo" / "jupyterhub_config.py"
LEARNERS = ("learner1", "learner2", "learner3")
TRAINER_NAME = "trainer"


def demo_course(state_dir: Path, data_dir: Path, port: int) -> Course:
    """The demo's settings: course.yaml with every path under `state_dir`."""
    return load(
        path=os.devnull,
        state_dir=state_dir, data_dir=data_dir, exchange_dir=state_dir / "exchange",
        course_dir=state_dir / "course", home_dir=state_dir / "homes",
        roster_file=state_dir / "roster.txt", trainers=[TRAINER_NAME],
        bind_url=f"http://127.0.0.1:{port}", learner_data_dir=str(state_dir / "learner-data"),
        # A learner on their own gets feedback within a minute of submitting (hub.configure_self_paced).
        self_paced_feedback=True,
    )


def learner_data_view(data_dir: Path, view: Path) -> Path:
    """A read-only copy of the dataset without answer_key/, refreshed when the dataset changes.

    Every demo server runs as the same user, so the copy's permissions (0444 files, 0555
    folders) are what keeps learners' notebooks from changing the data by accident.
    """
    manifest = data_dir / "manifest.json"
    stamp = view / "manifest.json"
    if view.exists() and stamp.exists() and manifest.exists() and stamp.read_bytes() == manifest.read_bytes():
        return view
    if view.exists():
        for root, dirs, _files in os.walk(view):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        view.chmod(0o755)
        shutil.rmtree(view)
    shutil.copytree(data_dir, view,
                    ignore=lambda folder, names: ["answer_key"] if Path(folder) == data_dir else [])
    for root, dirs, files in os.walk(view, topdown=False):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o555)
    view.chmod(0o555)
    return view


def write_settings(course: Course, path: Path) -> None:
    settings = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in vars(course).items() if k != "extra"}
    settings.update(course.extra)
    path.write_text(yaml.safe_dump(settings))


def credentials(path: Path) -> dict[str, str]:
    """The demo's accounts and passwords, kept in a 0600 file so restarts reuse them."""
    if path.exists():
        return yaml.safe_load(path.read_text())
    accounts = {name: secrets.token_urlsafe(9) for name in (TRAINER_NAME, *LEARNERS)}
    path.write_text(yaml.safe_dump(accounts))
    path.chmod(0o600)
    return accounts


def main(argv: list[str] | None = None) -> int:
    """Set up and run the demo hub in the foreground."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--state-dir", type=Path, default=REPO / "build" / "demo")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "classroom")
    parser.add_argument("--notebooks", type=Path, default=course_ops.NOTEBOOKS)
    parser.add_argument("--book-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    state = args.state_dir.absolute()
    state.mkdir(parents=True, exist_ok=True)
    course = demo_course(state, args.data_dir.absolute(), args.port)
    if args.book_dir:
        course = course.replace(extra={**course.extra, "book_dir": str(args.book_dir.absolute())})
    course = course.replace(extra={**course.extra, "notebooks": str(args.notebooks.absolute())})
    learner_data_view(course.data_dir, Path(course.extra["learner_data_dir"]))
    # nbgrader's exchange: writable by all, sticky, as nbgrader expects.
    course.exchange_dir.mkdir(parents=True, exist_ok=True)
    course.exchange_dir.chmod(0o1777)
    course.roster_file.write_text("\n".join(LEARNERS) + "\n")
    trainer_home = course.home_dir / TRAINER_NAME
    trainer_home.mkdir(parents=True, exist_ok=True)
    if not (trainer_home / "course").is_symlink():
        (trainer_home / "course").symlink_to(course.course_dir)
    settings = state / "settings.yaml"
    write_settings(course, settings)

    released = course_ops.release(course, Path(sys.executable), args.notebooks)
    url = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "FJ_HUB_SETTINGS": str(settings),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = open(state / "jupyterhub.log", "a")  # noqa: SIM115 (open for the hub's lifetime)
    hub = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(DEMO_CONFIG)],
                           cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True, preexec_fn=default_sigint)

    def stop(*_: object) -> None:
        if hub.poll() is None:
            children.extend(descendants(hub.pid))
            hub.send_signal(signal.SIGTERM)

    children: list[psutil.Process] = []

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        wait_for_hub(url, timeout=90)
        accounts = credentials(state / "credentials.yaml")
        # The demo is its own installer: a one-time sign-up code per account makes it ready at
        # once (without one, a trainer's name cannot be signed up and a learner's waits).
        codes = signup_codes.SignupCodes(signup_codes.codes_file(course.state_dir / "hub"))
        for name, password in accounts.items():
            client = HubClient(url)
            if not client.login(name, password):
                message = client.signup(name, password, code=codes.issue([name], reissue=True)[name])
                if not HubClient(url).login(name, password):
                    raise RuntimeError(f"could not create the demo account {name}: {message}")
        print(banner(url, accounts, released, course), flush=True)
    except Exception:
        stop()
        hub.wait(timeout=30)
        reap(children)
        print(f"The demo hub did not start; see {state / 'jupyterhub.log'}", file=sys.stderr)
        raise
    code = hub.wait()
    reap(children)
    print("The demo hub has stopped.", flush=True)
    return 0 if code in (0, -signal.SIGTERM) else code


def default_sigint() -> None:
    """Give the hub (and so its services) the default Ctrl-C behaviour even when the demo was
    started in the background, where SIGINT is inherited as ignored: the hub stops its services
    with SIGINT first and would otherwise wait for its timeouts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def descendants(pid: int) -> list[psutil.Process]:
    """Everything the hub started (proxy, services, servers), even in their own sessions."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def reap(processes: list[psutil.Process], timeout: float = 10) -> None:
    """Stop whatever the hub left behind (it normally stops them all itself)."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def banner(url: str, accounts: dict[str, str], released: list[str], course: Course) -> str:
    lines = ["", f"The course hub is running at {url}/", "", "Accounts (name / password):"]
    for name, password in accounts.items():
        role = "trainer (formgrader, admin)" if name in course.trainers else "learner"
        lines.append(f"  {name:<10} {password:<16} {role}")
    lines += [
        "",
        f"Assignments released: {', '.join(released) or 'none yet'}",
        "Servers open on the course home (/user/NAME/course): fetch and open each assignment there;",
        "JupyterLab, where Nbgrader > Assignment List submits, is a link away.",
        f"The course book:  {url}/services/book/",
        f"Course data:      {course.data_dir} (learners get a read-only copy without answer_key/)",
        f"Everything else:  {course.state_dir}",
        "",
        "Press Ctrl-C to stop the hub and everything it started.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
