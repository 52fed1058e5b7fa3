"""The exchange's own folder and index: released assignments, submissions and feedback.

Only the service reads and writes here (the folder is 0700 and on a volume no server mounts).
Stored folder names are chosen by the store (a random id per submission), never taken from a
request; the index (SQLite) says whose each one is. Every folder is written to a temporary
name and renamed into place, and its index row is added only after, so a crash leaves no
half-written submission that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub_config.exchange.payload import Files, install_tree
from hub_config.exchange.rules import (
    RuleError,
    check_feedback_name,
    check_id,
    check_path,
    check_user,
)

# nbgrader's Exchange.timestamp_format, in UTC: collect and feedback parse it back.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"

SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
    course TEXT NOT NULL, assignment TEXT NOT NULL, released_at TEXT NOT NULL,
    PRIMARY KEY (course, assignment));
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY, course TEXT NOT NULL, assignment TEXT NOT NULL,
    student TEXT NOT NULL, timestamp TEXT NOT NULL, secret TEXT NOT NULL,
    UNIQUE (course, assignment, student, timestamp));
CREATE TABLE IF NOT EXISTS feedback (
    submission TEXT NOT NULL REFERENCES submissions(id), name TEXT NOT NULL,
    checksum TEXT NOT NULL, PRIMARY KEY (submission, name));
"""


def now_utc() -> datetime:
    """The service's clock (a function, so tests can see timestamps are the service's)."""
    return datetime.now(UTC)


def read_tree(root: Path) -> Files:
    """Every file below a folder the store wrote (relative posix path -> bytes)."""
    files: Files = {}
    for dirpath, _, filenames in os.walk(root):
        for name in sorted(filenames):
            path = Path(dirpath, name)
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def notebooks_of(names: list[str]) -> list[str]:
    """Notebook ids (top-level '*.ipynb', without the suffix), as nbgrader lists them."""
    return sorted(n[:-6] for n in names if n.endswith(".ipynb") and "/" not in n)


