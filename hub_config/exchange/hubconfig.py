"""The JupyterHub settings that put the exchange service on a hub.

Three things: the service itself; a role letting it read users and groups (it asks the hub who
is an instructor); and, for users, the scope ``access:services!service=fj-exchange`` both in
their role and in their servers' tokens, which otherwise may reach only their own server.
Kubernetes states the same in hub_config/k8s/values.yaml (hub.services, hub.loadRoles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub_config.course import REPO
from hub_config.exchange.service import DEFAULT_INSTRUCTOR_GROUP, SERVICE_NAME


def access_scope(name: str = SERVICE_NAME) -> str:
    """The scope a token needs to use the service."""
    return f"access:services!service={name}"


def service(*, python: Path, store: Path, courses: list[str], url: str,
            instructor_group: str = DEFAULT_INSTRUCTOR_GROUP, max_mib: int = 50,
            name: str = SERVICE_NAME) -> dict[str, Any]:
    """A managed service entry for c.JupyterHub.services (the hub starts and stops it)."""
    command = [str(python), "-m", "hub_config.exchange.service", "--store", str(store),
               "--instructor-group", instructor_group, "--max-mib", str(max_mib)]
    for course in courses:
        command += ["--course", course]
    return {"name": name, "url": url, "command": command, "cwd": str(REPO)}


def roles(name: str = SERVICE_NAME) -> list[dict[str, Any]]:
    """Entries for c.JupyterHub.load_roles: users may use the service; it may read users."""
    return [
        {"name": "user", "scopes": ["self", access_scope(name)]},
        {"name": name, "scopes": ["read:users", "read:groups"], "services": [name]},
    ]


def server_token_scopes(name: str = SERVICE_NAME) -> list[str]:
    """The scopes of a server's JUPYTERHUB_API_TOKEN: the default server role's, plus the
    service (the exchange classes send that token)."""
    return ["users:activity!user", "access:servers!server", access_scope(name)]


def configure(c: Any, **service_args: Any) -> None:
    """Add the exchange service to a hub's configuration object `c`."""
    name = service_args.get("name", SERVICE_NAME)
    c.JupyterHub.services.append(service(**service_args))
    c.JupyterHub.load_roles.extend(roles(name))
    c.Spawner.server_token_scopes = server_token_scopes(name)
