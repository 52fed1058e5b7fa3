"""A workshop server inside this machine, for the tests and benchmarks: systemd as PID 1 of its
own PID and mount namespaces, in a cgroup subtree of its own, running the hub's own unit.

A workshop server runs the hub as a systemd service, and the hub starts each learner's server
as a systemd unit (SystemdSpawner) with its memory and CPU limits. Test machines and CI run
something else as PID 1, so the hub tests and `benchmarks/hub_load.py --workshop` boot systemd
themselves, as a container would:

- the PID namespace makes systemd PID 1 (it refuses to manage a system otherwise);
- the mount namespace gives it a /run of its own (its control socket and units' runtime
  folders) and cgroup file systems rooted at its subtree, so its units' limits are real kernel
  limits while nothing outside the subtree is touched;
- only the units written here exist (``SYSTEMD_UNIT_PATH``): no boot services run, in
  particular not systemd-tmpfiles, which would empty the shared /tmp.

Files, users and the network are the test machine's own, so the hub inside is reached on
127.0.0.1 and sees the accounts and folders the tests make. Nothing here is used by a real
workshop server, which is booted with systemd already.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil

from hub_config.course import Course, load
from hub_config.hub import free_port
from hub_config.spawners import UNIT_NAME_TEMPLATE
from hub_config.workshop.install import hub_unit

SYSTEMD = "/lib/systemd/systemd"
CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
# Targets and slices every service refers to through its default dependencies; empty here.
EMPTY_UNITS = ("sysinit.target", "basic.target", "shutdown.target", "sockets.target", "timers.target",
               "paths.target", "slices.target", "local-fs.target", "network.target",
               "network-online.target", "multi-user.target", "umount.target", "final.target",
               "system.slice")
HOST_TARGET = "fj-test-host.target"
# The hub's own unit, as the installer names it (hub_config/workshop/fj-training-hub.service).
HUB_UNIT = "fj-training-hub.service"

# Stage 1 (new PID and mount namespaces): move into the cgroup subtree, then a cgroup namespace.
STAGE_ONE = """#!/bin/sh
set -e
for h in $(awk '$3=="cgroup" || $3=="cgroup2" {print $2}' /proc/self/mounts); do
  mkdir -p "$h/$FJ_CGROUP"
  if [ -f "$h/cpuset.cpus" ]; then
    cat "$h/cpuset.cpus" > "$h/$FJ_CGROUP/cpuset.cpus"
    cat "$h/cpuset.mems" > "$h/$FJ_CGROUP/cpuset.mems"
  fi
  echo $$ > "$h/$FJ_CGROUP/cgroup.procs"
done
exec unshare --cgroup "$FJ_STAGE_TWO"
"""
# Stage 2: cgroup file systems mounted afresh (rooted at the subtree), a private /run, systemd.
STAGE_TWO = """#!/bin/sh
set -e
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
for c in $FJ_V1_CONTROLLERS; do
  mkdir /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mkdir /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
