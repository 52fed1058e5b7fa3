"""Collect learners' submissions from a filesystem exchange without trusting anything in it.

nbgrader's own collect runs as the trainer (or as root on a workshop server) over folders that
learners wrote: it follows symbolic links, copies whatever a folder holds and files the work under
whatever learner name the folder's name gives. A learner could link the hub's secrets into their
submission, or name a folder after someone else. This collect:

- takes a submission only from a folder whose unix owner is the learner its name gives (or the
  collecting account itself, where every server runs as one account, as in the local demo);
- opens every folder and file relative to an already opened folder, without following links
  (``O_NOFOLLOW``), and refuses a submission holding a link, a device, a pipe, a hard-linked
  file, too many files, too deep a tree or too many bytes;
- needs ``timestamp.txt`` and a well-formed ``submission_secret.txt`` (feedback is filed under the
  secret), and writes the timestamp from the folder's name, the one that chose it as the latest;
- leaves out files a browser would run as a page (``.html``, ``.svg``, ``.js``, ...), which the
  formgrader would otherwise serve from the trainer's origin;
- copies into a temporary folder first, then renames it into
  ``submitted/<learner>/<assignment>/``, so a half-copied submission never looks complete.

A refused submission never stops the others: it is reported (``collect_log.json`` in the course
folder and one line each on stderr), under the name of the account that wrote it.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

from grading.errors import GradingError
from grading.nbgrader_config import IGNORED_FILES
from grading.settings import Settings

# A learner name as the hubs make them (unix-safe), and nbgrader's folder name:
# <learner>+<assignment>+<timestamp>[+<random>].
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
# nbgrader writes secrets.token_hex(64); anything else is not a secret it wrote (collect
# and feedback both hold secrets to this).
SECRET = re.compile(r"^[0-9A-Za-z_-]{16,256}$")
REQUIRED_FILES = ("timestamp.txt", "submission_secret.txt")
# Files a browser would run as a page: the formgrader serves files of the course folder from the
# trainer's own origin, so a learner's page there would run as the trainer. Never collected.
ACTIVE_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".js",
                   ".mjs")
LOG_NAME = "collect_log.json"


@dataclass(frozen=True)
class Limits:
    """What one submission may hold. A course's notebooks and data files fit well within."""

    max_files: int = 500
    max_depth: int = 8
    max_file_bytes: int = 50 * 2**20
    max_total_bytes: int = 200 * 2**20


@dataclass(frozen=True)
class Candidate:
    """A folder in inbound/ that names a learner and an assignment."""

    folder: str
    student: str
    assignment: str
    timestamp: datetime
    timestamp_text: str
    owner: str
    uid: int


@dataclass
class Refusal:
    """A folder that was not collected, and why (for the trainer's eyes)."""

    folder: str
    owner: str
    claims: str
    assignment: str
    reason: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class Refused(Exception):
    """This submission cannot be collected (the message says why)."""


@dataclass
class CollectResult:
    """Learners collected per assignment, those already up to date, submissions refused, and
    how many submissions each assignment now has in submitted/."""

    collected: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, list[str]] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)


def inbound_dir(settings: Settings) -> Path:
    assert settings.exchange is not None
    return settings.exchange / settings.course_id / "inbound"


