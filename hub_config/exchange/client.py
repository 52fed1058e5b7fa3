"""nbgrader's exchange, as classes that call the exchange service instead of a shared folder.

Selected in nbgrader_config.py (``c.ExchangeFactory.submit = "hub_config.exchange.client.
ExchangeSubmit"`` and so on, see ``hub_config.course.nbgrader_config``), so JupyterLab's
Assignments panel and ``nbgrader release_assignment / collect / release_feedback`` work as with
the filesystem exchange. Each call carries the server's JUPYTERHUB_API_TOKEN; the service, not
this code, decides whose work it is. What ends up on disk is what nbgrader's own exchange makes:
``<assignment>/`` when fetching, ``<assignment>/feedback/<timestamp>/<notebook>.html`` for
feedback, ``submitted/<student>/<assignment>/`` with ``timestamp.txt`` when collecting. Every
folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from nbgrader.exchange import abc
from nbgrader.exchange.abc.exchange import ExchangeError
from nbgrader.utils import parse_utc
from traitlets import Bool, Float, Integer, Unicode, default

from grading.atomic import write_atomically
from hub_config.exchange import payload
from hub_config.exchange.rules import (
    Limits,
    RuleError,
    check_feedback_name,
    check_id,
    check_path,
    check_user,
)

URL_VARIABLE = "FJ_EXCHANGE_URL"
# The service's timestamps (nbgrader's format, UTC): also folder names under feedback/.
TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6} UTC$")


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class ServiceExchange(abc.Exchange):
    """What every operation shares: the service's address, the hub token, the HTTP calls."""

    service_url = Unicode(help=f"The exchange service's URL (default: ${URL_VARIABLE}).").tag(config=True)
    api_token = Unicode(help="Hub token sent with every call (default: $JUPYTERHUB_API_TOKEN)."
                        ).tag(config=True)
    timeout = Float(120.0, help="Seconds to wait for the service.").tag(config=True)
    max_upload_mib = Integer(50, help="Largest upload in MiB (the service's own limit).").tag(config=True)
    path_includes_course = Bool(False, help="Fetch into <course>/<assignment>/ rather than "
                                "<assignment>/ (as nbgrader's own exchange).").tag(config=True)

    @default("service_url")
    def _service_url_default(self) -> str:
        return os.environ.get(URL_VARIABLE, "")

    @default("api_token")
    def _api_token_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @property
    def limits(self) -> Limits:
        return Limits(max_total_bytes=self.max_upload_mib * 2**20,
                      max_file_bytes=min(self.max_upload_mib, 20) * 2**20)

    def course_id(self) -> str:
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")
        try:
            return check_id(self.coursedir.course_id, "course id")
        except RuleError as err:
            self.fail(str(err))

    def call(self, method: str, path: str, *, params: dict | None = None,
             body: bytes | None = None) -> Any:
        """One call to the service below api/courses/<course>; a refusal becomes ExchangeError
        with the service's one-line message."""
        if not self.service_url:
            self.fail(f"The exchange service's address is not configured (set {URL_VARIABLE}).")
        if not self.api_token:
            self.fail("No hub token (JUPYTERHUB_API_TOKEN): run this from your hub server.")
        url = f"{self.service_url.rstrip('/')}/api/courses/{quote(self.course_id())}{path}"
        try:
            response = requests.request(
                method, url, params=params, data=body, timeout=self.timeout,
                headers={"Authorization": f"token {self.api_token}",
                         "Content-Type": "application/json"})
        except requests.RequestException as err:
            self.fail(f"Cannot reach the exchange service ({type(err).__name__}); "
                      "try again or ask a trainer.")
        if response.status_code >= 400:
            try:
                message = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = (f"The exchange service answered {response.status_code} (it may be down, "
                           "or the upload far too large); try again or ask a trainer.")
            self.fail(str(message))
        try:
            return response.json()
        except ValueError:
            self.fail("The exchange service's answer was not understood.")

    def pack(self, folder: str) -> payload.Files:
        try:
            return payload.pack_folder(Path(folder), self.limits, ignore=self.coursedir.ignore)
        except RuleError as err:
            self.fail(str(err))

    def unpack(self, answer: dict) -> payload.Files:
        try:
            return payload.decode(answer, self.limits)
        except RuleError as err:
            self.fail(f"The exchange service sent files that were refused: {err}")

    def local_dir(self, assignment_id: str) -> str:
        root = (os.path.join(self.coursedir.course_id, assignment_id) if self.path_includes_course
                else assignment_id)
        return os.path.abspath(os.path.join(self.assignment_dir, root))

    def start(self) -> Any:
        self.set_timestamp()
        self.init_src()
        self.init_dest()
        return self.copy_files()


