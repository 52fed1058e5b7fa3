"""A workshop in full swing: N learners run a course notebook at once, each in their own kernel.

Starts the demo hub (JupyterHub, its proxy, the book, the idle culler and the self-paced
feedback service) on a free port with a scratch state folder and releases the course. N
learners sign up with their one-time codes, log in and start their servers at once. Each
fetches the assignment through their own server (nbgrader's Assignments API, as the course home
does), opens it (a Jupyter session, which starts a kernel in the assignment's folder, as
JupyterLab does) and fills in the solutions. Then, all at the same moment, every learner runs
the notebook's code cells in order in their own kernel, over the kernel's websocket
(/api/kernels/{id}/channels, with the learner's own API token) - the released notebook with the
solutions filled in, which is exactly what a learner who got everything right runs.

While they run, one thread samples the machine's memory in use (total minus available) and
another calls the hub's REST API (/hub/api/users, with a trainer's token) every half second, as
the trainer's admin page and the live cohort report do. Printed:

- per-cell latency p50 and p95, from execute_request to execute_reply;
- peak machine memory, and its increase over the hub alone;
- memory per learner with a live kernel on the course data: the proportional set size (and
  resident size) of each learner's server and kernel process tree, median and max;
- the hub API's p50, p95 and max while the notebooks run.

    python benchmarks/full_swing.py [--learners N]            # default 50 (or FULL_SWING_N)
    python benchmarks/full_swing.py -n 5 --assignment orientation_01_family_justice_data

Targets, for 50 learners on one 2-core, 24 GB server: under 400 MB per learner (so the cohort
fits in 24 GB with room for the hub and the system), and the hub's API within 1 s at p95.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import websocket
from feedback_latency import COURSE_ID, answered, classroom_data, released_course  # beside this script
from hub_load import login_and_start, percentile, start_hub, stop_hub

from grading import cells
from grading.course import load_course
from hub_config.demo.__main__ import TRAINER_NAME
from hub_config.hubclient import HubClient, execute_request, wait_for_hub
from hub_config.signup_codes import SignupCodes, codes_file

REPO = Path(__file__).resolve().parents[1]

DEFAULT_ASSIGNMENT = "data_quality_01_counting_units"
TARGET_MB_PER_LEARNER = 400
TARGET_API_P95 = 1.0
SAMPLE_EVERY = 0.5
MIB = 2**20


@dataclass
class Learner:
    """One learner's browser session, API token, notebook session and results."""

    name: str
    client: HubClient
    token: str = ""
    kernel_id: str = ""
    code: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Sampler(threading.Thread):
    """Call `probe` every SAMPLE_EVERY seconds until stopped, keeping what it returns."""

    def __init__(self, probe: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.probe = probe
        self.values: list = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            began = time.monotonic()
            self.values.append(self.probe())
            self.halt.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - began)))

    def stop(self) -> list:
        self.halt.set()
        self.join()
        return self.values


def memory_in_use() -> int:
    """Memory the machine cannot give to a new process: total minus available (page cache that
    could be dropped does not count)."""
    vm = psutil.virtual_memory()
    return vm.total - vm.available


