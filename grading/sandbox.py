"""Where a submission's code runs, and as whom.

Each submission runs in a scratch folder of its own that holds only that submission's files
(never the course folder, other learners' work or the gradebook). The kernel is started through
``grading.launch`` (``python -m grading.launch ... -- <kernel command>``), which joins the
submission's cgroup, applies resource limits and, when grading runs as root with
``--sandbox-user``, drops to the account the submission leased (``grading.containment``) before
the kernel starts, so that the operating system itself refuses any attempt to read other
learners' submissions (the course folder is made unreadable to others) or another kernel.

Without root, the kernel runs as the account that grades; its working folder is still the
scratch copy, but nothing stops code that knows an absolute path: see grading/README.md.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, Unicode

from grading.errors import GradingError

DEFAULT_MEMORY_MB = 8192
DEFAULT_FILE_MB = 200
MAX_COPIED_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Account:
    """An unprivileged unix account kernels run as."""

    name: str
    uid: int
    gid: int


def resolve_accounts(names: list[str]) -> list[Account]:
    """Look the ``--sandbox-user`` accounts up; only root can switch to them."""
    if not names:
        return []
    if os.geteuid() != 0:
        raise GradingError("--sandbox-user needs grading to run as root (it switches each kernel "
                           "to that account)")
    import pwd  # here, not at the top: selfcheck imports this module on Windows too

    accounts = []
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise GradingError(f"--sandbox-user: no such account {name!r}") from None
        if entry.pw_uid == 0:
            raise GradingError(f"--sandbox-user: {name!r} is root; give an unprivileged account")
        if any(a.uid == entry.pw_uid for a in accounts):
            raise GradingError(f"--sandbox-user: {name!r} has the uid of another account given; "
                               "each account must have a uid of its own")
        accounts.append(Account(name, entry.pw_uid, entry.pw_gid))
    return accounts


def others_can_run(path: str) -> bool:
    """Whether an account other than the owner can run this interpreter (every folder above it
    searchable by others): a pyenv under a 0700 /root, for instance, is not."""
    real = Path(os.path.realpath(path))
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [*real.parents, real])


def kernel_interpreter(accounts: list[Account], given: str) -> str:
    """The interpreter kernels run: ``--kernel-python`` or this one, which a sandbox account
    must be able to run."""
    python = given or sys.executable
    if accounts and not others_can_run(python):
        raise GradingError(f"the sandbox account cannot run {python} (a folder above it is closed to "
                           "other users): pass --kernel-python, for example the hub's shared "
                           "runtime (python -m hub_config.runtime DEST prints one)")
    return python


def answer_key_readers(data_dir: Path, accounts: list[Account]) -> list[str]:
    """The sandbox accounts that could open the answer key (``answer_key/`` of the dataset):
    hidden tests read it in the trusted replay, as this process; a learner's kernel, running
    as one of these accounts, must not be able to."""
    key = Path(data_dir) / "answer_key"
    try:
        info = key.stat()
    except OSError:
        return []
    mode = stat.S_IMODE(info.st_mode)
    readers = []
    for account in accounts:
        try:
            groups = set(os.getgrouplist(account.name, account.gid))
        except OSError:
            groups = {account.gid}
        as_owner = info.st_uid == account.uid and mode & 0o500 == 0o500
        as_group = info.st_gid in groups and mode & 0o050 == 0o050
        if as_owner or as_group or mode & 0o005 == 0o005:
            readers.append(account.name)
    return readers


def protect_course_dir(course_dir: Path) -> None:
    """Take every permission from 'others' on the course folder, so that a kernel running as a
    sandbox account cannot enter it (submissions, gradebook, sources with solutions)."""
    mode = course_dir.stat().st_mode
    course_dir.chmod(stat.S_IMODE(mode) & ~0o007)


def make_scratch_root() -> Path:
    """A folder others may pass through but not list (0711): each scratch folder inside has an
    unguessable name, so a kernel cannot find the scratch folders of submissions graded at the
    same time."""
    root = Path(tempfile.mkdtemp(prefix="fj-grading-"))
    root.chmod(0o711)
    return root


def make_scratch(root: Path, account: Account | None) -> tuple[Path, Path]:
    """A fresh private folder for one submission, owned by the account its kernel runs as:
    ``work/`` (the kernel's working folder, the submission's files only), ``home/`` (HOME,
    so that IPython and matplotlib write their settings outside the submission) and ``tmp/``
    (TMPDIR, so that temporary files go where they are removed with the submission)."""
    folder = root / secrets.token_hex(16)
    folder.mkdir(mode=0o700)
    work, home = folder / "work", folder / "home"
    work.mkdir()
    home.mkdir()
    (folder / "tmp").mkdir()
    for path in (folder, work, home, folder / "tmp"):
        give_to(path, account)
    return work, home


def copy_submission_files(source: Path, work: Path, account: Account | None) -> list[str]:
    """Copy a submission's files (not its notebooks, written separately) into its scratch
    folder. Symbolic links are never followed, since one could point at another learner's work,
    and very large files are left out. Returns notes on what was skipped."""
    notes = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_symlink():
            notes.append(f"the symbolic link {rel} was not copied")
            continue
        if path.is_dir() or path.suffix == ".ipynb" or rel.name == "timestamp.txt":
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.stat().st_size > MAX_COPIED_FILE_BYTES:
            notes.append(f"the file {rel} is larger than {MAX_COPIED_FILE_BYTES // 2**20} MB and "
                         "was not copied")
            continue
        write_file(work, rel, path.read_bytes(), account)
    return notes


def write_file(work: Path, rel: Path | str, data: bytes, account: Account | None) -> Path:
    """Write a file under ``work``, owned (with any folder it needed) by the kernel's account."""
    dest = work / rel
    missing = [p for p in reversed(dest.parents) if p.is_relative_to(work) and not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    for path in [*missing, dest]:
        give_to(path, account)
    return dest


def give_to(path: Path, account: Account | None) -> None:
    if account is not None:
        os.chown(path, account.uid, account.gid)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts kernels through ``python -m grading.launch``: resource
    limits always, the submission's cgroup when there is one, and a switch to an unprivileged
    account when ``sandbox_uid`` is set."""

    sandbox_uid = Integer(-1, help="Account the kernel runs as (-1: this one).").tag(config=True)
    sandbox_gid = Integer(-1, help="Group the kernel runs as (-1: this one).").tag(config=True)
    sandbox_home = Unicode("", help="HOME (and IPython's folder) for the kernel.").tag(config=True)
    sandbox_tmpdir = Unicode("", help="TMPDIR for the kernel.").tag(config=True)
    cgroup_paths = List(Unicode(), help="cgroup folders the kernel joins before it starts (the "
                                        "memory limit then bounds its whole tree).").tag(config=True)
    memory_mb = Integer(DEFAULT_MEMORY_MB, help="Memory limit: of the cgroup when there is one, "
                                                "else the kernel's address space.").tag(config=True)
    file_mb = Integer(DEFAULT_FILE_MB, help="Largest file the kernel may write.").tag(config=True)
    nproc = Integer(512, help="Processes the kernel's account may run (RLIMIT_NPROC).").tag(config=True)
    kernel_python = Unicode("", help="Interpreter the kernel runs (default: this one).").tag(config=True)

    # Kernels started by this process (psutil.Process, which knows a reused pid), for killing
    # them and their children when no cgroup or account can.
    started: list = []

    async def _async_pre_start_kernel(self, **kw):  # type: ignore[no-untyped-def]
        # A graded kernel's outputs travel over its channels; its stdout carries only ipykernel's
        # start-up notes, which would otherwise land in the terminal of whoever grades.
        kw.setdefault("stdout", subprocess.DEVNULL)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_post_start_kernel(self, **kw) -> None:
        await super()._async_post_start_kernel(**kw)
        pid = getattr(self.provisioner, "pid", None)
        if pid:
            import psutil

            with contextlib.suppress(psutil.Error):
                SandboxedKernelManager.started.append(psutil.Process(pid))

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.kernel_python and cmd and cmd[0] == sys.executable:
            cmd[0] = self.kernel_python
        prefix = [sys.executable, "-m", "grading.launch", "--memory-mb", str(self.memory_mb),
                  "--file-mb", str(self.file_mb), "--nproc", str(self.nproc)]
        for path in self.cgroup_paths:
            prefix += ["--cgroup", path]
        if self.sandbox_home:
            prefix += ["--home", self.sandbox_home]
        if self.sandbox_tmpdir:
            prefix += ["--tmpdir", self.sandbox_tmpdir]
        if self.sandbox_uid >= 0:
            # The connection file (ports and signing key) is written by this process with mode
            # 0600; the kernel must be able to read it once it has switched account.
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_gid)
            prefix += ["--uid", str(self.sandbox_uid), "--gid", str(self.sandbox_gid)]
        return [*prefix, "--", *cmd]


