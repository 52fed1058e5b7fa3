"""Unit tests of the shared course configuration, the generated per-role Jupyter settings, the
Kubernetes values file (validated offline against the Zero to JupyterHub chart's schema) and
the small helpers of the hub set-ups."""

from __future__ import annotations

import filecmp
import json
import threading
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml
from hub_helpers import deep_merge

from hub_config import book_service, course, course_home, memory
from hub_config.hub import free_port
from hub_config.k8s import render
from hub_config.runtime import others_can_use

K8S = course.HUB_CONFIG / "k8s"


def test_course_yaml_loads_with_overrides(tmp_path: Path) -> None:
    settings = tmp_path / "s.yaml"
    settings.write_text("exchange_dir: /x/exchange\ntrainers: [ann, bob]\nbind_url: http://:9000\n")
    c = course.load(settings, course_dir="/y/course")
    assert c.course_id == "fj-course"
    assert c.exchange_dir == Path("/x/exchange") and c.course_dir == Path("/y/course")
    assert c.trainers == ("ann", "bob") and c.role_of("ann") == "trainer" and c.role_of("cy") == "learner"
    assert c.extra == {"bind_url": "http://:9000"}
    assert c.idle_timeout_seconds >= 3600, "servers report activity every 5 minutes"


def test_roster_skips_comments_and_takes_the_first_column(tmp_path: Path) -> None:
    roster = tmp_path / "roster.txt"
    roster.write_text("# cohort 3\nAnn\n\nbob, Bob Smith  # late joiner\n")
    assert course.read_roster(roster) == ["ann", "bob"]
    assert course.read_roster(tmp_path / "missing.txt") == []


