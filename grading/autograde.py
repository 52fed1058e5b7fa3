"""Autograde a cohort: every submission in its own sandbox, a worker per core plus one, one writer.

Workers only *run* submissions: each copies one submission into a private scratch folder,
restores its graded cells from a read-only snapshot of the gradebook (nbgrader's sanitising
preprocessors), executes it (see ``grading.execute``) and returns the executed notebook. The
main process alone writes: it saves each result into ``autograded/`` and the gradebook with
nbgrader's own ``SaveAutoGrades`` and ``AssignLatePenalties``, one submission at a time. SQLite
never sees two writers, and the scores are those nbgrader would give, whatever the number of
workers (``tests/grading/test_autograde.py`` proves serial and parallel runs identical).

No submission stops the batch: each ends with a status (see ``STATUSES``) and a message, kept in
``COURSE_DIR/grading_status.json`` for ``report`` and ``feedback``.

Each submission runs contained (``grading.containment``): an account of the pool leased for it
alone, a cgroup bounding its whole process tree, a time limit per cell and per notebook, and,
when it ends, nothing of it left running or lying in /tmp. Stopping the run (SIGTERM, Ctrl-C)
stops every worker and kernel; what was recorded stays, and the next run grades the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grading.errors import GradingError
from grading.settings import DATA_DIR_VARIABLE, Settings

# Statuses, from the most to the least serious; a submission's status is its most serious one.
STATUSES: dict[str, str] = {
    "error": "the grader itself failed on this submission (see the message); nothing was scored",
    "invalid_notebook": "a file is not a readable notebook (bad JSON or format); scored zero",
    "invalid_metadata": "nbgrader's cell metadata is too damaged to restore; scored zero",
    "missing_notebook": "a notebook of the assignment is missing from the submission; it scored zero",
    "kernel_died": "the kernel crashed (or ran out of memory); checks after the crash scored zero",
    "timeout": "a cell, or the whole notebook, ran past its time limit and was stopped; later cells "
               "were not run",
    "needs_review": "its own code refers to the answer key or the grader's files; flagged for a trainer",
    "truncated_output": "a cell (or the notebook) produced enormous output; the excess was dropped",
    "touched_files": "it wrote or deleted files (in its own scratch copy; nothing else was affected)",
    "cells_restored": "cells it deleted, re-typed or edited (or their metadata) were restored first",
    "graded": "graded normally",
}
SEVERITY = {name: rank for rank, name in enumerate(STATUSES)}
LOCAL_DEFAULT_TIMEOUT = 60


@dataclass(frozen=True)
class Options:
    """What every worker needs to know, picklable."""

    db_url: str
    data_dir: str
    scratch_root: str
    timeout: int = LOCAL_DEFAULT_TIMEOUT
    memory_mb: int = 8192
    file_mb: int = 200
    output_limit: int = 2 * 2**20
    accounts: tuple = ()
    kernel_python: str = ""
    ignore: tuple[str, ...] = ()
    notebook_timeout: int = 0  # seconds per notebook (0: only the limit per cell)
    notebook_output_limit: int = 0  # bytes of output kept per notebook (0: only the cap per cell)
    run_id: str = ""  # the run's cgroup (under fj-grading/); empty: no cgroups
    pids_max: int = 512  # processes (and threads) per submission
    cpus: float = 0.0  # CPU quota per submission in cores (0: none)


@dataclass(frozen=True)
class Task:
    """One learner's submission of one assignment."""

    student: str
    assignment: str
    submitted: str
    source: str
    notebooks: tuple[str, ...]
    fingerprint: str = ""


@dataclass
class Outcome:
    """What a worker found: executed notebooks (JSON text) and what happened on the way."""

    student: str
    assignment: str
    fingerprint: str = ""
    statuses: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    notebooks: dict[str, str] = field(default_factory=dict)
    flagged: bool = False
    seconds: float = 0.0
    overhead: float = 0.0  # seconds spent containing it (lease, cgroup, clean-up), not running it

    def add(self, status: str, message: str) -> None:
        self.statuses.append(status)
        if message and message not in self.messages:
            self.messages.append(message)

    @property
    def status(self) -> str:
        return min(self.statuses or ["graded"], key=SEVERITY.__getitem__)

    @property
    def message(self) -> str:
        return "; ".join(self.messages)


# --------------------------------------------------------------------------- the cohort

def fingerprint(*folders: Path) -> str:
    """A hash of every file in the folders (links not followed), to skip unchanged work."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            digest.update(str(path.relative_to(folder)).encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def released_assignments(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Assignments in the gradebook (released), with their notebooks' names."""
    if not settings.gradebook.is_file():
        raise GradingError(f"no gradebook at {settings.gradebook}: run `python -m grading release` first")
    from nbgrader.api import Gradebook

    with Gradebook(settings.db_url, settings.course_id) as gb:
        return {a.name: tuple(sorted(n.name for n in a.notebooks)) for a in gb.assignments}


