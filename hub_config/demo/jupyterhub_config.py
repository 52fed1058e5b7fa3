"""JupyterHub configuration of the local demo (`make demo`): everything under build/demo/.

All servers run as the user who ran `make demo` (no unix accounts are created), so the demo
shows the course, not the isolation: learners see the dataset through a view without
answer_key/, but nothing stops their code reading the real folder. Use the workshop set-up for
a real cohort. Settings come from the file the demo runner writes (FJ_HUB_SETTINGS).
"""

import os
import sys
from pathlib import Path

from hub_config import course as course_module
from hub_config import hub, spawners

c = get_config()  # noqa: F821
try:
    course = course_module.load()
except course_module.CourseSettingsError as error:
    # One line naming the setting, not a traceback: trainers edit these files by hand.
    sys.exit(f"The hub cannot start: {error}")
hub.configure_common(
    c, course, python=Path(sys.executable), hub_dir=course.state_dir / "hub",
    bind_url=course.extra.get("bind_url", "http://127.0.0.1:8000"),
    learner_data_dir=Path(course.extra["learner_data_dir"]),
    book_dir=Path(course.extra.get("book_dir", hub.BOOK_HTML)),
)
# Servers run as this account and start a few at a time, like a workshop's (spawners.QueuedStart).
c.JupyterHub.spawner_class = spawners.DemoSpawner
# Self-paced feedback (on in the demo): submissions are graded as they arrive, as this account.
hub.configure_self_paced(c, course, python=Path(sys.executable), same_account=True)
# Every demo server runs as one account, so the trainer's grading can only run learners' code
# as that account too: the grader refuses that on a hub unless told this is known and accepted.
c.Spawner.environment = {**c.Spawner.environment, "FJ_GRADING_SAME_ACCOUNT": "1"}
c.SimpleLocalProcessSpawner.home_dir_template = str(course.home_dir / "{username}")
if os.geteuid() == 0:
    # Running the demo as root (containers, CI) runs every server as root too.
    c.Spawner.args = ["--allow-root"]
