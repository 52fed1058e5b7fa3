"""A hostile learner on a real workshop hub: every attack here once worked, and each test fails
if it works again.

The learner acts through their own unix account (``runuser``), as their JupyterLab terminal
would; the trainer's side runs exactly as on a workshop server (``course_ops.collect`` as root,
as ``fj-autograde`` does, or as the trainer). Other attack modules beside this one cover sign-up
(`test_attacks_signup.py`) and script in a trainer's browser (`test_attacks_browser.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_helpers import ASSIGNMENT, FIXTURE_NOTEBOOKS, PROBE_CODE, Hub

from hub_config import accounts, course_ops
from hub_config.workshop.clone import close_trainer_material

pytestmark = pytest.mark.integration

LATER = "2099-01-01 00:00:00.000000 UTC"


def as_learner(hub: Hub, name: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run Python as a learner's own unix account, from /tmp, as their terminal would."""
    return subprocess.run(["runuser", "-u", name, "--", str(hub.python), "-c", code],
                          capture_output=True, text=True, cwd="/tmp", timeout=120)


@pytest.fixture()
def released(hub: Hub) -> Iterator[Path]:
    """The fixture assignment released, the attacker's and victim's unix accounts made; every
    folder the test plants in inbound/ is removed afterwards (the hub is shared)."""
    for name in hub.learners[:2]:
        accounts.ensure_course_account(hub.course, name)
    course_ops.release(hub.course, hub.python, FIXTURE_NOTEBOOKS, as_user=hub.trainer)
    inbound = hub.course.exchange_dir / hub.course.course_id / "inbound"
    before = set(os.listdir(inbound))
    yield inbound
    for name in set(os.listdir(inbound)) - before:
        path = inbound / name
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)


def plant(hub: Hub, learner: str, folder: str, body: str) -> None:
    """As ``learner``, write a folder in inbound/ (the exchange lets every learner write there)."""
    inbound = hub.course.exchange_dir / hub.course.course_id / "inbound"
    code = (f"import os\nfrom pathlib import Path\nd = Path({str(inbound / folder)!r})\n"
            "d.mkdir()\n"
            f"(d / '{ASSIGNMENT}.ipynb').write_text(Path({str(released_notebook(hub))!r}).read_text())\n"
            f"(d / 'timestamp.txt').write_text({LATER!r})\n" + body)
    result = as_learner(hub, learner, code)
    assert result.returncode == 0, result.stderr


def released_notebook(hub: Hub) -> Path:
    return hub.course.exchange_dir / hub.course.course_id / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def test_links_in_inbound_never_reach_the_course_folder(hub: Hub, released: Path) -> None:
    attacker = hub.learners[1]
    hub_dir = hub.course.state_dir / "hub"
    targets = {"cookie": hub_dir / "jupyterhub_cookie_secret", "token": hub_dir / "proxy_token",
               "db": hub_dir / "jupyterhub.sqlite", "shadow": Path("/etc/shadow")}
    links = "".join(f"os.symlink({str(t)!r}, d / {label + '.txt'!r})\n" for label, t in targets.items())
    # A hard link to a file the learner cannot read is refused by the kernel (protected_hardlinks);
    # the attempt is made anyway, in case a machine allows it.
    cookie_path = str(targets["cookie"])
    hard = f"try:\n    os.link({cookie_path!r}, d / 'cookie_copy.txt')\nexcept OSError:\n    pass\n"
    folder = f"{attacker}+{ASSIGNMENT}+{LATER}+links"
    plant(hub, attacker, folder, f"(d / 'submission_secret.txt').write_text('ab' * 64)\n{links}{hard}")
    linked_folder = released / f"{attacker}+{ASSIGNMENT}+{LATER}+whole"
    as_learner(hub, attacker, f"import os\nos.symlink({str(hub_dir)!r}, {str(linked_folder)!r})")

    # As root, the way `fj-autograde` collects.
    course_ops.collect(hub.course, hub.python, ASSIGNMENT, notebooks=FIXTURE_NOTEBOOKS)

    cookie = targets["cookie"].read_bytes().strip()
    assert cookie, "the hub has a cookie secret"
    assert not files_containing(hub.course.course_dir, cookie), "the hub's cookie secret was copied"
    shadow_root = Path("/etc/shadow").read_text().splitlines()[0].encode()
    assert not files_containing(hub.course.course_dir, shadow_root), "/etc/shadow was copied"
    log = json.loads((hub.course.course_dir / "collect_log.json").read_text())
    reasons = {entry["folder"]: entry["reason"] for entry in log}
    assert "symbolic link" in reasons[folder]
    assert "not a folder" in reasons[linked_folder.name]