def find_submissions(settings: Settings, assignment_ids: Iterable[str] | None) -> list[Task]:
    """Every learner's submission of the chosen (default: every released) assignments."""
    released = released_assignments(settings)
    chosen = list(assignment_ids or [])
    for assignment_id in chosen:
        if assignment_id not in released:
            raise GradingError(f"assignment {assignment_id!r} has not been released (released: "
                               f"{', '.join(sorted(released)) or 'none'})")
    chosen = chosen or sorted(released)
    root = settings.submitted()
    if not root.is_dir():
        return []
    tasks = []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment_id in chosen:
            folder = student_dir / assignment_id
            if folder.is_dir() and not folder.is_symlink():
                source = settings.course_dir / "source" / assignment_id
                tasks.append(Task(student=student_dir.name, assignment=assignment_id,
                                  submitted=str(folder), source=str(source),
                                  notebooks=released[assignment_id],
                                  fingerprint=fingerprint(folder, source)))
    return tasks


def read_statuses(settings: Settings) -> dict[str, dict]:
    try:
        return json.loads(settings.status_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise GradingError(f"cannot read {settings.status_file}: {err}") from err


def write_statuses(settings: Settings, statuses: dict[str, dict]) -> None:
    tmp = settings.status_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(statuses.items())), indent=1) + "\n", encoding="utf-8")
    tmp.replace(settings.status_file)


def pending(settings: Settings, tasks: list[Task], force: bool) -> list[Task]:
    """Submissions not yet graded in their current form (all of them with ``force``)."""
    if force:
        return tasks
    statuses = read_statuses(settings)
    return [t for t in tasks
            if statuses.get(f"{t.student}/{t.assignment}", {}).get("fingerprint") != t.fingerprint]


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGTERM, SIGINT); a BaseException so that no
    ``except Exception`` around a submission swallows it."""

    def __init__(self, signum: int, recorded: int = 0, total: int = 0) -> None:
        super().__init__(signum)
        self.signum = signum
        self.recorded = recorded
        self.total = total

    def __str__(self) -> str:
        return (f"stopped by {signal.Signals(self.signum).name}: every worker and kernel was stopped; "
                f"{self.recorded} of {self.total} submission(s) were recorded; run autograde again "
                "to grade the rest")


class SignalGuard:
    """Turns SIGTERM and SIGINT into ``Interrupted`` in the main thread, except while a result
    is being recorded: that finishes first, so the gradebook, autograded/ and
    grading_status.json never hold half a submission."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.pending = 0
        self.depth = 0
        self._saved: dict[int, object] = {}

    def __enter__(self) -> SignalGuard:
        if self.enabled:
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame) -> None:
        if self.depth:
            self.pending = signum
            return
        self.quiet()
        raise Interrupted(signum)

    def quiet(self) -> None:
        """Ignore further signals while stopping (a second Ctrl-C must not cut the clean-up)."""
        if self.enabled:
            for signum in self._saved:
                signal.signal(signum, signal.SIG_IGN)

    @contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.pending and not self.depth:
            self.quiet()
            raise Interrupted(self.pending)


def autograde(settings: Settings, tasks: list[Task], options: Options, workers: int,
              progress: bool = True, handle_signals: bool = False) -> list[Outcome]:
    """Grade ``tasks`` with ``workers`` processes and record each result as it arrives. With
    ``handle_signals`` (the command line), SIGTERM and SIGINT stop everything cleanly and raise
    ``Interrupted``."""
    statuses = read_statuses(settings)
    outcomes: list[Outcome] = []
    guard = SignalGuard(handle_signals)

    def record(outcome: Outcome) -> None:
        with guard.critical():
            record_outcome(settings, outcome)
            statuses[f"{outcome.student}/{outcome.assignment}"] = {
                "status": outcome.status, "message": outcome.message, "seconds": round(outcome.seconds, 2),
                "overhead": round(outcome.overhead, 3), "fingerprint": outcome.fingerprint,
                "graded_at": datetime.now(UTC).isoformat(timespec="seconds")}
            write_statuses(settings, statuses)
            outcomes.append(outcome)

    bar = _progress(len(tasks), progress)
    try:
        with guard:
            run_tasks(tasks, options, workers, lambda o: (record(o), bar.update(1)))
    except Interrupted as stop:
        stop.recorded, stop.total = len(outcomes), len(tasks)
        raise
    finally:
        bar.close()
        clean_up_run(options)
    return sorted(outcomes, key=lambda o: (o.assignment, o.student))


