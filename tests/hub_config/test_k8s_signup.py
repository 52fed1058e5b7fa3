"""The sign-up rules on Kubernetes: values-signup.yaml ships the course authenticator into the
Zero to JupyterHub hub pod, is current, validates against the chart's schema with values.yaml,
and the hub configuration it makes (run in a clean interpreter from the shipped files alone)
refuses a trainer name without its code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import yaml
from hub_helpers import deep_merge

from hub_config.course import HUB_CONFIG
from hub_config.k8s import render_signup
from hub_config.signup_codes import SignupCodes

K8S = HUB_CONFIG / "k8s"




def installed_values() -> dict:
    """The chart's defaults, values.yaml, then values-signup.yaml: what helm gives the hub."""
    merged = yaml.safe_load((K8S / "chart" / "values.yaml").read_text())
    for name in ("values.yaml", "values-signup.yaml"):
        merged = deep_merge(merged, yaml.safe_load((K8S / name).read_text()))
    return merged


def test_committed_values_signup_is_current() -> None:
    assert (K8S / "values-signup.yaml").read_text() == render_signup.render_text(), \
        "run python -m hub_config.k8s.render_signup"


def test_values_with_signup_validate_against_the_chart_schema() -> None:
    schema = json.loads((K8S / "chart" / "values.schema.json").read_text())
    values = installed_values()
    jsonschema.validate(values, schema)
    snippet = values["hub"]["extraConfig"]["fj-signup"]
    assert render_signup.PACKAGE_ROOT in snippet and render_signup.SEED_FILE in snippet
    files = values["hub"]["extraFiles"]
    assert files["fj-signup-codes"]["mountPath"] == render_signup.SEED_FILE
    assert values["hub"]["config"]["NativeAuthenticator"]["open_signup"] is False
    assert "allowed_users" not in values["hub"]["config"]["Authenticator"], "names approve nobody"


HUB_POD = textwrap.dedent("""\
    import asyncio, json, sys
    sys.modules["argon2"] = None                                # not in the stock hub image
    from jupyterhub import orm
    from traitlets.config import Config

    c = Config()
    for section, settings in json.loads(sys.argv[1]).items():   # hub.config, as z2jh loads it
        c[section].update(settings)
    exec(sys.argv[2])                                           # hub.extraConfig.fj-signup
    cls = c.JupyterHub.authenticator_class
    import hub_config.authenticator as shipped
    auth = cls(config=c, db=orm.new_session_factory("sqlite:///:memory:")())
    pw = "a-long-password-1"
    print(json.dumps({
        "module": shipped.__file__,
        "class": cls.__name__,
        "without_code": auth.sign_up("trainer", pw).message,
        "with_code": auth.sign_up("trainer", pw, code=sys.argv[3]).approved,
        "logs_in": asyncio.run(auth.authenticate(None, {"username": "trainer", "password": pw})),
        "stored": auth.get_user("trainer").password[:4].decode(),
    }))
""")


def test_the_hub_pod_loads_the_shipped_authenticator_and_refuses_trainer_names(tmp_path: Path) -> None:
    values = installed_values()
    root = tmp_path / "pod"
    for entry in values["hub"]["extraFiles"].values():
        target = root / entry["mountPath"].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(entry["stringData"])
    # The trainer's codes file, shipped as hub.extraFiles.fj-signup-codes.
    seed = root / render_signup.SEED_FILE.lstrip("/")
    code = SignupCodes(seed).issue(["trainer"])["trainer"]
    snippet = (values["hub"]["extraConfig"]["fj-signup"]
               .replace(render_signup.PACKAGE_ROOT, str(root / render_signup.PACKAGE_ROOT.lstrip("/")))
               .replace(render_signup.SEED_FILE, str(seed))
               .replace("/srv/jupyterhub/", f"{tmp_path}/"))
    # -I: a clean interpreter (no current folder, no PYTHONPATH), so only the shipped copy counts.
    hub_settings = json.dumps(values["hub"]["config"])
    r = subprocess.run([sys.executable, "-I", "-c", HUB_POD, hub_settings, snippet, code],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["module"].startswith(str(root)), "the shipped module, not the project's"
    assert result["class"] == "CourseAuthenticator"
    assert "reserved for a trainer" in result["without_code"]
    assert result["with_code"] is True and result["logs_in"] == "trainer"
    assert result["stored"] == "$2b$", "bcrypt, since the stock hub image has no argon2-cffi"
    assert json.loads((tmp_path / "signup_codes.json").read_text())["codes"]["trainer"]["used"]


def test_the_hub_pod_refuses_to_start_without_the_shipped_files(tmp_path: Path) -> None:
    snippet = yaml.safe_load((K8S / "values.yaml").read_text())["hub"]["extraConfig"]["fj-signup"]
    snippet = snippet.replace(render_signup.PACKAGE_ROOT, str(tmp_path / "missing"))
    # The project is importable here through its editable install: hide it as the hub image would.
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
            "c = None\n" + snippet)
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "values-signup.yaml" in r.stderr
