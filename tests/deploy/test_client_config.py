"""Connecting to a real cluster: Temporal's client configuration read into the connect options.

No cluster is needed: what is checked is what ``Client.connect`` would be given (address,
namespace, TLS material, API key, gRPC metadata) for a ``temporal.toml`` profile and the
``TEMPORAL_*`` variables, and that a setting which cannot be used stops the process with an
error naming it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from infra.client import ClientConfigError, connect_options
from infra.settings import Settings
from tests.conftest import ROOT

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "client.key"}
    for name, data in (("ca", CA), ("cert", CERT), ("key", KEY)):
        files[name].write_bytes(data)
    return files


def profile_file(tmp_path: Path, tls_files: dict[str, Path], *, cert: Path | None = None) -> Path:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f"""
[profile.default]
address = "localhost:7233"

[profile.ind-prod]
address = "ind-prod.a1b2c.tmprl.cloud:7233"
namespace = "ind-prod.a1b2c"
api_key = "an-api-key-for-tests"

[profile.ind-prod.tls]
server_name = "ind-prod.a1b2c.tmprl.cloud"
server_ca_cert_path = "{tls_files["ca"]}"
client_cert_path = "{cert or tls_files["cert"]}"
client_key_path = "{tls_files["key"]}"

[profile.ind-prod.grpc_meta]
x-service = "hasa"
"""
    )
    return config


def environment(config: Path, **extra: str) -> dict[str, str]:
    return {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "ind-prod", **extra}


def settings_from(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("TEMPORAL_")]:
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_a_profile_with_tls_and_an_api_key_is_read_into_the_connect_options(
    tmp_path: Path, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = environment(profile_file(tmp_path, tls_files))
    settings = settings_from(environ, monkeypatch)
    options = connect_options(settings, environ)

    assert settings.temporal_address == "ind-prod.a1b2c.tmprl.cloud:7233"
    assert settings.temporal_namespace == "ind-prod.a1b2c"
    assert options.target_host == "ind-prod.a1b2c.tmprl.cloud:7233"
    assert options.namespace == "ind-prod.a1b2c"
    assert options.api_key == "an-api-key-for-tests"
    assert options.rpc_metadata == {"x-service": "hasa"}
    assert isinstance(options.tls, TLSConfig)
    assert options.tls.domain == "ind-prod.a1b2c.tmprl.cloud"
    assert options.tls.server_root_ca_cert == CA
    assert options.tls.client_cert == CERT
    assert options.tls.client_private_key == KEY
    assert "an-api-key-for-tests" not in repr(options)  # an options object in a log shows no secret


def test_environment_variables_override_the_profile(
    tmp_path: Path, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = environment(
        profile_file(tmp_path, tls_files),
        TEMPORAL_ADDRESS="temporal.ind.internal:7233",
        TEMPORAL_NAMESPACE="hasa",
        TEMPORAL_API_KEY="another-key",
    )
    settings = settings_from(environ, monkeypatch)
    options = connect_options(settings, environ)
    assert (options.target_host, options.namespace, options.api_key) == ("temporal.ind.internal:7233", "hasa", "another-key")


def test_an_api_key_alone_turns_tls_on(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"TEMPORAL_ADDRESS": "ind.a1b2c.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ind.a1b2c", "TEMPORAL_API_KEY": "k"}
    options = connect_options(settings_from(environ, monkeypatch), environ)
    assert options.tls is True
    assert options.api_key == "k"


def test_without_configuration_the_dev_server_defaults_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty config file: nothing configured, as on a developer's machine.
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    environ = {"TEMPORAL_CONFIG_FILE": str(empty)}
    settings = settings_from(environ, monkeypatch)
    options = connect_options(settings, environ)
    assert (options.target_host, options.namespace, options.tls, options.api_key) == ("localhost:7233", "default", False, None)


def test_a_wrong_certificate_path_in_the_profile_names_the_setting(
    tmp_path: Path, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = profile_file(tmp_path, tls_files, cert=tmp_path / "missing" / "client.pem")
    with pytest.raises(ClientConfigError) as error:
        settings_from(environment(config), monkeypatch)
    assert str(error.value) == f"tls.client_cert_path in {config}: no such file: {tmp_path / 'missing' / 'client.pem'}"


def test_a_wrong_certificate_path_in_the_environment_names_the_variable(
    tmp_path: Path, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = environment(profile_file(tmp_path, tls_files), TEMPORAL_TLS_CLIENT_KEY_PATH="/nonexistent/client.key")
    with pytest.raises(ClientConfigError, match=r"^TEMPORAL_TLS_CLIENT_KEY_PATH: no such file: /nonexistent/client.key$"):
        settings_from(environ, monkeypatch)


def test_an_unknown_profile_and_a_missing_config_file_are_named(
    tmp_path: Path, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = profile_file(tmp_path, tls_files)
    with pytest.raises(ClientConfigError, match=r"profile 'ind-acc'.*not found"):
        settings_from({"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "ind-acc"}, monkeypatch)
    with pytest.raises(ClientConfigError, match=r"^TEMPORAL_CONFIG_FILE: no such file: /nonexistent/temporal.toml$"):
        settings_from({"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"}, monkeypatch)


def test_the_worker_stops_at_start_with_the_setting_named_and_no_traceback(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "HASA_"))}
    environ |= {"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/client.pem", "HASA_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "worker.py"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH: no such file: /nonexistent/client.pem" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
