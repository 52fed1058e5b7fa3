"""A real workshop hub for the integration tests: JupyterHub, its proxy, unix users, nbgrader.

The hub runs hub_config/workshop/jupyterhub_config.py exactly as a workshop server does, as a
systemd service starting each server as a systemd unit, on systemd booted for the tests in
namespaces of their own (hub_config/workshop/systemd_host.py). Every path lives in a fresh
folder under /tmp, every port is free at start, and every unix account and group has a random
prefix, so that several runs can share a machine. The accounts are removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_helpers import Hub, make_dataset  # noqa: E402

from hub_config import accounts, runtime
from hub_config.workshop import install, systemd_host


@pytest.fixture(scope="session")
def shared_runtime() -> Iterator[Path]:
    """The interpreter learners' servers run (built once per test session)."""
    base = Path(tempfile.mkdtemp(prefix="fj-runtime-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield runtime.ensure_runtime(base / "runtime")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def hub(artifacts_dir: Path, shared_runtime: Path) -> Iterator[Hub]:
    """A workshop hub, as root, with its own groups, grading account, trainer and learners."""
    if os.geteuid() != 0:
        pytest.skip("the workshop hub creates unix users: run the tests as root")
    if why := systemd_host.available():
        pytest.fail(f"the workshop hub needs systemd, and the tests cannot boot it here: {why}")
    prefix = "fj" + secrets.token_hex(2)
    base = Path(tempfile.mkdtemp(prefix="fj-hub-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "state"
    trainer = f"{prefix}trainer"
    # A second trainer name that nobody signs up at start: the sign-up attacks aim at it.
    spare_trainer = f"{prefix}trainer2"
    learners = [f"{prefix}l{i}" for i in range(1, 4)]
    course = systemd_host.scratch_course(base, prefix, [trainer, spare_trainer], mem_limit="1G",
                                         python=str(shared_runtime))
    (base / "home").mkdir(parents=True)
    (base / "home").chmod(0o755)
    state.mkdir()
    make_dataset(course.data_dir)
    (base / "book").mkdir()
    (base / "book" / "index.html").write_text("<h1>Family justice data course book</h1>")
    # The first learner is on the roster (approved at sign-up with the code the installer issues
    # for it); the others wait for the trainer.
    course.roster_file.write_text(f"# cohort\n{learners[0]}\n")
    settings = state / "course.yaml"
    install.write_settings(settings, course)
    accounts.prepare_shared_folders(course)
    # What the installer does: a code for each trainer (shown once) and each roster name.
    trainer_codes, roster_codes = install.issue_signup_codes(course, base / "signup-codes.csv", roster=True)
    hub = Hub(base=base, course=course, settings=settings, url=course.extra["bind_url"],
              python=shared_runtime, trainer=trainer, learners=learners,
              log=artifacts_dir / "hub_config-workshop-hub.log", spare_trainer=spare_trainer,
              codes={**roster_codes, **trainer_codes})
    hub.log.write_text("")
    hub.passwords = {name: secrets.token_urlsafe(12) for name in [trainer, *learners]}
    hub.host = systemd_host.SystemdHost(base / "systemd")
    try:
        hub.host.start()
        hub.start()
        yield hub
    finally:
        hub.stop()
        hub.host.stop()
        accounts.remove_course_accounts(course, [trainer, spare_trainer, *learners])
        shutil.rmtree(base, ignore_errors=True)


