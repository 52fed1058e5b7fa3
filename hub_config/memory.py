"""Cgroups for autograde: the per-submission groups it runs each kernel in. The one place this
project writes to /sys/fs/cgroup. (Learners' servers get their limits from systemd, as units
started by hub_config/spawners.py.)

Autograde needs more than a memory maximum: a learner's kernel may start children, fork
without end or detach into a new session, and rlimits are per process. `make_cgroup` builds a
group with memory (resident memory of the whole tree, not address space), a process count and
a CPU quota, and `Cgroup.kill` ends everything in it, descendants that changed session
included, since no process can leave a cgroup it was placed in without root.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# Controllers a grading group uses; on v1 each is a hierarchy of its own.
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


def parse_size(text: str | int) -> int:
    """'2G' -> 2147483648 (JupyterHub's suffixes K, M, G, T; bytes without one)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text).upper())
    if not match:
        raise ValueError(f"not a memory size: {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def cgroup_version(root: Path = CGROUP_ROOT) -> int:
    """2 for a unified hierarchy with the memory controller, 1 for v1's memory hierarchy, 0 for
    neither."""
    unified = root / "cgroup.controllers"
    try:
        if unified.exists() and "memory" in unified.read_text().split():
            return 2
    except OSError:
        return 0
    return 1 if (root / "memory").is_dir() else 0


def _own_path(controller: str) -> str:
    """This process's cgroup in a v1 hierarchy ('' at the top), from /proc/self/cgroup."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _id, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path.strip("/")
    return ""


def _bases(root: Path, nest: bool) -> dict[str, Path] | None:
    """Where groups go, per controller (v1) or once (v2, key ''). With ``nest`` (v1 only), under
    this process's own cgroup, so that a container's or a trainer's limits still apply."""
    version = cgroup_version(root)
    if version == 2:
        return {"": root}
    if version == 1:
        found = {}
        for controller in CONTROLLERS:
            top = root / controller
            if top.is_dir():
                own = _own_path(controller) if nest else ""
                found[controller] = top / own if own and (top / own).is_dir() else top
        return found
    return None


@dataclass(frozen=True)
class Cgroup:
    """One cgroup: a folder per v1 controller (memory, pids, cpu as available), or one folder
    on v2. ``paths`` are what a process writes its pid to (cgroup.procs) to join."""

    paths: tuple[Path, ...]
    version: int

    def add(self, pid: int) -> None:
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        """Every process in the group or a group below it."""
        found: set[int] = set()
        for path in self.paths:
            for procs in [path / "cgroup.procs", *path.rglob("*/cgroup.procs")] if path.is_dir() else []:
                with contextlib.suppress(OSError, ValueError):
                    found.update(int(p) for p in procs.read_text().split())
        return found

    def kill(self, patience: float = 5.0) -> bool:
        """SIGKILL every process in the group (and below) until it is empty; True if it is.
        v2's cgroup.kill does it atomically; on v1, processes forked between two passes are
        found by the next one, and the pids limit bounds how many there can be."""
        deadline = time.monotonic() + patience
        while True:
            if self.version == 2:
                for path in self.paths:
                    with contextlib.suppress(OSError):
                        (path / "cgroup.kill").write_text("1")
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def remove(self) -> bool:
        """Kill what is in the group, then remove it and the groups below it; True if gone."""
        self.kill()
        gone = True
        for path in self.paths:
            for folder in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) \
                    if path.is_dir() else []:
                gone &= _rmdir(folder)
            gone &= _rmdir(path)
        return gone

    def limit_file(self, name: str) -> Path | None:
        for path in self.paths:
            if (path / name).exists():
                return path / name
        return None


def _rmdir(path: Path) -> bool:
    for _ in range(50):  # a killed process leaves its group a moment after it is reaped
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.02)
    return False


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


def _enable_v2(root: Path, folder: Path, controllers: tuple[str, ...]) -> None:
    """v2 hands controllers down one level at a time: enable them from the root to ``folder``."""
    available = set((root / "cgroup.controllers").read_text().split())
    wanted = " ".join(f"+{c}" for c in controllers if c in available)
    current = root
    for part in folder.relative_to(root).parts:
        with contextlib.suppress(OSError):
            (current / "cgroup.subtree_control").write_text(wanted)
        current = current / part
        current.mkdir(exist_ok=True)


def make_cgroup(name: str, *, memory_bytes: int = 0, pids_max: int = 0, cpus: float = 0.0,
                root: Path = CGROUP_ROOT, nest: bool = True) -> Cgroup | None:
    """Create (or reuse) cgroup ``name`` (a relative path such as 'fj-grading/run/x') with the
    limits given (0: none), or None when the machine gives no writable hierarchy or the
    limits cannot be set: the caller falls back to rlimits and says so."""
    bases = _bases(root, nest)
    if not bases:
        return None
    v2 = "" in bases
    try:
        if v2:
            folder = bases[""] / name
            _enable_v2(root, folder, CONTROLLERS)
            group = Cgroup((folder,), 2)
        else:
            for base in bases.values():
                (base / name).mkdir(parents=True, exist_ok=True)
            group = Cgroup(tuple(base / name for base in bases.values()), 1)
    except OSError:
        return None
    # (file, value, optional): an optional setting may be missing (no swap accounting here).
    settings: list[tuple[str, str, bool]] = []
    if memory_bytes:
        settings += [("memory.max", str(memory_bytes), False), ("memory.swap.max", "0", True)] if v2 else \
            [("memory.limit_in_bytes", str(memory_bytes), False),
             ("memory.memsw.limit_in_bytes", str(memory_bytes), True)]
    if pids_max:
        settings.append(("pids.max", str(pids_max), False))
    if cpus:
        quota = max(1000, int(cpus * CPU_PERIOD_US))
        settings += [("cpu.max", f"{quota} {CPU_PERIOD_US}", False)] if v2 else \
            [("cpu.cfs_period_us", str(CPU_PERIOD_US), False), ("cpu.cfs_quota_us", str(quota), False)]
    for file, value, optional in settings:
        target = group.limit_file(file)
        if target is None or not _write(target, value):
            if optional:
                continue
            group.remove()
            return None
    return group


def existing_cgroup(name: str, root: Path = CGROUP_ROOT, nest: bool = True) -> Cgroup | None:
    """The cgroup ``name`` if it exists (to kill or remove it), without creating anything."""
    bases = _bases(root, nest)
    if not bases:
        return None
    paths = tuple(base / name for base in bases.values() if (base / name).is_dir())
    return Cgroup(paths, 2 if "" in bases else 1) if paths else None
