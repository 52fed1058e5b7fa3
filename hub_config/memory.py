"""Per-learner memory limits for LocalProcessSpawner, through cgroups where the machine allows.

LocalProcessSpawner only passes `mem_limit` to the server as MEM_LIMIT (shown by resource
monitors); it enforces nothing. A hub running as root on a machine with a writable cgroup
hierarchy (v2 unified, or v1's memory controller) can enforce it by moving the server's process
into a cgroup of its own with a memory maximum. Containers without a writable hierarchy get no
enforcement, and the hub logs so.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str | int) -> int:
    """'2G' -> 2147483648 (JupyterHub's suffixes K, M, G, T; bytes without one)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text).upper())
    if not match:
        raise ValueError(f"not a memory size: {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def cgroup_parent(root: Path = CGROUP_ROOT) -> tuple[Path, str] | None:
    """Where per-learner cgroups go and the limit file's name, or None if not writable."""
    unified = root / "cgroup.controllers"
    if unified.exists() and "memory" in unified.read_text().split():
        parent, limit_file = root / "fj-training", "memory.max"
    elif (root / "memory").is_dir():
        parent, limit_file = root / "memory" / "fj-training", "memory.limit_in_bytes"
    else:
        return None
    try:
        parent.mkdir(exist_ok=True)
        if limit_file == "memory.max":
            (root / "cgroup.subtree_control").write_text("+memory")
    except OSError:
        return None
    return parent, limit_file


def limit_process(pid: int, name: str, limit_bytes: int, root: Path = CGROUP_ROOT) -> Path | None:
    """Move `pid` into cgroup `name` capped at `limit_bytes`; return the cgroup or None."""
    found = cgroup_parent(root)
    if found is None:
        return None
    parent, limit_file = found
    group = parent / name
    try:
        group.mkdir(exist_ok=True)
        (group / limit_file).write_text(str(limit_bytes))
        (group / "cgroup.procs").write_text(str(pid))
    except OSError:
        return None
    return group


def remove_group(name: str, root: Path = CGROUP_ROOT) -> None:
    """Remove a learner's cgroup once their server has stopped (it must hold no process)."""
    found = cgroup_parent(root)
    if found is None:
        return
    group = found[0] / name
    with contextlib.suppress(OSError):
        group.rmdir()
