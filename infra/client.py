"""The one way this service connects to Temporal: always with the encrypting data converter.

``worker.py``, ``starter.py`` and the tests all connect through :func:`connect`, so no
process can talk to the server with a converter that writes asylum data in clear, and
every process reads the same histories.  The key ring comes from the environment unless a
caller (a test) passes one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from temporalio.client import Client

from infra.codec import ENV_KEY_FILE, ENV_KEYS, KeyRing, data_converter
from infra.settings import Settings

DEV_KEY_FILE = "codec-keys.json"


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


async def connect(settings: Settings, keyring: KeyRing | None = None) -> Client:
    """Connect to ``settings.temporal_address`` / ``settings.temporal_namespace``."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(keyring if keyring is not None else keyring_for(settings)),
    )
