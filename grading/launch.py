"""``python -m grading.launch [limits] [--cgroup DIR ...] [--uid U --gid G] [--home DIR]
[--tmpdir DIR] -- KERNEL COMMAND``

Started (as the grading account, or root) in place of a kernel. In this order, since each step
needs the privileges the next one gives up: joins the submission's cgroup (so the kernel and
everything it starts are bounded and killed together), applies rlimits, switches to the sandbox
account, asks to die with the grading worker, replaces the environment by an allow-list (no
secret can be inherited, whatever its name), then becomes the kernel (exec). It imports
nothing heavy, since it runs once per notebook.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys

from grading.containment import die_with_parent

DEFAULT_MEMORY_MB = 8192
DEFAULT_FILE_MB = 200
DEFAULT_NPROC = 512
# The only variables a kernel inherits (HOME, TMPDIR and the Jupyter folders are set here).
ALLOWED = {"PATH", "LANG", "LANGUAGE", "TZ", "TERM", "HOME", "TMPDIR", "USER", "LOGNAME", "SHELL",
           "FJ_DATA_DIR", "PYDEVD_DISABLE_FILE_VALIDATION", "PYTHONUNBUFFERED", "PYTHONIOENCODING",
           "JUPYTER_PLATFORM_DIRS", "MPLBACKEND"}
ALLOWED_PREFIXES = ("LC_",)


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard if hard != resource.RLIM_INFINITY else value))


def kernel_environment(environ: dict[str, str], home: str = "", tmpdir: str = "") -> dict[str, str]:
    """The allow-listed environment, with the grader's HOME, TMPDIR and Jupyter folders."""
    env = {k: v for k, v in environ.items() if k in ALLOWED or k.startswith(ALLOWED_PREFIXES)}
    if home:
        env.update(HOME=home, IPYTHONDIR=os.path.join(home, ".ipython"),
                   MPLCONFIGDIR=os.path.join(home, ".matplotlib"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"),
                   JUPYTER_RUNTIME_DIR=os.path.join(home, ".jupyter-runtime"))
    if tmpdir:
        env["TMPDIR"] = tmpdir
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def _own_process_count(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def main(argv: list[str] | None = None) -> None:
    """Join the cgroup, apply limits, switch account, then become the kernel (exec)."""
    parser = argparse.ArgumentParser(prog="python -m grading.launch",
                                     description="Start a kernel with limits, as another account.")
    parser.add_argument("--uid", type=int, default=-1)
    parser.add_argument("--gid", type=int, default=-1)
    parser.add_argument("--home", default="")
    parser.add_argument("--tmpdir", default="")
    parser.add_argument("--cgroup", action="append", default=[],
                        help="a cgroup folder to join (one per v1 controller)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    parser.add_argument("--file-mb", type=int, default=DEFAULT_FILE_MB)
    parser.add_argument("--nproc", type=int, default=DEFAULT_NPROC)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    parent = os.getppid()
    for folder in args.cgroup:
        # Before anything else, so that nothing the kernel ever starts is outside the group.
        try:
            with open(os.path.join(folder, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
        except OSError as err:
            sys.exit(f"grading.launch: cannot join the cgroup {folder}: {err}")
    if args.memory_mb > 0 and not args.cgroup:
        # Only without a cgroup: address space overstates memory (the honest solution of an
        # assignment can map far more than it uses), and children escape it anyway.
        _limit(resource.RLIMIT_AS, args.memory_mb * 2**20)
    if args.file_mb > 0:
        _limit(resource.RLIMIT_FSIZE, args.file_mb * 2**20)
    _limit(resource.RLIMIT_CORE, 0)
    if args.uid >= 0:
        os.setgroups([])
        os.setgid(args.gid)
        os.setuid(args.uid)
    if args.nproc > 0 and os.geteuid() != 0:
        # Counted per uid: a leased sandbox account runs nothing else; without one, leave room
        # for what the grading account already runs. Root ignores it (the cgroup holds then).
        uid = os.getuid()
        _limit(resource.RLIMIT_NPROC, args.nproc + (0 if args.uid >= 0 else _own_process_count(uid)))
    # After the switch of account, which clears it: the kernel dies with the grading worker.
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit("grading.launch: the grading worker is gone")
    env = kernel_environment(dict(os.environ), args.home, args.tmpdir)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
