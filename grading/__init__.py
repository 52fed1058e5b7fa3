"""Release, collect, autograde, give feedback on and report on the course's assignments: a thin
layer over nbgrader 0.9.6. ``python -m grading --help`` lists the commands."""

import os
import sys


def _tools_on_path() -> None:
    """nbgrader starts helper commands such as ``alembic`` by name, so this interpreter's
    bin/ folder goes first on PATH (as activating the virtualenv would do)."""
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


_tools_on_path()