def test_a_learner_cannot_submit_as_another(hub: Hub, released: Path) -> None:
    attacker, victim = hub.learners[1], hub.learners[0]
    victim_dir = hub.course.course_dir / "submitted" / victim / ASSIGNMENT
    before = (victim_dir / f"{ASSIGNMENT}.ipynb").read_bytes() if victim_dir.exists() else None
    folder = f"{victim}+{ASSIGNMENT}+{LATER}+forged"
    plant(hub, attacker, folder, "(d / 'submission_secret.txt').write_text('cd' * 64)\n"
                                 "(d / 'forged.txt').write_text('written by the attacker')\n")

    course_ops.collect(hub.course, hub.python, ASSIGNMENT, as_user=hub.trainer,
                       notebooks=FIXTURE_NOTEBOOKS)

    assert not (victim_dir / "forged.txt").exists(), "the forged submission was filed as the victim's"
    after = (victim_dir / f"{ASSIGNMENT}.ipynb").read_bytes() if victim_dir.exists() else None
    assert after == before
    [entry] = [e for e in json.loads((hub.course.course_dir / "collect_log.json").read_text())
               if e["folder"] == folder]
    assert entry["owner"] == attacker and entry["claims"] == victim


def test_a_submission_without_its_secret_does_not_stop_collect(hub: Hub, released: Path) -> None:
    broken, honest = hub.learners[1], hub.learners[0]
    plant(hub, broken, f"{broken}+{ASSIGNMENT}+{LATER}+nosecret", "")
    plant(hub, honest, f"{honest}+{ASSIGNMENT}+{LATER}+honest",
          "(d / 'submission_secret.txt').write_text('ef' * 64)\n")

    course_ops.collect(hub.course, hub.python, ASSIGNMENT, as_user=hub.trainer,
                       notebooks=FIXTURE_NOTEBOOKS)

    honest_dir = hub.course.course_dir / "submitted" / honest / ASSIGNMENT
    assert (honest_dir / "timestamp.txt").read_text() == LATER, "the honest learner was collected"
    log = json.loads((hub.course.course_dir / "collect_log.json").read_text())
    assert any(e["claims"] == broken and "submission_secret" in e["reason"] for e in log)
    shutil.rmtree(honest_dir)  # leave the shared hub's course as the other modules expect it


def test_learners_cannot_read_the_clones_solutions_or_answer_key(hub: Hub) -> None:
    """The installer closes the clone's notebooks/, .git/, data/ and build/; learners still
    reach its code (their interpreter loads it)."""
    learner = hub.learners[1]
    accounts.ensure_course_account(hub.course, learner)
    clone = Path(tempfile.mkdtemp(prefix="fj-clone-", dir="/tmp"))
    try:
        clone.chmod(0o755)
        files = {
            "solutions": clone / "notebooks" / "linkage" / "linkage_01" / "linkage_01.ipynb",
            "git_history": clone / ".git" / "objects" / "ab" / "cdef",
            "answer_key": clone / "data" / "classroom" / "answer_key" / "cafcass_person_key.parquet",
            "demo_gradebook": clone / "build" / "demo" / "course" / "gradebook.db",
            "code": clone / "synthetic_data" / "__init__.py",
        }
        for path in files.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("### BEGIN SOLUTION")
        for root, dirs, names in os.walk(clone):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
            for name in names:
                os.chmod(os.path.join(root, name), 0o644)

        close_trainer_material(clone, hub.course)

        paths = {label: str(path) for label, path in files.items()}
        out = as_learner(hub, learner, f"PATHS = {paths!r}\n" + PROBE_CODE).stdout
        outcomes = json.loads(out.split("PROBE", 1)[1])
        assert outcomes.pop("code") == "READ", "learners' interpreters load the clone's code"
        assert set(outcomes.values()) == {"PermissionError"}, outcomes
        trainer = subprocess.run(["runuser", "-u", hub.trainer, "--", "cat", paths["solutions"]],
                                 capture_output=True, text=True)
        assert trainer.returncode == 0, "trainers release the course from the clone's notebooks/"
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def test_a_learner_cannot_move_anothers_submission_or_change_a_release(hub: Hub,
                                                                       released: Path) -> None:
    attacker, victim = hub.learners[1], hub.learners[0]
    folder = f"{victim}+{ASSIGNMENT}+{LATER}+victim"
    plant(hub, victim, folder, "(d / 'submission_secret.txt').write_text('01' * 64)\n")
    outbound = released_notebook(hub)
    code = ("import json, os\nresults = {}\n"
            "for label, action in [\n"
            f"    ('rename', lambda: os.rename({str(released / folder)!r}, {str(released / 'taken')!r})),\n"
            f"    ('delete', lambda: os.rmdir({str(released / folder)!r})),\n"
            f"    ('overwrite_release', lambda: open({str(outbound)!r}, 'w').write('{{}}')),\n"
            f"    ('add_to_release', lambda: open({str(outbound.parent / 'extra.py')!r}, 'w')),\n"
            f"    ('list_inbound', lambda: os.listdir({str(released)!r})),\n"
            "]:\n"
            "    try:\n        action()\n        results[label] = 'DONE'\n"
            "    except OSError as error:\n        results[label] = type(error).__name__\n"
            "print('PROBE' + json.dumps(results))\n")
    out = as_learner(hub, attacker, code).stdout
    results = json.loads(out.split("PROBE", 1)[1])
    assert set(results.values()) == {"PermissionError"}, results
    assert (released / folder).is_dir()