def clean_up_run(options: Options) -> None:
    """After the run, or when it is stopped: no cgroup of it left, and nothing of the pool's
    accounts running or lying in /tmp (accounts another grading run holds are left alone)."""
    from grading import containment
    from grading.replay import stop_zygote
    from grading.sandbox import Account

    stop_zygote()
    if options.run_id:
        containment.remove_run_cgroups(options.run_id)
    for account in [Account(*a) if not isinstance(a, Account) else a for a in options.accounts]:
        try:
            lease = containment.lease_account([account], patience=0)
        except GradingError:
            continue
        lease.release()


@dataclass(frozen=True)
class Limits:
    """What each submission may use: the limits of ``python -m grading autograde`` (and of
    ``watch`` and ``feedback-local``, which grade through the same :class:`Grader`)."""

    timeout: int = LOCAL_DEFAULT_TIMEOUT  # seconds per cell
    notebook_timeout: int | None = None  # seconds per notebook; None: ten times ``timeout``
    memory_mb: int = 8192
    max_processes: int = 512
    output_mb: float = 2
    notebook_output_mb: float = 5


def default_grading_workers() -> int:
    """A worker per core, plus one. A submission's pipeline keeps a core busy only part of the
    time (it waits on its kernel starting, on replies between the learner's kernel and the
    trusted replay, on the gradebook): on 2 cores, 60 learners' submissions of the fixture
    course took 174 s with 2 workers and 122 s with 3 (benchmarks/autograde.py)."""
    from grading.check import default_workers

    return default_workers() + 1


class Grader:
    """A grading set-up, checked once, that grades batches of submissions.

    Built, it has resolved the sandbox accounts and the kernel's interpreter (bad ones are a
    ``GradingError`` before any submission is looked at). :meth:`start`, before the first
    batch, refuses an answer key the accounts could read, closes the course folder to others,
    says once what containment this machine allows, and clears cgroups of dead runs. Each
    :meth:`grade` then runs one batch in a scratch folder of its own with a fresh snapshot of
    the gradebook, exactly as ``python -m grading autograde`` does (it is what that command
    runs). The same-account refusal stays with the command line (``grading.cli``)."""

    def __init__(self, settings: Settings, *, sandbox_user: str = "", kernel_python: str = "",
                 workers: int = 0, limits: Limits = Limits()) -> None:
        from grading import sandbox
        from grading.check import default_workers

        self.settings = settings
        self.limits = limits
        self.accounts = sandbox.resolve_accounts([n for n in (sandbox_user or "").split(",") if n])
        self.kernel_python = sandbox.kernel_interpreter(self.accounts, kernel_python)
        self.cores = default_workers()
        self.workers = workers or default_grading_workers()
        if self.accounts and self.workers > len(self.accounts):
            self.workers = len(self.accounts)  # never two live submissions on one account
        self.use_cgroups = False
        self.started = False

    def start(self, notes: bool = True) -> None:
        """The checks and notes of a grading run, once (later calls do nothing)."""
        from grading import containment, sandbox

        if self.started:
            return
        settings = self.settings
        if self.accounts:
            readers = sandbox.answer_key_readers(settings.data_dir, self.accounts)
            if readers:
                raise GradingError(f"the grading account(s) {', '.join(readers)} could read "
                                   f"{settings.data_dir / 'answer_key'}: close it to them (for example "
                                   "chmod 0750 and a group they are not in), since learners' code runs "
                                   "as these accounts")
            sandbox.protect_course_dir(settings.course_dir)
        elif os.geteuid() == 0:
            print("warning: grading as root without --sandbox-user: learner code runs as root, bounded "
                  "only by its cgroup; give a pool of accounts (--sandbox-user a,b,...)", file=sys.stderr)
        self.use_cgroups = containment.cgroups_available()
        if self.use_cgroups:
            containment.remove_stale_cgroups()
        elif notes:
            print("note: no writable cgroup hierarchy here, so limits are per kernel process (address "
                  "space, RLIMIT_NPROC), not per submission, and a kernel's detached children are only "
                  f"killed {'with its account' if self.accounts else 'if still in its process group'}",
                  file=sys.stderr)
        self.started = True

    @contextmanager
    def run_options(self) -> Iterator[Options]:
        """Options for one batch: a scratch root of its own (0711) and a private snapshot of the
        gradebook for the workers to read, both removed when the batch ends."""
        import tempfile

        from grading.nbgrader_config import IGNORED_FILES

        limits = self.limits
        notebook_timeout = limits.notebook_timeout if limits.notebook_timeout is not None \
            else 10 * limits.timeout
        with tempfile.TemporaryDirectory(prefix="fj-grading-") as tmp:
            scratch = Path(tmp)
            scratch.chmod(0o711)
            snapshot = scratch / f"gradebook-{os.urandom(16).hex()}.db"
            snapshot.write_bytes(self.settings.gradebook.read_bytes())
            snapshot.chmod(0o600)
            yield Options(
                db_url=f"sqlite:///{snapshot}", data_dir=str(self.settings.data_dir),
                scratch_root=str(scratch), timeout=limits.timeout, memory_mb=limits.memory_mb,
                output_limit=int(limits.output_mb * 2**20), accounts=tuple(self.accounts),
                kernel_python=self.kernel_python, ignore=tuple(IGNORED_FILES),
                notebook_timeout=notebook_timeout,
                notebook_output_limit=int(limits.notebook_output_mb * 2**20),
                run_id=f"run-{os.getpid()}-{os.urandom(4).hex()}" if self.use_cgroups else "",
                pids_max=limits.max_processes,
                # Twice its share of the cores: room for a multi-threaded query, none to starve the rest.
                cpus=max(1.0, 2 * self.cores / self.workers) if self.use_cgroups else 0.0)

    def grade(self, tasks: list[Task], *, progress: bool = False,
              handle_signals: bool = False) -> list[Outcome]:
        """Grade ``tasks`` and record each result (see :func:`autograde`); ``Interrupted`` when
        stopped by a signal with ``handle_signals``."""
        self.start()
        if not tasks:
            return []
        with self.run_options() as options:
            return autograde(self.settings, tasks, options, self.workers, progress=progress,
                             handle_signals=handle_signals)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="autograde", unit="submission", file=sys.stderr,
                disable=not enabled or total == 0, dynamic_ncols=True)


