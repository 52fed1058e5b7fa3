"""Self-paced feedback: N learners on the demo hub submit at once; how long until feedback is ready?

Starts the demo hub (JupyterHub, its proxy, the book, the self-paced feedback service that runs
`python -m grading watch --self-paced`) on a free port with a scratch state folder, releases the
course's first assignment, signs N learners up with their one-time codes and starts their
servers. Each learner fetches the assignment through their own server (nbgrader's Assignments
API, as the panel does), writes the right answers into it, and then all N submit at the same
moment through the real exchange. The benchmark polls each learner's assignment list until the
exchange has feedback for their submission, and prints submit-to-feedback-ready p50 and p95.

    python benchmarks/feedback_latency.py [--learners N] [--assignment ID]   # default 10

Target: p95 under 60 s for 10 learners submitting at once on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from hub_load import percentile, start_hub, stop_hub  # beside this script

from grading import cells
from grading.course import load_course
from hub_config import course_ops
from hub_config.course import Course
from hub_config.demo.__main__ import demo_course, learner_data_view, write_settings
from hub_config.hub import free_port
from hub_config.hubclient import HubClient, wait_for_hub
from hub_config.signup_codes import SignupCodes, codes_file

REPO = Path(__file__).resolve().parents[1]

TARGET_P95 = 60.0
COURSE_ID = "fj-course"


def classroom_data() -> Path:
    """The classroom dataset the course runs on; the benchmark ends with one line without it."""
    data = REPO / "data" / "classroom"
    if not (data / "manifest.json").exists():
        sys.exit("the classroom dataset is missing: run `make data` first")
    return data


def released_course(prefix: str, data: Path, notebooks: Path, names: list[str]) -> tuple[Path, Course, Path]:
    """A demo hub's state folder on a free port with the course released from ``notebooks``, the
    learners' data view, an open exchange and ``names`` on the roster: (state, course, settings)."""
    state = Path(tempfile.mkdtemp(prefix=prefix))
    course = demo_course(state, data, free_port())
    course = course.replace(extra={**course.extra, "notebooks": str(notebooks.absolute())})
    learner_data_view(data, Path(course.extra["learner_data_dir"]))
    course.exchange_dir.mkdir(parents=True, exist_ok=True)
    course.exchange_dir.chmod(0o1777)
    course.roster_file.write_text("\n".join(names) + "\n")
    settings = state / "settings.yaml"
    write_settings(course, settings)
    course_ops.release(course, Path(sys.executable), notebooks)
    return state, course, settings


def answered(released: dict, source) -> dict:
    """The released notebook with every answer cell filled with the source's solution."""
    answers = {cells.grade_id(c): cells.solution_filled(c) for c in source.cells if cells.is_answer_cell(c)}
    for cell in released["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers and cell["cell_type"] == "code":
            cell["source"] = answers[gid]
    return released


def prepare(client: HubClient, assignment: str, source) -> None:
    """Fetch the assignment through the learner's server and save the right answers into it."""
    r = client.lab_api("assignments/fetch", "POST",
                       data={"course_id": COURSE_ID, "assignment_id": assignment})
    r.raise_for_status()
    path = f"api/contents/{assignment}/{assignment}.ipynb"
    nb = client.lab_api(path).json()["content"]
    r = client.lab_api(path, "PUT", json={"type": "notebook", "format": "json",
                                          "content": answered(nb, source)})
    r.raise_for_status()


def has_feedback(client: HubClient, assignment: str) -> bool:
    listing = client.lab_api(f"assignments?course_id={COURSE_ID}").json()["value"]
    for entry in listing:
        if entry.get("assignment_id") != assignment or entry.get("status") != "submitted":
            continue
        if any(s.get("has_exchange_feedback") or s.get("has_local_feedback")
               for s in entry.get("submissions", [])):
            return True
    return False


def submit_and_wait(client: HubClient, assignment: str, timeout: float) -> float:
    began = time.monotonic()
    r = client.lab_api("assignments/submit", "POST",
                       data={"course_id": COURSE_ID, "assignment_id": assignment})
    r.raise_for_status()
    if isinstance(r.json(), dict) and r.json().get("success") is False:
        raise RuntimeError(f"{client.username} could not submit: {r.json().get('value')}")
    while time.monotonic() - began < timeout:
        if has_feedback(client, assignment):
            return time.monotonic() - began
        time.sleep(1)
    raise RuntimeError(f"{client.username}: no feedback within {timeout:.0f} s")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--learners", "-n", type=int, default=10)
    parser.add_argument("--assignment", default="", help="an assignment id (default: the course's first)")
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait for each learner's feedback")
    args = parser.parse_args()
    course_def = load_course(args.notebooks)
    assignment = next((a for a in course_def.assignments if a.id == args.assignment), None) \
        if args.assignment else course_def.assignments[0]
    if assignment is None:
        sys.exit(f"no assignment {args.assignment!r} under {args.notebooks}")
    source = cells.read_notebook(assignment.notebook)
    data = classroom_data()

    names = [f"learner{i:03d}" for i in range(args.learners)]
    state, course, settings = released_course("fj-feedback-latency-", data, args.notebooks, names)
    url = course.extra["bind_url"]
    hub = start_hub(state, settings)
    children: list[psutil.Process] = []
    try:
        wait_for_hub(url, timeout=90)
        password = "latency-test-password-1"
        codes = SignupCodes(codes_file(course.state_dir / "hub")).issue(names, reissue=True)
        clients = {name: HubClient(url) for name in names}
        with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
            list(pool.map(lambda name: clients[name].signup(name, password, code=codes[name]), names))
            for name in names:
                if not clients[name].login(name, password):
                    raise RuntimeError(f"{name} could not log in")
            list(pool.map(lambda name: clients[name].start_server(timeout=600), names))
            list(pool.map(lambda name: prepare(clients[name], assignment.id, source), names))
        print(f"feedback_latency: {len(names)} learners submit {assignment.id} at once, "
              f"{os.cpu_count()} cores", flush=True)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            seconds = list(pool.map(lambda name: submit_and_wait(clients[name], assignment.id, args.timeout),
                                    names))
        children = psutil.Process(hub.pid).children(recursive=True)
        scores = []
        status_file = course.course_dir / "grading_status.json"
        if status_file.exists():
            scores = [e.get("status") for e in json.loads(status_file.read_text()).values()]
        print(f"statuses:                     {', '.join(sorted(set(scores))) or 'none recorded'}")
        print(f"submit-to-feedback median:    {statistics.median(seconds):.1f} s")
        print(f"submit-to-feedback p95:       {percentile(seconds, 0.95):.1f} s "
              f"(target: under {TARGET_P95:.0f} s for 10 learners on 2 cores)")
        print(f"slowest:                      {max(seconds):.1f} s")
    finally:
        stop_hub(hub, children, state)


if __name__ == "__main__":
    main()
