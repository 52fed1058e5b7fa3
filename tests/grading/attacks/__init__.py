"""Hostile submissions: what a learner could try against the grader and the other learners.

Each attack turns the right notebook of ``orientation_01_counting_cases`` into a submission that
also tries one thing (hijack another kernel through /proc, leave a process behind, exceed the
memory cap with children, fork without end, run for ever in many cells under the cell limit,
print far more than the output caps, leave files in /tmp and /dev/shm, read the grader's
secrets from /proc). ``tests/grading/attacks/test_attacks.py`` grades them in one batch beside
honest and blank controls and checks that nothing worked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.grading.broken_submissions import ASSIGNMENT, NOTEBOOK

# The time limits the batch is graded with (seconds); the attacks are sized against them.
CELL_TIMEOUT = 20
NOTEBOOK_TIMEOUT = 45
MEMORY_MB = 2048
NOTEBOOK_OUTPUT_MB = 5

# Finds every kernel through /proc (its command line names its connection file), and for each
# one whose connection file it can read, executes code in it that spoils the learner's answers.
HIJACK = r'''
import glob, json, os, time

def _fj_hijack(seconds, report):
    me, hits = os.getpid(), set()
    end = time.time() + seconds
    while time.time() < end:
        for folder in glob.glob("/proc/[0-9]*"):
            pid = int(folder.rsplit("/", 1)[1])
            if pid == me or pid in hits:
                continue
            try:
                args = open(folder + "/cmdline", "rb").read().split(b"\0")
                conn = args[args.index(b"-f") + 1].decode()
                info = json.load(open(conn))
            except (OSError, ValueError, IndexError):
                continue
            try:
                from jupyter_client import BlockingKernelClient
                client = BlockingKernelClient()
                client.load_connection_info(info)
                client.start_channels()
                client.execute("n_public = -1; n_children = -1", silent=True)
                hits.add(pid)
                report(f"HIJACKED {pid}")
            except Exception as err:
                report(f"could not hijack {pid}: {err}")
        time.sleep(0.2)
    return hits
'''


@dataclass(frozen=True)
class Attack:
    student: str
    what: str
    make: Callable[[dict], dict]


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _code(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def append_to_answer(code: str, grade_id: str = "public_count") -> Callable[[dict], dict]:
    """The right notebook, with ``code`` run after the right answer in one answer cell."""
    def make(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        cell = _cell(nb, grade_id)
        cell["source"] = cell["source"] + "\n" + code
        return nb
    return make


def extra_cells(*sources: str, after: str = "public_count") -> Callable[[dict], dict]:
    """The right notebook, with new (ungraded) code cells after an answer cell."""
    def make(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        index = nb["cells"].index(_cell(nb, after)) + 1
        nb["cells"][index:index] = [_code(s) for s in sources]
        return nb
    return make


def wrong_public_count_after_output(nb: dict) -> dict:
    """Exhausts the notebook's output budget, then answers wrong: the failed check must still
    count (its error is shortened, never dropped)."""
    nb = copy.deepcopy(nb)
    index = nb["cells"].index(_cell(nb, "public_count"))
    nb["cells"][index:index] = [_code("print('w' * 1_500_000)") for _ in range(4)]
    cell = _cell(nb, "public_count")
    cell["source"] = "n_public = -1"
    return nb


SURVIVOR = HIJACK + r'''
import os, subprocess, sys, time
# A detached process that outlives the kernel and goes after every later kernel it can reach,
code = _HIJACK_SOURCE + "\n_fj_hijack(90, lambda line: None)"
subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# and a double-forked sleeper in a session of its own.
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(120)
    os._exit(0)
'''.replace("_HIJACK_SOURCE", repr(HIJACK))

MEMORY = r'''
import glob, os, time
children = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        try:
            block = b"\1" * (1024 * 2**20)  # 1 GB, every page written
            time.sleep(4)
            open(f"still-{i}", "w").write(str(len(block)))
        finally:
            os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("STILL HOLDING", len(glob.glob("still-*")))
'''

FORK_BOMB = r'''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
'''

LEFT_FILES = r'''
import os, tempfile
open("/tmp/fj-attack-left.txt", "w").write("left behind")
os.makedirs("/tmp/fj-attack-dir/inner", exist_ok=True)
open("/tmp/fj-attack-dir/inner/file", "w").write("left behind")
open("/dev/shm/fj-attack-shm", "wb").write(b"x" * 2**20)
open("/var/tmp/fj-attack-var", "w").write("left behind")
tempfile.NamedTemporaryFile(delete=False).write(b"in TMPDIR")
'''

READ_ENVIRON = r'''
import glob, os
seen = []
for path in ["/proc/self/environ", f"/proc/{os.getppid()}/environ", *glob.glob("/proc/[0-9]*/environ")]:
    try:
        seen.append(f"{path}: {open(path, 'rb').read()[:20000]!r}")
    except OSError as err:
        seen.append(f"{path}: {type(err).__name__}")
print("\n".join(seen)[:1_000_000])
'''

ATTACKS: list[Attack] = [
    # Graded first, at the same time (two workers): the hijacker hunts while the victim runs.
    Attack("a1_hijacker", "hijacks a kernel graded at the same time, through /proc",
           append_to_answer(HIJACK + "\n_fj_hijack(6, print)")),
    Attack("b1_survivor", "leaves detached processes that attack later submissions",
           append_to_answer(SURVIVOR)),
    Attack("d1_memory", "4 children of 1 GB each under a 2 GB cap", append_to_answer(MEMORY)),
    Attack("e1_fork_bomb", "forks without end", append_to_answer(FORK_BOMB, "children_count")),
    Attack("f1_long_cells", "ten cells just under the cell limit",
           extra_cells(*[f"import time\ntime.sleep({CELL_TIMEOUT - 2})"] * 10)),
    Attack("g1_big_output", "30 MB in one cell, 1.5 MB in six, 20 MB through a display update",
           extra_cells("print('x' * 30_000_000)", *["print('y' * 1_500_000)"] * 6,
                       "h = display('small', display_id=True)\nh.update('z' * 20_000_000)")),
    Attack("h1_output_then_wrong", "exhausts the output budget, then answers wrong",
           wrong_public_count_after_output),
    Attack("i1_left_files", "leaves files in /tmp, /var/tmp and /dev/shm", append_to_answer(LEFT_FILES)),
    Attack("j1_environ", "reads every /proc/<pid>/environ it can", append_to_answer(READ_ENVIRON)),
]

# Honest learners: the victim is slow, so the hijacker finds it running; one is graded last,
# after every attack.
SLOW_ANSWER = "import time\ntime.sleep(5)"
HONEST = ["a2_victim", "c1_honest", "z9_honest"]
BLANK = "k1_blank"
WRONG_LEARNER = "l1_wrong"


def write(folder: Path, nb: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text("2026-01-15 10:00:00.000000 UTC\n")
    (folder / NOTEBOOK).write_text(json.dumps(nb), encoding="utf-8")


__all__ = ["ASSIGNMENT", "ATTACKS", "BLANK", "HONEST", "SLOW_ANSWER", "WRONG_LEARNER", "write"]