def test_learners_lose_the_formgrader_and_trainers_may_frame_it(tmp_path: Path) -> None:
    c = course.load(state_dir=tmp_path)
    dirs = course.write_all_role_configs(c)
    learner = json.loads((dirs["learner"] / "jupyter_server_config.json").read_text())
    extensions = learner["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["jupyter_lsp"] is False
    page = json.loads((dirs["learner"] / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert "@jupyter/nbgrader:assignment-list" not in page["disabledExtensions"]
    trainer = json.loads((dirs["trainer"] / "jupyter_server_config.json").read_text())
    csp = trainer["ServerApp"]["tornado_settings"]["headers"]["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp
    for role in ("learner", "trainer"):
        text = (dirs[role] / "nbgrader_config.py").read_text()
        assert "c.CourseDirectory.course_id = 'fj-course'" in text
        assert f"c.Exchange.root = {str(c.exchange_dir)!r}" in text
    assert "CourseDirectory.root" not in (dirs["learner"] / "nbgrader_config.py").read_text()


def test_committed_k8s_role_configs_are_current(tmp_path: Path) -> None:
    render.render(tmp_path)
    for role in ("learner", "trainer"):
        compare = filecmp.dircmp(tmp_path / role, K8S / "jupyter" / role)
        assert not compare.diff_files and not compare.left_only, "run python -m hub_config.k8s.render"




def chart_values(values: dict) -> dict:
    defaults = yaml.safe_load((K8S / "chart" / "values.yaml").read_text())
    return deep_merge(defaults, values)


def schema() -> dict:
    return json.loads((K8S / "chart" / "values.schema.json").read_text())


def test_k8s_values_validate_against_the_chart_schema() -> None:
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    jsonschema.validate(chart_values(values), schema())
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "native"
    assert values["cull"]["timeout"] >= 3600


def k8s_manifests() -> list[dict]:
    """Every object of the Kubernetes manifests beside values.yaml."""
    return [doc for path in sorted(K8S.glob("*.yaml"))
            if not path.name.startswith(("values", "settings"))
            for doc in yaml.safe_load_all(path.read_text()) if doc and "kind" in doc]


def test_k8s_learner_pods_mount_no_shared_exchange() -> None:
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    storage = values["singleuser"]["storage"]
    assert not storage.get("extraVolumes") and not storage.get("extraVolumeMounts"), \
        "servers mount no shared volume: every pod runs as the same uid"
    assert not values["singleuser"].get("extraVolumes") and not values["singleuser"].get("extraVolumeMounts")
    assert "nbgrader-exchange" not in (K8S / "values.yaml").read_text()
    # The exchange is the hub service, and servers' nbgrader config selects its classes.
    assert values["hub"]["services"]["fj-exchange"]["url"] == "http://fj-exchange:8080"
    assert "access:services!service=fj-exchange" in values["hub"]["loadRoles"]["user"]["scopes"]
    assert "access:services!service=fj-exchange" in values["hub"]["extraConfig"]["fj-exchange"]
    assert render.k8s_course().extra["exchange"] == "service"
    for role in ("learner", "trainer"):
        text = (K8S / "jupyter" / role / "nbgrader_config.py").read_text()
        assert "c.ExchangeFactory.submit = 'hub_config.exchange.client.ExchangeSubmit'" in text
        assert "Exchange.root" not in text
    # Only the exchange's own pod mounts its store.
    claims = [(doc["metadata"].get("name", doc["metadata"].get("generateName")),
               v["persistentVolumeClaim"]["claimName"])
              for doc in k8s_manifests() if doc["kind"] in ("Deployment", "Job")
              for v in doc["spec"]["template"]["spec"].get("volumes", []) if "persistentVolumeClaim" in v]
    assert [name for name, claim in claims if claim == "fj-exchange-store"] == ["fj-exchange"]


def test_k8s_answer_key_is_a_read_only_volume_of_the_grading_job_alone() -> None:
    values_text = yaml.safe_dump(yaml.safe_load((K8S / "values.yaml").read_text()))  # no comments
    assert not [word for word in ("answer_key", "answer-key", "secretName", "secret:")
                if word in values_text], \
        "no server gets the answer key, least of all from a Secret (1 MiB at most)"
    docs = k8s_manifests()
    assert not [d for d in docs if d["kind"] == "Secret"]
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            volumes = doc["spec"]["template"]["spec"].get("volumes", [])
            assert not [v for v in volumes if "secret" in v], doc["metadata"]
    [job] = [d for d in docs if d["kind"] == "Job"]
    spec = job["spec"]["template"]["spec"]
    [key] = [v for v in spec["volumes"] if v["name"] == "answer-key"]
    assert key["persistentVolumeClaim"] == {"claimName": "fj-answer-key", "readOnly": True}
    [container] = spec["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "answer-key"]
    assert mount["readOnly"] is True and mount["mountPath"].endswith("/answer_key")
    assert container["command"][:3] == ["python", "-m", "grading"] and "autograde" in container["command"]
    # Learners' kernels run as grading accounts of the image, which cannot read the key.
    command = container["command"]
    accounts = command[command.index("--sandbox-user") + 1].split(",")
    assert len(accounts) >= 2 and "root" not in accounts
    docker = (K8S / "Dockerfile").read_text()
    assert all(f"useradd --system --no-create-home --shell /usr/sbin/nologin {a}" in docker for a in accounts)
    assert set(container["securityContext"]["capabilities"]["add"]) <= {
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"}
    [claim] = [d for d in docs
               if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == "fj-answer-key"]
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    # Learners' code runs next to the key: the Job's pod gets no network.
    [policy] = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "fj-grading"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "egress" not in policy["spec"]


def test_the_schema_catches_mistakes() -> None:
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    values["singleuser"]["memory"]["limitt"] = "2G"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(chart_values(values), schema())


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's stages, each a list of its instructions (continuation lines joined)."""
    text = (K8S / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages and line.strip() and not line.startswith("#"):
            stages[-1].append(" ".join(line.split()))
    return stages


def test_k8s_servers_open_on_the_course_home_with_the_outline_built_into_the_image() -> None:
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    singleuser = values["singleuser"]
    assert singleuser["defaultUrl"] == course_home.HOME_PATH
    outline_file = singleuser["extraEnv"][course_home.OUTLINE_VARIABLE]
    k8s = render.k8s_course()
    assert outline_file == str(k8s.outline_file)
    for role in ("learner", "trainer"):
        server = json.loads((K8S / "jupyter" / role / "jupyter_server_config.json").read_text())
        assert server["ServerApp"]["jpserver_extensions"][course_home.EXTENSION] is True
        # The image installs the project (course home included): no config names a clone.
        assert not (K8S / "jupyter" / role / "jupyter_server_config.py").exists()
    *builds, image = dockerfile_stages()
    [outline_stage] = [stage for stage in builds if stage[0].endswith(" AS outline")]
    [write] = [step for step in outline_stage if "-m hub_config.course_home.outline" in step]
    assert f"--course-id {k8s.course_id}" in write and singleuser["extraEnv"]["FJ_COURSE_ID"] == k8s.course_id
    assert "--out /build/course_outline.json" in write
    assert f"COPY --from=outline /build/course_outline.json {outline_file}" in image
    assert "COPY hub_config/course_home /opt/fj-training/hub_config/course_home" in image
    # Source notebooks (solutions, hidden tests) stay in the build stage.
    copies = [step for step in image if step.startswith(("COPY", "ADD"))]
    assert not [step for step in copies if "notebooks" in step or step.split()[1] == "."], copies


def test_dockerfile_keeps_the_answer_key_out_of_the_learner_image() -> None:
    text = (K8S / "Dockerfile").read_text()
    assert "rm -rf /srv/fj-training/data/answer_key" in text
    assert "-c constraints.txt" in text and "hub_config/k8s/jupyter /etc/fj-training" in text


def test_memory_sizes() -> None:
    assert memory.parse_size("2G") == 2 * 2**30
    assert memory.parse_size("512M") == 512 * 2**20
    assert memory.parse_size(1024) == 1024
    with pytest.raises(ValueError):
        memory.parse_size("lots")


def serve(book_dir: Path) -> tuple[str, object]:
    port = free_port()
    server = book_service.make_server(book_dir, f"http://127.0.0.1:{port}", "/services/book/")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}/services/book/", server


def test_book_service_serves_the_built_book(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>The book</h1>")
    url, server = serve(tmp_path)
    try:
        assert "The book" in urllib.request.urlopen(url).read().decode()
    finally:
        server.shutdown()


def test_book_service_explains_how_to_build_a_missing_book(tmp_path: Path) -> None:
    url, server = serve(tmp_path / "not-built")
    try:
        page = urllib.request.urlopen(url + "intro.html").read().decode()
        assert "make book" in page
    finally:
        server.shutdown()


def test_others_can_use_checks_every_parent(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "inner").mkdir(parents=True)
    (closed / "inner" / "f").write_text("x")
    closed.chmod(0o700)
    assert not others_can_use(closed / "inner" / "f")
    closed.chmod(0o755)
    tmp_path.chmod(0o755)
    assert others_can_use(closed / "inner" / "f") == others_can_use(tmp_path)


def test_a_roster_can_be_the_csv_a_trainer_already_has(tmp_path: Path) -> None:
    roster = tmp_path / "cohort.csv"
    roster.write_bytes("\ufeffName,Email\nann,ann@example.org\n\"Bob\",bob@example.org\nann,dup@x\n"
                       .encode())
    assert course.read_roster(roster) == ["ann", "bob"]
