"""A real PostgreSQL server for the registry tests, and a fresh database per test.

The server is the one at ``HASA_TEST_DATABASE_URL`` when that is set (a role that may
``CREATE DATABASE``, for example ``postgresql://postgres:secret@db:5432/postgres``);
otherwise the tests start PostgreSQL 16 from the ``pgserver`` wheel (the binaries ship
inside the wheel; nothing is downloaded) in a temporary directory, on a Unix socket, and
stop it at the end of the session.  Nothing here skips: a PostgreSQL that cannot be had is
an error, so a green run always includes the PostgreSQL variants (the summary line says how
many ran and on which server).

Each test gets its own database, created from a template that the real Alembic migrations
brought to ``head`` once per session, so a test costs one ``CREATE DATABASE`` and no
migration run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from activities.registry_db import Registry

ENV_URL = "HASA_TEST_DATABASE_URL"
TEMPLATE = "hasa_test_template"
DRIVER = "postgresql+psycopg"


def sqlalchemy_url(url: str, database: str | None = None) -> URL:
    """A libpq-style or SQLAlchemy URL as a psycopg 3 SQLAlchemy URL, optionally for another database."""
    parsed = make_url(url).set(drivername=DRIVER)
    return parsed.set(database=database) if database is not None else parsed


@dataclass
class PostgresForTests:
    """A server the tests may create databases on."""

    admin_url: URL
    origin: str
    version: str = ""
    databases_created: int = 0
    _counter: Iterator[int] = field(default_factory=itertools.count)
    _server: Any = None

    def _admin(self) -> Any:
        return create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def prepare(self) -> None:
        """Create the migrated template database (again, so a changed migration is picked up)."""
        engine = self._admin()
        try:
            with engine.connect() as conn:
                self.version = str(conn.execute(text("SHOW server_version")).scalar_one())
                conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
        finally:
            engine.dispose()
        registry = Registry(self.url(TEMPLATE).render_as_string(hide_password=False))
        try:
            registry.migrate()
        finally:
            registry.dispose()

    def url(self, database: str) -> URL:
        return self.admin_url.set(database=database)

    def new_database(self, *, migrated: bool = True) -> str:
        """A new database (migrated to head unless ``migrated`` is false); its URL as a string."""
        name = f"hasa_test_{os.getpid()}_{next(self._counter)}"
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {TEMPLATE}" if migrated else "")))
        finally:
            engine.dispose()
        self.databases_created += 1
        return self.url(name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        finally:
            engine.dispose()

    @contextlib.contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        url = self.new_database(migrated=migrated)
        try:
            yield url
        finally:
            self.drop_database(url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def start_postgres(base_dir: Path | None = None) -> PostgresForTests:
    """The server of ``HASA_TEST_DATABASE_URL``, or PostgreSQL 16 from the pgserver wheel."""
    configured = os.environ.get(ENV_URL, "").strip()
    if configured:
        server = PostgresForTests(admin_url=sqlalchemy_url(configured), origin=f"{ENV_URL}")
    else:
        import pgserver  # type: ignore[import-untyped]

        # A short path: the server listens on a Unix socket inside it (108-byte limit).
        pgdata = Path(tempfile.mkdtemp(prefix="hasa-pg-", dir=base_dir or "/tmp"))
        with warnings.catch_warnings():
            # platformdirs' note that XDG_RUNTIME_DIR is unset (it falls back to /tmp): harmless here.
            warnings.simplefilter("ignore")
            handle = pgserver.get_server(pgdata, cleanup_mode="delete")
        server = PostgresForTests(admin_url=sqlalchemy_url(handle.get_uri(), "postgres"), origin="pgserver wheel", _server=handle)
    server.prepare()
    return server
