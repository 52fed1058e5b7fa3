"""JupyterHub configuration of the workshop server: one machine, 10 to 60 learners.

Every learner and trainer is a unix user (isolation by the operating system); NativeAuthenticator
takes sign-ups, which a trainer approves at /hub/authorize unless the name is on the roster.
Settings come from hub_config/course.yaml overridden by FJ_HUB_SETTINGS (the installer writes
/etc/fj-training/course.yaml). Run as root: `jupyterhub -f hub_config/workshop/jupyterhub_config.py`.
"""

import os
import sys
from pathlib import Path

from hub_config import course as course_module
from hub_config import hub, runtime, spawners
from hub_config.course_schema import setting_value

c = get_config()  # noqa: F821
os.environ.setdefault(course_module.SETTINGS_VARIABLE, "/etc/fj-training/course.yaml")
try:
    course = course_module.load()
except course_module.CourseSettingsError as error:
    # One line naming the setting, not a traceback: trainers edit these files by hand.
    sys.exit(f"The hub cannot start: {error}")
if missing := spawners.systemd_missing():
    sys.exit(f"The hub cannot start: learners' servers are started as systemd units, with their "
             f"memory and CPU limits, and {missing}. Run the workshop hub on a machine booted "
             "with systemd (any current Debian or Ubuntu server); RUNBOOK.md says how.")
python = Path(course.extra.get("python") or runtime.ensure_runtime(course.state_dir / "runtime"))

hub.configure_common(
    c, course, python=python, hub_dir=course.state_dir / "hub",
    bind_url=course.extra.get("bind_url", "http://:8000"),
    learner_data_dir=course.data_dir,  # answer_key/ is closed to learners by its permissions
    book_dir=Path(course.extra.get("book_dir", hub.BOOK_HTML)),
    service_user="nobody",
)
spawners.configure_course_spawner(c, course)
# Self-paced feedback, if the trainer turned it on in course.yaml: graded as root, learners' code
# under the pool of grading accounts (one per grading worker, as `fj-autograde` uses).
if setting_value(course.extra, "self_paced_feedback"):
    from grading.autograde import default_grading_workers
    from hub_config.accounts import ensure_grader_pool

    hub.configure_self_paced(c, course, python=python,
                             sandbox_users=ensure_grader_pool(course, default_grading_workers()))
c.Spawner.notebook_dir = "~"
# Learners keep their servers between sessions only while active; homes persist regardless.
c.JupyterHub.shutdown_on_logout = False