def collect_assignments(settings: Settings, assignment_ids: list[str],
                        limits: Limits = Limits(), known: Collection[tuple[str, str]] = ()) -> CollectResult:
    """Each learner's latest acceptable submission of each assignment, into ``submitted/``.
    Refusals in ``known`` (folder, reason), reported by an earlier run of the same process
    (``watch``), are not reported or logged again."""
    if settings.exchange is None:
        raise GradingError("collect from an exchange needs --exchange")
    inbound = inbound_dir(settings)
    result = CollectResult()
    try:
        inbound_fd = os.open(inbound, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        for assignment_id in assignment_ids:
            result.collected[assignment_id] = []
        return result
    except OSError as err:
        raise GradingError(f"cannot open the exchange's inbound folder {inbound}: "
                           f"{err.strerror}") from None
    try:
        candidates, refused = scan_inbound(inbound_fd, set(assignment_ids))
        result.refused.extend(refused)
        for assignment_id in assignment_ids:
            result.collected[assignment_id] = []
            result.unchanged[assignment_id] = []
            latest = latest_per_student(candidates, assignment_id)
            for student, candidate in sorted(latest.items()):
                try:
                    if take(settings, inbound_fd, candidate, limits):
                        result.collected[assignment_id].append(student)
                    else:
                        result.unchanged[assignment_id].append(student)
                except Refused as err:
                    result.refused.append(refusal(candidate, str(err)))
    finally:
        os.close(inbound_fd)
    result.refused = [r for r in result.refused if (r.folder, r.reason) not in known]
    if result.refused:
        write_log(settings, result.refused)
    return result


def scan_inbound(inbound_fd: int, wanted: set[str]) -> tuple[list[Candidate], list[Refusal]]:
    """Folders of inbound/ for the wanted assignments whose names and owners agree."""
    candidates, refused = [], []
    me = os.geteuid()
    with os.scandir(inbound_fd) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        parts = name.split("+")
        if len(parts) not in (3, 4) or parts[1] not in wanted:
            continue
        student, assignment, stamp = parts[0], parts[1], parts[2]
        try:
            info = os.stat(name, dir_fd=inbound_fd, follow_symlinks=False)
        except OSError:
            continue
        owner = account_name(info.st_uid)
        base = Refusal(folder=name, owner=owner, claims=student, assignment=assignment, reason="")
        if not stat.S_ISDIR(info.st_mode):
            base.reason = "it is not a folder (a link or a file)"
        elif not SAFE_NAME.match(student) or student in (".", ".."):
            base.reason = f"the learner name {student!r} is not a valid name"
        elif info.st_uid != me and owner != student:
            base.reason = f"it names {student} but was written by {owner}"
        else:
            try:
                when = parse_timestamp(stamp)
            except ValueError:
                base.reason = f"its timestamp {stamp!r} cannot be read"
            else:
                candidates.append(Candidate(name, student, assignment, when, stamp, owner,
                                            info.st_uid))
                continue
        refused.append(base)
    return candidates, refused


def account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def parse_timestamp(text: str) -> datetime:
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except Exception as err:  # dateutil raises several kinds
        raise ValueError(text) from err


def latest_per_student(candidates: list[Candidate], assignment_id: str) -> dict[str, Candidate]:
    latest: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate.assignment != assignment_id:
            continue
        best = latest.get(candidate.student)
        if best is None or (candidate.timestamp, candidate.folder) > (best.timestamp, best.folder):
            latest[candidate.student] = candidate
    return latest


def refusal(candidate: Candidate, reason: str) -> Refusal:
    return Refusal(folder=candidate.folder, owner=candidate.owner, claims=candidate.student,
                   assignment=candidate.assignment, reason=reason)


def take(settings: Settings, inbound_fd: int, candidate: Candidate, limits: Limits) -> bool:
    """Copy one submission in unless the one already collected is as new; True if copied."""
    dest = settings.submitted(candidate.student, candidate.assignment)
    existing = existing_timestamp(dest)
    if existing is not None and existing >= candidate.timestamp:
        return False
    root = settings.submitted()
    make_folders(root)
    staging = Path(tempfile.mkdtemp(prefix=".collecting-", dir=root))
    try:
        try:
            folder_fd = os.open(candidate.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                dir_fd=inbound_fd)
        except OSError as err:
            raise Refused(f"its folder cannot be opened ({err.strerror})") from None
        try:
            if os.fstat(folder_fd).st_uid != candidate.uid:
                raise Refused("its folder was replaced while it was being collected")
            budget = Budget(limits)
            copy_tree(folder_fd, staging, budget, depth=0)
        finally:
            os.close(folder_fd)
        check_required(staging)
        (staging / "timestamp.txt").write_text(candidate.timestamp_text)
        share_like(root, staging)
        make_folders(dest.parent)
        replace_folder(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


@dataclass
class Budget:
    limits: Limits
    files: int = 0
    total: int = 0

    def spend(self, size: int, rel: str) -> None:
        self.files += 1
        self.total += size
        if self.files > self.limits.max_files:
            raise Refused(f"it holds more than {self.limits.max_files} files")
        if size > self.limits.max_file_bytes:
            raise Refused(f"{rel} is larger than {self.limits.max_file_bytes // 2**20} MB")
        if self.total > self.limits.max_total_bytes:
            raise Refused(f"it holds more than {self.limits.max_total_bytes // 2**20} MB")


def ignored(name: str) -> bool:
    return (any(fnmatch(name, pattern) for pattern in IGNORED_FILES)
            or name.lower().endswith(ACTIVE_SUFFIXES))


def copy_tree(folder_fd: int, dest: Path, budget: Budget, depth: int, rel: str = "") -> None:
    """Copy regular files and folders only, every open relative to its parent, never
    following a link; anything else refuses the whole submission."""
    if depth > budget.limits.max_depth:
        raise Refused(f"its folders nest deeper than {budget.limits.max_depth} levels")
    with os.scandir(folder_fd) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        path = f"{rel}{name}"
        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise Refused(f"{path} is a symbolic link")
        if stat.S_ISDIR(info.st_mode):
            if ignored(name):
                continue
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder_fd)
            try:
                (dest / name).mkdir()
                copy_tree(child, dest / name, budget, depth + 1, f"{path}/")
            finally:
                os.close(child)
            continue
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{path} is not a regular file (a device, pipe or socket)")
        if ignored(name):
            continue
        copy_file(folder_fd, name, dest / name, budget, path)


def copy_file(folder_fd: int, name: str, dest: Path, budget: Budget, rel: str) -> None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise Refused(f"{rel} is a symbolic link") from None
        raise Refused(f"{rel} cannot be read ({err.strerror})") from None
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{rel} is not a regular file")
        if info.st_nlink > 1:
            # A hard link can name a file its creator may not read (the hub's secrets).
            raise Refused(f"{rel} is a hard link to another file")
        budget.spend(info.st_size, rel)
        limit = budget.limits.max_file_bytes + 1
        with open(dest, "xb") as out:
            copied = 0
            while chunk := source.read(min(2**20, limit - copied)):
                copied += len(chunk)
                if copied >= limit:
                    raise Refused(f"{rel} grew past {budget.limits.max_file_bytes // 2**20} MB "
                                  "while it was read")
                out.write(chunk)


def check_required(folder: Path) -> None:
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise Refused(f"it has no {name} (not a submission made by the Assignments panel)")
    secret = (folder / "submission_secret.txt").read_text(errors="replace").strip()
    if not SECRET.match(secret):
        raise Refused("its submission_secret.txt is not a valid secret")


def existing_timestamp(dest: Path) -> datetime | None:
    stamp = dest / "timestamp.txt"
    if not stamp.is_file() or stamp.is_symlink():
        return None
    try:
        return parse_timestamp(stamp.read_text(errors="replace").strip())
    except ValueError:
        return None


def share_like(parent: Path, tree: Path) -> None:
    """Give the copy the course folder's sharing: group-shared (setgid folder: 2770 folders,
    0660 files) or private to the collecting account."""
    shared = bool(parent.stat().st_mode & stat.S_ISGID)
    for root, dirs, files in os.walk(tree):
        os.chmod(root, 0o2770 if shared else 0o700)
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o2770 if shared else 0o700)
        for name in files:
            os.chmod(os.path.join(root, name), 0o660 if shared else 0o600)


