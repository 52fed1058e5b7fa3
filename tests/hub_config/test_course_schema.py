"""course.yaml's schema: a trainer's typo or impossible value is refused with one line."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from hub_config.course import COURSE_YAML, REPO
from hub_config.course_schema import SETTINGS, CourseSettingsError, validate


def test_the_shipped_course_yaml_is_valid() -> None:
    validate(yaml.safe_load(COURSE_YAML.read_text()), str(COURSE_YAML))


@pytest.mark.parametrize(("settings", "expected"), [
    ({"mem_limt": "4G"}, "unknown setting 'mem_limt' (did you mean mem_limit?)"),
    ({"idle_timeout_seconds": "an hour"},
     "idle_timeout_seconds must be a whole number of seconds from 300 to 604800"),
    ({"idle_timeout_seconds": 60}, "idle_timeout_seconds must be a whole number"),
    ({"mem_limit": "lots"}, "mem_limit must be a size such as 2G or 512M"),
    ({"trainers": "alice"}, "trainers must be a list of hub names"),
    ({"trainers": ["Alice Smith"]}, "trainers must be a list of hub names"),
    ({"data_dir": "data/classroom"}, "data_dir must be an absolute path"),
    ({"bind_url": "port 8000"}, "bind_url must be a URL"),
    ({"hub_port": 70000}, "hub_port must be a port number"),
    ({"cpu_limit": "one core"}, "cpu_limit must be a number of CPU cores from 0 to 64"),
    ({"cpu_limit": -1}, "cpu_limit must be a number of CPU cores"),
    ({"cpu_limit": True}, "cpu_limit must be a number of CPU cores"),
    ({"cpu_limt": 1}, "unknown setting 'cpu_limt' (did you mean cpu_limit?)"),
])
def test_bad_settings_are_refused_with_one_line(settings: dict, expected: str) -> None:
    with pytest.raises(CourseSettingsError) as error:
        validate(settings, "/etc/fj-training/course.yaml")
    message = str(error.value)
    assert message.startswith("/etc/fj-training/course.yaml: ") and expected in message
    assert "\n" not in message


def test_good_settings_pass() -> None:
    validate({"mem_limit": "512M", "cpu_limit": 0.5, "idle_timeout_seconds": 3600,
              "trainers": ["alice", "bob_2"], "state_dir": "/srv/x", "bind_url": "http://:8000",
              "hub_port": None}, "test")


def test_every_setting_says_what_it_means() -> None:
    assert all(s.kind and s.meaning for s in SETTINGS.values())


@pytest.mark.integration
@pytest.mark.parametrize(("line", "named"), [("mem_limt: 4G", "mem_limt"),
                                             ('idle_timeout_seconds: "an hour"', "idle_timeout_seconds")])
def test_the_hub_refuses_to_start_naming_the_bad_setting(tmp_path, line: str, named: str) -> None:
    """The workshop hub itself, started on a settings file with a trainer's typo."""
    settings = tmp_path / "course.yaml"
    settings.write_text(f"state_dir: {tmp_path}\n{line}\n")
    result = subprocess.run([str(REPO / ".venv" / "bin" / "jupyterhub"), "-f",
                             str(REPO / "hub_config" / "workshop" / "jupyterhub_config.py")],
                            env={**os.environ, "FJ_HUB_SETTINGS": str(settings)}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = [text for text in result.stderr.splitlines() if named in text]
    assert lines == [f"The hub cannot start: {settings}: " + lines[0].split(f"{settings}: ", 1)[1]]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "hub").exists(), "nothing was started"


@pytest.mark.integration
def test_the_hub_refuses_to_start_without_systemd(tmp_path) -> None:
    """On a machine not booted with systemd, the workshop hub says why in one line instead of
    starting servers without their limits. An empty /run of its own (a mount namespace) makes
    any machine look so, systemd's own included."""
    if os.geteuid() != 0:
        pytest.skip("a mount namespace needs root")
    settings = tmp_path / "course.yaml"
    settings.write_text(f"state_dir: {tmp_path}\n")
    hub = [str(REPO / ".venv" / "bin" / "jupyterhub"), "-f",
           str(REPO / "hub_config" / "workshop" / "jupyterhub_config.py")]
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             'mount -t tmpfs tmpfs /run && exec "$@"', "hub", *hub],
                            env={**os.environ, "FJ_HUB_SETTINGS": str(settings)}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    said = [text for text in result.stderr.splitlines() if "cannot start" in text]
    assert len(said) == 1 and "started as systemd units" in said[0] and "init" in said[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "hub").exists(), "nothing was started"
