"""``starter.py import-permits FILE``: the residence permits that already exist, each started
as its own permit workflow in the state its record describes.

A record (one JSON object per line)::

    {"application_id": "HASA-2021-000123", "document_number": "III-V1A2B3C4",
     "permit_type": "III", "valid_from": "2021-06-01", "valid_until": "2026-05-31",
     "first_valid_from": null, "term": 1, "collected": true, "collected_on": "2021-06-09",
     "holder": {"v_number": "1234567890", "family_name": "...", "given_names": "...",
                "date_of_birth": "1990-01-01", "nationality": "SYR", "language": "ar"},
     "warnings": [{"issued_on": ..., "valid_until": ..., "change_kind": ..., "occurred_on": ..., "reported_on": ...}],
     "fines": [{"proposed_on": ..., "maximum_eur": 2500, "change_kind": ..., "occurred_on": ..., "reported_on": ...,
                "status": "proposed" | "imposed" | "not_imposed", "amount_eur": null}],
     "pending": {"kind": "extension" | "permanent", "submitted_on": ..., "civic_integration_met": null}}

* **Personal data goes to the registry only.**  The holder (name, V-number, date of birth,
  nationality) is written to the registry's case and applicant rows by this command; the
  workflow's id is ``permit_workflow_id(application_id)`` and its input, search attributes
  and details hold dates, type and status only.
* **The timeline comes from the record's own dates** (``domain.permit.schedule``): a
  reminder, or the five-years letter, whose day has passed before the import day is marked
  skipped and is not sent; one due today is left open and the workflow sends it once (the
  outbox is idempotent by key).
* **Idempotent like ``submit``:** the registry rows are written only when absent, and a
  permit whose workflow exists answers ``already_exists``; a batch can be run again after
  an interruption.  A bad record is refused with field-named errors and the batch goes on.
* **Streamed:** records are read, imported and printed a window at a time (memory flat in
  the number of records); a progress bar on a terminal, a summary line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.permits import add_status_change
from activities.registry_db import ApplicantRow, CaseRow, PermitRow, Registry, new_row
from domain import search_attributes as sa
from domain.identifiers import APPLICATION_ID_PATTERN, permit_workflow_id, v_number_is_valid
from domain.messages import PermitInput
from domain.models import DocumentNumber, Model, checked
from domain.permit.effects import status_record
from domain.permit.schedule import initial_state, local_date, start_of_day
from domain.permit.state import (
    ApplicationKind,
    CardStatus,
    Fine,
    PendingApplication,
    PermitSettings,
    PermitState,
    PermitWarning,
    PermitWorkflowInput,
)
from domain.permit.transitions import PermitStatus
from domain.permit.view import search_attributes
from infra.settings import Settings
from intake import batch, records
from intake.cli import Command
from intake.errors import FieldError, Unavailable, UsageError, errors_of
from workflows.names import PERMIT_WORKFLOW

IMPORT_CONCURRENCY = 16
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Holder(Model):
    """The permit holder: personal data, written to the registry and nowhere else."""

    v_number: Annotated[
        str,
        StringConstraints(strip_whitespace=True),
        checked(v_number_is_valid, "not a V-number (digits only, of the configured length)"),
    ]
    family_name: Text
    given_names: Text
    date_of_birth: date
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(description="ISO 3166-1 alpha-3")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] = "nl"


class ImportedWarning(Model):
    issued_on: date
    valid_until: date
    change_kind: Text
    occurred_on: date
    reported_on: date


class ImportedFine(Model):
    proposed_on: date
    maximum_eur: Decimal = Field(ge=0)
    less_serious: bool = False
    change_kind: Text
    occurred_on: date
    reported_on: date
    status: Literal["proposed", "imposed", "not_imposed"] = "proposed"
    amount_eur: Decimal | None = Field(default=None, ge=0)


class ImportedPending(Model):
    kind: Literal["extension", "permanent"]
    submitted_on: date
    civic_integration_met: bool | None = None


class PermitRecord(Model):
    """One existing permit as the IND's records describe it."""

    application_id: Annotated[str, StringConstraints(pattern=f"^{APPLICATION_ID_PATTERN}$")]
    document_number: DocumentNumber
    permit_type: Literal["III", "IV"] = "III"
    valid_from: date
    valid_until: date
    first_valid_from: date | None = Field(default=None, description="start of the consecutive years, if earlier")
    term: int = Field(default=1, ge=1, le=20)
    collected: bool
    collected_on: date | None = None
    holder: Holder
    warnings: list[ImportedWarning] = Field(default_factory=list, max_length=50)
    fines: list[ImportedFine] = Field(default_factory=list, max_length=50)
    pending: ImportedPending | None = None

    @model_validator(mode="after")
    def _dates(self) -> PermitRecord:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until: lies before valid_from")
        if self.first_valid_from is not None and self.first_valid_from > self.valid_from:
            raise ValueError("first_valid_from: lies after valid_from")
        if self.collected_on is not None and not self.collected:
            raise ValueError("collected_on: given for a card that was not collected")
        return self


