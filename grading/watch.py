"""``python -m grading watch``: graded feedback for self-paced learners, as they submit.

Each pass does what a trainer would do by hand, for the new submissions only:

1. **collect** every released assignment from the exchange with the safe collector
   (``grading.cohort.collect``: nothing in the exchange is trusted; a refused folder is reported
   once, not on every pass);
2. **decide** for each submission not yet graded in its present form: grade it, tell the
   learner the attempt cap is reached (``max_attempts``), or wait (``wait_minutes``);
3. **autograde** the chosen ones through :class:`grading.autograde.Grader`, exactly what
   ``python -m grading autograde`` runs (sandbox, trusted replay, cgroups, signals);
4. **feedback** for just those submissions (with model answers when self-paced), released to
   the exchange where ``nbgrader fetch_feedback`` finds it, and one printed line each.

What has been counted lives in ``COURSE_DIR/watch_state.json`` (written whole, then renamed into
place), so a restart neither forgets attempts nor grades a submission twice: a submission handed
to the grader is recorded first, and one graded but not yet given feedback (the watcher was
stopped in between) gets its feedback on the next pass.

Rules (documented in grading/README.md, "Self-paced feedback"):

- **An attempt** is a submission the watcher graded. Learners' newest submission is the one
  collected, so submissions made between two passes, or while a wait runs, count once, as the
  newest; grading one submission again (its assignment was released again) is not a new attempt.
- **The cap**: with ``max_attempts`` N > 0, a learner's submissions of an assignment after the
  Nth graded one are not graded; each gets a feedback page saying so and what counts.
- **The wait**: with ``wait_minutes`` M > 0, a submission is graded no sooner than M minutes after
  the watcher first saw the learner's previous graded submission of that assignment (the
  timestamp in a submission's folder name is the learner's to write, so it is not trusted for
  this); meanwhile nothing happens, and the newest submission is graded when the wait is over.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grading.atomic import write_atomically
from grading.errors import GradingError
from grading.settings import Settings

STATE_NAME = "watch_state.json"
LOCK_NAME = ".watch.lock"
STATE_VERSION = 1
DEFAULT_INTERVAL = 5.0


@dataclass(frozen=True)
class Policy:
    """What a pass may grade and what feedback shows."""

    max_attempts: int = 0  # graded attempts per learner and assignment; 0: no cap
    wait_minutes: float = 0  # minutes between a learner's graded attempts at one assignment
    model_answers: bool = False  # written answers followed by the model answer and rubric


@dataclass
class PassResult:
    """What one pass did (the printed lines, for tests and logs)."""

    graded: list[str] = field(default_factory=list)
    capped: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- state

def state_path(settings: Settings) -> Path:
    return settings.course_dir / STATE_NAME


def load_state(settings: Settings) -> dict:
    """The watcher's record: per ``learner/assignment`` the graded attempts and what is under
    way. A missing file is an empty record; an unreadable one is an error (starting afresh
    would forget attempts)."""
    path = state_path(settings)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": STATE_VERSION, "submissions": {}}
    except (OSError, ValueError) as err:
        raise GradingError(f"cannot read {path} ({err}): move it away to start counting attempts "
                           "afresh") from None
    if not isinstance(state, dict) or not isinstance(state.get("submissions"), dict):
        raise GradingError(f"{path} is not a record written by `grading watch`")
    return state


def save_state(settings: Settings, state: dict) -> None:
    """Written to a temporary file in the course folder, flushed to disk, then renamed over the
    old one: a crash leaves the old record or the new one, never half of one."""
    path = state_path(settings)
    write_atomically(path, (json.dumps(state, indent=1, sort_keys=True) + "\n").encode(),
                     mode=0o660 if path.parent.stat().st_mode & 0o2000 else 0o600, sync=True)


def _entry(state: dict, key: str) -> dict:
    entry = state["submissions"].setdefault(key, {})
    entry.setdefault("attempts", [])
    entry.setdefault("capped", [])
    return entry


# --------------------------------------------------------------------------- one pass

def submission_stamp(settings: Settings, student: str, assignment: str) -> str:
    """The submission's timestamp as collect wrote it (from the exchange folder's name): what
    tells one submission of a learner from the next."""
    path = settings.submitted(student, assignment) / "timestamp.txt"
    try:
        if not path.is_symlink():
            return path.read_text(encoding="utf-8", errors="replace").strip()[:100]
    except OSError:
        pass
    return ""


def stamp_seconds(stamp: str) -> float | None:
    """A timestamp's time (seconds since the epoch), or None when it cannot be read."""
    from datetime import UTC

    from grading.collect import parse_timestamp

    try:
        when = parse_timestamp(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def run_pass(settings: Settings, grader, policy: Policy, *, clock: Callable[[], float] = time.time,
             known_refusals: set[tuple[str, str]] | None = None,
             stop: Callable[[], bool] = lambda: False) -> PassResult:
    """One pass: collect, decide, grade, give feedback (see the module's description). A
    submission that fails at any step is reported and never stops the others. ``stop`` is asked
    before grading starts (a signal arrived: finish what is under way, start nothing new)."""
    from grading.autograde import find_submissions, read_statuses, released_assignments
    from grading.cohort import collect
    from grading.collect import print_refusals

    result = PassResult()
    released = released_assignments(settings)
    ids = sorted(released)
    known = known_refusals if known_refusals is not None else set()
    collected = collect(settings, ids, known=known)
    if collected.refused:
        print_refusals(collected.refused)
        known.update((r.folder, r.reason) for r in collected.refused)
    tasks = find_submissions(settings, ids)
    state = load_state(settings)
    saved = [json.dumps(state, sort_keys=True)]

    def checkpoint() -> None:  # the record on disk, rewritten only when it changed
        text = json.dumps(state, sort_keys=True)
        if text != saved[0]:
            save_state(settings, state)
            saved[0] = text

    statuses = read_statuses(settings)
    _finalise(state, statuses, clock())
    now = clock()
    todo = []
    for task in tasks:
        key = f"{task.student}/{task.assignment}"
        if statuses.get(key, {}).get("fingerprint") == task.fingerprint:
            continue  # graded in this very form already
        entry = _entry(state, key)
        stamp = submission_stamp(settings, task.student, task.assignment) or task.fingerprint[:16]
        if entry.get("seen", {}).get("timestamp") != stamp:
            entry["seen"] = {"timestamp": stamp, "seen_at": now}
        counted = any(a["timestamp"] == stamp for a in entry["attempts"])
        decision = "grade" if counted else _decide(entry, policy, now)
        if decision == "cap":
            entry.pop("grading", None)
            if stamp not in entry["capped"]:
                entry["capped"].append(stamp)
                try:
                    _tell_capped(settings, task, released[task.assignment], policy, entry)
                    line = (f"not graded {key}: the cap of {policy.max_attempts} graded attempt(s) is "
                            "reached; its feedback page says so")
                    result.capped.append(line)
                    print(line, flush=True)
                except Exception as err:  # noqa: BLE001 (one submission never stops the others)
                    _error(result, f"{key}: the attempt cap page could not be released: {_reason(err)}")
            continue
        if decision == "wait":
            entry.pop("grading", None)
            result.deferred.append(key)
            continue
        entry["grading"] = {"timestamp": stamp, "fingerprint": task.fingerprint,
                            "seen_at": entry["seen"]["seen_at"], "counted": not counted}
        todo.append(task)
    checkpoint()  # before grading: what is handed to the grader is on record
    if todo and not stop():
        from grading.autograde import Interrupted

        try:
            grader.grade(todo, progress=False, handle_signals=True)
        except Interrupted:
            _finalise(state, read_statuses(settings), clock())
            checkpoint()
            raise
        _finalise(state, read_statuses(settings), clock())
        checkpoint()
    _give_feedback(settings, state, policy, result)
    checkpoint()
    return result


def _decide(entry: dict, policy: Policy, now: float) -> str:
    """grade, cap (over the attempt cap) or wait (too soon after the previous graded attempt)."""
    attempts = entry["attempts"]
    if policy.max_attempts and len(attempts) >= policy.max_attempts:
        return "cap"
    if policy.wait_minutes and attempts and now < attempts[-1]["seen_at"] + 60 * policy.wait_minutes:
        return "wait"
    return "grade"


def _finalise(state: dict, statuses: dict, now: float) -> None:
    """Submissions handed to the grader whose result is recorded (the status file holds their
    fingerprint): counted as an attempt (unless graded before in another form) and queued for
    feedback. Those the grader did not reach stay under way and are decided again."""
    for key, entry in state["submissions"].items():
        grading = entry.get("grading")
        if not grading or statuses.get(key, {}).get("fingerprint") != grading["fingerprint"]:
            continue
        if grading["counted"] and not any(a["timestamp"] == grading["timestamp"] for a in entry["attempts"]):
            entry["attempts"].append({"timestamp": grading["timestamp"], "seen_at": grading["seen_at"],
                                      "graded_at": now})
        entry["unreleased"] = grading["timestamp"]
        entry.pop("grading")


def _give_feedback(settings: Settings, state: dict, policy: Policy, result: PassResult) -> None:
    """Feedback for every graded submission still without it, released to the exchange, one
    assignment at a time; a line printed for each."""
    from grading import feedback

    waiting: dict[str, list[str]] = {}
    for key, entry in state["submissions"].items():
        if entry.get("unreleased"):
            student, assignment = key.split("/", 1)
            waiting.setdefault(assignment, []).append(student)
    for assignment, students in sorted(waiting.items()):
        try:
            feedback.generate_feedback(settings, [assignment], students=students,
                                       model_answers=policy.model_answers)
            problems = {p.student: p for p in feedback.release_feedback(settings, [assignment],
                                                                        students=students)}
        except Exception as err:  # noqa: BLE001 (the next assignment's feedback still goes out)
            for student in students:
                entry = state["submissions"][f"{student}/{assignment}"]
                entry["feedback_tries"] = entry.get("feedback_tries", 0) + 1
                if entry["feedback_tries"] >= 3:  # never retried for ever
                    entry.pop("unreleased")
            _error(result, f"{assignment}: feedback for {', '.join(sorted(students))} failed: {_reason(err)}")
            continue
        released_at = time.time()
        try:
            scores = _scores(settings, assignment, students)
        except Exception as err:  # noqa: BLE001 (the feedback is out; only the printed score is lost)
            _error(result, f"{assignment}: scores could not be read: {_reason(err)}")
            scores = {}
        statuses = _statuses(settings)
        for student in sorted(students):
            key = f"{student}/{assignment}"
            entry = state["submissions"][key]
            stamp = entry.pop("unreleased")
            entry.pop("feedback_tries", None)
            submitted = stamp_seconds(stamp)
            for attempt in entry["attempts"]:
                if attempt["timestamp"] == stamp:
                    attempt["released_at"] = released_at
            status = statuses.get(key, {}).get("status", "graded")
            if student in scores:
                score, total, by_hand = scores[student]
                line = f"graded {key}: score {score:g}/{total:g}" + \
                    (f" ({by_hand:g} to be marked by a trainer)" if by_hand else "")
            else:
                line = f"graded {key}: score unknown"
            line += "" if status == "graded" else f", status {status}"
            if student in problems:
                line += f"; feedback NOT released: {problems[student].message}"
            elif submitted is not None:
                line += f"; feedback released {released_at - submitted:.1f} s after submission"
            else:
                line += "; feedback released"
            result.graded.append(line)
            print(line, flush=True)


def _scores(settings: Settings, assignment: str,
            students: list[str]) -> dict[str, tuple[float, float, float]]:
    """(score, maximum, points still to be marked by hand) per learner, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    found = {}
    with Gradebook(settings.db_url, settings.course_id) as gb:
        for student in students:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            by_hand = sum(g.max_score for nb in submission.notebooks for g in nb.grades
                          if g.needs_manual_grade)
            found[student] = (float(submission.score or 0), float(submission.max_score or 0), float(by_hand))
    return found


def _statuses(settings: Settings) -> dict:
    from grading.autograde import read_statuses

    try:
        return read_statuses(settings)
    except GradingError:
        return {}


def _tell_capped(settings: Settings, task, notebooks: Sequence[str], policy: Policy, entry: dict) -> None:
    """Release, under the capped submission's own secret, a page for each of its notebooks
    saying that it was not graded and why."""
    from grading import feedback

    if settings.exchange is None:
        return
    secret = feedback.read_secret(settings, task.student, task.assignment, roots=("submitted",))
    last = entry["attempts"][-1]["timestamp"] if entry["attempts"] else ""
    for name in notebooks:
        page = cap_page(task.assignment, name, policy.max_attempts, last)
        feedback.release_page(settings, secret, name, feedback.harden_page(page).encode("utf-8"))


def cap_page(assignment: str, notebook: str, max_attempts: int, last_graded: str) -> str:
    """The page a learner fetches for a submission over the attempt cap."""
    from grading.feedback import _page

    last = f" (submitted {html.escape(last_graded)})" if last_graded else ""
    return _page(
        f"Feedback: {notebook}", f"{assignment}: {notebook}",
        f"<p><strong>This submission was not graded: you have used all {max_attempts} graded "
        f"attempt{'s' if max_attempts != 1 else ''} at this assignment.</strong></p>"
        "<p>What counts as an attempt: each submission that was graded and given feedback. If you "
        "submit several times before the grader picks your work up, only the newest of them is "
        "graded, and it counts once. A submission graded again because the assignment changed "
        "does not count again.</p>"
        f"<p>The feedback on your last graded attempt{last} is still there: Fetch Feedback shows "
        "it beside this page. If you need another attempt, ask your trainer.</p>")


def _error(result: PassResult, line: str) -> None:
    result.errors.append(line)
    print(f"watch: {line}", file=sys.stderr, flush=True)


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text and not isinstance(err, GradingError) else \
        (text[0] if text else type(err).__name__)


# --------------------------------------------------------------------------- the loop

class StopSignals:
    """SIGTERM and SIGINT, outside a grading batch, only ask the loop to stop after what it is
    doing (a batch installs its own handlers, which stop every worker and kernel at once)."""

    def __init__(self) -> None:
        self.signum = 0
        self._saved: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame) -> None:
        self.signum = signum

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.signum and (left := end - time.monotonic()) > 0:
            time.sleep(min(0.2, left))


@contextlib.contextmanager
def single_watcher(settings: Settings) -> Iterator[None]:
    """One watcher per course folder: two would grade the same submission twice."""
    path = settings.course_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GradingError(f"another `grading watch` is running on {settings.course_dir}") from None
        yield
    finally:
        os.close(fd)


def watch(settings: Settings, grader, policy: Policy, *, interval: float = DEFAULT_INTERVAL,
          once: bool = False, prog: str = "python -m grading watch") -> int:
    """Run passes until stopped (or one, with ``once``). A failed pass is reported and the next
    one runs. SIGTERM or Ctrl-C: during grading, every worker and kernel is stopped at once and
    what was recorded is kept; otherwise the pass under way finishes. Exit code 128 + the
    signal's number then, 0 after ``once``, 1 if that one pass failed."""
    from grading.autograde import Interrupted, released_assignments

    released_assignments(settings)  # a course that was never released is an error at once
    known: set[tuple[str, str]] = set()
    code = 0
    with single_watcher(settings), StopSignals() as signals:
        grader.start()
        while True:
            try:
                run_pass(settings, grader, policy, known_refusals=known, stop=lambda: bool(signals.signum))
                code = 0
            except Interrupted as stop:
                print(f"{prog}: stopped by {signal.Signals(stop.signum).name}: every worker and kernel "
                      "was stopped; graded submissions get their feedback on the next start",
                      file=sys.stderr, flush=True)
                return 128 + stop.signum
            except Exception as err:  # noqa: BLE001 (the loop outlives a bad pass)
                print(f"{prog}: this pass failed: {_reason(err)}", file=sys.stderr, flush=True)
                code = 1
            if signals.signum:
                print(f"{prog}: stopped by {signal.Signals(signals.signum).name}", file=sys.stderr,
                      flush=True)
                return 128 + signals.signum
            if once:
                return code
            signals.sleep(interval)


def watch_command(python: str | os.PathLike[str], notebooks: str | os.PathLike[str],
                  course_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str],
                  exchange: str | os.PathLike[str], course_id: str, *, max_attempts: int,
                  wait_minutes: int, sandbox_users: Sequence[str] | str) -> list[str]:
    """The command a hub runs as its self-paced feedback service: ``python -m grading ...
    watch --self-paced`` with the course's paths and limits (course.yaml's
    ``feedback_max_attempts`` and ``feedback_wait_minutes``). ``sandbox_users`` is the pool of
    grading accounts (needs root; empty: kernels run as the service's own account, which on a
    hub needs FJ_GRADING_SAME_ACCOUNT=1, as for autograde)."""
    for name, value in (("max_attempts", max_attempts), ("wait_minutes", wait_minutes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    users = [sandbox_users] if isinstance(sandbox_users, str) else list(sandbox_users)
    users = [u for name in users for u in str(name).split(",") if u]
    argv = [str(python), "-m", "grading", "--notebooks", str(notebooks), "--course-dir", str(course_dir),
            "--course-id", course_id, "--exchange", str(exchange), "--data-dir", str(data_dir),
            "watch", "--self-paced", "--max-attempts", str(max_attempts), "--wait-minutes", str(wait_minutes)]
    if users:
        argv += ["--sandbox-user", ",".join(users)]
    return argv
