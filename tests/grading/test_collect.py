"""collect: a learner's folder in the exchange is hostile input.

Every test builds inbound/ folders the way nbgrader's submit does (or the way an attacker
would), runs the real collect, and checks what reached ``submitted/``. Owner checks use the
system accounts ``nobody`` and ``daemon`` (present on every Debian machine), so they need root.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
from pathlib import Path

import pytest

from grading.collect import Limits, collect_assignments
from grading.settings import Settings
from tests.grading.broken_submissions import ASSIGNMENT
from tests.grading.conftest import as_root, run_cli

SECRET = "ab12" * 32
STAMP = "2026-03-01 10:00:00.000000 UTC"
LATER = "2026-03-02 10:00:00.000000 UTC"


@pytest.fixture()
def course(released: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(released.course_dir, tmp_path / "course")
    exchange = tmp_path / "exchange"
    (exchange / "fj-course" / "inbound").mkdir(parents=True)
    return Settings(notebooks=released.notebooks, course_dir=tmp_path / "course",
                    data_dir=released.data_dir, exchange=exchange)


def inbound(settings: Settings) -> Path:
    assert settings.exchange is not None
    return settings.exchange / "fj-course" / "inbound"


def submission(settings: Settings, student: str, stamp: str = STAMP, *, owner: str | None = None,
               secret: str | None = SECRET, text: str = "answer") -> Path:
    """An inbound folder as nbgrader's submit writes it, owned by ``owner`` if given."""
    folder = inbound(settings) / f"{student}+{ASSIGNMENT}+{stamp}+{os.urandom(3).hex()}"
    folder.mkdir()
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps({"answer": text}))
    (folder / "timestamp.txt").write_text(stamp)
    if secret is not None:
        (folder / "submission_secret.txt").write_text(secret)
    if owner:
        entry = pwd.getpwnam(owner)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return folder


def collected(settings: Settings, student: str) -> Path:
    return settings.submitted(student, ASSIGNMENT)


def answer_of(settings: Settings, student: str) -> str:
    return json.loads((collected(settings, student) / f"{ASSIGNMENT}.ipynb").read_text())["answer"]


def reasons(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.reason for r in result.refused]


def no_stray_folders(settings: Settings) -> bool:
    return not [p for p in settings.submitted().rglob(".*") if p.name.startswith((".collecting",
                                                                                  ".replaced"))]


def test_an_honest_submission_is_collected_with_its_timestamp(course: Settings) -> None:
    submission(course, "alice", STAMP, text="first")
    submission(course, "alice", LATER, text="second")
    result = collect_assignments(course, [ASSIGNMENT])
    assert result.collected[ASSIGNMENT] == ["alice"] and not result.refused
    assert answer_of(course, "alice") == "second", "the latest submission is taken"
    assert (collected(course, "alice") / "timestamp.txt").read_text() == LATER
    assert (collected(course, "alice") / "submission_secret.txt").read_text() == SECRET
    again = collect_assignments(course, [ASSIGNMENT])
    assert again.unchanged[ASSIGNMENT] == ["alice"] and not again.collected[ASSIGNMENT]


@pytest.mark.skipif(not as_root(), reason="files owned by other accounts need root")
def test_a_learner_cannot_submit_as_another(course: Settings) -> None:
    submission(course, "daemon", STAMP, owner="daemon", text="daemon's own")
    # nobody writes a later folder under daemon's name: it must not replace daemon's work.
    submission(course, "daemon", LATER, owner="nobody", text="forged")
    submission(course, "nobody", STAMP, owner="nobody", text="nobody's own")
    result = collect_assignments(course, [ASSIGNMENT])
    assert answer_of(course, "daemon") == "daemon's own"
    assert answer_of(course, "nobody") == "nobody's own"
    [refused] = result.refused
    assert refused.owner == "nobody" and refused.claims == "daemon"
    assert "written by nobody" in refused.reason


@pytest.mark.skipif(not as_root(), reason="files owned by other accounts need root")
def test_links_to_secrets_are_never_followed(course: Settings, tmp_path: Path) -> None:
    secret = tmp_path / "cookie_secret"
    secret.write_text("HUB-COOKIE-SECRET")
    secret.chmod(0o600)
    folder = submission(course, "nobody", owner="nobody")
    (folder / "data.csv").symlink_to(secret)
    os.chown(folder / "data.csv", pwd.getpwnam("nobody").pw_uid, -1, follow_symlinks=False)
    linked_folder = inbound(course) / f"daemon+{ASSIGNMENT}+{STAMP}+x"
    linked_folder.symlink_to(tmp_path)
    result = collect_assignments(course, [ASSIGNMENT])
    assert any("data.csv is a symbolic link" in r for r in reasons(result))
    assert any("not a folder" in r for r in reasons(result))
    assert not collected(course, "nobody").exists() and not collected(course, "daemon").exists()
    leaked = [p for p in course.course_dir.rglob("*")
              if p.is_file() and b"HUB-COOKIE-SECRET" in p.read_bytes()]
    assert not leaked and no_stray_folders(course)