def check_current(record: PermitRecord, today: date) -> list[FieldError]:
    """What makes a valid record unfit to import today (an expired permit has no life left to run)."""
    if record.valid_until < today:
        return [FieldError("valid_until", f"the permit expired on {record.valid_until}; only permits in force are imported")]
    if record.pending is not None and record.pending.submitted_on > today:
        return [FieldError("pending.submitted_on", "lies in the future")]
    return []


def imported_state(record: PermitRecord, settings: PermitSettings, now: datetime) -> PermitState:
    """The permit's state on the import day, its timeline computed from its own dates.

    Reminders and the five-years letter whose day is before ``now``'s Dutch date are marked
    done without a letter; one due today stays open (the workflow sends it once).
    """
    today = local_date(now)
    handover = PermitInput(
        **record.model_dump(include=set(PermitInput.model_fields)),
        issued_at=start_of_day(record.valid_from),
        language=record.holder.language,
    )
    state = initial_state(handover, settings)
    start_of_today = start_of_day(today)
    for reminder in state.reminders:
        if reminder.due_at < start_of_today:
            reminder.skipped = True
    if state.five_years_at < start_of_today and (state.permanent_letter_at or state.five_years_at) < start_of_today:
        state.five_years_letter_sent_at = start_of_today  # the moment passed before the import: no letter now
    card = state.cards[0]
    if record.collected:
        card.collected_on = record.collected_on or record.valid_from
        card.status = CardStatus.CURRENT
    state.warnings = [PermitWarning(sequence=n, violation=n, **w.model_dump()) for n, w in enumerate(record.warnings, 1)]
    state.fines = [Fine(sequence=n, violation=len(record.warnings) + n, **f.model_dump()) for n, f in enumerate(record.fines, 1)]
    state.violations = len(state.warnings) + len(state.fines)
    if record.pending is not None:
        state.pending = PendingApplication(
            sequence=1, received_at=start_of_day(record.pending.submitted_on), **record.pending.model_dump()
        )
        if state.pending.kind is ApplicationKind.EXTENSION:
            state.status, state.extension_applications = PermitStatus.EXTENSION_PENDING, 1
        else:
            state.status, state.permanent_applications = PermitStatus.PERMANENT_PENDING, 1
    state.timeline = []
    state.note(now, "imported", f"imported: permit type {record.permit_type} valid {record.valid_from} to {record.valid_until}")
    return state


def register_holder(registry: Registry, record: PermitRecord, state: PermitState, now: datetime) -> None:
    """The case, applicant and permit rows the permit's activities need, and the permit's
    status as its workflow would record it on a first run, written once in one transaction.

    Raises ``ValueError`` naming the field when the document number belongs to another case.
    """
    with registry.transaction() as session:
        owner = session.scalar(select(PermitRow.application_id).where(PermitRow.document_number == record.document_number))
        if owner is not None and owner != record.application_id:
            raise ValueError("document_number: already registered to another case")
        if session.scalar(select(CaseRow.id).where(CaseRow.application_id == record.application_id)) is None:
            received = start_of_day(record.first_valid_from or record.valid_from)
            session.add(
                CaseRow(
                    application_id=record.application_id,
                    policy_version="imported",
                    received_at=received,
                    decide_by=received,
                    status="closed",
                    phase="closed",
                    outcome="granted",
                    registered_at=now,
                    closed_at=now,
                )
            )
            session.flush()
            session.add(new_row(ApplicantRow, record.holder, application_id=record.application_id))
        if owner is None:
            session.add(
                new_row(
                    PermitRow,
                    record,
                    purpose="initial",
                    status="collected" if record.collected else "issued",
                    endorsement="Arbeid vrij toegestaan. TWV niet vereist.",
                    issued_at=start_of_day(record.valid_from),
                )
            )
        add_status_change(session, status_record(state, now))


def _named(error: FieldError) -> FieldError:
    """A whole-record check names its field first ("valid_until: ..."): move it into ``field``."""
    name, sep, message = error.message.partition(": ")
    if error.field == "(record)" and sep and name.isidentifier():
        return FieldError(name, message)
    return error


