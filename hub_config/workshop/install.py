"""`python -m hub_config.workshop.install`: set a machine up as a workshop server (idempotent).

Run as root from the clone. It writes /etc/fj-training/course.yaml, builds the interpreter
learners' servers run, creates the groups, the grading account and the trainers' accounts,
copies the classroom dataset to the data folder (answer_key/ readable only by the grading
account), sets the exchange and course folder permissions, writes the course outline the
learners' course home shows (from the clone's notebooks/), installs the roster, the
`fj-autograde` command and the systemd unit. Running it again changes nothing that is right.

Trainer accounts exist only by the installer's hand: it issues each trainer a one-time sign-up
code (printed once) without which nobody can sign up under a trainer's name, and gives every
roster name a code too (a name,code sheet only root reads), so that nobody who signs up first
under a learner's name takes their place. Codes already handed out keep working when the
installer runs again, unless --reissue-codes is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import yaml

from hub_config import accounts, runtime, signup_codes
from hub_config.course import REPO, Course, load
from hub_config.spawners import systemd_missing
from hub_config.workshop.clone import close_trainer_material

UNIT = Path(__file__).resolve().parent / "fj-training-hub.service"
AUTOGRADE = """#!/bin/sh
# Grade every new submission; learners' code runs as the grading account. Run with sudo.
set -e
export FJ_HUB_SETTINGS={settings}
exec {python} -c 'from hub_config import course, course_ops
c = course.load()
course_ops.collect(c, course_ops.Path("{python}"), "", notebooks=course_ops.NOTEBOOKS)
course_ops.autograde(c, course_ops.Path("{python}"), "", notebooks=course_ops.NOTEBOOKS)'
"""


def write_settings(path: Path, course: Course) -> None:
    values = {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
              for k, v in vars(course).items() if k != "extra"}
    values.update(course.extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by python -m hub_config.workshop.install; edit and restart the hub.\n"
                    + yaml.safe_dump(values, sort_keys=False))
    path.chmod(0o644)


def install(course: Course, settings: Path, data_source: Path, *, systemd: bool = True,
            bin_dir: Path = Path("/usr/local/sbin"), clone: Path = REPO) -> Path:
    """Do every step; return the interpreter learners' servers run."""
    python = runtime.ensure_runtime(course.state_dir / "runtime")
    course = course.replace(extra={**course.extra, "python": str(python)})
    write_settings(settings, course)
    if data_source.exists() and not (course.data_dir / "manifest.json").exists():
        shutil.copytree(data_source, course.data_dir, dirs_exist_ok=True)
    accounts.prepare_shared_folders(course)
    # Solutions, hidden tests, their history and the clone's answer key: trainers and root only.
    close_trainer_material(clone, course)
    write_course_outline(course, clone / "notebooks")
    script = bin_dir / "fj-autograde"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script.write_text(AUTOGRADE.format(settings=settings, python=python))
    script.chmod(0o700)
    if systemd and shutil.which("systemctl") and Path("/run/systemd/system").exists():
        Path("/etc/systemd/system/fj-training-hub.service").write_text(hub_unit(course))
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", "--now", "fj-training-hub"], check=True)
    return python


def hub_unit(course: Course) -> str:
    """The hub's systemd unit for this clone and course (fj-training-hub.service)."""
    return UNIT.read_text().replace("@REPO@", str(REPO)).replace("@STATE@", str(course.state_dir))


def write_course_outline(course: Course, notebooks: Path) -> Path | None:
    """The course home's outline of `notebooks` (what trainers release with `python -m grading
    release`, which does not write it), in the state folder. The hub rewrites it at start when
    the notebooks are newer; after updating notebooks/ on a running hub, run
    `python -m hub_config.course_home.outline` (RUNBOOK.md)."""
    from grading.errors import GradingError
    from hub_config.course_home.outline import write_outline

    try:
        return write_outline(notebooks, course.outline_file, course.course_id)
    except (GradingError, OSError) as error:
        # The course home then lists what the exchange offers, in nbgrader's order.
        print(f"Course outline not written: {error}", file=sys.stderr)
        return None


def signup_url(course: Course) -> str:
    """Where people sign up, as they would type it (the bind address names no host: this one)."""
    bind = urllib.parse.urlsplit(course.extra.get("bind_url") or "http://:8000")
    host = bind.hostname or socket.getfqdn()
    port = f":{bind.port}" if bind.port else ""
    return f"{bind.scheme or 'http'}://{host}{port}/hub/signup"


