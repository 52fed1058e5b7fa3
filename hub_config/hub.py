"""Configuration shared by the demo's and the workshop's jupyterhub_config.py.

Both hubs use the course's NativeAuthenticator (authenticator.py: learners sign up; a trainer
approves them, or a one-time sign-up code does; trainer names need their code), run the book and
the idle culler as hub services, route through the pinned configurable-http-proxy, and start
each server with its role's Jupyter configuration.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub_config import course_home, live_report, signup_codes
from hub_config.authenticator import CourseAuthenticator
from hub_config.course import LEARNER, REPO, TRAINER, Course, write_all_role_configs
from hub_config.course_schema import setting_value

PROXY = REPO / "hub_config" / "node_modules" / ".bin" / "configurable-http-proxy"
BOOK_HTML = REPO / "book" / "_build" / "html"
# Unix-safe hub names: they become system accounts on the workshop server.
USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{1,30}$"


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (for the hub's internal and service ports)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawner_environment(course: Course, learner_data_dir: Path) -> dict[str, Any]:
    """Variables every server gets; the role's config folder is chosen per user."""

    def config_path(spawner: Any) -> str:
        return str(course.role_config_root / course.role_of(spawner.user.name))

    def data_dir(spawner: Any) -> str:
        # Trainers open the full dataset in the demo; learners a view without answer_key/.
        return str(course.data_dir if course.role_of(spawner.user.name) == TRAINER else learner_data_dir)

    return {
        "JUPYTER_CONFIG_PATH": config_path,
        "FJ_DATA_DIR": data_dir,
        "FJ_COURSE_ID": course.course_id,
        # The course home's map of the course, written at release (hub_config/course_home/).
        course_home.OUTLINE_VARIABLE: str(course.outline_file),
    }


def course_notebooks(course: Course) -> Path:
    """The notebooks the hub's course was released from (the clone's notebooks/ unless the
    settings name others, as the demo's tests do)."""
    return Path(course.extra.get("notebooks") or REPO / "notebooks")


def configure_common(c: Any, course: Course, *, python: Path, hub_dir: Path, bind_url: str,
                     learner_data_dir: Path, book_dir: Path = BOOK_HTML,
                     service_user: str | None = None) -> None:
    """Settings both hubs share. `python` must be runnable by every server's unix user."""
    write_all_role_configs(course)
    hub_dir.mkdir(parents=True, exist_ok=True)
    c.JupyterHub.bind_url = bind_url
    # Internal ports: fixed ones would collide with other hubs on the machine.
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{course.extra.get('hub_port') or free_port()}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{course.extra.get('proxy_api_port') or free_port()}"
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.command = [str(PROXY)]
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")
    # A fixed token in a 0600 file lets a restarted hub take over a proxy left running.
    token_file = hub_dir / "proxy_token"
    if not token_file.exists():
        token_file.write_text(secrets.token_hex(32))
        token_file.chmod(0o600)
    c.ConfigurableHTTPProxy.auth_token = token_file.read_text().strip()

    # Sign-up never approves by name: trainer names need their one-time code, other names are
    # approved by their code (the installer issues the roster's) or by a trainer.
    c.JupyterHub.authenticator_class = CourseAuthenticator
    c.CourseAuthenticator.signup_codes_file = str(signup_codes.codes_file(hub_dir))
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 8
    c.NativeAuthenticator.check_common_password = True
    # The authenticator refuses unapproved users itself. Trainers are the hub's admins, but an
    # account under their name only exists once signed up with its code.
    c.Authenticator.allow_all = True
    c.Authenticator.admin_users = set(course.trainers)
    c.Authenticator.username_pattern = USERNAME_PATTERN

    # jupyterhub.singleuser, less a second of imports it never uses (course_home/launch.py).
    c.Spawner.cmd = [str(python), "-m", "hub_config.course_home.launch", "jupyterhub.singleuser"]
    # Everyone lands on the course home (hub_config/course_home/, switched on in the role configs).
    c.Spawner.default_url = course_home.HOME_PATH
    c.Spawner.environment = spawner_environment(course, learner_data_dir)
    c.Spawner.mem_limit = course.mem_limit
    # A whole cohort logging in at once: servers start a few at a time (spawners.QueuedStart), the
    # rest wait their turn on the spawn-pending page. Fifty servers need a minute or two of CPU
    # on 2 cores; the timeouts cover the wait in the queue as well as the start.
    c.Spawner.start_timeout = 600
    c.Spawner.http_timeout = 600
    # The hub's own throttle answers a spawn beyond the limit with a 429 error page ("too many
    # users trying to log in"); the queue bounds the work instead, so nobody is turned away.
    c.JupyterHub.concurrent_spawn_limit = 0
    c.JupyterHub.cleanup_servers = True

    book = {"name": "book", "url": f"http://127.0.0.1:{free_port()}",
            "command": [str(python), str(REPO / "hub_config" / "book_service.py"), "--dir", str(book_dir)],
            "display": True, "oauth_no_confirm": True}
    culler = {"name": "idle-culler",
              "command": [str(python), "-m", "jupyterhub_idle_culler",
                          f"--timeout={course.idle_timeout_seconds}", "--cull-every=300"]}
    if service_user:
        book["user"] = service_user
    c.JupyterHub.services = [book, culler]
    c.JupyterHub.load_roles = [{
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }]
    # The trainers' live cohort report runs as the hub's own account: it must read the course
    # folder, which is the trainers' group's alone (the grading accounts run learners' code).
    c.JupyterHub.services.append(live_report.service(
        python=python, course_dir=course.course_dir, notebooks=course_notebooks(course),
        url=f"http://127.0.0.1:{free_port()}", trainer_group=course.trainer_group,
        course_id=course.course_id))
    c.JupyterHub.load_roles.extend(live_report.roles(trainer_group=course.trainer_group))