class Store:
    """Releases, submissions and feedback of the courses one service serves."""

    def __init__(self, root: Path, courses: list[str], max_submissions: int = 100) -> None:
        self.root = Path(root)
        self.courses = {check_id(c, "course id") for c in courses}
        self.max_submissions = max_submissions
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        for sub in ("releases", "submissions", "feedback"):
            (self.root / sub).mkdir(exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.root / "index.sqlite", timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def course(self, course: str) -> str:
        """A course this service serves, or a 404."""
        if check_id(course, "course id") not in self.courses:
            raise RuleError(f"no such course: {course}", 404)
        return course

    # --- releases ---------------------------------------------------------------------------

    def _release_dir(self, course: str, assignment: str) -> Path:
        return self.root / "releases" / self.course(course) / check_id(assignment)

    def release(self, course: str, assignment: str, files: Files, force: bool = False) -> None:
        """Publish an assignment's files (replacing an earlier release only with `force`)."""
        dest = self._release_dir(course, assignment)
        if dest.exists() and not force:
            raise RuleError(f"{assignment} is already released; release with --force to replace it", 409)
        install_tree(dest, files, replace=force)
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO releases VALUES (?, ?, ?)",
                       (course, assignment, now_utc().isoformat()))

    def unrelease(self, course: str, assignment: str) -> None:
        """Withdraw a released assignment (submissions and feedback stay)."""
        dest = self._release_dir(course, assignment)
        with self._db() as db:
            db.execute("DELETE FROM releases WHERE course = ? AND assignment = ?", (course, assignment))
        shutil.rmtree(dest, ignore_errors=True)

    def released(self, course: str) -> list[dict]:
        """The course's released assignments with their notebooks."""
        with self._db() as db:
            rows = db.execute("SELECT assignment FROM releases WHERE course = ? ORDER BY assignment",
                              (self.course(course),)).fetchall()
        out = []
        for row in rows:
            folder = self._release_dir(course, row["assignment"])
            names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
            out.append({"assignment_id": row["assignment"], "notebooks": notebooks_of(names)})
        return out

    def released_files(self, course: str, assignment: str) -> Files:
        """An assignment's released files, or a 404."""
        folder = self._release_dir(course, assignment)
        if not folder.is_dir():
            raise RuleError(f"{assignment} has not been released", 404)
        return read_tree(folder)

    # --- submissions ------------------------------------------------------------------------

    def submit(self, course: str, assignment: str, student: str, files: Files) -> dict:
        """File a submission under `student` (the caller's hub name, never a request field) with
        the service's own timestamp; return its record."""
        check_user(student)
        if not self._release_dir(course, assignment).is_dir():
            raise RuleError(f"{assignment} has not been released", 404)
        with self._db() as db:
            count = db.execute(
                "SELECT COUNT(*) FROM submissions WHERE course = ? AND assignment = ? AND student = ?",
                (course, assignment, student)).fetchone()[0]
            latest = db.execute(
                "SELECT MAX(timestamp) FROM submissions WHERE course = ? AND assignment = ? "
                "AND student = ?", (course, assignment, student)).fetchone()[0]
        if count >= self.max_submissions:
            raise RuleError(f"too many submissions of {assignment} (at most {self.max_submissions})", 429)
        when = now_utc()
        timestamp = when.strftime(TIMESTAMP_FORMAT)
        while latest is not None and timestamp <= latest:  # one per microsecond, in order
            when += timedelta(microseconds=1)
            timestamp = when.strftime(TIMESTAMP_FORMAT)
        record = {"id": secrets.token_hex(16), "course_id": course, "assignment_id": assignment,
                  "student_id": student, "timestamp": timestamp, "secret": secrets.token_hex(32)}
        install_tree(self.root / "submissions" / record["id"], files, mode=0o600)
        with self._db() as db:
            db.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?)",
                       (record["id"], course, assignment, student, timestamp, record["secret"]))
        return record

    def submissions(self, course: str, *, student: str | None = None,
                    assignment: str | None = None) -> list[dict]:
        """Submission records (without their secret), oldest first, with each one's notebooks
        and the checksum of each feedback page released for it."""
        query = "SELECT * FROM submissions WHERE course = ?"
        args: list[str] = [self.course(course)]
        if student is not None:
            query, args = query + " AND student = ?", [*args, check_user(student)]
        if assignment is not None:
            query, args = query + " AND assignment = ?", [*args, check_id(assignment)]
        with self._db() as db:
            rows = db.execute(query + " ORDER BY assignment, student, timestamp", args).fetchall()
            feedback = {}
            for row in db.execute("SELECT * FROM feedback").fetchall():
                feedback.setdefault(row["submission"], {})[row["name"]] = row["checksum"]
        out = []
        for row in rows:
            folder = self.root / "submissions" / row["id"]
            names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
            out.append({"id": row["id"], "course_id": row["course"],
                        "assignment_id": row["assignment"], "student_id": row["student"],
                        "timestamp": row["timestamp"], "notebooks": notebooks_of(names),
                        "feedback": feedback.get(row["id"], {})})
        return out

    def submission(self, course: str, submission_id: str) -> dict:
        """One submission's record (with its secret), or a 404."""
        if not isinstance(submission_id, str) or len(submission_id) != 32 or not all(
                c in "0123456789abcdef" for c in submission_id):
            raise RuleError("no such submission", 404)
        with self._db() as db:
            row = db.execute("SELECT * FROM submissions WHERE id = ? AND course = ?",
                             (submission_id, self.course(course))).fetchone()
        if row is None:
            raise RuleError("no such submission", 404)
        return {"id": row["id"], "course_id": row["course"], "assignment_id": row["assignment"],
                "student_id": row["student"], "timestamp": row["timestamp"], "secret": row["secret"]}

    def submission_files(self, record: dict) -> Files:
        """A submission's files as the learner sent them."""
        return read_tree(self.root / "submissions" / record["id"])

    # --- feedback ---------------------------------------------------------------------------

    def put_feedback(self, course: str, student: str, assignment: str, timestamp: str,
                     files: Files) -> dict:
        """Attach feedback pages to the submission of `student` made at `timestamp` (replacing
        earlier pages for it); a 404 if there is no such submission."""
        for name in files:
            check_feedback_name(name)
        with self._db() as db:
            row = db.execute(
                "SELECT id FROM submissions WHERE course = ? AND student = ? AND assignment = ? "
                "AND timestamp = ?", (self.course(course), check_user(student), check_id(assignment),
                                      timestamp)).fetchone()
        if row is None:
            raise RuleError(f"no submission of {assignment} by {student} at {timestamp}", 404)
        install_tree(self.root / "feedback" / row["id"], files, replace=True, mode=0o600)
        with self._db() as db:
            db.execute("DELETE FROM feedback WHERE submission = ?", (row["id"],))
            db.executemany("INSERT INTO feedback VALUES (?, ?, ?)",
                           [(row["id"], name, hashlib.md5(data).hexdigest())
                            for name, data in files.items()])
        return {"id": row["id"], "pages": sorted(files)}

    def feedback(self, course: str, student: str, assignment: str | None = None) -> list[dict]:
        """The feedback released on `student`'s own submissions: timestamp and pages each."""
        out = []
        for record in self.submissions(course, student=student, assignment=assignment):
            folder = self.root / "feedback" / record["id"]
            if record["feedback"] and folder.is_dir():
                files = {name: data for name, data in read_tree(folder).items()
                         if check_path(name) and "/" not in name}
                out.append({"assignment_id": record["assignment_id"],
                            "timestamp": record["timestamp"], "files": files})
        return out