def issue_signup_codes(course: Course, sheet: Path, *, roster: bool,
                       reissue: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """One-time sign-up codes for the trainers and, with `roster`, the roster's learners.

    Names that already have a code keep it (a code handed out must keep working) unless
    `reissue`. The roster's new codes are added to `sheet` (name,code, mode 0600) for the
    trainers to hand out; the trainers' are returned to be shown once. Returns (trainers' new
    codes, roster's new codes).
    """
    # Every name is checked before any code is issued: a code issued but never shown is lost.
    trainers = [signup_codes.check_name(name) for name in course.trainers]
    learners = [signup_codes.check_name(name) for name in course.roster()] if roster else []
    store = signup_codes.SignupCodes(signup_codes.codes_file(course.state_dir / "hub"))
    trainer_codes = store.issue(trainers, reissue=reissue)
    roster_codes = {}
    if learners:
        roster_codes = store.issue([name for name in learners if name not in trainers], reissue=reissue)
        if roster_codes:
            signup_codes.write_codes_csv(sheet, roster_codes)
    return trainer_codes, roster_codes


def report_signup_codes(course: Course, sheet: Path, trainer_codes: dict[str, str],
                        roster_codes: dict[str, str]) -> None:
    """Show the trainers' new codes (the only time they exist in clear) and where the roster's are."""
    url = signup_url(course)
    for name in course.trainers:
        if name in trainer_codes:
            print(f"Trainer {name}: sign up at {url} with the one-time code {trainer_codes[name]} "
                  "(shown only now).")
        else:
            print(f"Trainer {name}: keeps the sign-up code issued before (--reissue-codes replaces "
                  "it; `python -m hub_config.signup_codes list` shows whether it was used).")
    if roster_codes:
        print(f"{len(roster_codes)} roster sign-up code(s) written to {sheet} (readable by root only): "
              f"give each learner theirs; they sign up at {url}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", type=Path, default=Path("/etc/fj-training/course.yaml"))
    parser.add_argument("--trainer", action="append",
                        help="a trainer's hub name (repeatable); its one-time sign-up code is printed once")
    parser.add_argument("--roster", type=Path, help="a file of learner names, one a line; each gets a "
                        "sign-up code in a name,code sheet next to the settings (root only)")
    parser.add_argument("--reissue-codes", action="store_true",
                        help="issue new sign-up codes even for names that have one (old ones stop working)")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "classroom")
    parser.add_argument("--bind-url", default=None, help="where the hub listens (default http://:8000)")
    parser.add_argument("--no-systemd", action="store_true", help="do not install the service")
    parser.add_argument("--bin-dir", type=Path, default=Path("/usr/local/sbin"))
    parser.add_argument("--clone", type=Path, default=REPO,
                        help="the project's clone whose notebooks/, .git/, data/ and build/ are "
                             "closed to learners (default: this one)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("Run the installer as root (it creates unix accounts).", file=sys.stderr)
        return 2
    if args.roster and not args.roster.is_file():
        print(f"No roster file {args.roster}.", file=sys.stderr)
        return 2
    if not args.no_systemd and (missing := systemd_missing()):
        print(f"This machine cannot be a workshop server: learners' servers are systemd units, and "
              f"{missing}. Use a machine booted with systemd (any current Debian or Ubuntu server).",
              file=sys.stderr)
        return 2
    course = load(args.settings if args.settings.exists() else None)
    changes: dict[str, object] = {}
    if args.trainer:
        changes["trainers"] = tuple(args.trainer)
    extra = dict(course.extra)
    if args.bind_url:
        extra["bind_url"] = args.bind_url
    extra.setdefault("hub_port", 8081)
    extra.setdefault("proxy_api_port", 8001)
    course = course.replace(**changes, extra=extra)
    if args.roster:
        course.roster_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(args.roster, course.roster_file)
    python = install(course, args.settings, args.data, systemd=not args.no_systemd, bin_dir=args.bin_dir,
                     clone=args.clone.absolute())
    sheet = args.settings.parent / "signup-codes.csv"
    try:
        codes = issue_signup_codes(course, sheet, roster=bool(args.roster), reissue=args.reissue_codes)
    except signup_codes.SignupCodeError as error:
        print(f"Sign-up codes not issued: {error}", file=sys.stderr)
        return 2
    print(f"Workshop server ready: settings {args.settings}, learners' Python {python}.")
    report_signup_codes(course, sheet, *codes)
    print("Start it with `systemctl start fj-training-hub` (or see hub_config/workshop/RUNBOOK.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