SELF_PACED_SERVICE = "self-paced-feedback"


def configure_self_paced(c: Any, course: Course, *, python: Path, sandbox_users: Sequence[str] = (),
                         same_account: bool = False) -> bool:
    """With course.yaml's ``self_paced_feedback`` on, the hub runs ``python -m grading watch
    --self-paced`` as a service: every submission is graded as it arrives, by the same sandboxed
    pipeline as ``grading autograde``, and its feedback (model answers included) released for
    Fetch Feedback. Returns whether it is on.

    On a workshop server it runs as root with the pool of grading accounts, under umask 002 so
    that what it writes in the course folder (setgid, the trainers' group) stays the trainers'
    to change, while the feedback it releases stays readable to its learner as nbgrader expects.
    In the demo every server runs as one account, so the grader must be told that is accepted.
    """
    from grading.watch import watch_command

    if not setting_value(course.extra, "self_paced_feedback"):
        return False
    argv = watch_command(python, course_notebooks(course), course.course_dir, course.data_dir,
                         course.exchange_dir, course.course_id,
                         max_attempts=setting_value(course.extra, "feedback_max_attempts"),
                         wait_minutes=setting_value(course.extra, "feedback_wait_minutes"),
                         sandbox_users=list(sandbox_users))
    if sandbox_users:
        argv += ["--kernel-python", str(python)]
    environment = {"FJ_DATA_DIR": str(course.data_dir),
                   "PATH": f"{python.parent}{os.pathsep}/usr/local/bin:/usr/bin:/bin"}
    if same_account:
        environment["FJ_GRADING_SAME_ACCOUNT"] = "1"
    c.JupyterHub.services.append({
        "name": SELF_PACED_SERVICE, "cwd": str(REPO), "environment": environment,
        "command": ["/bin/sh", "-c", 'umask 002 && exec "$@"', "self-paced-feedback", *argv],
    })
    return True


def roles_summary(course: Course) -> dict[str, str]:
    """Who is what, for logs and the demo's banner."""
    return {name: TRAINER for name in course.trainers} | {name: LEARNER for name in course.roster()}


