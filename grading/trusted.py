"""The trusted side of grading: a process that decides every mark and never runs learner code.

``python -m grading.trusted`` is started by the grading worker for one notebook of one
submission. It replays the *source* notebook's own cells (set-up, data loading, test cells with
their hidden tests) in an IPython shell of its own, which alone can read the answer key. Where
the source has an answer cell, it does not run the learner's code: it asks the learner's
sandboxed kernel to write the answer's names as data (``grading.boundary_data``) and binds what
it reads. A learner's function is bound as a ``LearnerFunction``: calling it sends the arguments
to the learner's kernel as data and reads the result back as data, so hidden test code and its
expected values never enter the learner's process.

The worker talks to it in JSON lines over stdin/stdout (``grading.replay`` is the other end):

- ``{"op": "run", "source": ...}``: run a set-up cell of the source; errors are only reported;
- ``{"op": "capture", "names": [...], "imports": ..., "capture": ...}``: bind an answer's names;
- ``{"op": "test", "source": ...}``: run a test cell; the reply says whether it passed and, if
  not, the one message a learner may see (``shown``);
- ``{"op": "unstick"}``: the worker has interrupted a learner function that ran too long.

What a learner may see of a failed test is only the author's assert message, or the name of the
error: a traceback would quote hidden tests, and an error from a library (a frame comparison)
could quote the expected values.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from grading import boundary_data
from grading.boundary_data import BadData, Reader, Unavailable, Writer

LEARNER_MODULE = "_fj_boundary"
SHOWN_MAX = 600


class LearnerError(Exception):
    """A learner's function raised, or returned something that is not data."""