def run_tasks(tasks: list[Task], options: Options, workers: int,
              on_result: Callable[[Outcome], object]) -> None:
    """Run every task, in this process (``workers == 1``) or a pool; results in completion order."""
    if options.accounts:
        workers = min(workers, len(options.accounts))  # a live submission per account, at most
    if workers <= 1 or len(tasks) <= 1:
        init_worker(options, None)
        for task in tasks:
            on_result(grade_submission(task))
        return
    context = multiprocessing.get_context("spawn")
    remaining = list(tasks)
    for _attempt in (1, 2):
        broken: list[Task] = []
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker,
                                   initargs=(options, os.getpid()))
        try:
            futures = {pool.submit(grade_submission, task): task for task in remaining}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken.append(task)
                    continue
                except Exception as err:  # a bug or an OS failure: report it, keep grading
                    outcome = failed(task, f"{type(err).__name__}: {err}")
                on_result(outcome)
        except BaseException:
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        if not broken:
            return
        remaining = broken
    for task in remaining:
        on_result(failed(task, "a grading worker process died twice on this batch"))


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Kill every worker of the pool and every kernel they started (found before any dies)."""
    from grading import containment

    processes = list((getattr(pool, "_processes", None) or {}).values())
    containment.kill_tree([p.pid for p in processes if p.pid])
    pool.shutdown(wait=False, cancel_futures=True)


def failed(task: Task, message: str) -> Outcome:
    outcome = Outcome(task.student, task.assignment, task.fingerprint)
    outcome.add("error", message)
    return outcome


# --------------------------------------------------------------------------- one worker

_STATE: dict = {}


def init_worker(options: Options, parent: int | None) -> None:
    """Set a worker up: the dataset for its kernels and a private runtime folder for kernel
    connection files. A pool worker dies with the grading process, leaves signals to it, and is
    non-dumpable (its memory holds the gradebook's path and connection keys)."""
    from grading import containment
    from grading.sandbox import Account

    if parent is not None:
        containment.die_with_parent(signal.SIGKILL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        containment.set_dumpable(False)
    accounts = [Account(*a) if not isinstance(a, Account) else a for a in options.accounts]
    runtime = Path(options.scratch_root) / f"runtime-{os.getpid()}-{os.urandom(8).hex()}"
    runtime.mkdir(mode=0o711, exist_ok=True)
    runtime.chmod(0o711)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    os.environ[DATA_DIR_VARIABLE] = options.data_dir
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    _STATE.update(options=options, accounts=accounts)
    # The trusted replays' zygote imports pandas and IPython while the first kernel starts.
    from grading.replay import start_zygote

    start_zygote(options.data_dir)


class Contained:
    """What one submission runs in: its leased account (or none), its cgroup (or none), and
    the clean-up that leaves nothing of it behind."""

    def __init__(self, options: Options, accounts: list) -> None:
        from grading import containment

        self.lease = containment.lease_account(accounts) if accounts else None
        self.account = self.lease.account if self.lease else None
        self.cgroup = None
        if options.run_id:
            self.cgroup = containment.submission_cgroup(options.run_id, options.memory_mb,
                                                        options.pids_max, options.cpus)
        self.first_kernel = len(_kernels())

    @property
    def cgroup_paths(self) -> list[str]:
        return [str(p) for p in self.cgroup.paths] if self.cgroup else []

    def end_processes(self) -> None:
        """Kill whatever the submission's kernels left running (between notebooks, and at the end)."""
        from grading import containment

        if self.cgroup is not None:
            self.cgroup.kill()
        if self.account is not None:
            containment.kill_uid(self.account.uid, self.account.gid)
        started = _kernels()[self.first_kernel:]
        if started and self.cgroup is None and self.account is None:
            containment.kill_tree(started)  # the fallback: each kernel's process group and children
        del _kernels()[self.first_kernel:]

    def close(self) -> None:
        from grading import containment

        try:
            self.end_processes()
            if self.cgroup is not None:
                self.cgroup.remove()
            if self.account is not None:
                containment.remove_files_of(self.account.uid)
        finally:
            if self.lease is not None:
                self.lease.release()


def _kernels() -> list[int]:
    from grading.sandbox import SandboxedKernelManager

    return SandboxedKernelManager.started


def grade_submission(task: Task) -> Outcome:
    """Run one submission in its sandbox; never raises (except when the run is stopped)."""
    from grading.sandbox import make_scratch

    options: Options = _STATE["options"]
    outcome = Outcome(task.student, task.assignment, task.fingerprint)
    started = time.perf_counter()
    contained = None
    try:
        contained = Contained(options, _STATE["accounts"])
        outcome.overhead += time.perf_counter() - started
        work, home = make_scratch(Path(options.scratch_root), contained.account)
        try:
            _grade_in(task, options, contained, work, home, outcome)
        finally:
            shutil.rmtree(work.parent, ignore_errors=True)
    except Exception as err:  # never let one submission stop the batch
        outcome.add("error", f"{type(err).__name__}: {err}")
        outcome.notebooks.clear()
    finally:
        if contained is not None:
            closing = time.perf_counter()
            contained.close()
            outcome.overhead += time.perf_counter() - closing
        outcome.seconds = time.perf_counter() - started
    if not outcome.statuses:
        outcome.add("graded", "")
    return outcome


def _grade_in(task: Task, options: Options, contained: Contained, work: Path, home: Path,
              outcome: Outcome) -> None:
    from grading.sandbox import copy_submission_files, write_file

    account = contained.account
    submitted, source = Path(task.submitted), Path(task.source)
    for note in copy_submission_files(submitted, work, account):
        outcome.add("graded", note)
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        rel = path.relative_to(source)
        if path.is_file() and path.suffix != ".ipynb" and not _ignored(rel, options.ignore):
            write_file(work, rel, path.read_bytes(), account)
    texts: dict[str, str] = {}
    for name in task.notebooks:
        path = submitted / f"{name}.ipynb"
        if path.is_symlink() or not path.is_file():
            others = sorted(p.name for p in submitted.glob("*.ipynb"))
            hint = f" (found: {', '.join(others)}; was it renamed?)" if others else ""
            outcome.add("missing_notebook", f"{name}.ipynb is not in the submission{hint}")
            continue
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            outcome.add("invalid_notebook", f"{name}.ipynb cannot be read: {err}")
            continue
        # The kernel may open its own notebook; it gets the file exactly as submitted.
        write_file(work, f"{name}.ipynb", texts[name].encode("utf-8"), account)
    for name, text in texts.items():
        nb = _prepare(task, name, text, options, outcome)
        if nb is not None:
            try:
                _execute(nb, task, name, options, contained, work, home, outcome)
            finally:
                contained.end_processes()
                while _SCRATCH:
                    shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)
            outcome.notebooks[name] = _to_json(nb)


def _ignored(rel: Path, patterns: tuple[str, ...]) -> bool:
    import fnmatch

    return any(fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in patterns)


def _to_json(nb) -> str:
    import nbformat

    return nbformat.writes(nb)


def _resources(task: Task, name: str, db_url: str, path: str = "") -> dict:
    return {"unique_key": name, "output_files_dir": f"{name}_files", "metadata": {"path": path},
            "nbgrader": {"student": task.student, "assignment": task.assignment, "notebook": name,
                         "db_url": db_url}}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


MISSING_CELL = re.compile(r"Missing grade cell (\S+) encountered")
REPAIRS = [
    (re.compile(r"Attribute 'cell_type' for cell (\S+) has changed! \(should be: (\w+), got: (\w+)\)"),
     "cell {0} had been changed from {1} to {2}; it was changed back"),
    (re.compile(r"Attribute 'locked' for cell (\S+) has changed"),
     "cell {0} had been unlocked; it was locked again"),
    (re.compile(r"Attribute 'points' for cell (\S+) has changed"),
     "the points of cell {0} had been changed; the assignment's points were used"),
    (MISSING_CELL,
     "the graded cell {0} had been deleted; it was restored"),
    (re.compile(r"Cell '(\S+)' does not exist in the database"),
     "cell {0} is not part of the assignment; its grading metadata was ignored"),
    (re.compile(r"Cell with id '(\S+)' exists multiple times"),
     "cell {0} appeared more than once; only the first copy was graded"),
]


def _prepare(task: Task, name: str, text: str, options: Options, outcome: Outcome):
    """Parse, restore the graded cells (nbgrader's sanitising preprocessors) and scan."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )
    from traitlets.config import Config

    from grading import cells, scan

    try:
        nb = cells.parse_notebook(text)
    except ValueError as err:
        outcome.add("invalid_notebook", f"{name}.ipynb: {err}")
        return None
    with Gradebook(options.db_url) as gb:
        source_nb = gb.find_notebook(name, task.assignment)
        answers = {c.name for c in source_nb.solution_cells} - {c.name for c in source_nb.grade_cells}
        # A locked cell as learners received it: the source without its hidden tests.
        locked = {c.name: "\n".join(cells.split_regions(c.source, cells.BEGIN_HIDDEN, cells.END_HIDDEN)[0])
                  for c in source_nb.source_cells if c.locked}
    for cell in nb.cells:
        gid = cells.grade_id(cell)
        if gid in locked and cell.get("source", "").strip() != locked[gid].strip():
            outcome.add("cells_restored", f"the locked cell {gid} had been edited; the original was restored")
    present = {cells.grade_id(c) for c in nb.cells}
    for missing in sorted(answers - present):
        outcome.add("cells_restored", f"the answer cell {missing} is missing, so its question earns nothing")
    _normalise(nb, outcome)
    config = Config()
    config.OverwriteCells.add_missing_cells = True
    handler = _Collect()
    resources = _resources(task, name, options.db_url)
    try:
        for preprocessor in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                             CheckCellMetadata):
            instance = preprocessor(config=config)
            instance.log = logging.getLogger(f"grading.sanitize.{os.getpid()}")
            instance.log.propagate = False
            instance.log.handlers = [handler]
            nb, resources = instance(nb, resources)
    except Exception as err:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        outcome.add("invalid_metadata", f"{name}.ipynb: its grading metadata could not be restored "
                                        f"({reason})")
        return None
    _rerun_restored_tests(nb, handler.records, name, task, options)
    for message in handler.records:
        for pattern, template in REPAIRS:
            match = pattern.search(message)
            if match:
                outcome.add("cells_restored", template.format(*match.groups()))
                break
    findings = scan.scan_notebook(nb)
    if findings:
        outcome.flagged = True
        outcome.add("needs_review", "; ".join(str(f) for f in findings))
    return nb


def _normalise(nb, outcome: Outcome) -> None:
    """What nbgrader's preprocessors assume of a notebook: every cell has an id (nbformat 4.5),
    a grade id appears once (later copies become plain cells, as nbgrader's DeduplicateIds
    intends), and nbgrader metadata without a grade id is no metadata."""
    import uuid

    from grading import cells

    seen: set[str] = set()
    for cell in nb.cells:
        cell.setdefault("id", uuid.uuid4().hex[:12])
        meta = cell.get("metadata", {})
        gid = cells.grade_id(cell)
        if "nbgrader" in meta and not gid:
            del meta["nbgrader"]
        elif gid in seen:
            del meta["nbgrader"]
            outcome.add("cells_restored", f"cell {gid} appeared more than once; only the first copy "
                                          "was graded")
        elif gid:
            seen.add(gid)
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))


def _rerun_restored_tests(nb, warnings: list[str], name: str, task: Task, options: Options) -> None:
    """nbgrader puts a deleted test cell back behind a notice of its own; the cell gets exactly
    its source from the gradebook instead, so that its checksum matches and the check reads in
    the feedback as its author wrote it."""
    from nbgrader.api import Gradebook

    from grading import cells

    restored = {m.group(1) for w in warnings if (m := MISSING_CELL.search(w))}
    if not restored:
        return
    with Gradebook(options.db_url) as gb:
        sources = {gid: gb.find_source_cell(gid, name, task.assignment).source for gid in restored}
    for cell in nb.cells:
        if cells.grade_id(cell) in sources and cells.is_test_cell(cell):
            cell.source = sources[cells.grade_id(cell)]


def _execute(nb, task: Task, name: str, options: Options, contained: Contained, work: Path,
             home: Path, outcome: Outcome) -> None:
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import IgnorePattern, LimitOutput
    from traitlets.config import Config

    from grading.execute import GradingExecute, bound_outputs, mark_not_run

    account = contained.account
    config = Config()
    config.GradingExecute.timeout = options.timeout
    config.GradingExecute.output_limit = options.output_limit
    config.GradingExecute.notebook_output_limit = options.notebook_output_limit
    config.GradingExecute.notebook_timeout = options.notebook_timeout
    config.GradingExecute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
    config.SandboxedKernelManager.sandbox_home = str(home)
    config.SandboxedKernelManager.sandbox_tmpdir = str(work.parent / "tmp")
    config.SandboxedKernelManager.cgroup_paths = contained.cgroup_paths
    config.SandboxedKernelManager.memory_mb = options.memory_mb
    config.SandboxedKernelManager.file_mb = options.file_mb
    config.SandboxedKernelManager.nproc = options.pids_max
    config.SandboxedKernelManager.kernel_python = options.kernel_python
    if account is not None:
        config.SandboxedKernelManager.sandbox_uid = account.uid
        config.SandboxedKernelManager.sandbox_gid = account.gid
    before = _listing(work)

    def new_executor() -> GradingExecute:
        executor = GradingExecute(config=config)
        executor.replay_factory = _replay_factory(task, name, options, contained, work)
        return executor

    resources = _resources(task, name, options.db_url, str(work))
    nb.metadata.setdefault("kernelspec", {})["name"] = "python3"
    running = [new_executor()]  # the executor whose kernel ran, after any restart
    try:
        nb, resources = run_with_start_retries(new_executor, running, nb, resources)
    except DeadKernelError:
        outcome.add("kernel_died", f"{name}.ipynb: the kernel crashed while running it (for example "
                                   "by exiting, or by running out of memory); checks after the crash "
                                   "scored zero")
    except CellTimeoutError:
        if not running[0].timed_out:
            running[0].timed_out.append(max(running[0].completed, default=0))
    except (RuntimeError, NoSuchKernel, TimeoutError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        outcome.add("kernel_died", f"{name}.ipynb: the kernel could not run it ({text})")
    executor = running[0]
    if executor.replay_error:
        outcome.add("error", f"{name}.ipynb: {executor.replay_error}; checks after it scored zero")
    not_run = mark_not_run(nb, executor.completed, "this check was not run: the notebook stopped "
                                                   "before reaching it")
    if executor.timed_out:
        cell = nb.cells[executor.timed_out[0]]
        label = _label(cell, executor.timed_out[0])
        if executor.notebook_timed_out:
            outcome.add("timeout", f"{name}.ipynb: the notebook ran for more than its limit of "
                                   f"{options.notebook_timeout} s in total (stopped at {label}); "
                                   f"{len(not_run)} check(s) after it were not run")
        else:
            outcome.add("timeout", f"{name}.ipynb: {label} ran for more than {options.timeout} s and was "
                                   f"stopped; {len(not_run)} check(s) after it were not run")
    for index in sorted(executor.truncated):
        outcome.add("truncated_output", f"{name}.ipynb: {_label(nb.cells[index], index)} printed more "
                                        f"than {options.output_limit / 2**20:g} MB; the rest was dropped")
    cut = bound_outputs(nb, options.output_limit, options.notebook_output_limit)
    if executor.notebook_truncated or (cut and not executor.truncated):
        first = min([*executor.notebook_truncated, *cut])
        cap = options.notebook_output_limit or options.output_limit
        outcome.add("truncated_output", f"{name}.ipynb: its cells printed more than {cap / 2**20:g} MB "
                                        f"in all; output from {_label(nb.cells[first], first)} on was "
                                        "dropped")
    changes = _changes(before, _listing(work))
    if changes:
        outcome.add("touched_files", f"{name}.ipynb {changes} in its scratch copy (nothing outside it "
                                     "was affected)")
    for preprocessor in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        nb, resources = preprocessor(config=Config())(nb, resources)


# A kernel that dies before it answers its first message ran none of the notebook: most often
# another grading worker's kernel took one of the ports it was given (ports are chosen free but
# bound later, so parallel workers can collide). Such a start is tried again with new ports.
KERNEL_START_ATTEMPTS = 3
NEVER_STARTED = "before replying to kernel_info"


def run_with_start_retries(new_executor, running: list, nb, resources):  # type: ignore[no-untyped-def]
    """``running[0].preprocess(nb, resources)``, with a fresh executor (and kernel) in
    ``running[0]`` when the kernel died before running anything. A kernel that started is never
    retried: what it ran counts, as the learner's code may have crashed it."""
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            return running[0].preprocess(nb, resources)
        except RuntimeError as err:
            if NEVER_STARTED not in str(err) or running[0].completed or attempt == KERNEL_START_ATTEMPTS:
                raise
        running[0] = new_executor()
    raise AssertionError("unreachable")


def _replay_factory(task: Task, name: str, options: Options, contained: Contained, work: Path):
    """What starts the trusted replay of one notebook once its learner kernel runs. Its two
    folders sit in the scratch root, which only root (or the grading account) can list: the
    boundary folder belongs to the kernel's account, which writes its answers there; the
    trusted folder (the assignment's files, and copies of data files the learner's code wrote)
    is the grader's alone."""
    import tempfile

    from grading.replay import TrustedReplay, prepare_trusted_dir
    from grading.sandbox import give_to

    def start(connection_file: str) -> TrustedReplay:
        root = Path(options.scratch_root)
        boundary = Path(tempfile.mkdtemp(prefix="boundary-", dir=root))
        give_to(boundary, contained.account)
        trusted = prepare_trusted_dir(Path(task.source), Path(tempfile.mkdtemp(prefix="trusted-", dir=root)))
        channel = Path(tempfile.mkdtemp(prefix="channel-", dir=root))
        _SCRATCH.extend([boundary, trusted, channel])
        return TrustedReplay(Path(task.source) / f"{name}.ipynb", connection_file, boundary, trusted,
                             channel, work, options.timeout, options.data_dir, contained.cgroup_paths,
                             options.memory_mb)

    return start


_SCRATCH: list[Path] = []  # the replay's folders, removed when the submission ends


def _label(cell, index: int) -> str:
    from grading import cells

    grade = cells.grade_id(cell)
    return f"cell {index + 1}" + (f" ({grade})" if grade else "")


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            continue
    return found


def _changes(before: dict, after: dict) -> str:
    deleted = sorted(set(before) - set(after))
    created = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    parts = []
    for verb, names in (("deleted", deleted), ("wrote", created), ("changed", changed)):
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"{verb} {len(names)} file(s) ({shown})")
    return " and ".join(parts)


