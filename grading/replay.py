"""The grading worker's end of the trusted replay (``grading.trusted``).

A plan is read from the *source* notebook, never from the submission: its set-up cells, its
answer cells (with the names each binds, which are the answer) and its test cells (hidden tests
included). As the learner's kernel reaches each answer or test cell of the submission, the
trusted process runs the source up to that point, takes the answer's names across as data, and
runs the test itself. A submission can edit, delete or move its own cells; it cannot change what
the trusted side runs.

Files the learner's code writes (an ACRO output request) are answers too: after each answer
cell, new or changed data files under the submission's working folder are copied, without
following links and within size limits, into the trusted process's folder, which Python never
imports from. Only data suffixes are copied, never code.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from grading import cells

DATA_SUFFIXES = {".json", ".csv", ".tsv", ".txt", ".md", ".parquet", ".png", ".jpg", ".jpeg", ".xlsx"}
MAX_COPIED_FILE = 50 * 2**20
MAX_COPIED_TOTAL = 200 * 2**20
MAX_COPIED_FILES = 500
SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\- ]{0,120}")
RUNNER_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "FJ_DATA_DIR", "HOME")


@dataclass
class Step:
    kind: str  # "code" (set-up), "answer" or "test"
    grade_id: str = ""
    source: str = ""
    names: list[str] = field(default_factory=list)
    imports: str = ""


def bound_names(source: str) -> tuple[list[str], list[str]]:
    """The names a cell binds at its top level (assignments, loops, ``with``, ``match``,
    definitions, ``:=`` outside lambdas), and its import statements (as source lines), in order.
    Only the author's source is read."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [], []
    names: list[str] = []
    imports: list[str] = []

    def add(name: str) -> None:
        if name not in names:
            names.append(name)

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def walruses(node: ast.AST) -> None:
        """``:=`` binds in the cell's scope, even inside a comprehension, but not in a lambda."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, ast.NamedExpr):
                targets(child.target)
            walruses(child)

    def captures(pattern: ast.AST) -> None:
        for child in ast.walk(pattern):
            name = getattr(child, "name", None) if isinstance(child, (ast.MatchAs, ast.MatchStar)) else None
            if isinstance(child, ast.MatchMapping):
                name = child.rest
            if isinstance(name, str):
                add(name)

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                add(node.name)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(ast.unparse(node))
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    targets(target)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
                targets(node.target)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    captures(case.pattern)
            for attribute in ("test", "iter", "value", "subject", "items", "exc", "msg"):
                part = getattr(node, attribute, None)
                for piece in part if isinstance(part, list) else [part]:
                    if isinstance(piece, ast.AST) and not isinstance(piece, ast.Lambda):
                        if isinstance(piece, ast.NamedExpr):
                            targets(piece.target)
                        walruses(piece)
            walk(getattr(node, "body", []) or [])
            for handler in getattr(node, "handlers", []) or []:
                walk(handler.body)
            for case in getattr(node, "cases", []) or []:
                walk(case.body)
            for attribute in ("orelse", "finalbody"):
                walk(getattr(node, attribute, []) or [])
    walk(tree.body)
    return names, imports


def read_plan(source_notebook: Path) -> list[Step]:
    """The trusted replay's steps, from the source notebook (solutions and hidden tests)."""
    nb = cells.read_notebook(source_notebook)
    steps: list[Step] = []
    set_up: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = cells.grade_id(cell) or ""
        if cells.is_answer_cell(cell):
            names, imports = bound_names(cells.solution_filled(cell))
            imported = set(bound_names("\n".join(imports))[0]) | {
                (alias.asname or alias.name).split(".")[0]
                for line in imports for node in ast.parse(line).body
                for alias in getattr(node, "names", [])}
            answer = [n for n in names if n not in set_up and n not in imported]
            steps.append(Step("answer", gid, names=answer, imports="\n".join(imports)))
        elif cells.is_test_cell(cell):
            steps.append(Step("test", gid, source=cell.source))
        else:
            steps.append(Step("code", gid, source=cell.source))
            set_up.update(bound_names(cell.source)[0])
    return steps


class ReplayError(Exception):
    """The trusted process failed (not the learner's answer): nothing after it can be scored."""