def learner_exception(kind: str) -> type[LearnerError]:
    """The class a learner function's exception is raised as on the trusted side: a
    LearnerError that is also the built-in exception of that name (ValueError, KeyError, ...),
    so that a test expecting ``except ValueError`` works as it would in one process."""
    builtin = getattr(__import__("builtins"), kind, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin is not Exception:
        try:
            return type(kind, (builtin, LearnerError), {})
        except TypeError:  # a built-in that cannot be combined with another base
            return LearnerError
    return LearnerError


class LearnerTimeout(Exception):
    """A learner's function (or the export of an answer) ran past the time limit."""


def learner_module_source() -> str:
    here = Path(__file__).parent
    return (here / "boundary_data.py").read_text(encoding="utf-8") + "\n" + \
        (here / "boundary_learner.py").read_text(encoding="utf-8")


def learner_program(call: str, install: bool) -> str:
    """Code run in the learner's kernel: ``call`` on the module ``_fj_boundary`` (installed by
    the first call), in a namespace of its own, so that nothing is bound in the learner's."""
    inner = "import sys, types\n"
    if install:
        inner += (f"m = types.ModuleType({LEARNER_MODULE!r})\n"
                  "exec(compile(SOURCE, '<grader>', 'exec'), m.__dict__)\n"
                  f"sys.modules[{LEARNER_MODULE!r}] = m\n")
    inner += f"sys.modules[{LEARNER_MODULE!r}].{call}\n"
    source = learner_module_source() if install else ""
    return f"exec({inner!r}, {{'SOURCE': {source!r}, '__name__': '_fj_run'}})"


class LearnerKernel:
    """The learner's running kernel, reached with the connection file the worker started it
    with; only code of this module is ever sent."""

    def __init__(self, connection_file: str, folder: str, timeout: float) -> None:
        from jupyter_client.blocking import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=connection_file)
        self.client.load_connection_file()
        self.client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        self.folder = folder
        self.timeout = timeout
        self.stuck = False
        self.installed = False
        self.requests = 0
        self.session = None  # (socket, execution id) of the learner's call loop, while it runs

    def run(self, call: str, timeout: float | None = None) -> None:
        """Run ``call`` on the learner's module and wait for it."""
        if self.stuck:
            raise LearnerTimeout("an earlier call of your code ran past the time limit")
        self.end_session()
        self._wait(self._execute(call), timeout or self.timeout)

    def _execute(self, call: str) -> str:
        msg_id = self.client.execute(learner_program(call, not self.installed), silent=True,
                                     store_history=False, allow_stdin=False, stop_on_error=False)
        self.installed = True
        return msg_id

    def _wait(self, msg_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stuck = True
                raise LearnerTimeout(f"your code ran for more than {self.timeout:g} s")
            try:
                reply = self.client.get_shell_msg(timeout=remaining)
            except Exception:  # queue.Empty: checked against the deadline above
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return

    def call(self, capture: str, name: str, args, kwargs):
        """Call the learner's function ``name`` (as bound after answer ``capture``)."""
        import struct

        if self.stuck:
            raise LearnerTimeout("an earlier call of your code ran past the time limit")
        self.requests += 1
        request_id = f"q{self.requests}"
        writer = Writer(self.folder, f"{request_id}a")
        try:
            request = {"id": request_id, "capture": capture, "name": name,
                       "args": writer.encode(list(args)), "kwargs": writer.encode(dict(kwargs))}
        except boundary_data.Unencodable as err:
            raise boundary_data.NotData(f"the grader cannot pass these arguments to {name} ({err})") from None
        connection = self._session()
        data = json.dumps(request, allow_nan=False).encode("utf-8")
        try:
            connection.sendall(struct.pack(">I", len(data)) + data)
            header = boundary_data.receive(connection, 4)
            size = struct.unpack(">I", header)[0] if header else 0
            if not header or size > boundary_data.MAX_FILE_BYTES:
                raise LearnerError(f"{name} gave no result the grader could read")
            body = boundary_data.receive(connection, size)
        except TimeoutError:
            self.stuck = True
            raise LearnerTimeout(f"{name} ran for more than {self.timeout:g} s") from None
        except OSError:
            self.end_session()
            raise LearnerError(f"{name} gave no result (its kernel stopped answering)") from None
        if body is None:
            self.end_session()
            raise LearnerError(f"{name} gave no result (its kernel stopped answering)")
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise LearnerError(f"{name} gave no result the grader could read") from None

    def _session(self):
        """A socket to a loop in the learner's kernel that calls its functions: one execution
        for a whole test cell, not one per call."""
        import secrets
        import socket

        if self.session is not None:
            return self.session[0]
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address = f"\0fj-grading-{secrets.token_hex(16)}"
        listener.bind(address)
        listener.listen(1)
        listener.settimeout(self.timeout)
        msg_id = self._execute(f"serve({address!r}, {self.folder!r})")
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            self.stuck = True
            raise LearnerTimeout("the learner's kernel did not answer the grader") from None
        finally:
            listener.close()
        connection.settimeout(self.timeout)
        self.session = (connection, msg_id)
        return connection

    def end_session(self) -> None:
        """Stop the learner's call loop and wait until its kernel is free again."""
        import struct

        if self.session is None:
            return
        connection, msg_id = self.session
        self.session = None
        try:
            stop = json.dumps({"op": "stop"}).encode()
            connection.sendall(struct.pack(">I", len(stop)) + stop)
        except OSError:
            pass
        finally:
            connection.close()
        if not self.stuck:
            self._wait(msg_id, self.timeout)


class LearnerFunction:
    """A learner's function, called across the boundary with data only."""

    def __init__(self, kernel: LearnerKernel, capture: str, name: str) -> None:
        self._kernel, self._capture, self.__name__ = kernel, capture, name

    def __call__(self, *args, **kwargs):
        reply = self._kernel.call(self._capture, self.__name__, args, kwargs)
        if not isinstance(reply, dict):
            raise LearnerError(f"{self.__name__} gave no result the grader could read")
        if reply.get("ok") is True:
            try:
                return Reader(self._kernel.folder).decode(reply.get("value"))
            except BadData as err:
                raise LearnerError(f"{self.__name__} returned something the grader cannot read "
                                   f"({err})") from None
        # Only the exception's type: its message is the learner's own text, and could quote a
        # hidden test's inputs into the feedback.
        kind = str(reply.get("type", "Error"))[:60]
        if kind == "NotData":
            raise LearnerError(f"your function {self.__name__} returned a value the grader cannot read "
                               "as data")
        if not kind.isidentifier():
            kind = "Error"
        raise learner_exception(kind)(f"your function {self.__name__} raised {kind} on one of the "
                                      "grader's inputs")

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"


def trusted_shell():
    """The process's IPython shell (made once: the zygote makes it before forking), keeping no
    history file."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    if InteractiveShell.initialized():
        return InteractiveShell.instance()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "NoColor"
    return InteractiveShell.instance(config=config)


class TrustedShell:
    """The replay: an IPython shell running only the source's own code."""

    def __init__(self, kernel: LearnerKernel) -> None:
        self.shell = trusted_shell()
        self.kernel = kernel
        self.captures = 0

    def run(self, source: str):
        result = self.shell.run_cell(source, store_history=False, silent=False)
        return result.error_before_exec or result.error_in_exec

    def capture(self, names: list[str], imports: str, capture: str) -> dict:
        if imports.strip():
            self.run(imports)
        for name in names:
            self.shell.user_ns.pop(name, None)
        kernel = self.kernel
        kernel.run(f"export({names!r}, {kernel.folder!r}, {capture!r})")
        reader = Reader(kernel.folder)
        manifest = reader.read_json(f"{capture}.json")
        if not isinstance(manifest, dict):
            raise BadData("the answer's manifest is not a mapping")
        bound, unavailable = [], {}
        for name, entry in manifest.items():
            if name not in names or not isinstance(entry, dict):
                continue
            kind = entry.get("kind")
            if kind == "function":
                value = LearnerFunction(kernel, capture, name)
            elif kind == "value":
                try:
                    value = reader.decode(entry.get("value"))
                except BadData as err:
                    value = Unavailable(name, "value", str(err))
            else:
                value = Unavailable(name, str(entry.get("type", "object"))[:100],
                                    str(entry.get("why", ""))[:200])
            if isinstance(value, Unavailable):
                unavailable[name] = repr(value)
            self.shell.user_ns[name] = value
            bound.append(name)
        return {"bound": bound, "unavailable": unavailable}

    def test(self, source: str) -> dict:
        error = self.run(source)
        if error is None:
            return {"passed": True}
        return {"passed": False, "ename": type(error).__name__, "shown": shown_message(error)}


def shown_message(error: BaseException) -> str:
    """The one line a learner may read about a failed check."""
    name = type(error).__name__
    if isinstance(error, AssertionError) and _raised_by_cell(error):
        message = str(error).strip()
        return (message or "a check failed")[:SHOWN_MAX]
    if isinstance(error, (LearnerError, LearnerTimeout)):
        return str(error)[:SHOWN_MAX]
    if isinstance(error, boundary_data.NotData):
        return str(error)[:SHOWN_MAX]
    if isinstance(error, NameError):
        return f"{name}: {str(error)[:200]}"
    return (f"{name}: the check could not be run on your answer; compare it with what the "
            "exercise asks for and with the visible checks")


def _frames(error: BaseException) -> list:
    frames, tb = [], error.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return frames


def _raised_by_cell(error: BaseException) -> bool:
    """An assert (or ``raise AssertionError``) in the test cell's own code, not one inside a
    library comparing frames, whose message could quote the expected values."""
    frames = _frames(error)
    return bool(frames) and frames[-1].startswith("<ipython-input-")


# --------------------------------------------------------------------------- the process

def _protocol_streams():
    """Keep the real stdout for replies; everything printed by cells (or by C libraries) goes
    to /dev/null, so nothing of the trusted side can reach the learner through output."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    sys.stderr = sys.stdout
    return replies


def _safe_path() -> None:
    """Learner-written files are copied into this process's working folder: never import from it."""
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]


