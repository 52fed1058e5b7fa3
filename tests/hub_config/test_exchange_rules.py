"""Fast tests of the exchange service's rules, wire format and store (no hub, no HTTP).

Each test fails if the attack it names works: a name that escapes its folder, a link packed into
a submission, a submission filed under someone else, a learner reading another's work."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from hub_config.exchange import payload, rules
from hub_config.exchange.rules import Limits, RuleError
from hub_config.exchange.store import Store

SMALL = Limits(max_files=5, max_file_bytes=1000, max_total_bytes=2000)
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.mark.parametrize("name", [
    "../x.ipynb", "a/../../x", "/etc/passwd", ".hidden", "a/.b", "a\\b", "", ".", "..",
    "a//b", "x\x00y", "a/b/c/d/e/f.ipynb", "ok/", "name.", "-rf", "é.ipynb",
])
def test_bad_file_names_are_refused(name: str) -> None:
    with pytest.raises(RuleError):
        rules.check_path(name)


@pytest.mark.parametrize("name", ["a.ipynb", "data/x (1).csv", "Module 1+2.ipynb", "a/b/c/d/e.txt"])
def test_plain_file_names_pass(name: str) -> None:
    assert rules.check_path(name) == name


@pytest.mark.parametrize("value", ["../a", "a/b", "", "a" * 65, ".x", "a b", None, 3])
def test_bad_ids_are_refused(value: object) -> None:
    with pytest.raises(RuleError):
        rules.check_id(value)


def test_roles_come_from_admin_or_the_instructor_group() -> None:
    group = "fj-trainers"
    assert rules.role_of({"name": "t", "admin": True, "groups": []}, group) == rules.INSTRUCTOR
    assert rules.role_of({"name": "t", "admin": False, "groups": [group]}, group) == rules.INSTRUCTOR
    assert rules.role_of({"name": "a", "admin": False, "groups": ["fj-learners"]}, group) == rules.LEARNER
    assert rules.role_of({"name": "a"}, group) == rules.LEARNER
    with pytest.raises(RuleError) as err:
        rules.require_instructor(rules.LEARNER)
    assert err.value.status == 403
    rules.require_instructor(rules.INSTRUCTOR)


def body(files: dict[str, bytes]) -> bytes:
    return json.dumps({"files": {k: base64.b64encode(v).decode() for k, v in files.items()}}).encode()


def test_decode_refuses_traversal_sizes_counts_and_garbage() -> None:
    for bad in [body({"../../etc/cron.d/x": b"1"}), body({"a/../../b": b"1"}),
                body({f"f{i}.txt": b"1" for i in range(6)}), body({"big.bin": b"x" * 1001}),
                body({"a.bin": b"x" * 900, "b.bin": b"x" * 900, "c.bin": b"x" * 900}),
                body({"a": b"1", "a/b": b"2"}), body({}), b"not json", b'{"files": []}',
                b'{"files": {"a.txt": "***"}}', b'{"files": {"a.txt": 5}}']:
        with pytest.raises(RuleError):
            payload.decode(bad, SMALL)
    assert payload.decode(body({"a.ipynb": NB[:500]}), SMALL) == {"a.ipynb": NB[:500]}


def test_pack_refuses_links_and_skips_hidden_and_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "ps1"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_bytes(NB)
    (folder / "a.ipynb").write_bytes(NB)
    (folder / "x.pyc").write_bytes(b"1")
    assert payload.pack_folder(folder, SMALL, ignore=["*.pyc"]) == {"a.ipynb": NB}
    secret = tmp_path / "someone-elses.txt"
    secret.write_text("not yours")
    (folder / "b.ipynb").symlink_to(secret)
    with pytest.raises(RuleError, match="links cannot be uploaded"):
        payload.pack_folder(folder, SMALL)
    (folder / "b.ipynb").unlink()
    (folder / "sub").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(RuleError, match="links cannot be uploaded"):
        payload.pack_folder(folder, SMALL)


def test_install_tree_is_all_or_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(RuleError):
        payload.install_tree(dest, {"a.txt": b"1", "../escape.txt": b"2"})
    assert not dest.exists() and not (tmp_path / "escape.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == [], "no temporary folder is left behind"
    payload.install_tree(dest, {"a.txt": b"1", "d/b.txt": b"2"})
    assert (dest / "d" / "b.txt").read_bytes() == b"2"
    with pytest.raises(RuleError):
        payload.install_tree(dest, {"a.txt": b"new"})
    payload.install_tree(dest, {"c.txt": b"3"}, replace=True)
    assert sorted(p.name for p in dest.iterdir()) == ["c.txt"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store", ["fj-course"])
    s.release("fj-course", "ps1", {"ps1.ipynb": NB})
    return s


def test_store_files_submissions_under_the_given_student_with_its_own_timestamp(store: Store) -> None:
    a = store.submit("fj-course", "ps1", "ann", {"ps1.ipynb": NB})
    b = store.submit("fj-course", "ps1", "bob", {"ps1.ipynb": NB + b" "})
    a2 = store.submit("fj-course", "ps1", "ann", {"ps1.ipynb": NB})
    assert a["student_id"] == "ann" and b["student_id"] == "bob"
    assert a2["timestamp"] > a["timestamp"] and a["id"] != a2["id"]
    assert a["timestamp"].endswith(" UTC")
    mine = store.submissions("fj-course", student="ann")
    assert {r["student_id"] for r in mine} == {"ann"} and len(mine) == 2
    assert all("secret" not in r for r in mine), "listings never show the feedback secret"
    assert len(store.submissions("fj-course")) == 3
    assert (store.root.stat().st_mode & 0o077) == 0, "the store is the service's alone"


def test_store_refuses_unreleased_unknown_and_bad_names(store: Store) -> None:
    with pytest.raises(RuleError) as err:
        store.submit("fj-course", "ps9", "ann", {"a.ipynb": NB})
    assert err.value.status == 404
    for course, assignment, student in [("other", "ps1", "ann"), ("fj-course", "../ps1", "ann"),
                                        ("fj-course", "ps1", "../bob"), ("fj-course", "ps1", "Bob")]:
        with pytest.raises(RuleError):
            store.submit(course, assignment, student, {"a.ipynb": NB})
    assert store.submissions("fj-course") == []
    with pytest.raises(RuleError):
        store.release("fj-course", "ps1", {"ps1.ipynb": NB})  # already released, no force
    with pytest.raises(RuleError):
        store.submission("fj-course", "../../index.sqlite")


def test_feedback_reaches_only_the_submission_it_was_written_for(store: Store) -> None:
    a = store.submit("fj-course", "ps1", "ann", {"ps1.ipynb": NB})
    store.submit("fj-course", "ps1", "bob", {"ps1.ipynb": NB})
    store.put_feedback("fj-course", "ann", "ps1", a["timestamp"], {"ps1.html": b"<p>well done ann</p>"})
    assert store.feedback("fj-course", "bob") == []
    mine = store.feedback("fj-course", "ann")
    assert mine == [{"assignment_id": "ps1", "timestamp": a["timestamp"],
                     "files": {"ps1.html": b"<p>well done ann</p>"}}]
    with pytest.raises(RuleError):
        store.put_feedback("fj-course", "bob", "ps1", a["timestamp"], {"ps1.html": b"x"})
    with pytest.raises(RuleError):
        store.put_feedback("fj-course", "ann", "ps1", a["timestamp"], {"../ps1.html": b"x"})


def test_a_failed_write_leaves_no_submission(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(payload, "write_tree", broken)
    with pytest.raises(OSError):
        store.submit("fj-course", "ps1", "ann", {"ps1.ipynb": NB})
    assert store.submissions("fj-course") == []
    assert os.listdir(store.root / "submissions") == []