class TrustedReplay:
    """One notebook's trusted process, driven cell by cell as the learner's kernel advances."""

    def __init__(self, source_notebook: Path, connection_file: str, boundary: Path, trusted_dir: Path,
                 channel: Path, work: Path, timeout: float, data_dir: str, cgroups: list[str] | None = None,
                 memory_mb: int = 0) -> None:
        self.steps = read_plan(source_notebook)
        self.position = 0
        self.boundary = boundary
        self.trusted_dir = trusted_dir
        self.work = work
        self.timeout = timeout
        self.captures = 0
        self.results: dict[str, dict] = {}
        self.copied = 0
        self.before = _data_files(work)
        self.pid = 0
        self.requests = self.replies = None
        env = {"IPYTHONDIR": str(trusted_dir / ".ipython"), "MPLCONFIGDIR": str(trusted_dir / ".matplotlib"),
               "FJ_DATA_DIR": data_dir}
        channel.mkdir(mode=0o700, exist_ok=True)
        for fifo in ("requests", "replies"):
            os.mkfifo(channel / fifo, 0o600)
        self.pid = _zygote(data_dir).spawn({
            "connection_file": connection_file, "folder": str(boundary), "cwd": str(trusted_dir),
            "timeout": timeout, "env": env, "requests": str(channel / "requests"),
            "replies": str(channel / "replies"), "cgroups": list(cgroups or []), "memory_mb": memory_mb})
        self._connect(channel)

    def _connect(self, channel: Path, patience: float = 30.0) -> None:
        """Open our ends of the FIFOs; the replay opens requests first, then replies."""
        import fcntl

        replies = os.open(channel / "replies", os.O_RDONLY | os.O_NONBLOCK)
        deadline = time.monotonic() + patience
        while True:
            try:
                requests = os.open(channel / "requests", os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: the replay has not opened its end yet
                if time.monotonic() > deadline or not _alive(self.pid):
                    os.close(replies)
                    raise ReplayError("the trusted grader did not start") from None
                time.sleep(0.005)
        for fd in (requests, replies):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        self.requests = os.fdopen(requests, "w", encoding="utf-8")
        self.replies = os.fdopen(replies, "r", encoding="utf-8")

    @property
    def grade_ids(self) -> set[str]:
        return {s.grade_id for s in self.steps if s.kind in ("answer", "test")}

    def kind_of(self, gid: str | None) -> str:
        for step in self.steps:
            if gid and step.grade_id == gid and step.kind in ("answer", "test"):
                return step.kind
        return ""

    def _request(self, request: dict, timeout: float) -> dict:
        if self.requests is None or self.replies is None:
            raise ReplayError("the trusted grader stopped")
        try:
            self.requests.write(json.dumps(request) + "\n")
            self.requests.flush()
        except OSError:
            raise ReplayError("the trusted grader stopped") from None
        ready, _, _ = select.select([self.replies], [], [], timeout)
        if not ready:
            self.close()
            raise ReplayError(f"the trusted grader took more than {timeout:g} s")
        line = self.replies.readline()
        if not line:
            raise ReplayError("the trusted grader stopped")
        return json.loads(line)

    def _advance(self, gid: str) -> Step | None:
        """Run the source's set-up cells up to the step ``gid`` (skipping answers the learner
        never reached); returns that step, or None (running nothing) when no step ahead has that
        grade id: a cell a submission labelled itself, or one it moved after a later check."""
        if not any(s.grade_id == gid and s.kind in ("answer", "test") for s in self.steps[self.position:]):
            return None
        for index in range(self.position, len(self.steps)):
            step = self.steps[index]
            if step.kind == "code":
                self._request({"op": "run", "source": step.source}, self._limit())
            elif step.grade_id == gid:
                self.position = index + 1
                return step
            elif step.kind == "answer" and step.imports:
                self._request({"op": "run", "source": step.imports}, self._limit())
        return None

    def _limit(self) -> float:
        return 3 * self.timeout + 30

    def answer(self, gid: str) -> dict:
        """The learner's kernel has run answer cell ``gid``: take its names across."""
        step = self._advance(gid)
        if step is None:
            return {}
        self.copy_files()
        self.captures += 1
        return self._request({"op": "capture", "names": step.names, "imports": step.imports,
                              "capture": f"a{self.captures}"}, self._limit())

    def test(self, gid: str) -> dict:
        """Run test cell ``gid`` on the trusted side: ``{"passed": bool, "shown": message}``,
        and whether a learner function had to be stopped (``stuck``)."""
        step = self._advance(gid)
        if step is None:
            return {"passed": False,
                    "shown": "this check could not be run (it was moved after a later check)"}
        reply = self._request({"op": "test", "source": step.source}, self._limit())
        if not reply.get("ok"):
            return {"passed": False, "shown": "the grader could not run this check",
                    "stuck": reply.get("stuck")}
        self.results[gid] = reply
        return reply

    def unstick(self) -> None:
        self._request({"op": "unstick"}, 30)

    def copy_files(self) -> None:
        """New or changed data files of the learner's working folder, into the trusted folder."""
        now = _data_files(self.work)
        for rel, signature in sorted(now.items()):
            if self.before.get(rel) == signature or self.copied >= MAX_COPIED_TOTAL:
                continue
            data = _read_plain(self.work, rel)
            if data is None or self.copied + len(data) > MAX_COPIED_TOTAL:
                continue
            dest = self.trusted_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            tmp.write_bytes(data)
            tmp.replace(dest)
            self.copied += len(data)
            self.before[rel] = signature

    def close(self) -> None:
        if self.pid and _alive(self.pid):
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        for stream in (self.requests, self.replies):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.requests = self.replies = None


class _Zygote:
    """``python -m grading.trusted --zygote``, one per grading worker: it has imported pandas,
    IPython and the rest once, and forks a fresh replay process for every notebook."""

    def __init__(self, data_dir: str) -> None:
        from grading import containment

        env = {k: os.environ[k] for k in RUNNER_ENV if k in os.environ}
        env.update(FJ_DATA_DIR=data_dir, MPLBACKEND="Agg", PYTHONSAFEPATH="1", PYTHONDONTWRITEBYTECODE="1",
                   PYDEVD_DISABLE_FILE_VALIDATION="1")
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grading.trusted", "--zygote"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/", env=env, text=True,
            preexec_fn=lambda: containment.die_with_parent(signal.SIGKILL))

    def spawn(self, request: dict) -> int:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            raise ReplayError("the trusted grader's zygote stopped") from None
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            raise ReplayError("the trusted grader's zygote did not answer")
        return int(json.loads(line)["pid"])