def serve(args: argparse.Namespace) -> int:
    _safe_path()
    replies = _protocol_streams()
    kernel = LearnerKernel(args.connection_file, args.folder, args.timeout)
    trusted = TrustedShell(kernel)
    _safe_path()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            op = request["op"]
            if op == "run":
                error = trusted.run(request["source"])
                reply = {"ok": error is None, "ename": type(error).__name__ if error else ""}
            elif op == "capture":
                reply = {"ok": True, **trusted.capture(list(request["names"]), request.get("imports", ""),
                                                       request["capture"])}
            elif op == "test":
                reply = {"ok": True, **trusted.test(request["source"])}
            elif op == "unstick":
                kernel.stuck = False
                reply = {"ok": True}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except (BadData, LearnerTimeout, LearnerError) as err:
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}"[:SHOWN_MAX]}
        except Exception as err:  # noqa: BLE001 (one bad request never ends the replay)
            reply = {"ok": False, "error": f"{type(err).__name__}: {str(err)[:300]}"}
        with contextlib.suppress(LearnerTimeout):
            kernel.end_session()
        reply["stuck"] = kernel.stuck
        replies.write(json.dumps(reply, default=str) + "\n")
    return 0


# Imported once by the zygote, so that each notebook's replay starts in milliseconds, not the
# second these take (a worker grades a notebook every few seconds).
PRELOAD = ("numpy", "pandas", "pyarrow.parquet", "pyarrow.dataset", "pandas.io.parquet",
           "IPython.core.interactiveshell", "jupyter_client.blocking", "matplotlib.pyplot", "seaborn",
           "duckdb", "synthetic_data")