@pytest.mark.skipif(not as_root(), reason="a hard link to a file of root's needs another owner")
def test_hard_links_devices_and_pipes_are_refused(course: Settings, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash")
    hard = submission(course, "nobody", owner="nobody")
    os.link(secret, hard / "notes.txt")
    pipe = submission(course, "daemon", owner="daemon")
    os.mkfifo(pipe / "stuck")
    result = collect_assignments(course, [ASSIGNMENT])  # must not block on the pipe
    assert sorted(reasons(result)) == sorted(["notes.txt is a hard link to another file",
                                              "stuck is not a regular file (a device, pipe or socket)"])
    assert not collected(course, "nobody").exists() and not collected(course, "daemon").exists()


def test_a_damaged_submission_does_not_stop_the_others(course: Settings) -> None:
    submission(course, "alice", secret=None)
    submission(course, "bob", secret="../../etc/passwd")
    submission(course, "carol")
    result = collect_assignments(course, [ASSIGNMENT])
    assert result.collected[ASSIGNMENT] == ["carol"]
    assert sorted(reasons(result)) == ["it has no submission_secret.txt (not a submission made by "
                                       "the Assignments panel)",
                                       "its submission_secret.txt is not a valid secret"]
    log = json.loads((course.course_dir / "collect_log.json").read_text())
    assert {entry["claims"] for entry in log} == {"alice", "bob"}


def test_oversized_deep_or_crowded_trees_are_refused(course: Settings) -> None:
    big = submission(course, "alice")
    (big / "big.bin").write_bytes(b"x" * 3000)
    crowded = submission(course, "bob")
    for i in range(12):
        (crowded / f"f{i}.txt").write_text("x")
    deep = submission(course, "carol")
    (deep / "a" / "b" / "c" / "d").mkdir(parents=True)
    (deep / "a" / "b" / "c" / "d" / "x.txt").write_text("x")
    submission(course, "dave")
    limits = Limits(max_files=10, max_depth=2, max_file_bytes=2000, max_total_bytes=10_000)
    result = collect_assignments(course, [ASSIGNMENT], limits)
    assert result.collected[ASSIGNMENT] == ["dave"]
    assert sorted(reasons(result)) == ["big.bin is larger than 0 MB", "it holds more than 10 files",
                                       "its folders nest deeper than 2 levels"]
    assert no_stray_folders(course)


def test_a_refused_newer_submission_keeps_the_older_one(course: Settings) -> None:
    submission(course, "alice", STAMP, text="good")
    collect_assignments(course, [ASSIGNMENT])
    later = submission(course, "alice", LATER, text="bad")
    (later / "link").symlink_to("/etc/hostname")
    result = collect_assignments(course, [ASSIGNMENT])
    assert reasons(result) == ["link is a symbolic link"]
    assert answer_of(course, "alice") == "good"


def test_names_that_are_not_learner_names_are_refused(course: Settings) -> None:
    for name in ("..", ".hidden", "a b"):
        folder = inbound(course) / f"{name}+{ASSIGNMENT}+{STAMP}+x"
        folder.mkdir()
    (inbound(course) / f"eve+{ASSIGNMENT}+not-a-time+x").mkdir()
    result = collect_assignments(course, [ASSIGNMENT])
    assert len(result.refused) == 4 and not result.collected[ASSIGNMENT]
    assert not course.submitted().exists()


def test_collect_command_reports_refusals_and_succeeds(course: Settings, capsys) -> None:  # type: ignore[no-untyped-def]
    submission(course, "alice")
    submission(course, "bob", secret=None)
    code = run_cli("--notebooks", course.notebooks, "--course-dir", course.course_dir,
                   "--data-dir", course.data_dir, "--exchange", course.exchange, "collect")
    out, err = capsys.readouterr()
    assert code == 0
    assert f"{ASSIGNMENT}: 1 submission(s), 1 new" in out
    assert "not collected: bob+" in err and "no submission_secret.txt" in err
    mode = stat.S_IMODE(collected(course, "alice").stat().st_mode)
    assert not mode & 0o007, "collected work is closed to other accounts"


def test_pages_a_browser_would_run_are_left_out(course: Settings) -> None:
    folder = submission(course, "alice")
    for name in ("page.html", "Report.HTM", "chart.svg", "app.js", "notes.txt"):
        (folder / name).write_text("<script>window.fjPwned = 1</script>")
    result = collect_assignments(course, [ASSIGNMENT])
    assert result.collected[ASSIGNMENT] == ["alice"]
    kept = sorted(p.name for p in collected(course, "alice").iterdir())
    assert kept == sorted([f"{ASSIGNMENT}.ipynb", "notes.txt", "submission_secret.txt",
                           "timestamp.txt"])
