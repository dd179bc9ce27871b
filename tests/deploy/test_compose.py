"""docker-compose.yml and the Dockerfile, checked without Docker (it cannot run here).

First against the Compose Specification's JSON Schema (a copy in tests/deploy/schemas, with
its licence notice), then for what the schema cannot know: every image pinned, every
``HASA_*`` variable one the service reads, the services the Web UI and the worker need
present with their ports, health checks and ordered start, the payload key a secret and
never a value, one volume for documents and letters shared by every worker, a worker that
scales, metrics scraped where the worker serves them, and a Dockerfile that builds a slim,
non-root image from the lock file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from infra import metrics
from tests.conftest import EXAMPLE, ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
SERVICE_IMAGE = "hasa"
# An image is pinned by digest, or by a tag that names a version (digits), never a moving one.
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
MOVING_TAGS = {"latest", "stable", "main", "master", "edge", "nightly"}
# Temporal's client configuration variables (temporalio.envconfig), read by infra/client.py.
TEMPORAL_VARIABLES = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_NAME",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def ours(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run this repository's image."""
    return {name: s for name, s in services.items() if "build" in s}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def long_running(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every service that is meant to stay up (not a one-shot, not an ad-hoc tool)."""
    return {name: s for name, s in services.items() if s.get("restart") != "no" and "tools" not in s.get("profiles", [])}


def variables_the_service_reads() -> set[str]:
    """Every HASA_* name in the service's own Python code (tests excluded)."""
    names: set[str] = set()
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {".venv", "tests", "benchmarks", "scripts"}:
            continue
        names |= set(re.findall(r"\bHASA_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    return names


def test_the_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []


def test_every_image_is_pinned_to_a_version(services: dict[str, dict[str, Any]]) -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version is not None
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        assert PINNED.fullmatch(image), f"{name}: {image} is not pinned"
        assert ":" in image or "@" in image, f"{name}: {image} has no tag"
        assert image.rsplit(":", 1)[-1] not in MOVING_TAGS, f"{name}: {image} uses a moving tag"
        if "build" in service:
            assert image == f"{SERVICE_IMAGE}:{version.group(1)}", f"{name} builds {image}, not the project's version"


def test_every_hasa_variable_is_one_the_service_reads(services: dict[str, dict[str, Any]]) -> None:
    known = variables_the_service_reads()
    assert {"HASA_DATABASE_URL", "HASA_METRICS_ADDRESS", "HASA_WORKER_DRAIN_SECONDS", "HASA_CODEC_KEY_FILE"} <= known
    for name, service in ours(services).items():
        env = environment(service)
        unknown = {v for v in env if v.startswith("HASA_")} - known
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"
        assert {v for v in env if v.startswith("TEMPORAL_")} <= TEMPORAL_VARIABLES, name


def test_the_services_the_ui_and_the_worker_need_are_there_with_ports(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgresql", "temporal", "setup", "worker", "codec-server", "temporal-ui"} <= set(services)

    def published(name: str) -> set[int]:
        return {int(str(p).rsplit(":", 1)[0].rsplit(":", 1)[-1]) for p in services[name].get("ports", [])}

    assert 7233 in published("temporal")
    assert 8080 in published("temporal-ui")
    assert 8081 in published("codec-server")
    ui = environment(services["temporal-ui"])
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    # The browser calls the codec server at the port the host publishes for it.
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8081"
    assert environment(services["codec-server"])["HASA_CODEC_CORS_ORIGIN"] == "http://localhost:8080"
    for name in ours(services):
        assert environment(services[name])["TEMPORAL_ADDRESS"] == "temporal:7233", name


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    for name, service in long_running(services).items():
        check = service.get("healthcheck")
        assert check, f"{name} has no health check"
        assert check.get("test"), f"{name} has an empty health check"
        assert not check.get("disable"), f"{name} disables its health check"


def test_dependencies_wait_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, rule in depends.items():
            assert target in services, f"{name} depends on an unknown service {target}"
            condition = rule.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health, which it has no check for"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is not a one-shot"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r}")
    worker = services["worker"]["depends_on"]
    assert worker["temporal"]["condition"] == "service_healthy"
    assert worker["postgresql"]["condition"] == "service_healthy"
    assert worker["setup"]["condition"] == "service_completed_successfully"
    assert services["setup"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert services["setup"]["command"][-2:] == ["starter.py", "setup"]


def test_temporal_and_the_registry_live_on_postgresql(services: dict[str, dict[str, Any]]) -> None:
    temporal = environment(services["temporal"])
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["DBNAME"] != temporal["VISIBILITY_DBNAME"]
    url = environment(services["worker"])["HASA_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    registry_db = url.rsplit("/", 1)[-1]
    assert registry_db not in {temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]}
    init = services["postgresql"]["volumes"]
    script = next(v.split(":")[0] for v in init if "docker-entrypoint-initdb.d" in v)
    assert f"CREATE DATABASE {registry_db}" in (ROOT / script).read_text()


def test_the_payload_key_is_a_secret_and_never_a_value(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    secrets = compose["secrets"]
    for name, service in ours(services).items():
        env = environment(service)
        assert "HASA_CODEC_KEYS" not in env, f"{name} carries a key in its environment"
        attached = {s["source"] if isinstance(s, dict) else s: s for s in service.get("secrets", [])}
        key_file = env["HASA_CODEC_KEY_FILE"]
        assert key_file.startswith("/run/secrets/"), name
        source = key_file.removeprefix("/run/secrets/")
        assert source in attached, f"{name} reads a secret it is not given"
        assert source in secrets
    secret_file = secrets["hasa_payload_keys"]["file"]
    ignored = (ROOT / ".gitignore").read_text()
    assert "deploy/secrets/*" in ignored
    assert secret_file.startswith("./deploy/secrets/")
    assert not re.search(r"[A-Za-z0-9+/]{43}=", COMPOSE.read_text()), "something like an AES key is in the file"


def test_documents_and_letters_are_on_one_named_volume_every_worker_shares(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name in ("worker", "setup", "starter"):
        env = environment(services[name])
        mounts = dict(v.split(":", 1) for v in services[name]["volumes"])
        assert mounts.get("hasa-data") == env["HASA_DATA_DIR"] == "/data", name
        assert env["HASA_DOCUMENT_STORE"].startswith("/data/")
        assert env["HASA_OUTBOX_DIR"].startswith("/data/")
    assert "hasa-data" in compose["volumes"]


def test_the_worker_scales(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker  # a fixed name allows one container only
    assert "ports" not in worker  # a published host port too
    assert worker["deploy"]["replicas"] >= 2
    drain = float(environment(worker)["HASA_WORKER_DRAIN_SECONDS"])
    grace = worker["stop_grace_period"]
    assert int(grace.removesuffix("s")) > drain + 5  # SIGKILL only after the drain and its margin


def test_prometheus_scrapes_every_worker_where_it_serves_metrics(services: dict[str, dict[str, Any]]) -> None:
    port = environment(services["worker"])["HASA_METRICS_ADDRESS"].rsplit(":", 1)[-1]
    assert services["prometheus"]["profiles"] == ["observability"]
    config_path = next(v.split(":")[0] for v in services["prometheus"]["volumes"] if v.endswith("prometheus.yml:ro"))
    config = yaml.safe_load((ROOT / config_path).read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "hasa-worker")
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
    assert str(job["dns_sd_configs"][0]["port"]) == port


def test_the_dashboard_uses_only_metrics_that_exist() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "hasa.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    service_names = set(re.findall(r"``(hasa_[a-z_]+)``", metrics.__doc__ or ""))
    assert len(service_names) == 7
    used = {m for e in expressions for m in re.findall(r"\b(hasa_[a-z_]+)", e)}
    assert used == service_names  # every service metric on the dashboard, none invented
    assert all(re.findall(r"\b(?:hasa|temporal)_[a-z_]+", e) for e in expressions)


def test_no_personal_data_in_the_deployment_files() -> None:
    person = json.loads(EXAMPLE.read_text())["applicant"]
    secrets = [person["family_name"], person["v_number"], person["bsn"], person["date_of_birth"]]
    files = [COMPOSE, ROOT / "Dockerfile", *(p for p in (ROOT / "deploy").rglob("*") if p.is_file())]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {path}"


def test_the_dockerfile_builds_a_slim_non_root_image_from_the_lock_file() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert bases
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", bases[0])
    assert "--require-hashes" in text
    assert "-r /tmp/requirements.lock" in text
    assert "requirements-dev.lock" not in text  # the image carries no test tools
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "compileall" in text
    assert "pip uninstall --yes --quiet setuptools wheel pip" in text  # no build tools left in the image
    # Every package of the service is copied into the image (a new one must be added there).
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, re.M))
    packages = {
        p.parent.name
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in {"tests", "benchmarks", "scripts", "hasa.egg-info"}
    }
    assert packages <= copied, f"not in the image: {sorted(packages - copied)}"
    # The secret's uid is the image's user, so the key file is readable by the service only.
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in ours(compose["services"]).items():
        for secret in service.get("secrets", []):
            assert secret["uid"] == "10001", name
            assert secret["mode"] == 0o400, name
