"""Keeping each submission to itself while it runs, and leaving nothing behind when it ends.

- **One account per live submission.** With ``--sandbox-user a,b,...`` the accounts are a pool:
  a submission leases one for as long as it runs (an exclusive lock file per account, so two
  workers, or two grading runs, never share one), and before the lease is given back every
  process of that account is killed (survivors that changed session or double-forked included)
  and its files in world-writable folders (/tmp, /var/tmp, /dev/shm) are removed. A kernel
  therefore never shares a uid with another learner's kernel and cannot reach it through /proc.
- **A cgroup per submission** (``hub_config.memory``): memory of the whole process tree, number
  of processes, CPU; killed whole at the end. Without a writable hierarchy, the kernel gets
  rlimits instead (address space, RLIMIT_NPROC) and its process group is killed.
- **The grader's own process**: a scrubbed environment (re-exec without secret-looking
  variables), non-dumpable (so a kernel of the same uid cannot read its /proc files), and
  workers that die with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from grading.errors import GradingError

LEASE_DIR = Path("/run/fj-grading/leases")
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")
CGROUP_TOP = "fj-grading"
DEFAULT_PIDS = 512
SAME_ACCOUNT_OPT_IN = "FJ_GRADING_SAME_ACCOUNT"
SCRUBBED_MARK = "FJ_GRADING_SCRUBBED"
# Names of variables that must not reach a kernel, nor stay readable in /proc/<grader>/environ.
SECRET_NAME = re.compile(r"JUPYTERHUB_|JPY_|TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|CREDENTIAL|"
                         r"PRIVATE_KEY|COOKIE|CONFIGPROXY_AUTH", re.IGNORECASE)
HUB_MARKERS = ("JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN")

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


# --------------------------------------------------------------------------- the grader itself

def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_dumpable(dumpable: bool) -> bool:
    """Non-dumpable: /proc/<pid>/environ, mem and fd become root's, so a kernel running as the
    same account (grading without root) cannot read this process's secrets or memory."""
    return _prctl(PR_SET_DUMPABLE, 1 if dumpable else 0)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` when the parent dies, and go now if it already has."""
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, int(sig))
    if os.getppid() != parent:
        os._exit(1)


def secret_names(env: Mapping[str, str]) -> list[str]:
    return sorted(name for name in env if SECRET_NAME.search(name))


def same_account_refusal(env: Mapping[str, str], euid: int) -> str:
    """Why grading must not run here ('' if it may): without root on a hub, kernels would run as
    the trainer's own account and could read the trainer's server's environment."""
    if euid == 0 or env.get(SAME_ACCOUNT_OPT_IN) == "1":
        return ""
    if any(env.get(name) for name in HUB_MARKERS):
        return ("grading on a hub without root would run learners' code as your own account, "
                "which can read your server's tokens: run `sudo fj-autograde` (or set "
                f"{SAME_ACCOUNT_OPT_IN}=1 where every server runs as one user)")
    return ""


def reexec_without_secrets() -> None:
    """Start this command again (same pid) without secret-looking variables, so that
    /proc/<grader>/environ holds none; once only. Returns when there is nothing to remove."""
    names = secret_names(os.environ)
    if not names or os.environ.get(SCRUBBED_MARK):
        return
    env = {k: v for k, v in os.environ.items() if k not in names}
    env[SCRUBBED_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def scrub_environment() -> None:
    """Drop secret-looking variables from this process's environment (what children inherit;
    /proc/<pid>/environ keeps the start-up environment, hence ``reexec_without_secrets``)."""
    for name in secret_names(os.environ):
        del os.environ[name]


# --------------------------------------------------------------------------- accounts

def lease_dir() -> Path:
    """Root's folder of lease locks; refuses one another account could have prepared."""
    LEASE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in (LEASE_DIR.parent, LEASE_DIR):
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise GradingError(f"{folder} is not a folder only root can write to")
    return LEASE_DIR


class Lease:
    """An account held exclusively by one live submission (a ``flock`` on a file per account,
    released by the kernel if the holder dies, so a killed run leaves no stale lease)."""

    def __init__(self, account, fd: int) -> None:
        self.account = account
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def lease_account(accounts: Iterable, patience: float = 3600.0) -> Lease:
    """Take the first free account of the pool (waiting while all are busy: another grading
    run may hold them), after ending anything a previous holder left behind."""
    accounts = list(accounts)
    folder = lease_dir()
    deadline = time.monotonic() + patience
    while True:
        for account in accounts:
            fd = os.open(folder / f"uid-{account.uid}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EACCES):
                    continue
                raise
            clear_account(account.uid, account.gid)
            return Lease(account, fd)
        if time.monotonic() > deadline:
            raise GradingError("no sandbox account became free")
        time.sleep(0.2)


def processes_of(uids: Iterable[int]) -> list[int]:
    """Processes whose real, effective, saved or filesystem uid is one of ``uids``."""
    wanted = {str(u) for u in uids}
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="utf-8") as status:
                for line in status:
                    if line.startswith("Uid:"):
                        if wanted & set(line.split()[1:]):
                            found.append(int(entry.name))
                        break
        except OSError:
            continue
    return found


def kill_uid(uid: int, gid: int, patience: float = 5.0) -> bool:
    """Kill every process of ``uid`` (never root's); True once none is left. A child that
    becomes that account sends SIGKILL to -1, which the kernel delivers to every process of
    the uid in one sweep (a fork bomb cannot outrun it); /proc confirms."""
    if uid == 0:
        raise ValueError("refusing to kill every process of root")
    deadline = time.monotonic() + patience
    while processes_of([uid]):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        if time.monotonic() > deadline:
            for other in processes_of([uid]):
                with contextlib.suppress(OSError):
                    os.kill(other, signal.SIGKILL)
            return not processes_of([uid])
        time.sleep(0.01)
    return True


def remove_files_of(uid: int, roots: Iterable[str] = WORLD_WRITABLE) -> list[str]:
    """Remove what ``uid`` left in world-writable folders (never following links); returns
    what was removed."""
    removed = []
    for root in roots:
        if not os.path.isdir(root):
            continue
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if info.st_uid != uid:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                removed.append(path)
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in removed
                       and not os.path.islink(os.path.join(folder, d))]
    return removed


def clear_account(uid: int, gid: int) -> None:
    """Nothing of ``uid`` left running or lying in /tmp, /var/tmp, /dev/shm."""
    kill_uid(uid, gid)
    remove_files_of(uid)


# --------------------------------------------------------------------------- cgroups

def cgroups_available() -> bool:
    """Whether this process can create a grading cgroup (root and a writable hierarchy)."""
    if os.geteuid() != 0:
        return False
    from hub_config import memory

    probe = memory.make_cgroup(f"{CGROUP_TOP}/probe-{os.getpid()}", pids_max=8)
    if probe is None:
        return False
    probe.remove()
    return True


def submission_cgroup(run_id: str, memory_mb: int, pids_max: int, cpus: float):
    """A fresh cgroup for one submission, under the run's own group; None if not possible."""
    from hub_config import memory

    name = f"{CGROUP_TOP}/{run_id}/{os.getpid()}-{os.urandom(6).hex()}"
    return memory.make_cgroup(name, memory_bytes=memory_mb * 2**20 if memory_mb > 0 else 0,
                              pids_max=pids_max, cpus=cpus)


def remove_run_cgroups(run_id: str) -> bool:
    """Kill and remove everything under the run's group (True if none is left)."""
    from hub_config import memory

    group = memory.existing_cgroup(f"{CGROUP_TOP}/{run_id}")
    return group.remove() if group is not None else True


def remove_stale_cgroups() -> None:
    """Groups of earlier runs whose grader is gone (killed with SIGKILL, say)."""
    from hub_config import memory

    top = memory.existing_cgroup(CGROUP_TOP)
    if top is None:
        return
    for path in top.paths:
        for child in path.iterdir() if path.is_dir() else []:
            match = re.fullmatch(r"run-(\d+)-\w+", child.name)
            if match and not _alive(int(match.group(1))):
                remove_run_cgroups(child.name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_tree(processes: Iterable) -> None:
    """SIGKILL processes (pids, or psutil.Process objects recorded when they started, which
    cannot hit a reused pid) and their descendants, found before any is killed, and each one's
    process group; for kernels outside any cgroup."""
    import psutil

    victims: dict[int, psutil.Process] = {}
    for item in processes:
        with contextlib.suppress(psutil.Error):
            proc = item if isinstance(item, psutil.Process) else psutil.Process(item)
            if not proc.is_running():
                continue
            victims[proc.pid] = proc
            for child in proc.children(recursive=True):
                victims[child.pid] = child
    own_group = os.getpgrp()
    for pid, proc in victims.items():
        with contextlib.suppress(OSError, psutil.Error):
            if proc.is_running() and os.getpgid(pid) == pid != own_group:
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(list(victims.values()), timeout=3)