def make_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents, shared as their parent is: on a workshop
    server root may collect, and the trainers must still be able to write what it made."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        shared = bool(path.parent.stat().st_mode & stat.S_ISGID)
        os.chmod(path, 0o2770 if shared else 0o700)


def replace_folder(new: Path, dest: Path) -> None:
    """Put ``new`` at ``dest`` with renames only; an older copy is removed after."""
    old = None
    if dest.exists() or dest.is_symlink():
        old = dest.with_name(f".replaced-{dest.name}-{os.urandom(4).hex()}")
        dest.rename(old)
    new.rename(dest)
    if old is not None:
        if old.is_symlink() or not old.is_dir():
            old.unlink()
        else:
            shutil.rmtree(old)


def write_log(settings: Settings, refused: list[Refusal]) -> Path:
    """Append this run's refusals to ``collect_log.json`` (kept to the last 1000)."""
    path = settings.course_dir / LOG_NAME
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(previous, list):
            previous = []
    except (OSError, ValueError):
        previous = []
    entries = (previous + [asdict(r) for r in refused])[-1000:]
    tmp = path.with_name(f".{LOG_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def print_refusals(refused: list[Refusal]) -> None:
    """One line each on stderr, naming the folder, who wrote it and why it was refused."""
    for r in refused:
        print(f"not collected: {r.folder} (written by {r.owner}): {r.reason}", file=sys.stderr)
