"""One-time sign-up codes (hub_config.signup_codes): kept only as hashes in a 0600 file, each
working once and for its own name only, and the command trainers use to issue them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub_config import course, hub, signup_codes
from hub_config.course import REPO
from hub_config.signup_codes import SignupCodeError, SignupCodes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_codes_are_stored_only_as_hashes_in_a_private_file(tmp_path: Path) -> None:
    store = SignupCodes(tmp_path / "hub" / "signup_codes.json")
    issued = store.issue(["alice", "bob"])
    assert set(issued) == {"alice", "bob"} and issued["alice"] != issued["bob"]
    text = store.path.read_text()
    for code in issued.values():
        assert code not in text and signup_codes.normalize_code(code) not in text
    assert json.loads(text)["codes"]["alice"]["sha256"] == signup_codes.code_hash("alice", issued["alice"])
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700, "a folder created for the codes is private too"


def test_a_code_works_once_and_for_its_own_name_only(tmp_path: Path) -> None:
    store = SignupCodes(tmp_path / "codes.json")
    codes = store.issue(["alice", "bob"])
    assert not store.consume("bob", codes["alice"]), "a code opens no other name"
    assert not store.consume("alice", "ABCD-EFGH-JKMN-PQRS")
    assert not store.consume("alice", "")
    assert not store.consume("mallory", codes["alice"])
    assert store.consume("alice", codes["alice"].lower().replace("-", " ")), "typed loosely still works"
    assert not store.consume("alice", codes["alice"]), "a code works once"
    assert store.consume("bob", codes["bob"])
    assert mode(store.path) == 0o600, "still private after being rewritten"


def test_issuing_again_keeps_codes_handed_out_unless_reissued(tmp_path: Path) -> None:
    store = SignupCodes(tmp_path / "codes.json")
    first = store.issue(["alice"])
    assert store.issue(["alice", "bob"]).keys() == {"bob"}, "alice keeps her code"
    assert store.consume("alice", first["alice"])
    assert store.issue(["alice"]) == {}, "a used code is not silently replaced"
    again = store.issue(["bob"], reissue=True)
    assert set(again) == {"bob"}
    statuses = {s.name: s for s in store.status()}
    assert statuses["alice"].used and statuses["bob"].used is None


def test_reissue_and_revoke_make_old_codes_worthless(tmp_path: Path) -> None:
    store = SignupCodes(tmp_path / "codes.json")
    old = store.issue(["alice", "bob"])
    new = store.issue(["alice"], reissue=True)
    assert not store.consume("alice", old["alice"])
    assert store.revoke(["bob", "carol"]) == ["bob"]
    assert not store.consume("bob", old["bob"])
    assert store.consume("alice", new["alice"])


def test_names_are_checked_and_lower_cased(tmp_path: Path) -> None:
    store = SignupCodes(tmp_path / "codes.json")
    code = store.issue(["Alice"])["alice"]
    assert store.consume("ALICE", code)
    for bad in ("", "a", "1abc", "a b", "../etc", "x" * 40):
        with pytest.raises(SignupCodeError):
            store.issue([bad])
    assert signup_codes.NAME_PATTERN.pattern == hub.USERNAME_PATTERN


def test_a_seed_file_adds_new_hashes_but_never_revives_used_codes(tmp_path: Path) -> None:
    # Kubernetes: the trainer's file (hashes only) is shipped read-only; the hub keeps its own.
    trainers_file = SignupCodes(tmp_path / "mine.json")
    code = trainers_file.issue(["alice"])["alice"]
    hub_store = SignupCodes(tmp_path / "hub.json", seed=trainers_file.path)
    assert hub_store.consume("alice", code)
    assert not hub_store.consume("alice", code), "the same seed does not bring the code back"
    new = trainers_file.issue(["alice"], reissue=True)["alice"]
    assert hub_store.consume("alice", new), "a reissued code shipped later works"


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "codes.json"
    path.write_text("not json")
    with pytest.raises(SignupCodeError, match="cannot read"):
        SignupCodes(path).issue(["alice"])


def test_codes_csv_sheet_is_private_and_keeps_each_names_latest_code(tmp_path: Path) -> None:
    sheet = tmp_path / "codes.csv"
    signup_codes.write_codes_csv(sheet, {"alice": "AAAA", "bob": "BBBB"})
    signup_codes.write_codes_csv(sheet, {"bob": "CCCC"})
    assert sheet.read_text() == "name,code\nalice,AAAA\nbob,CCCC\n"
    assert mode(sheet) == 0o600


def run_cli(*args: str, settings: Path | None = None) -> subprocess.CompletedProcess:
    env_args = ["--settings", str(settings)] if settings else []
    return subprocess.run([sys.executable, "-m", "hub_config.signup_codes", *env_args, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_cli_issues_lists_and_revokes_without_ever_showing_stored_codes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    roster = tmp_path / "roster.txt"
    roster.write_text("# cohort\nann\nbob, Bob B\n")
    settings = tmp_path / "course.yaml"
    settings.write_text(yaml.safe_dump({"state_dir": str(state), "roster_file": str(roster)}))

    r = run_cli("issue", "alice", settings=settings)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "name,code" and lines[1].startswith("alice,")
    alice_code = lines[1].split(",", 1)[1]
    codes_file = state / "hub" / "signup_codes.json"
    assert mode(codes_file) == 0o600 and alice_code not in codes_file.read_text()

    sheet = tmp_path / "sheet.csv"
    r = run_cli("issue", "--roster", "--csv", str(sheet), settings=settings)
    assert r.returncode == 0, r.stderr
    assert [line.split(",")[0] for line in r.stdout.splitlines()] == ["name", "ann", "bob"]
    assert mode(sheet) == 0o600 and "ann," in sheet.read_text()

    r = run_cli("issue", "alice", "ann", settings=settings)
    assert r.returncode == 0 and r.stdout == "", "existing codes are kept"
    assert "alice: already has a code" in r.stderr

    assert SignupCodes(codes_file).consume("alice", alice_code)
    r = run_cli("list", settings=settings)
    assert r.returncode == 0
    listing = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert "used" in listing["alice"] and "unused" in listing["ann"]
    assert alice_code not in r.stdout

    r = run_cli("revoke", "ann", settings=settings)
    assert r.returncode == 0 and "ann: revoked" in r.stdout


def test_cli_help_and_bad_input_are_one_line_errors(tmp_path: Path) -> None:
    r = run_cli("--help")
    assert r.returncode == 0 and "issue" in r.stdout and "--roster" in run_cli("issue", "--help").stdout
    r = run_cli("--file", str(tmp_path / "c.json"), "issue", "Not A Name")
    assert r.returncode == 2 and "not a hub name" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("--file", str(tmp_path / "c.json"), "issue")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (tmp_path / "bad.json").write_text("{}")
    r = run_cli("--file", str(tmp_path / "bad.json"), "list")
    assert r.returncode == 2 and "not a sign-up codes file" in r.stderr and "Traceback" not in r.stderr


def test_installer_issues_trainer_and_roster_codes_once(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from hub_config.workshop import install

    roster = tmp_path / "roster.txt"
    roster.write_text("ann\nalice\n")
    c = course.load(path=os.devnull, state_dir=tmp_path / "state", roster_file=roster,
                    trainers=["alice"], bind_url="http://:8000")
    sheet = tmp_path / "etc" / "signup-codes.csv"
    trainers, learners = install.issue_signup_codes(c, sheet, roster=True)
    assert set(trainers) == {"alice"} and set(learners) == {"ann"}, "a trainer on the roster is a trainer"
    assert mode(sheet) == 0o600 and f"ann,{learners['ann']}" in sheet.read_text()
    assert trainers["alice"] not in sheet.read_text(), "trainers' codes are only shown"
    install.report_signup_codes(c, sheet, trainers, learners)
    out = capsys.readouterr().out
    assert trainers["alice"] in out and "/hub/signup" in out and str(sheet) in out

    assert install.issue_signup_codes(c, sheet, roster=True) == ({}, {}), "codes handed out keep working"
    store = SignupCodes(signup_codes.codes_file(c.state_dir / "hub"))
    assert store.consume("alice", trainers["alice"])
    again = install.issue_signup_codes(c, sheet, roster=True, reissue=True)
    assert set(again[0]) == {"alice"} and not store.consume("ann", learners["ann"])

    roster.write_text("bob smith\n")
    fresh = c.replace(state_dir=tmp_path / "other")
    with pytest.raises(SignupCodeError):
        install.issue_signup_codes(fresh, sheet, roster=True)
    assert not signup_codes.codes_file(fresh.state_dir / "hub").exists(), "no trainer code was lost"