def parse_permit(text: str, today: date) -> tuple[PermitRecord | None, list[FieldError]]:
    value, errors = records.load_json(text)
    if errors:
        return None, errors
    try:
        record = PermitRecord.model_validate(value)
    except ValidationError as err:
        return None, [_named(e) for e in errors_of(err)]
    problems = check_current(record, today)
    return (None, problems) if problems else (record, [])


async def start_permit(
    client: Client, settings: Settings, state: PermitState, permit_settings: PermitSettings, today: date
) -> str:
    """Start the permit's workflow with its search attributes (its first task then upserts nothing)."""
    given = search_attributes(state, today)
    try:
        await client.start_workflow(
            PERMIT_WORKFLOW,
            PermitWorkflowInput(settings=permit_settings, state=state, started_from_import=True),
            id=permit_workflow_id(state.application_id),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"Residence permit of {state.application_id} (imported)",
            search_attributes=TypedSearchAttributes([SearchAttributePair(key, given[key.name]) for key in sa.PERMIT]),
        )
    except WorkflowAlreadyStartedError:
        return "already_exists"
    return "started"


def permit_settings(settings: Settings) -> PermitSettings:
    from intake.cases import case_options

    return case_options(settings).permit_settings


# A busy registry (another writer held SQLite's lock past its busy timeout, a dropped
# connection) is waited out, about two minutes in all, as an activity would be retried;
# after that the batch stops with the reason and can be run again (it is idempotent).
REGISTRY_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


async def write_registry(registry: Registry, record: PermitRecord, state: PermitState, now: datetime) -> None:
    """``register_holder`` in a thread, retried while the registry is busy; ``Unavailable`` when it stays so."""
    for delay in (*REGISTRY_RETRY_SECONDS, None):
        try:
            await asyncio.to_thread(register_holder, registry, record, state, now)
            return
        except OperationalError as err:
            if delay is None:
                raise Unavailable(
                    f"the registry did not take the import of {record.application_id} "
                    f"({type(err.orig).__name__}); nothing is half-written: run the batch again",
                    delivered=False,
                ) from None
            await asyncio.sleep(delay)


async def import_permits(client: Client, settings: Settings, source: str, *, now: datetime | None = None) -> dict[str, int]:
    """Import every record of ``source``; prints one JSON line per record; returns the counts."""
    now = now or datetime.now(UTC)
    today = local_date(now)
    registry = Registry(settings.registry_url)
    registry.migrate()
    chosen = permit_settings(settings)

    async def one(record: records.Record) -> batch.Outcome:
        permit, errors = parse_permit(record.text, today) if not record.too_long else (None, [])
        if record.too_long:
            errors = [FieldError("(record)", "longer than the record limit")]
        if permit is None:
            return batch.invalid(record, errors, permit_workflow_id)
        state = imported_state(permit, chosen, now)
        try:
            await write_registry(registry, permit, state, now)
        except ValueError as err:
            field, _, message = str(err).partition(": ")
            return batch.invalid(record, [FieldError(field, message)], permit_workflow_id, permit.application_id)
        result = await start_permit(client, settings, state, chosen, today)
        return batch.outcome(permit.application_id, permit_workflow_id, result)

    try:
        return await batch.run(records.read_records(source), one, concurrency=IMPORT_CONCURRENCY, unit="permit")
    finally:
        registry.dispose()


async def cmd_import_permits(args: Any, settings: Settings) -> int:
    from infra.client import connect

    try:
        client = await connect(settings)
    except RuntimeError as err:  # the SDK's "Failed client connect"
        raise Unavailable(f"cannot reach Temporal at {settings.temporal_address}: {err}", delivered=False) from None
    started = datetime.now(UTC)
    counts = await import_permits(client, settings, args.file)
    total = sum(counts.values())
    if total == 0:
        raise UsageError(f"{args.file}: no permit records")
    seconds = max((datetime.now(UTC) - started) / timedelta(seconds=1), 1e-9)
    sys.stdout.flush()
    sys.stderr.write(
        f"imported {total} record(s) in {seconds:.0f}s ({total / seconds:.0f}/s): {counts['started']} started, "
        f"{counts['already_exists']} already existed, {counts['invalid']} invalid\n"
    )
    return 0 if counts["invalid"] == 0 else 1


def import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="JSON Lines, one permit per line ('-' for stdin)")


COMMANDS = [Command("import-permits", "start the permits that already exist (JSON Lines)", cmd_import_permits, import_arguments)]

__all__ = ["COMMANDS", "PermitRecord", "import_permits", "imported_state", "register_holder"]
