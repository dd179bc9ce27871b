"""The registry's schema: migrations create it, and they match the ORM, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from activities.registry_db import MIGRATIONS_DIR, CaseRow, Registry, full_metadata
from tests.postgres import PostgresForTests

TABLES = {"cases", "applicants", "documents", "slots", "decisions", "permits", "letters"}


def _upgrade_creates_the_tables(url: str) -> None:
    registry = Registry(url)
    try:
        assert inspect(registry.engine).get_table_names() == []
        registry.migrate()
        names = set(inspect(registry.engine).get_table_names())
        assert names >= TABLES | {"alembic_version"}
        with registry.engine.connect() as conn:
            version = conn.execute(text("select version_num from alembic_version")).scalar_one()
        config = Config()
        config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
        assert version == ScriptDirectory.from_config(config).get_current_head()
    finally:
        registry.dispose()


def test_upgrade_on_an_empty_sqlite_database_creates_the_tables(tmp_path: Path) -> None:
    _upgrade_creates_the_tables(f"sqlite:///{tmp_path / 'sub' / 'registry.sqlite3'}")


def test_upgrade_on_an_empty_postgresql_database_creates_the_tables(
    postgres: PostgresForTests, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("postgres_database")  # counted among the PostgreSQL tests
    with postgres.database(migrated=False) as url:
        _upgrade_creates_the_tables(url)


def test_migrate_twice_is_harmless(registry: Registry) -> None:
    registry.migrate()
    assert set(inspect(registry.engine).get_table_names()) >= TABLES


def test_migrations_match_the_orm(registry: Registry) -> None:
    with registry.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, full_metadata()) == []


@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(registry: Registry) -> None:
    with registry.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_datetimes_come_back_aware_utc(registry: Registry) -> None:
    amsterdam_winter = timezone(timedelta(hours=1))
    received = datetime(2026, 11, 27, 9, 30, tzinfo=amsterdam_winter)
    with registry.transaction() as session:
        session.add(
            CaseRow(
                application_id="HASA-2026-000001",
                policy_version="eu-2024-1348",
                received_at=received,
                decide_by=received + timedelta(days=60),
                status="open",
                phase="registering",
                registered_at=received,
            )
        )
    with registry.transaction() as session:
        case = session.scalars(select(CaseRow)).one()
    assert case.received_at == received
    assert case.received_at.tzinfo is UTC
    assert case.received_at.hour == 8


def test_naive_datetimes_are_refused(registry: Registry) -> None:
    with pytest.raises(Exception, match="aware"), registry.transaction() as session:
        session.add(
            CaseRow(
                application_id="HASA-2026-000002",
                policy_version="x",
                received_at=datetime(2026, 1, 1),  # naive on purpose: the point of the test
                decide_by=datetime(2026, 1, 1, tzinfo=UTC),
                status="open",
                phase="registering",
                registered_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )


def test_postgresql_stores_instants_as_timestamptz(postgres_database: str) -> None:
    registry = Registry(postgres_database)
    try:
        with registry.engine.connect() as conn:
            kind = conn.execute(
                text(
                    "select data_type from information_schema.columns where table_name = 'cases' and column_name = 'received_at'"
                )
            ).scalar_one()
        assert kind == "timestamp with time zone"
    finally:
        registry.dispose()