class MemoryGuard:
    """A probe of the memory in use that, once less than `reserve` bytes remain available,
    stops every learner's server and kernels: a benchmark must not push a shared machine into
    its out-of-memory killer."""

    def __init__(self, hub_pid: int, reserve: int) -> None:
        self.hub_pid = hub_pid
        self.reserve = reserve
        self.tripped = threading.Event()

    def __call__(self) -> int:
        if psutil.virtual_memory().available < self.reserve:
            self.tripped.set()
        if self.tripped.is_set():  # again at every sample: servers may still be starting
            with contextlib.suppress(psutil.Error):  # the hub itself may be stopping
                for proc in psutil.Process(self.hub_pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        if "singleuser" in " ".join(proc.cmdline()):
                            for member in [*proc.children(recursive=True), proc]:
                                with contextlib.suppress(psutil.Error):
                                    member.kill()
        return memory_in_use()


def api_probe(url: str, token: str):
    """A probe timing one call of the hub's REST API (None when it failed)."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"

    def probe() -> float | None:
        began = time.monotonic()
        try:
            ok = session.get(f"{url}/hub/api/users", timeout=30).status_code == 200
        except requests.RequestException:
            ok = False
        return time.monotonic() - began if ok else None
    return probe


def prepare(learner: Learner, assignment: str, source) -> None:
    """Fetch the assignment through the learner's server, open it (a session with a kernel in
    its folder), fill in the solutions, and keep the code cells to run."""
    client = learner.client
    r = client.lab_api("assignments/fetch", "POST",
                       data={"course_id": COURSE_ID, "assignment_id": assignment})
    r.raise_for_status()
    path = f"{assignment}/{assignment}.ipynb"
    notebook = answered(client.lab_api(f"api/contents/{path}").json()["content"], source)
    r = client.lab_api(f"api/contents/{path}", "PUT",
                       json={"type": "notebook", "format": "json", "content": notebook})
    r.raise_for_status()
    learner.code = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                    for c in notebook["cells"] if c["cell_type"] == "code"]
    learner.token = client.token()
    r = requests.post(f"{client.url}/user/{learner.name}/api/sessions", timeout=120,
                      headers={"Authorization": f"token {learner.token}"},
                      json={"path": path, "name": f"{assignment}.ipynb", "type": "notebook",
                            "kernel": {"name": "python3"}})
    r.raise_for_status()
    learner.kernel_id = r.json()["kernel"]["id"]


def run_cells(learner: Learner, url: str, start: threading.Barrier, timeout: float) -> None:
    """Connect to the learner's kernel, wait for everyone, then run each code cell in turn and
    time execute_request to execute_reply."""
    session = uuid.uuid4().hex
    ws_url = url.replace("http", "ws", 1) + f"/user/{learner.name}/api/kernels/{learner.kernel_id}/channels"
    try:
        ws = websocket.create_connection(f"{ws_url}?session_id={session}", timeout=timeout,
                                         header=[f"Authorization: token {learner.token}"])
    except Exception:
        start.abort()  # nobody waits for a learner who cannot start
        raise
    try:
        start.wait()
        for code in learner.code:
            request = execute_request(code, session, learner.name)
            began = time.monotonic()
            ws.send(json.dumps(request))
            while True:
                reply = json.loads(ws.recv())
                if (reply.get("msg_type") == "execute_reply"
                        and reply["parent_header"].get("msg_id") == request["header"]["msg_id"]):
                    break
            learner.latencies.append(time.monotonic() - began)
            if reply["content"].get("status") != "ok":
                learner.errors.append(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
                return
    finally:
        ws.close()


def learner_trees(hub_pid: int) -> list[tuple[int, int, int]]:
    """(PSS of the whole tree, PSS of the server alone, RSS of the whole tree) of each
    single-user server together with its kernels and their children."""
    trees = []
    for proc in psutil.Process(hub_pid).children(recursive=True):
        try:
            command = " ".join(proc.cmdline())
            if "jupyterhub.singleuser" not in command and "jupyterhub-singleuser" not in command:
                continue
            server = proc.memory_full_info()
            pss = server_pss = getattr(server, "pss", server.rss)
            rss = server.rss
            for member in proc.children(recursive=True):
                info = member.memory_full_info()
                pss += getattr(info, "pss", info.rss)
                rss += info.rss
            trees.append((pss, server_pss, rss))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return trees


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--learners", "-n", type=int, default=int(os.environ.get("FULL_SWING_N", 50)),
                        help="learners (default 50, or FULL_SWING_N)")
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT,
                        help=f"the assignment every learner runs (default {DEFAULT_ASSIGNMENT})")
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for any one cell")
    parser.add_argument("--reserve", type=float, default=1.0,
                        help="GiB of memory to leave available: below it every learner's server is "
                             "stopped and the run ends (default 1)")
    args = parser.parse_args()
    if args.learners < 1:
        sys.exit("--learners must be at least 1")
    assignment = next((a for a in load_course(args.notebooks).assignments if a.id == args.assignment), None)
    if assignment is None:
        sys.exit(f"no assignment {args.assignment!r} under {args.notebooks}")
    source = cells.read_notebook(assignment.notebook)
    data = classroom_data()

    if psutil.virtual_memory().available < args.reserve * 2**30:
        sys.exit(f"only {psutil.virtual_memory().available / 2**30:.1f} GiB of memory is available, "
                 f"less than --reserve {args.reserve:g} GiB")
    names = [f"learner{i:03d}" for i in range(args.learners)]
    state, course, settings = released_course("fj-full-swing-", data, args.notebooks, names)
    url = course.extra["bind_url"]
    hub = start_hub(state, settings)
    children: list[psutil.Process] = []
    try:
        wait_for_hub(url, timeout=90)
        password = "full-swing-password-1"
        codes = SignupCodes(codes_file(course.state_dir / "hub")).issue([*names, TRAINER_NAME], reissue=True)
        trainer = HubClient(url)
        trainer.signup(TRAINER_NAME, password, code=codes[TRAINER_NAME])
        if not trainer.login(TRAINER_NAME, password):
            raise RuntimeError("the trainer could not log in")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda name: HubClient(url).signup(name, password, code=codes[name]), names))
        hub_alone = memory_in_use()
        print(f"full_swing: {len(names)} learners run {assignment.id} at once on {os.cpu_count()} cores "
              f"({psutil.virtual_memory().total / 2**30:.0f} GiB, {hub_alone / 2**30:.1f} GiB in use "
              "with the hub alone)", flush=True)

        guard = MemoryGuard(hub.pid, int(args.reserve * 2**30))
        memory = Sampler(guard)
        api = Sampler(api_probe(url, trainer.token()))
        memory.start()
        try:
            began = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                list(pool.map(lambda name: login_and_start(url, name, password), names))
            print(f"all servers ready:            {time.monotonic() - began:.1f} s after the logins",
                  flush=True)
            learners = [Learner(name, HubClient(url)) for name in names]
            for learner in learners:
                if not learner.client.login(learner.name, password):
                    raise RuntimeError(f"{learner.name} could not log in")
            began = time.monotonic()
            with ThreadPoolExecutor(max_workers=min(8, len(learners))) as pool:
                list(pool.map(lambda learner: prepare(learner, assignment.id, source), learners))
            print(f"fetched and opened:           {time.monotonic() - began:.1f} s "
                  "(every notebook open with a kernel)", flush=True)

            start = threading.Barrier(len(learners) + 1)
            api.start()
            with ThreadPoolExecutor(max_workers=len(learners)) as pool:
                runs = [pool.submit(run_cells, learner, url, start, args.timeout) for learner in learners]
                start.wait()
                began = time.monotonic()
                for run in runs:
                    run.result()
        except Exception:
            if not guard.tripped.is_set():
                raise
        if guard.tripped.is_set():
            sys.exit(f"stopped: less than {args.reserve:g} GiB of memory remained available "
                     f"(peak {max(memory.values) / 2**30:.1f} GiB in use), so every learner's server "
                     "was stopped; run fewer learners or free memory")
        wall = time.monotonic() - began
        api_seconds = api.stop()
        time.sleep(2)  # let the kernels finish sending output
        trees = learner_trees(hub.pid)
        peak = max(memory.stop())
        children = psutil.Process(hub.pid).children(recursive=True)

        failed = [f"{learner.name}: {learner.errors[0]}" for learner in learners if learner.errors]
        latencies = [s for learner in learners for s in learner.latencies]
        answered_calls = [s for s in api_seconds if s is not None]
        pss = [tree for tree, _, _ in trees]
        server = [alone for _, alone, _ in trees]
        rss = [r for _, _, r in trees]
        cells_run = len(learners[0].code)
        print(f"notebooks run:                {len(learners) - len(failed)} of {len(learners)} "
              "without error, "
              f"{cells_run} code cells each, all done in {wall:.1f} s")
        for line in failed[:5]:
            print(f"  failed: {line}")
        print(f"cell latency p50:             {statistics.median(latencies):.2f} s")
        print(f"cell latency p95:             {percentile(latencies, 0.95):.2f} s "
              f"(slowest {max(latencies):.1f} s)")
        print(f"peak machine memory:          {peak / 2**30:.1f} GiB in use, "
              f"{(peak - hub_alone) / 2**30:.1f} GiB over the hub alone "
              f"({(peak - hub_alone) / len(names) / MIB:.0f} MiB per learner)")
        print(f"memory per learner (PSS):     median {statistics.median(pss) / MIB:.0f} MiB, "
              f"max {max(pss) / MIB:.0f} MiB over {len(trees)} server+kernel trees "
              f"(target: under {TARGET_MB_PER_LEARNER} MB)")
        print(f"  of which the server:        median {statistics.median(server) / MIB:.0f} MiB, "
              f"the kernel and its children the rest")
        print(f"memory per learner (RSS):     median {statistics.median(rss) / MIB:.0f} MiB, "
              f"max {max(rss) / MIB:.0f} MiB (shared libraries counted in every tree)")
        if answered_calls:
            print(f"hub API while running:        p50 {statistics.median(answered_calls):.2f} s, "
                  f"p95 {percentile(answered_calls, 0.95):.2f} s, max {max(answered_calls):.2f} s "
                  f"over {len(api_seconds)} calls, {len(api_seconds) - len(answered_calls)} failed "
                  f"(target: p95 within {TARGET_API_P95:.0f} s)")
        if failed:
            sys.exit(f"{len(failed)} learners' notebooks stopped with an error")
    finally:
        stop_hub(hub, children, state)


if __name__ == "__main__":
    main()
