"""The workshop installer, run twice for real (as root) into a scratch folder: groups, grading
and trainer accounts, dataset permissions, exchange, course folder, roster, course outline,
fj-autograde."""

from __future__ import annotations

import grp
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hub_helpers import make_dataset

from hub_config import accounts
from hub_config.course import REPO

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_installer_is_idempotent_and_sets_permissions() -> None:
    if os.geteuid() != 0:
        pytest.skip("the installer creates unix accounts: run the tests as root")
    prefix = "fj" + secrets.token_hex(2)
    base = Path(tempfile.mkdtemp(prefix="fj-install-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "state"
    settings = base / "etc" / "course.yaml"
    settings.parent.mkdir()
    settings.write_text(yaml.safe_dump({
        "state_dir": str(state), "data_dir": str(state / "data"), "exchange_dir": str(state / "exchange"),
        "course_dir": str(state / "course"), "home_dir": str(base / "home"),
        "roster_file": str(state / "roster.txt"), "learner_group": f"{prefix}-learners",
        "trainer_group": f"{prefix}-trainers", "grader_user": f"{prefix}-grader"}))
    make_dataset(base / "dataset")
    clone = base / "clone"  # the installer closes parts of its clone: never the real one here
    for folder in ("notebooks", ".git", "data", "build", "synthetic_data"):
        (clone / folder).mkdir(parents=True)
    (base / "roster.txt").write_text(f"{prefix}ann\n")
    cmd = [sys.executable, "-m", "hub_config.workshop.install", "--settings", str(settings),
           "--trainer", f"{prefix}tr", "--roster", str(base / "roster.txt"), "--data", str(base / "dataset"),
           "--no-systemd", "--bin-dir", str(base / "bin"), "--clone", str(clone)]
    try:
        for _ in range(2):
            subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True)
        written = yaml.safe_load(settings.read_text())
        assert written["trainers"] == [f"{prefix}tr"] and Path(written["python"]).exists()
        assert mode(state / "data" / "answer_key") == 0o750
        assert grp.getgrgid((state / "data" / "answer_key").stat().st_gid).gr_name == f"{prefix}-trainers"
        assert mode(state / "data" / "reference") == 0o755
        assert mode(state / "exchange") == 0o1777
        assert mode(state / "course") == 0o2770
        assert mode(state / "hub") == 0o700
        assert mode(base / "home" / f"{prefix}tr") == 0o700
        assert (base / "home" / f"{prefix}tr" / "course").resolve() == (state / "course").resolve()
        assert (state / "roster.txt").read_text().strip() == f"{prefix}ann"
        assert mode(base / "bin" / "fj-autograde") == 0o700
        # The course home's outline of the clone's notebooks/ (empty here), readable by learners.
        assert mode(state / "course_outline.json") == 0o644
        assert yaml.safe_load((state / "course_outline.json").read_text())["modules"] == []
        assert {name: mode(clone / name) for name in ("notebooks", ".git", "data", "build",
                                                      "synthetic_data")} == {
            "notebooks": 0o750, ".git": 0o700, "data": 0o750, "build": 0o700, "synthetic_data": 0o755}
        assert grp.getgrgid((clone / "notebooks").stat().st_gid).gr_name == f"{prefix}-trainers"
    finally:
        for name in (f"{prefix}tr", f"{prefix}-grader"):
            accounts.delete_user(name)
        for group in (f"{prefix}-learners", f"{prefix}-trainers", f"{prefix}-grader"):
            subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_the_installer_refuses_a_machine_without_systemd(tmp_path: Path) -> None:
    """Learners' servers are systemd units: on a machine without systemd the installer says so in
    one line and changes nothing. An empty /run of its own (a mount namespace) makes any machine
    look so, a systemd one included."""
    if os.geteuid() != 0:
        pytest.skip("the installer and a mount namespace need root")
    settings = tmp_path / "etc" / "course.yaml"
    cmd = [sys.executable, "-m", "hub_config.workshop.install", "--settings", str(settings),
           "--trainer", "alice", "--data", str(tmp_path / "dataset"), "--bin-dir", str(tmp_path / "bin")]
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             'mount -t tmpfs tmpfs /run && exec "$@"', "install", *cmd],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], "one line"
    assert "cannot be a workshop server" in result.stderr and "systemd" in result.stderr
    assert not settings.exists() and not (tmp_path / "bin").exists(), "nothing was changed"


def test_deleting_an_account_stops_what_it_runs(tmp_path: Path) -> None:
    # userdel refuses an account with a live process, which left grading accounts behind.
    if os.geteuid() != 0:
        pytest.skip("creating unix accounts needs root")
    name = "fj" + secrets.token_hex(3) + "del"
    accounts.ensure_group(name)
    accounts.ensure_user(name, tmp_path, name, system=True, shell="/usr/sbin/nologin")
    mark = str(10**6 + secrets.randbelow(10**6))
    running = subprocess.Popen(["runuser", "-u", name, "--", "sleep", mark])
    try:
        accounts.delete_user(name)
        assert not accounts.user_exists(name)
        assert running.wait(timeout=10) != 0, "its process was stopped"
    finally:
        running.kill()
        subprocess.run(["groupdel", name], capture_output=True)
