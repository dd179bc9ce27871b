"""The one way this service connects to Temporal: always with the encrypting data converter.

``worker.py``, ``starter.py`` and the tests all connect through :func:`connect`, so no
process can talk to the server with a converter that writes asylum data in clear, and
every process reads the same histories.  The key ring comes from the environment unless a
caller (a test) passes one.

Where and how to connect is Temporal's own client configuration (``temporalio.envconfig``,
the same as the ``temporal`` CLI and every SDK read): a profile in ``temporal.toml``
(``TEMPORAL_CONFIG_FILE``, else the user's config directory; ``TEMPORAL_PROFILE`` picks one,
``default`` otherwise) overridden by ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``,
``TEMPORAL_API_KEY``, ``TEMPORAL_TLS``, ``TEMPORAL_TLS_CLIENT_CERT_PATH``,
``TEMPORAL_TLS_CLIENT_KEY_PATH``, ``TEMPORAL_TLS_SERVER_CA_CERT_PATH`` (or their ``*_DATA``
forms), ``TEMPORAL_TLS_SERVER_NAME`` and ``TEMPORAL_GRPC_META_*``.  So the same worker runs
against the dev server, a self-hosted cluster with mutual TLS, or Temporal Cloud with an API
key, changed only by its environment.  A setting that cannot be used (a certificate file that
is not there, an unknown profile) stops the process at start with an error that names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from infra.codec import ENV_KEY_FILE, ENV_KEYS, KeyRing, data_converter
from infra.settings import DEFAULT_TEMPORAL_ADDRESS, DEFAULT_TEMPORAL_NAMESPACE, Settings

DEV_KEY_FILE = "codec-keys.json"
ENV_CONFIG_FILE = "TEMPORAL_CONFIG_FILE"
ENV_PROFILE = "TEMPORAL_PROFILE"

# Each file a TLS setting can name: the dataclass field, the environment variable, the TOML key.
_TLS_FILES = (
    ("client_cert", "TEMPORAL_TLS_CLIENT_CERT_PATH", "tls.client_cert_path"),
    ("client_private_key", "TEMPORAL_TLS_CLIENT_KEY_PATH", "tls.client_key_path"),
    ("server_root_ca_cert", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "tls.server_ca_cert_path"),
)


class ClientConfigError(ValueError):
    """A Temporal connection setting that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class ConnectOptions:
    """What ``Client.connect`` is given, apart from the data converter.  ``api_key`` is kept
    out of ``repr`` so that an options object in a log line or traceback shows no secret."""

    target_host: str
    namespace: str
    tls: bool | TLSConfig = False
    api_key: str | None = field(default=None, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    profile: str = "default"


def load_profile(environ: Mapping[str, str] = os.environ) -> ClientConfigProfile:
    """The client profile from ``temporal.toml`` and the ``TEMPORAL_*`` variables, checked."""
    config_file = environ.get(ENV_CONFIG_FILE, "").strip()
    if config_file and not Path(config_file).is_file():
        raise ClientConfigError(f"{ENV_CONFIG_FILE}: no such file: {config_file}")
    name = environ.get(ENV_PROFILE, "").strip() or None
    try:
        profile = ClientConfigProfile.load(name, override_env_vars=dict(environ))
    except Exception as error:  # the bridge's ConfigError: unknown profile, bad TOML, bad value
        where = f"{ENV_CONFIG_FILE}={config_file}" if config_file else "the Temporal client configuration"
        raise ClientConfigError(f"{where}, profile {name or 'default'!r}: {error}") from None
    _check_tls_files(profile.tls, environ, config_file or "temporal.toml")
    return profile


def _check_tls_files(tls: ClientConfigTLS | None, environ: Mapping[str, str], config_file: str) -> None:
    if tls is None:
        return
    for attribute, variable, key in _TLS_FILES:
        source = getattr(tls, attribute)
        if not isinstance(source, Path):
            continue  # absent, or given inline as data
        from_env = environ.get(variable, "").strip()
        setting = variable if from_env and Path(from_env) == source else f"{key} in {config_file}"
        if not source.is_file():
            raise ClientConfigError(f"{setting}: no such file: {source}")
        if not os.access(source, os.R_OK):
            raise ClientConfigError(f"{setting}: not readable: {source}")


def connect_options(settings: Settings, environ: Mapping[str, str] = os.environ) -> ConnectOptions:
    """Address and namespace from ``settings`` (which read them from the same profile), TLS,
    API key and gRPC metadata from the profile."""
    profile = load_profile(environ)
    config = profile.to_client_connect_config()
    return ConnectOptions(
        target_host=settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=config.get("tls", False),
        api_key=config.get("api_key"),
        rpc_metadata=dict(config.get("rpc_metadata", {})),
        profile=environ.get(ENV_PROFILE, "").strip() or "default",
    )


def address_and_namespace(environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """Where the profile (with its environment overrides) points; the dev server's defaults otherwise."""
    profile = load_profile(environ)
    return profile.address or DEFAULT_TEMPORAL_ADDRESS, profile.namespace or DEFAULT_TEMPORAL_NAMESPACE


def keyring_for(settings: Settings, environ: Mapping[str, str] = os.environ) -> KeyRing:
    """Keys from the environment; without any, the development key ``make run`` made under the data dir.

    So a newcomer's ``starter.py status`` works next to ``make run`` without exporting
    anything; in production the environment names the keys and this fallback never applies.
    """
    if not environ.get(ENV_KEYS, "").strip() and not environ.get(ENV_KEY_FILE, "").strip():
        dev = settings.data_dir / DEV_KEY_FILE
        if dev.exists():
            return KeyRing.from_file(dev)
    return KeyRing.from_env(environ)


async def connect(
    settings: Settings,
    keyring: KeyRing | None = None,
    environ: Mapping[str, str] = os.environ,
    runtime: Runtime | None = None,
) -> Client:
    """Connect to ``settings.temporal_address`` / ``settings.temporal_namespace`` with the profile's
    TLS and API key; ``runtime`` carries the worker's metrics exporter when it has one."""
    options = connect_options(settings, environ)
    return await Client.connect(
        options.target_host,
        namespace=options.namespace,
        api_key=options.api_key,
        tls=options.tls,
        rpc_metadata=options.rpc_metadata,
        data_converter=data_converter(
            keyring if keyring is not None else keyring_for(settings), allow_plaintext=settings.allow_plaintext_payloads
        ),
        runtime=runtime,
    )