class ExchangeReleaseAssignment(ServiceExchange, abc.ExchangeReleaseAssignment):
    """Instructors: publish release/<assignment>/ to the service."""

    def init_src(self) -> None:
        self.src_path = self.coursedir.format_path(self.coursedir.release_directory, ".",
                                                   self.coursedir.assignment_id)
        if not os.path.isdir(self.src_path):
            source = self.coursedir.format_path(self.coursedir.source_directory, ".",
                                                self.coursedir.assignment_id)
            if os.path.isdir(source):
                self.fail(f"Assignment found in '{source}' but not '{self.src_path}', run "
                          "`nbgrader generate_assignment` first.")
            self.fail(f"Assignment not found at: {self.src_path}")

    def init_dest(self) -> None:
        self.course_id()

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        files = self.pack(self.src_path)
        self.call("PUT", f"/assignments/{quote(assignment)}", body=payload.encode(files),
                  params={"force": "1" if self.force else "0"})
        self.log.info("Released as: %s %s", self.coursedir.course_id, assignment)


class ExchangeFetchAssignment(ServiceExchange, abc.ExchangeFetchAssignment):
    """Learners: the released files into <assignment>/ (missing files only, if asked)."""

    def init_src(self) -> None:
        self.course_id()
        self.src_path = f"{self.service_url} {self.coursedir.assignment_id}"

    def init_dest(self) -> None:
        self.dest_path = self.local_dir(self.coursedir.assignment_id)
        if os.path.isdir(self.dest_path) and not self.replace_missing_files:
            self.fail("You already have a copy of the assignment in this directory: "
                      f"{self.coursedir.assignment_id}")

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        files = self.unpack(self.call("GET", f"/assignments/{quote(assignment)}"))
        if not os.path.isdir(self.dest_path):
            payload.install_tree(Path(self.dest_path), files)
        else:
            for rel, data in files.items():
                target = Path(self.dest_path, *rel.split("/"))
                if not target.exists() and not target.is_symlink():
                    self.log.warning("Replacing missing file '%s'", rel)
                    _write_atomic(target, data)
        self.log.info("Fetched as: %s %s", self.coursedir.course_id, assignment)


class ExchangeSubmit(ServiceExchange, abc.ExchangeSubmit):
    """Learners: send <assignment>/ to the service, which files it under their hub name."""

    def init_src(self) -> None:
        self.src_path = self.local_dir(self.coursedir.assignment_id)
        self.coursedir.assignment_id = os.path.split(self.src_path)[-1]
        if not os.path.isdir(self.src_path):
            self.fail(f"Assignment not found at: {self.src_path}")

    def init_dest(self) -> None:
        self.course_id()
        if self.coursedir.student_id not in ("", "*"):
            self.log.warning("The exchange files submissions under your hub name; the student id "
                             "%r is not used.", self.coursedir.student_id)

    def copy_files(self) -> dict:
        assignment = check_id(self.coursedir.assignment_id)
        files = self.pack(self.src_path)
        released = {a["assignment_id"]: a["notebooks"] for a in self.call("GET", "/assignments")}
        if assignment not in released:
            self.fail(f"Assignment {assignment} has not been released; nothing was submitted.")
        submitted = {p[:-6] for p in files if p.endswith(".ipynb") and "/" not in p}
        missing = sorted(set(released[assignment]) - submitted)
        if missing:
            message = f"Notebooks missing from the submission of {assignment}: {', '.join(missing)}"
            if self.strict:
                self.fail(f"Assignment {assignment} not submitted. {message}")
            self.log.warning(message)
        record = self.call("POST", f"/assignments/{quote(assignment)}/submissions",
                           body=payload.encode(files))
        self.timestamp = record["timestamp"]
        self.log.info("Submitted as: %s %s %s", self.coursedir.course_id, assignment, self.timestamp)
        return record


