"""The course home: the page a learner (or trainer) lands on when their server opens.

A Jupyter server extension, enabled by the role configurations hub_config/course.py writes for
the demo and workshop hubs. It serves ``<server>/course`` (the hub's ``c.Spawner.default_url``):
a short welcome, then every module and assignment in course order, each with its time, its
status for this learner (not fetched, fetched, submitted, feedback ready and the score), one
action (fetch it, open it, or fetch its feedback) and its page in the course book. The page is
rendered on the server, so it works without JavaScript.

The order and titles come from ``course_outline.json`` (outline.py), written when the course is
released, since a learner's server may not read the course's sources; its path reaches the
server in the FJ_COURSE_OUTLINE environment variable. Statuses come from what the learner's own
server sees, through nbgrader's own assignment-list service (the Assignments panel's), whose
listing the extension also puts in course order.

This module stays light: the hub imports it for its constants.
"""

from __future__ import annotations

from typing import Any

# Where the page is served, relative to a server's base URL: the servers' default URL.
HOME_PATH = "/course"
# The environment variable naming the outline file, and the file's name.
OUTLINE_VARIABLE = "FJ_COURSE_OUTLINE"
OUTLINE_NAME = "course_outline.json"
EXTENSION = "hub_config.course_home"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": EXTENSION}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from hub_config.course_home.handlers import load

    load(serverapp)


async def _start_jupyter_server_extension(serverapp: Any) -> None:
    # Runs once every extension is loaded: nbgrader's assignment list (loaded after this one,
    # in name order) exists by now.
    from hub_config.course_home.handlers import order_assignment_list

    order_assignment_list(serverapp.web_app)
