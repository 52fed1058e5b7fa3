"""The workshop's spawner without a hub: its systemd settings, and a unit that fails as it starts
ends the start at once (the real units run in test_workshop_hub.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from traitlets.config import Config

from hub_config import spawners
from hub_config.course import Course


def spawner(config: Config | None = None) -> spawners.CourseSpawner:
    user = SimpleNamespace(name="ann", id=7, url="/user/ann/", server=None, orm_user=None)
    return spawners.course_spawner(Course())(user=user, config=config or Config())


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_the_workshop_settings_give_each_server_its_unit_and_limits() -> None:
    c = Config()
    spawners.configure_course_spawner(c, Course(mem_limit="1G", cpu_limit=0.5))
    c.Spawner.mem_limit = "1G"  # hub.configure_common's, shared with the demo
    made = c.JupyterHub.spawner_class(user=SimpleNamespace(name="ann", id=7, url="/user/ann/", server=None,
                                                           orm_user=None), config=c)
    assert isinstance(made, spawners.CourseSpawner) and isinstance(made, spawners.QueuedStart)
    assert made.unit_name == "fj-server-ann"
    assert made.slice == spawners.SERVER_SLICE
    assert made.disable_user_sudo is True
    assert made.cpu_limit == 0.5 and made.mem_limit == 2**30
    assert made.unit_extra_properties == {"MemorySwapMax": "0"}


def test_no_cpu_cap_when_the_course_sets_none() -> None:
    c = Config()
    spawners.configure_course_spawner(c, Course(cpu_limit=0))
    assert "cpu_limit" not in c.Spawner


def test_a_unit_that_fails_as_it_starts_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # SystemdSpawner itself polls a stopped unit once a second for the whole start timeout
    # (ten minutes here), so a learner whose server could not start would wait that long.
    state = {"running": False, "failed": True}

    async def running(unit: str) -> bool:
        return state["running"]

    async def failed(unit: str) -> bool:
        return state["failed"]

    monkeypatch.setattr(spawners.systemd, "service_running", running)
    monkeypatch.setattr(spawners.systemd, "service_failed", failed)
    made = spawner()
    assert run(made.poll()) == 1, "outside a start, a stopped unit is just stopped"
    made._starting = True
    with pytest.raises(RuntimeError, match="journalctl -u jupyter-ann-singleuser"):
        run(made.poll())
    state["running"] = True
    assert run(made.poll()) is None
