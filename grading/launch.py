"""``python -m grading.launch [limits] [--uid U --gid G] [--home DIR] -- KERNEL COMMAND``

Started (as the grading account, or root) in place of a kernel: applies resource limits,
switches to the sandbox account when asked, gives the kernel a private HOME and an environment
without the grader's secrets, then becomes the kernel (exec). It imports nothing heavy, since
it runs once per submission.
"""

from __future__ import annotations

import argparse
import os
import resource

DEFAULT_MEMORY_MB = 8192
DEFAULT_FILE_MB = 200
# Variables a kernel must not inherit: hub tokens and anything that looks like a secret.
SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "JUPYTERHUB_", "JPY_")


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard if hard != resource.RLIM_INFINITY else value))


def main(argv: list[str] | None = None) -> None:
    """Apply limits, switch account, set a private HOME, then become the kernel (exec)."""
    parser = argparse.ArgumentParser(prog="python -m grading.launch",
                                     description="Start a kernel with limits, as another account.")
    parser.add_argument("--uid", type=int, default=-1)
    parser.add_argument("--gid", type=int, default=-1)
    parser.add_argument("--home", default="")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    parser.add_argument("--file-mb", type=int, default=DEFAULT_FILE_MB)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    if args.memory_mb > 0:
        _limit(resource.RLIMIT_AS, args.memory_mb * 2**20)
    if args.file_mb > 0:
        _limit(resource.RLIMIT_FSIZE, args.file_mb * 2**20)
    _limit(resource.RLIMIT_CORE, 0)
    if args.uid >= 0:
        os.setgroups([])
        os.setgid(args.gid)
        os.setuid(args.uid)
        _limit(resource.RLIMIT_NPROC, 512)
    for name in list(os.environ):
        if any(marker in name.upper() for marker in SECRET_MARKERS):
            del os.environ[name]
    if args.home:
        os.environ["HOME"] = args.home
        os.environ["IPYTHONDIR"] = os.path.join(args.home, ".ipython")
        os.environ["MPLCONFIGDIR"] = os.path.join(args.home, ".matplotlib")
        os.environ["XDG_CACHE_HOME"] = os.path.join(args.home, ".cache")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
