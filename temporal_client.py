"""The one way this service connects to Temporal: always with the encrypting data converter.

``worker.py``, ``starter.py`` and the tests all connect through :func:`connect`, so no
process can talk to the server with a converter that writes asylum data in clear, and
every process reads the same histories.  The key ring comes from the environment unless a
caller (a test) passes one.
"""

from __future__ import annotations

from temporalio.client import Client

from codec import KeyRing, data_converter
from settings import Settings


async def connect(settings: Settings, keyring: KeyRing | None = None) -> Client:
    """Connect to ``settings.temporal_address`` / ``settings.temporal_namespace``."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(keyring if keyring is not None else KeyRing.from_env()),
    )
