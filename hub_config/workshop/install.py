"""`python -m hub_config.workshop.install`: set a machine up as a workshop server (idempotent).

Run as root from the clone. It writes /etc/fj-training/course.yaml, builds the interpreter
learners' servers run, creates the groups, the grading account and the trainers' accounts,
copies the classroom dataset to the data folder (answer_key/ readable only by the grading
account), sets the exchange and course folder permissions, installs the roster, the
`fj-autograde` command and the systemd unit. Running it again changes nothing that is right.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from hub_config import accounts, runtime
from hub_config.course import REPO, Course, load
from hub_config.workshop.clone import close_trainer_material

UNIT = Path(__file__).resolve().parent / "fj-training-hub.service"
AUTOGRADE = """#!/bin/sh
# Grade every new submission; learners' code runs as the grading account. Run with sudo.
set -e
export FJ_HUB_SETTINGS={settings}
exec {python} -c 'import sys; sys.path.insert(0, "{repo}")
from hub_config import course, course_ops
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
    script = bin_dir / "fj-autograde"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script.write_text(AUTOGRADE.format(settings=settings, python=python, repo=REPO))
    script.chmod(0o700)
    if systemd and shutil.which("systemctl") and Path("/run/systemd/system").exists():
        unit = UNIT.read_text().replace("@REPO@", str(REPO)).replace("@STATE@", str(course.state_dir))
        Path("/etc/systemd/system/fj-training-hub.service").write_text(unit)
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", "--now", "fj-training-hub"], check=True)
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", type=Path, default=Path("/etc/fj-training/course.yaml"))
    parser.add_argument("--trainer", action="append", help="a trainer's hub name (repeatable)")
    parser.add_argument("--roster", type=Path, help="a file of learner names, one a line")
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
    print(f"Workshop server ready: settings {args.settings}, learners' Python {python}.")
    print("Start it with `systemctl start fj-training-hub` (or see hub_config/workshop/RUNBOOK.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
