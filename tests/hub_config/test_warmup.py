"""Warming a workshop up: a trainer's token starts every learner's server before the session,
and keeps them from the idle culler until it starts; a learner's token cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from hub_helpers import running_demo

from hub_config import warmup
from hub_config.course import REPO
from hub_config.hubclient import HubClient


class FakeAPI:
    """The hub as warmup sees it: servers that become ready after a few polls."""

    def __init__(self, polls_to_ready: int = 2, fail: str = "", new: str = "") -> None:
        self.polls = {}
        self.new = new  # a learner the hub has not seen log in yet
        self.created: list[str] = []
        self.polls_to_ready = polls_to_ready
        self.fail = fail
        self.touched: list[tuple[tuple[str, ...], datetime]] = []

    def server(self, name: str) -> dict:
        if name == self.fail:
            raise warmup.WarmupError(f"no user {name!r} on the hub (500)")
        if name == self.new and name not in self.created:
            raise warmup.MissingUser(f"no user {name!r} on the hub (404)")
        self.polls[name] = self.polls.get(name, -1) + 1
        return {"ready": self.polls[name] > self.polls_to_ready, "pending": "spawn"}

    def start(self, name: str) -> None:
        pass

    def create(self, name: str) -> None:
        self.created.append(name)

    def touch(self, names, when) -> None:  # type: ignore[no-untyped-def]
        self.touched.append((tuple(names), when))


def test_warm_up_reports_each_server_and_never_stops_at_one_failure(monkeypatch) -> None:
    monkeypatch.setattr(warmup.time, "sleep", lambda s: None)
    api = FakeAPI(fail="ghost", new="cat")
    results = warmup.warm_up(api, ["ann", "ghost", "bob", "cat"], concurrency=2)
    assert [(r.name, bool(r.error)) for r in results] == [("ann", False), ("ghost", True), ("bob", False),
                                                          ("cat", False)]
    assert "no user 'ghost'" in results[1].error
    assert api.created == ["cat"], "a learner who has not logged in yet is added, then started"


def test_hold_until_reports_activity_until_the_session_starts() -> None:
    start = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    clock = [start]
    api = FakeAPI()

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    times = warmup.hold_until(api, ["ann"], start + timedelta(minutes=5), every=120,
                              now=lambda: clock[0], sleep=sleep)
    assert times == 3  # at 0, 2 and 4 minutes; none after the start
    assert [when for _, when in api.touched] == [start + timedelta(minutes=m) for m in (0, 2, 4)]


def test_session_start_reads_a_time_of_day_and_refuses_anything_else() -> None:
    today = datetime(2026, 12, 4, 8, 0).astimezone()
    assert warmup.session_start("09:30", today).astimezone(today.tzinfo).hour == 9
    assert warmup.session_start("07:00", today) > today  # already past: tomorrow's
    with pytest.raises(warmup.WarmupError, match="such as 09:30"):
        warmup.session_start("half past nine", today)


def test_the_token_never_comes_from_the_command_line() -> None:
    r = subprocess.run([sys.executable, "-m", "hub_config.warmup", "--hub", "http://127.0.0.1:9"],
                       env={k: v for k, v in os.environ.items() if k != warmup.TOKEN_VARIABLE},
                       capture_output=True, text=True, cwd=REPO, check=False)
    assert r.returncode == 2 and "FJ_HUB_TOKEN" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.integration
def test_a_trainer_warms_every_learner_up_and_a_learner_cannot(artifacts_dir: Path) -> None:
    with running_demo("warmup", artifacts_dir) as demo:
        url, accounts = demo.url, demo.accounts
        learners = sorted(name for name in accounts if name != "trainer")

        def run(token: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "hub_config.warmup", "--hub", url],
                                  env={**os.environ, warmup.TOKEN_VARIABLE: token}, capture_output=True,
                                  text=True, cwd=REPO, timeout=600, check=False)

        learner = HubClient(url)
        assert learner.login(learners[0], accounts[learners[0]])
        refused = run(learner.token())
        assert refused.returncode == 2 and "refused the token" in refused.stderr, refused.stderr

        trainer = HubClient(url)
        assert trainer.login("trainer", accounts["trainer"])
        token = trainer.token()
        done = run(token)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{len(learners)} of {len(learners)} servers ready" in done.stdout
        api = warmup.HubAPI(url, token)
        assert all(api.server(name).get("ready") for name in learners)
        assert not api.server("trainer").get("ready"), "trainers are not warmed up"

        # Held until the session starts: the servers' activity is reported as now.
        before = datetime.now(UTC)
        warmup.hold_until(api, learners, before + timedelta(seconds=2), every=1)
        users = {u["name"]: u for u in requests.get(f"{url}/hub/api/users", timeout=30,
                                                    headers={"Authorization": f"token {token}"}).json()}
        for name in learners:
            seen = datetime.fromisoformat(users[name]["servers"][""]["last_activity"].replace("Z", "+00:00"))
            assert seen >= before - timedelta(seconds=1), (name, seen)
        # A learner logging in now lands on a running server at once.
        assert learner.session.get(f"{url}/user/{learners[0]}/course", timeout=30).status_code == 200
