"""The registry: the system of record for cases, documents, slots, decisions, permits, letters.

Temporal's history says what a workflow did; the registry says what the IND *has*: which
case exists, which decision was taken, which permit number was issued, which letter went
out.  Every activity that changes the outside world writes here, and every such write is
idempotent (check, then insert, inside one transaction, with a unique constraint as the
backstop), because Temporal retries an activity whose result it never saw.

SQLAlchemy 2 with a sync engine: the worker runs these activities in a thread pool.  SQLite
is the default (one file, WAL, a busy timeout, and ``BEGIN IMMEDIATE`` so a
check-then-insert cannot interleave with another writer); PostgreSQL (psycopg 3,
``postgresql+psycopg://...``) follows by URL, where a row lock on the case
(:func:`require_case`), compare-and-set updates, the unique constraints and ``ON CONFLICT DO
NOTHING`` carry the same guarantees across several workers.  The schema
is owned by the Alembic migrations in ``activities/migrations``, run by ``Registry.migrate``;
the ORM classes below must match them (a unit test compares the two).
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import os
import pkgutil
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from temporalio.exceptions import ApplicationError

from domain.steps import Phase

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# SQLite waits this long for another writer before it raises "database is locked"; the
# activity then fails and Temporal retries it, so the value only needs to cover a burst.
SQLITE_BUSY_TIMEOUT_MS = 10_000

# Raised when an activity names a case the registry has never registered: the workflow has
# a bug or the registry was reset, and retrying will not make the case appear.
CASE_NOT_FOUND = "CaseNotFound"

# cases.status: open until close_case; permits.status: a replaced or reported card stays
# in the table, so a document number is never handed out twice.
CASE_OPEN = "open"
CASE_CLOSED = "closed"
PERMIT_VALID = "valid"
PERMIT_INVALID = "invalid"
PERMIT_REPLACED = "replaced"

# Constraint names are fixed so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC and always read back aware.

    SQLite keeps no zone, PostgreSQL's ``timestamptz`` does: normalising to UTC on the way in
    and re-attaching UTC on the way out gives both backends the same answers.  A naive value
    is refused, because its meaning depends on the machine that wrote it.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the registry stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Every table has an integer ``id``; every datetime column holds an aware instant."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-2)


class OfCase:
    """A table whose rows belong to one case (many rows per case)."""

    application_id: Mapped[str] = mapped_column(String(32), ForeignKey("cases.application_id"), sort_order=-1)


_Row = TypeVar("_Row", bound=Base)
_Model = TypeVar("_Model", bound=BaseModel)


def _columns(table: type[Base]) -> list[str]:
    return [column.key for column in table.__table__.columns if not column.primary_key]


def new_row(table: type[_Row], *sources: BaseModel, **values: Any) -> _Row:
    """A row of ``table`` from the fields of ``sources`` that share a column's name, and ``values``.

    A later source wins over an earlier one, ``values`` over both.  An enum is stored as its
    value; the primary key is left to the database.
    """
    copied = {name: getattr(source, name) for source in sources for name in _columns(table) if name in type(source).model_fields}
    stored = {name: value.value if isinstance(value, enum.Enum) else value for name, value in copied.items()}
    return table(**{**stored, **values})


def model_of(model: type[_Model], row: Base, **values: Any) -> _Model:
    """``model`` from the columns of ``row`` that share a field's name, and ``values``."""
    shared = {name: getattr(row, name) for name in _columns(type(row)) if name in model.model_fields}
    return model.model_validate({**shared, **values})


class CaseRow(Base):
    """One repeat application (zaak).  ``phase`` is the last phase the registry recorded;
    the workflow's own state is authoritative while the case runs."""

    __tablename__ = "cases"

    application_id: Mapped[str] = mapped_column(String(32), unique=True)
    policy_version: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    decide_by: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(32))
    registered_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class ApplicantRow(Base):
    """The applicant's personal data: read only to address letters, never logged."""

    __tablename__ = "applicants"

    application_id: Mapped[str] = mapped_column(String(32), ForeignKey("cases.application_id"), unique=True)
    v_number: Mapped[str] = mapped_column(String(10))
    bsn: Mapped[str | None] = mapped_column(String(9))
    family_name: Mapped[str] = mapped_column(String(200))
    given_names: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date]
    nationality: Mapped[str] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(16))
    lawyer_name: Mapped[str | None] = mapped_column(String(200))
    lawyer_email: Mapped[str | None] = mapped_column(String(254))


class DocumentRow(OfCase, Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("application_id", "doc_id"),)

    doc_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    translation_of: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    recorded_at: Mapped[datetime]