_ZYGOTE: list[_Zygote] = []


def start_zygote(data_dir: str) -> None:
    """Start this process's zygote now (it answers once its imports are done), so that its
    start-up overlaps other work rather than delaying the first replay."""
    _zygote(data_dir)


def _zygote(data_dir: str) -> _Zygote:
    if not _ZYGOTE or _ZYGOTE[0].process.poll() is not None or _ZYGOTE[0].data_dir != data_dir:
        _ZYGOTE[:] = [_Zygote(data_dir)]
    return _ZYGOTE[0]


def stop_zygote() -> None:
    """End this process's zygote (and any replay it still runs): at the end of a grading run."""
    while _ZYGOTE:
        process = _ZYGOTE.pop().process
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _data_files(root: Path) -> dict[str, tuple[int, int]]:
    """Data files under ``root`` (no links followed, names checked), with size and mtime."""
    found: dict[str, tuple[int, int]] = {}

    def walk(folder: Path, rel: tuple[str, ...], depth: int) -> None:
        if depth > 6:
            return
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if len(found) >= MAX_COPIED_FILES or not SAFE_PART.fullmatch(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                walk(Path(entry.path), (*rel, entry.name), depth + 1)
            elif stat.S_ISREG(info.st_mode) and Path(entry.name).suffix.lower() in DATA_SUFFIXES \
                    and info.st_size <= MAX_COPIED_FILE and info.st_nlink == 1:
                found["/".join((*rel, entry.name))] = (info.st_size, info.st_mtime_ns)

    walk(root, (), 0)
    return found


def _read_plain(root: Path, rel: str) -> bytes | None:
    """A file's bytes, opened component by component without following links."""
    parts = rel.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    except OSError:
        os.close(fd)
        return None
    os.close(fd)
    try:
        info = os.fstat(leaf)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_COPIED_FILE or info.st_nlink != 1:
            return None
        with os.fdopen(leaf, "rb", closefd=False) as handle:
            data = handle.read(MAX_COPIED_FILE + 1)
        return data if len(data) <= MAX_COPIED_FILE else None
    finally:
        os.close(leaf)


def prepare_trusted_dir(source_dir: Path, dest: Path) -> Path:
    """The trusted process's working folder: the assignment's own files from the source (never
    the submission's), without notebooks."""
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in sorted(source_dir.rglob("*")) if source_dir.is_dir() else []:
        rel = path.relative_to(source_dir)
        if path.is_file() and not path.is_symlink() and path.suffix != ".ipynb":
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)
    return dest