mount -t tmpfs -o mode=755 tmpfs /run
exec env -i container=fj-test SYSTEMD_UNIT_PATH="$FJ_UNITS" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  "$FJ_SYSTEMD" --system --unit=$FJ_TARGET
"""


def available() -> str | None:
    """Why this machine cannot boot such a host, or None if it can."""
    if os.geteuid() != 0:
        return "booting systemd in namespaces needs root"
    for tool in ("unshare", "nsenter", "systemctl", "systemd-run"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian's systemd and util-linux packages)"
    if not Path(SYSTEMD).exists():
        return f"{SYSTEMD} is missing (Debian's systemd package)"
    if not all((CGROUP_ROOT / c).is_dir() for c in ("memory", "cpu", "pids")) \
            and not (CGROUP_ROOT / "cgroup.controllers").exists():
        return "no cgroup hierarchy to give systemd"
    return None


class SystemdHost:
    """systemd booted in namespaces; ``run`` and ``popen`` run commands inside it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.cgroup = f"fj-systemd-{secrets.token_hex(3)}"
        self.process: subprocess.Popen | None = None
        self.pid = 0  # systemd's PID as the test machine sees it

    def _write_units(self) -> Path:
        units = self.base / "units"
        units.mkdir(parents=True, exist_ok=True)
        for name in EMPTY_UNITS:
            (units / name).write_text(f"[Unit]\nDescription={name} (empty on the test host)\n"
                                      "DefaultDependencies=no\n")
        (units / HOST_TARGET).write_text("[Unit]\nDescription=The hub tests' systemd host\n")
        return units

    def start(self, timeout: float = 30) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        units = self._write_units()
        stage_one, stage_two = self.base / "stage-one.sh", self.base / "stage-two.sh"
        stage_one.write_text(STAGE_ONE)
        stage_two.write_text(STAGE_TWO)
        for script in (stage_one, stage_two):
            script.chmod(0o700)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "FJ_CGROUP": self.cgroup,
               "FJ_STAGE_TWO": str(stage_two), "FJ_UNITS": str(units), "FJ_SYSTEMD": SYSTEMD,
               "FJ_TARGET": HOST_TARGET, "FJ_V1_CONTROLLERS": " ".join(self._v1_controllers())}
        log = open(self.base / "systemd.log", "ab")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "--mount-proc",
             str(stage_one)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd did not boot: {(self.base / 'systemd.log').read_text()[-2000:]}")
            if not self.pid:
                self.pid = self._systemd_pid()
            if self.pid and self.run(["systemctl", "is-active", HOST_TARGET]).returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"systemd did not reach {HOST_TARGET} in {timeout} s")

    @staticmethod
    def _v1_controllers() -> list[str]:
        return [c for c in V1_CONTROLLERS if (CGROUP_ROOT / c).is_dir()]

    def _systemd_pid(self) -> int:
        try:
            for child in psutil.Process(self.process.pid).children():
                if child.exe() == os.path.realpath(SYSTEMD):
                    return child.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied, FileNotFoundError):
            pass
        return 0

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the host (its PID and mount namespaces)."""
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "--", *argv]

    def run(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(argv), **kwargs)  # type: ignore[call-overload]

    def unit_property(self, unit: str, name: str) -> str:
        """One property of a unit, as ``systemctl show`` gives it."""
        return self.run(["systemctl", "show", unit, "--value", "-p", name]).stdout.strip()

    def cgroup_file(self, controller: str, unit_cgroup: str, name: str) -> Path:
        """A unit's cgroup file as the test machine sees it (``unit_cgroup`` from ControlGroup)."""
        return CGROUP_ROOT / controller / self.cgroup / unit_cgroup.lstrip("/") / name

    def stop(self) -> None:
        """Kill everything in the host (PID 1 takes its namespace with it) and its cgroups."""
        if self.process is not None and self.process.poll() is None:
            if self.pid:
                os.kill(self.pid, signal.SIGKILL)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for controller in [*self._v1_controllers(), "systemd", "unified"]:
            top = CGROUP_ROOT / controller / self.cgroup
            for _ in range(50):
                if not top.exists():
                    break
                for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    _rmdir(folder)
                if _rmdir(top):
                    break
                time.sleep(0.1)


    def start_hub(self, course: Course, settings: Path, log: Path) -> None:
        """The hub as the installer's unit (fj-training-hub.service, for this clone), with a
        drop-in naming this run's settings and log, as a trainer's own drop-in would."""
        units = self.base / "units"
        (units / HUB_UNIT).write_text(hub_unit(course))
        drop_in = units / f"{HUB_UNIT}.d"
        drop_in.mkdir(exist_ok=True)
        (drop_in / "run.conf").write_text(
            f"[Service]\nEnvironment=FJ_HUB_SETTINGS={settings}\n"
            f"StandardOutput=append:{log}\nStandardError=append:{log}\n")
        for command in (["systemctl", "daemon-reload"], ["systemctl", "start", HUB_UNIT]):
            result = self.run(command)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")

    def stop_hub(self) -> None:
        """Stop the hub's service (it stops every server first, as it does on the machine)."""
        if self.pid:
            self.run(["systemctl", "stop", HUB_UNIT], timeout=120)

    def running_server_units(self) -> list[str]:
        """The learners' servers' units that are running now."""
        pattern = UNIT_NAME_TEMPLATE.format(USERNAME="*") + ".service"
        listed = self.run(["systemctl", "list-units", pattern, "--state=active", "--no-legend",
                           "--plain"]).stdout
        return [line.split()[0] for line in listed.splitlines() if line.strip()]

    def unit_pids(self, unit: str) -> list[int]:
        """The processes of a unit, as this machine numbers them."""
        group = self.unit_property(unit, "ControlGroup")
        procs = self.cgroup_file("memory", group, "cgroup.procs")
        return [int(pid) for pid in procs.read_text().split()] if procs.exists() else []


def scratch_course(base: Path, prefix: str, trainers: list[str], **settings: object) -> Course:
    """A workshop course with every folder under ``base``, its groups and grading account named
    from ``prefix``, and free ports, so that several can share a machine; ``settings`` add to or
    change course.yaml's."""
    state, port = base / "state", free_port()
    return load(
        path=os.devnull, state_dir=state, data_dir=state / "data", exchange_dir=state / "exchange",
        course_dir=state / "course", home_dir=base / "home", learner_group=f"{prefix}-learners",
        trainer_group=f"{prefix}-trainers", grader_user=f"{prefix}-grader", trainers=trainers,
        roster_file=state / "roster.txt", bind_url=f"http://127.0.0.1:{port}", hub_port=free_port(),
        proxy_api_port=free_port(), book_dir=str(base / "book"), **settings)


def server_unit(name: str) -> str:
    """The systemd unit of hub user ``name``'s server."""
    return UNIT_NAME_TEMPLATE.format(USERNAME=name) + ".service"


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
