"""Unix accounts and folder permissions for hubs whose learners are real system users.

Isolation comes from the operating system: every learner and trainer is a unix user with a 0700
home, learners share a group that owns nothing secret, trainers share a group that owns the
course folder and gradebook, and a separate grading account (in no other group) is the only one
that can read the answer key. These helpers are idempotent so installers and hubs can call them
on every start.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from hub_config.course import Course


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_group(name: str) -> int:
    """Create a system group if missing; return its gid."""
    if not group_exists(name):
        subprocess.run(["groupadd", "--system", name], check=True)
    return grp.getgrnam(name).gr_gid


def ensure_user(name: str, home_dir: Path, group: str, *, system: bool = False,
                shell: str = "/bin/bash") -> pwd.struct_passwd:
    """Create a unix user whose home is `home_dir/name` with mode 0700 (idempotent).

    Debian's default homes are 0755, which would let any learner read any other's work.
    """
    home = Path(home_dir) / name
    if not user_exists(name):
        Path(home_dir).mkdir(parents=True, exist_ok=True)
        cmd = ["useradd", "--create-home", "--home-dir", str(home), "--gid", group,
               "--shell", shell, "--comment", "fj-training account"]
        if system:
            cmd.append("--system")
        subprocess.run([*cmd, name], check=True)
    entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    if not home.exists():
        home.mkdir(parents=True)
        shutil.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return entry


def add_to_group(user: str, group: str) -> None:
    if user not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "--append", "--groups", group, user], check=True)


def groups_of(user: str) -> set[str]:
    entry = pwd.getpwnam(user)
    names = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    names.add(grp.getgrgid(entry.pw_gid).gr_name)
    return names


def is_course_account(course: Course, user: str) -> bool:
    """True only for accounts this platform created: in the learner or trainer group.

    A hub name that happens to match a system account (root, postgres, ...) must never get a
    server running as that account.
    """
    return user_exists(user) and bool(groups_of(user) & {course.learner_group, course.trainer_group})


def ensure_course_account(course: Course, user: str) -> pwd.struct_passwd:
    """The unix account behind a hub user, created on first spawn with the right groups."""
    if user_exists(user) and not is_course_account(course, user):
        raise PermissionError(f"{user!r} is a system account outside the course; refusing to use it")
    trainer = course.role_of(user) == "trainer"
    entry = ensure_user(user, course.home_dir, course.trainer_group if trainer else course.learner_group)
    if trainer:
        add_to_group(user, course.trainer_group)
        link = Path(entry.pw_dir) / "course"
        if not link.exists() and not link.is_symlink():
            link.symlink_to(course.course_dir)
            os.lchown(link, entry.pw_uid, entry.pw_gid)
    return entry


def delete_user(name: str) -> None:
    """Remove a user and its home (used by tests and by trainers clearing a cohort). userdel
    refuses an account that still runs something (a grading kernel a moment from its end,
    say), so whatever it runs is stopped first."""
    for _ in range(50):
        if not user_exists(name):
            return
        subprocess.run(["pkill", "--signal", "KILL", "--uid", name], check=False, capture_output=True)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
        if user_exists(name):
            time.sleep(0.1)


def remove_course_accounts(course: Course, names: list[str]) -> None:
    """Remove ``names``, the grading accounts and the course's groups (a scratch course's, in
    the tests and benchmarks)."""
    delete_grader_pool(course)
    for name in [*names, course.grader_user]:
        delete_user(name)
    for group in (course.learner_group, course.trainer_group, course.grader_user):
        subprocess.run(["groupdel", group], check=False, capture_output=True)


def set_tree(path: Path, *, owner: str = "root", group: str = "root", dir_mode: int = 0o755,
             file_mode: int = 0o644) -> None:
    """chown and chmod a whole tree (a data folder, the course folder)."""
    uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    for root, _dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        os.chmod(root, dir_mode)
        for name in files:
            file = os.path.join(root, name)
            os.chown(file, uid, gid, follow_symlinks=False)
            if not os.path.islink(file):
                os.chmod(file, file_mode)


def prepare_shared_folders(course: Course) -> None:
    """Groups, the grading account and the permissions of the shared folders (idempotent).

    - state folder: 0755 root (hub secrets live in its `hub/` subfolder, 0700);
    - data: readable by all, answer_key/ readable only by root and the trainers' group: the
      grading accounts that run learners' kernels cannot read it (hidden tests run as root, in
      the trusted replay of grading/trusted.py);
    - exchange: 1777 as nbgrader expects (submissions are 0733 folders inside);
    - course folder: trainers' group, setgid, 2770; nobody else may enter it.
    """
    ensure_group(course.learner_group)
    ensure_group(course.trainer_group)
    ensure_group(course.grader_user)
    ensure_user(course.grader_user, course.state_dir / "grader-home", course.grader_user, system=True,
                shell="/usr/sbin/nologin")
    course.state_dir.mkdir(parents=True, exist_ok=True)
    course.state_dir.chmod(0o755)
    hub_dir = course.state_dir / "hub"
    hub_dir.mkdir(exist_ok=True)
    hub_dir.chmod(0o700)
    if course.data_dir.exists():
        set_tree(course.data_dir, dir_mode=0o755, file_mode=0o644)
        answer_key = course.data_dir / "answer_key"
        if answer_key.exists():
            set_tree(answer_key, group=course.trainer_group, dir_mode=0o750, file_mode=0o640)
    course.exchange_dir.mkdir(parents=True, exist_ok=True)
    course.exchange_dir.chmod(0o1777)
    share_course_dir(course)
    # Trainers release the course before they ever start a server: their accounts come first.
    for trainer in course.trainers:
        ensure_course_account(course, trainer)


def share_course_dir(course: Course) -> None:
    """The course folder belongs to the trainers' group (2770 folders, 0660 files), nobody else."""
    course.course_dir.mkdir(parents=True, exist_ok=True)
    gid = grp.getgrnam(course.trainer_group).gr_gid
    for root, _dirs, files in os.walk(course.course_dir):
        os.chown(root, -1, gid)
        os.chmod(root, 0o2770)
        for name in files:
            os.chown(os.path.join(root, name), -1, gid, follow_symlinks=False)
            os.chmod(os.path.join(root, name), 0o660)


def grader_pool_names(course: Course, size: int) -> list[str]:
    """The grading accounts' names: the grading account itself, then fj-grader2, fj-grader3..."""
    return [course.grader_user, *(f"{course.grader_user}{n}" for n in range(2, max(1, size) + 1))]


def ensure_grader_pool(course: Course, size: int) -> list[str]:
    """A pool of `size` grading accounts (idempotent): system accounts without a login shell,
    whose primary group is the grading group (which cannot read answer_key/). Autograde
    leases one per live submission, so that two submissions graded at the same time never
    share a uid and cannot reach each other's kernels; it kills every process of an account
    after each submission, so these accounts must run nothing else."""
    ensure_group(course.grader_user)
    names = grader_pool_names(course, size)
    for name in names:
        if user_exists(name) and grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name != course.grader_user:
            raise PermissionError(f"{name!r} exists outside the grading group; refusing to use it")
        ensure_user(name, course.state_dir / "grader-home", course.grader_user, system=True,
                    shell="/usr/sbin/nologin")
    return names


def delete_grader_pool(course: Course, size: int = 64) -> None:
    """Remove the pool's extra accounts (the grading account itself stays)."""
    for name in grader_pool_names(course, size)[1:]:
        delete_user(name)