def zygote() -> int:
    """Import what a replay needs, then fork one replay per request read from stdin: a JSON line
    naming the learner kernel's connection file, the boundary folder, the working folder and two
    FIFOs (requests in, replies out). Replies with the child's pid. Runs only the grader's code."""
    import importlib
    import signal

    from grading import containment

    containment.die_with_parent(signal.SIGKILL)
    containment.set_dumpable(False)
    os.environ["MPLBACKEND"] = "Agg"
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (a missing optional library only costs start-up time)
            continue
    trusted_shell()  # no thread, no file: safe to fork, and each replay starts with it made
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # replays are reaped as they end
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _replay_child(request)
            finally:
                os._exit(code)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
    return 0


def _replay_child(request: dict) -> int:
    import signal

    from grading import containment

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    containment.die_with_parent(signal.SIGKILL)
    _bound_memory(request.get("cgroups") or [], int(request.get("memory_mb") or 0))
    os.chdir(request["cwd"])
    os.environ.update({str(k): str(v) for k, v in request.get("env", {}).items()})
    requests = os.open(request["requests"], os.O_RDONLY)
    replies = os.open(request["replies"], os.O_WRONLY)
    os.dup2(requests, 0)
    os.dup2(replies, 1)
    os.close(requests)
    os.close(replies)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (not the zygote's buffer)
    return serve(argparse.Namespace(connection_file=request["connection_file"], folder=request["folder"],
                                    timeout=float(request["timeout"])))


def _bound_memory(cgroups: list[str], memory_mb: int) -> None:
    """The replay parses what a learner wrote: it joins the submission's cgroup, so that its
    memory counts against the submission's own limit and it is killed with it; without a cgroup,
    its address space is bounded instead."""
    import resource

    joined = False
    for folder in cgroups:
        try:
            with open(os.path.join(str(folder), "cgroup.procs"), "w", encoding="ascii") as procs:
                procs.write(str(os.getpid()))
            joined = True
        except OSError:
            continue
    if not joined and memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.trusted", description=__doc__.split("\n\n")[0])
    parser.add_argument("--zygote", action="store_true", help="fork replays on request (grading.replay)")
    parser.add_argument("--connection-file", help="the learner kernel's connection file")
    parser.add_argument("--folder", help="the folder answers cross through")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a learner function may run")
    args = parser.parse_args(argv)
    if args.zygote:
        return zygote()
    if not args.connection_file or not args.folder:
        parser.error("--connection-file and --folder are needed without --zygote")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