class SlotRow(Base):
    """An appointment: an interview with an interpreter, or a desk visit to collect a card."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("kind", "starts_at", "location", "interpreter_language"),
        # NULLs are distinct in a unique constraint, so desk slots (no interpreter) need
        # their own partial index to stay unique on SQLite and PostgreSQL alike.
        Index(
            "uq_slots_desk",
            "kind",
            "starts_at",
            "location",
            unique=True,
            sqlite_where=text("interpreter_language IS NULL"),
            postgresql_where=text("interpreter_language IS NULL"),
        ),
        # One slot per (case, purpose): the idempotency key of a booking.
        UniqueConstraint("booked_by", "purpose"),
        Index("ix_slots_free", "kind", "booked_by", "starts_at"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(120))
    interpreter_language: Mapped[str | None] = mapped_column(String(16))
    booked_by: Mapped[str | None] = mapped_column(String(32), ForeignKey("cases.application_id"))
    purpose: Mapped[str | None] = mapped_column(String(64))
    booked_at: Mapped[datetime | None]


class DecisionRow(OfCase, Base):
    """A decision (besluit) or an intended decision (voornemen, ``final`` false)."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("application_id", "sequence", "final"),)

    sequence: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(32))
    final: Mapped[bool]
    grounds: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime]
    policy_version: Mapped[str] = mapped_column(String(32))
    respond_by: Mapped[datetime | None]
    appeal_by: Mapped[datetime | None]
    recorded_at: Mapped[datetime]


class PermitRow(OfCase, Base):
    __tablename__ = "permits"
    __table_args__ = (UniqueConstraint("application_id", "purpose"),)

    document_number: Mapped[str] = mapped_column(String(16), unique=True)
    purpose: Mapped[str] = mapped_column(String(64))
    permit_type: Mapped[str] = mapped_column(String(4))
    valid_from: Mapped[date]
    valid_until: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))
    endorsement: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime]


class LetterRow(OfCase, Base):
    """The outbox: one row per letter file written, so a retry never sends it twice."""

    __tablename__ = "letters"
    __table_args__ = (UniqueConstraint("application_id", "key", "recipient"),)

    key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


def full_metadata() -> MetaData:
    """``Base.metadata`` with the tables of every activities module declared.

    Tables live beside the activities that own them (the permit's life has its own), so
    autogenerate and the schema test import the whole package before comparing.
    """
    package = importlib.import_module("activities")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "migrations":
            importlib.import_module(f"activities.{module.name}")
    return Base.metadata


class Registry:
    """The registry database: an engine, transactions, and the schema's migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                # Names, V-numbers and BSNs: owner-only (SQLite gives its -wal/-shm files the same mode).
                os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
        self.engine: Engine = create_engine(self.url, echo=echo, connect_args=connect_args)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with the migrations kept in the repository."""
        # Imported here: Alembic is needed by whoever migrates, not by every importer.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
        # Alembic's config is a ConfigParser: a literal % (an escaped socket path, a password)
        # must be doubled or it is read as interpolation syntax.
        config.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take BEGIN away from the sqlite3 module (which skips it before SELECTs) so that
    # ``_sqlite_on_begin`` can open every transaction itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the UI, an operator's sqlite3 shell) run beside the writer;
        # foreign keys are off by default in SQLite.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN: a check-then-insert is then serialised with
    # every other writer, and SQLite waits (busy_timeout) instead of failing at the first
    # write with SQLITE_BUSY_SNAPSHOT.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def require_case(session: Session, application_id: str) -> CaseRow:
    """The case row, locked for the rest of the transaction, or a non-retryable error naming only the id.

    The lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
    serialises every writer and the clause is left out there) makes each activity's
    check-then-insert on a case run one at a time, whichever worker runs it: two attempts of
    the same activity on two workers see each other's row instead of racing into the unique
    constraint.  Every writing transaction takes it first, so the locks have one order.
    """
    case = session.scalar(select(CaseRow).where(CaseRow.application_id == application_id).with_for_update())
    if case is None:
        raise ApplicationError(f"case {application_id} is not registered", type=CASE_NOT_FOUND, non_retryable=True)
    return case


def record_phase(case: CaseRow, phase: Phase) -> None:
    """Note the phase an activity's result implies; a closed case stays closed."""
    if case.status != CASE_CLOSED:
        case.phase = phase.value


def insert_missing(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, silently skipping those a unique constraint already holds.

    Used where rows are generated idempotently (slots) and two workers may generate the same
    ones at once: the database, not a prior read, decides which insert wins.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(model).on_conflict_do_nothing(), list(rows))
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(model).on_conflict_do_nothing(), list(rows))
    else:  # pragma: no cover - other backends get the plain insert and the constraints
        session.execute(insert(model), list(rows))
