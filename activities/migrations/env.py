"""Alembic's environment for the registry.

``Registry.migrate()`` hands over an open connection in ``config.attributes``, so the
migrations run in the caller's transaction and no ``alembic.ini`` is needed.  Run by hand
(``alembic -c <ini>``), it falls back to ``sqlalchemy.url`` from that configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from activities.registry_db import Base, full_metadata

# Only autogenerate needs every table declared; an upgrade runs the scripts as written, so
# it does not import the other activity modules (and cannot be broken by one).
_autogenerate = bool(getattr(context.config.cmd_opts, "autogenerate", False))
target_metadata = full_metadata() if _autogenerate else Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or call Registry(url).migrate()")
    engine = create_engine(url)
    try:
        with engine.begin() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
