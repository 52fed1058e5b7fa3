"""Close the parts of the project's clone that only trainers and root may read.

Learners' servers need the clone's virtualenv and code (their interpreter chain-loads its
site-packages, and `synthetic_data` is installed from it), so the clone itself stays readable.
But the clone also holds the course's source notebooks (solutions and hidden tests), their whole
history in `.git`, the dataset the clone generated (with its answer key) and whatever a demo or a
test run left in `build/` and `test-artifacts/`. Closing each of those folders at its top is
enough: nobody can pass through a folder they may not search, whatever the modes below it.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from hub_config.course import Course

# Trainers release the course from notebooks/ and may look at the clone's dataset.
TRAINER_FOLDERS = ("notebooks", "data")
# Nobody but root needs these on a workshop server.
ROOT_FOLDERS = (".git", "build", "test-artifacts")


def close_trainer_material(clone: Path, course: Course) -> dict[Path, int]:
    """Give each sensitive top-level folder of ``clone`` to root (and the trainers' group where
    trainers need it), closed to everyone else. Returns each folder with its new mode."""
    trainers = grp.getgrnam(course.trainer_group).gr_gid
    closed: dict[Path, int] = {}
    for name, gid, mode in ([(n, trainers, 0o750) for n in TRAINER_FOLDERS]
                            + [(n, 0, 0o700) for n in ROOT_FOLDERS]):
        folder = clone / name
        if folder.is_symlink() or not folder.is_dir():
            continue
        os.chown(folder, 0, gid)
        os.chmod(folder, mode)
        closed[folder] = stat.S_IMODE(folder.stat().st_mode)
    return closed