class ExchangeList(ServiceExchange, abc.ExchangeList):
    """Released assignments, or submissions (a learner's own; every one for instructors)."""

    def init_src(self) -> None:
        pass

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass

    def start(self) -> Any:
        if self.inbound and self.cached:
            self.fail("Options --inbound and --cached are incompatible.")
        self.set_timestamp()
        if not self.coursedir.course_id:
            return []
        return self.remove_files() if self.remove else self.list_files()

    def _released(self) -> list[dict]:
        wanted = self.coursedir.assignment_id
        out = []
        for item in self.call("GET", "/assignments"):
            assignment = check_id(item["assignment_id"])
            if wanted and assignment != wanted:
                continue
            local = self.local_dir(assignment)
            fetched = os.path.isdir(local)
            path = local if fetched else f"{self.service_url}#{assignment}"
            notebooks = [{"notebook_id": n, "path": os.path.join(path, f"{n}.ipynb")}
                         for n in item["notebooks"]]
            if fetched:
                notebooks = [{"notebook_id": os.path.splitext(os.path.basename(p))[0],
                              "path": os.path.abspath(p)}
                             for p in sorted(glob.glob(os.path.join(local, "*.ipynb")))]
            out.append({"course_id": self.coursedir.course_id, "assignment_id": assignment,
                        "status": "fetched" if fetched else "released", "path": path,
                        "notebooks": notebooks})
        return out

    def _submission_info(self, record: dict) -> dict:
        assignment, timestamp = check_id(record["assignment_id"]), record["timestamp"]
        local_dir = os.path.join(self.local_dir(assignment), "feedback", timestamp)
        info = {"course_id": self.coursedir.course_id, "student_id": record["student_id"],
                "assignment_id": assignment, "timestamp": timestamp, "status": "submitted",
                "path": f"{self.service_url}#{record['id']}", "notebooks": []}
        for notebook in record["notebooks"]:
            page = os.path.join(local_dir, f"{notebook}.html")
            local = os.path.isfile(page) and not os.path.islink(page)
            exchange = record["feedback"].get(f"{notebook}.html")
            updated = bool(local and exchange and _md5(Path(page).read_bytes()) != exchange)
            info["notebooks"].append({
                "notebook_id": notebook, "path": info["path"], "has_local_feedback": local,
                "has_exchange_feedback": bool(exchange), "feedback_updated": updated,
                "local_feedback_path": page if local else None})
        nbs = info["notebooks"]
        info["has_local_feedback"] = bool(nbs) and all(n["has_local_feedback"] for n in nbs)
        info["has_exchange_feedback"] = bool(nbs) and all(n["has_exchange_feedback"] for n in nbs)
        info["feedback_updated"] = any(n["feedback_updated"] for n in nbs)
        info["local_feedback_path"] = local_dir if info["has_local_feedback"] else None
        return info

    def _submitted(self) -> list[dict]:
        params = {}
        if self.coursedir.assignment_id:
            params["assignment"] = self.coursedir.assignment_id
        if self.coursedir.student_id and self.coursedir.student_id != "*":
            params["student"] = self.coursedir.student_id
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for record in self.call("GET", "/submissions", params=params):
            info = self._submission_info(record)
            groups[(info["student_id"], info["assignment_id"])].append(info)
        return [{"course_id": self.coursedir.course_id, "student_id": student,
                 "assignment_id": assignment, "status": "submitted",
                 "submissions": sorted(items, key=lambda i: i["timestamp"])}
                for (student, assignment), items in sorted(groups.items())]

    def list_files(self) -> list[dict]:
        if self.inbound or self.cached:
            assignments = self._submitted()
            self.log.info("Submitted assignments:")
            for assignment in assignments:
                for info in assignment["submissions"]:
                    self.log.info("%s %s %s %s", info["course_id"], info["student_id"],
                                  info["assignment_id"], info["timestamp"])
        else:
            assignments = self._released()
            self.log.info("Released assignments:")
            for info in assignments:
                self.log.info("%s %s", info["course_id"], info["assignment_id"])
        return assignments

    def remove_files(self) -> list[dict]:
        if self.inbound or self.cached:
            self.fail("Submissions cannot be removed from the exchange service.")
        assignments = self._released()
        for info in assignments:
            self.call("DELETE", f"/assignments/{quote(info['assignment_id'])}")
            info["status"] = "removed"
            self.log.info("Removed: %s %s", info["course_id"], info["assignment_id"])
        return assignments


class ExchangeFetchFeedback(ServiceExchange, abc.ExchangeFetchFeedback):
    """Learners: feedback on their own submissions into <assignment>/feedback/<timestamp>/."""

    def init_src(self) -> None:
        self.course_id()
        self.src_path = self.service_url

    def init_dest(self) -> None:
        self.dest_path = os.path.join(self.local_dir(self.coursedir.assignment_id), "feedback")

    def copy_files(self) -> None:
        params = {"assignment": self.coursedir.assignment_id} if self.coursedir.assignment_id else {}
        found = self.call("GET", "/feedback", params=params)
        if not found:
            self.log.warning("No feedback yet for %s", self.coursedir.assignment_id or "your submissions")
        for item in found:
            assignment, timestamp = check_id(item["assignment_id"]), item["timestamp"]
            if not TIMESTAMP_PATTERN.match(str(timestamp)):
                self.fail("The exchange service sent feedback with an invalid timestamp.")
            folder = os.path.join(self.local_dir(assignment), "feedback", timestamp)
            for name, data in self.unpack(item).items():
                check_feedback_name(name)
                _write_atomic(Path(folder, name), data)
                self.log.info("Fetched feedback: %s", os.path.join(folder, name))