# --------------------------------------------------------------------------- the writer

def record_outcome(settings: Settings, outcome: Outcome) -> None:
    """Save one result: autograded/<learner>/<assignment>/ and the gradebook, through
    nbgrader's own SaveAutoGrades (so scores are nbgrader's), in the main process only."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
    from traitlets.config import Config

    from grading.nbgrader_config import make_config
    from grading.sanitize import sanitize_notebook_text

    submitted = settings.submitted(outcome.student, outcome.assignment)
    coursedir = CourseDirectory(config=make_config(settings))
    timestamp = coursedir.get_existing_timestamp(str(submitted))
    dest = settings.autograded(outcome.student, outcome.assignment)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader with SQLAlchemy 2
    with Gradebook(settings.db_url, settings.course_id) as gb:
        gb.update_or_create_student(outcome.student)
        if timestamp:
            gb.update_or_create_submission(outcome.assignment, outcome.student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(outcome.assignment, outcome.student)
        notebook_names = [n.name for n in gb.find_assignment(outcome.assignment).notebooks]
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    # The timestamp dates the submission; the secret names its feedback in the exchange
    # (nbgrader's release_feedback reads it), so a learner can fetch what the grader wrote.
    for kept in ("timestamp.txt", "submission_secret.txt"):
        source = submitted / kept
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, dest / kept)
    for name in notebook_names:
        text = outcome.notebooks.get(name)
        if text is None:
            _zero(settings, outcome, name)
            continue
        # The formgrader and the feedback render this file: nothing in it may run in a browser.
        text = sanitize_notebook_text(text)
        (dest / f"{name}.ipynb").write_text(text, encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        resources = _resources(Task(outcome.student, outcome.assignment, "", "", ()), name, settings.db_url)
        for preprocessor in (SaveAutoGrades, AssignLatePenalties):
            nb, resources = preprocessor(config=Config())(nb, resources)
        if outcome.flagged:
            with Gradebook(settings.db_url, settings.course_id) as gb:
                gb.find_submission_notebook(name, outcome.assignment, outcome.student).flagged = True
                gb.db.commit()


def _zero(settings: Settings, outcome: Outcome, name: str) -> None:
    """A notebook that could not be graded scores zero everywhere, as nbgrader scores a missing one."""
    from nbgrader.api import Gradebook

    with Gradebook(settings.db_url, settings.course_id) as gb:
        submission = gb.find_submission_notebook(name, outcome.assignment, outcome.student)
        for grade in submission.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        submission.flagged = outcome.flagged
        gb.db.commit()


def outcome_dict(outcome: Outcome) -> dict:
    data = asdict(outcome)
    data.pop("notebooks")
    data["status"] = outcome.status
    return data