class ExchangeCollect(ServiceExchange, abc.ExchangeCollect):
    """Instructors: each learner's latest submission into submitted/<student>/<assignment>/."""

    def init_src(self) -> None:
        self.course_id()
        assignment = check_id(self.coursedir.assignment_id)
        params = {"assignment": assignment}
        if self.coursedir.student_id and self.coursedir.student_id != "*":
            params["student"] = self.coursedir.student_id
        by_student: dict[str, list[dict]] = defaultdict(list)
        for record in self.call("GET", "/submissions", params=params):
            by_student[check_user(record["student_id"])].append(record)
        self.src_records = [self._choose(records) for records in by_student.values()]

    def _choose(self, records: list[dict]) -> dict:
        records = sorted(records, key=lambda r: parse_utc(r["timestamp"]), reverse=True)
        if self.before_duedate:
            duedate = self._duedate()
            before = [r for r in records if duedate is None or parse_utc(r["timestamp"]) <= duedate]
            return (before or records)[0]
        return records[0]

    def _duedate(self) -> Any:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                return gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        if not self.src_records:
            self.log.warning("No submissions of '%s' for course '%s' to collect", assignment,
                             self.coursedir.course_id)
        for record in self.src_records:
            student = record["student_id"]
            dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
            existing = self.coursedir.get_existing_timestamp(dest) if os.path.isdir(dest) else None
            if os.path.isdir(dest) and not (
                    (self.update and (existing is None or parse_utc(record["timestamp"]) > existing))
                    or (self.before_duedate and existing != parse_utc(record["timestamp"]))):
                self.log.info("Submission already collected, use --update to update: %s %s",
                              student, assignment)
                continue
            answer = self.call("GET", f"/submissions/{quote(record['id'])}")
            files = self.unpack(answer)
            files["timestamp.txt"] = answer["timestamp"].encode()
            files["submission_secret.txt"] = answer["secret"].encode()
            self.log.info("Collecting submission: %s %s", student, assignment)
            payload.install_tree(Path(dest), files, replace=os.path.isdir(dest))


class ExchangeReleaseFeedback(ServiceExchange, abc.ExchangeReleaseFeedback):
    """Instructors: feedback/<student>/<assignment>/*.html to the service, each page attached to
    the submission it was written for (its timestamp.txt)."""

    def init_src(self) -> None:
        student = self.coursedir.student_id if self.coursedir.student_id else "*"
        self.src_path = self.coursedir.format_path(self.coursedir.feedback_directory, student,
                                                   self.coursedir.assignment_id)

    def init_dest(self) -> None:
        self.course_id()

    def _timestamp(self, student: str, folder: str) -> str | None:
        submitted = self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                               self.coursedir.assignment_id)
        for where in (folder, submitted):
            path = os.path.join(where, "timestamp.txt")
            if os.path.isfile(path) and not os.path.islink(path):
                return Path(path).read_text().strip()
        return None

    def copy_files(self) -> None:
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        assignment = check_id(self.coursedir.assignment_id)
        failed = []
        for folder in sorted(glob.glob(self.src_path)):
            student = os.path.basename(os.path.dirname(folder))
            if student in exclude or not os.path.isdir(folder) or os.path.islink(folder):
                continue
            pages = {os.path.basename(p): Path(p).read_bytes()
                     for p in sorted(glob.glob(os.path.join(folder, "*.html")))
                     if os.path.isfile(p) and not os.path.islink(p)}
            if not pages:
                continue
            timestamp = self._timestamp(student, folder)
            if timestamp is None:
                self.log.error("No timestamp.txt for %s's feedback on %s; not released", student, assignment)
                failed.append(student)
                continue
            try:
                self.call("PUT", "/feedback", body=payload.encode(
                    pages, student_id=student, assignment_id=assignment, timestamp=timestamp))
            except ExchangeError:
                failed.append(student)
                continue
            self.log.info("Releasing feedback for student '%s' on assignment '%s/%s' (%s)",
                          student, self.coursedir.course_id, assignment, timestamp)
        if failed:
            self.fail(f"Feedback not released for {len(failed)} learner(s): {', '.join(failed)}")


def _write_atomic(target: Path, data: bytes) -> None:
    """Write a file under a temporary name in its folder, then rename it into place."""
    check_path(target.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, data)


__all__ = [
    "ExchangeCollect", "ExchangeFetchAssignment", "ExchangeFetchFeedback", "ExchangeList",
    "ExchangeReleaseAssignment", "ExchangeReleaseFeedback", "ExchangeSubmit", "ServiceExchange",
]
