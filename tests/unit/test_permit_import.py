"""`starter.py import-permits`: a record becomes a permit's state on the import day, its
timeline from its own dates; bad records are refused by field; the holder goes to the
registry only (intake/permit_import.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from activities.permits import PermitStatusChangeRow
from activities.registry_db import ApplicantRow, CaseRow, PermitRow, Registry
from domain.deadlines import add_months
from domain.permit.schedule import local_date, next_due
from domain.permit.state import PermitSettings, PermitWorkflowInput
from domain.permit.transitions import PermitStatus, PermitTrigger
from intake.permit_import import imported_state, parse_permit, register_holder

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TODAY = local_date(NOW)


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "application_id": "HASA-2022-000777",
        "document_number": "III-V1A2B3C4D",
        "permit_type": "III",
        "valid_from": "2022-03-01",
        "valid_until": str(add_months(TODAY, 4)),
        "collected": True,
        "collected_on": "2022-03-09",
        "holder": {
            "v_number": "1234567890",
            "family_name": "Voorbeeld",
            "given_names": "Amal",
            "date_of_birth": "1990-05-17",
            "nationality": "SYR",
            "language": "ar",
        },
    }
    base.update(changes)
    return base


def parsed(**changes: Any) -> Any:
    permit, errors = parse_permit(json.dumps(record(**changes)), TODAY)
    assert errors == [], errors
    assert permit is not None
    return permit


def test_a_reminder_already_past_is_not_sent_again_and_the_next_one_stays() -> None:
    """Reminders at 6, 3 and 1 months before expiry (HASA_EXTENSION_REMINDER_MONTHS): with
    4 months left the 6-month one passed before the import and is skipped."""
    state = imported_state(parsed(), PermitSettings(), NOW)
    by_months = {r.months_before: r for r in state.reminders}
    assert by_months[6].skipped
    assert not by_months[3].skipped
    assert not by_months[1].skipped
    assert all(r.sent_at is None for r in state.reminders)
    due = next_due(state)
    assert due is not None


def test_a_reminder_due_on_the_import_day_is_sent_once() -> None:
    """Exactly six months left: the 6-month reminder falls due today and is left open, so the
    workflow sends it once at its start (the outbox is idempotent by key)."""
    state = imported_state(parsed(valid_until=str(add_months(TODAY, 6))), PermitSettings(), NOW)
    six = next(r for r in state.reminders if r.months_before == 6)
    assert not six.skipped
    assert local_date(six.due_at) <= TODAY
    due = next_due(state)
    assert due is not None
    assert due.trigger is PermitTrigger.EXTENSION_REMINDER_DUE
    assert due.at <= NOW


def test_the_state_the_record_describes() -> None:
    permit = parsed(
        collected=False,
        collected_on=None,
        warnings=[
            {
                "issued_on": "2024-01-10",
                "valid_until": "2029-01-10",
                "change_kind": "address",
                "occurred_on": "2023-11-01",
                "reported_on": "2023-12-20",
            }
        ],
        pending={"kind": "extension", "submitted_on": str(TODAY - timedelta(days=10))},
    )
    state = imported_state(permit, PermitSettings(), NOW)
    assert state.status is PermitStatus.EXTENSION_PENDING
    assert state.pending is not None
    assert state.extension_applications == 1
    assert state.cards[0].collected_on is None
    assert len(state.warnings) == 1
    assert state.violations == 1
    assert state.valid_until == permit.valid_until
    assert state.timeline[-1].event == "imported"


def test_no_personal_data_in_the_workflow_input() -> None:
    permit = parsed()
    state = imported_state(permit, PermitSettings(), NOW)
    text = PermitWorkflowInput(settings=PermitSettings(), state=state, started_from_import=True).model_dump_json()
    for personal in ("1234567890", "Voorbeeld", "Amal", "1990-05-17", "SYR"):
        assert personal not in text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"document_number": "X-123"}, "document_number"),
        ({"valid_until": "2021-01-01"}, "valid_until"),
        ({"valid_until": str(TODAY - timedelta(days=1)), "valid_from": "2020-01-01"}, "valid_until"),
        ({"collected": "maybe"}, "collected"),
        ({"application_id": "12"}, "application_id"),
        ({"pending": {"kind": "extension", "submitted_on": str(TODAY + timedelta(days=3))}}, "pending.submitted_on"),
    ],
)
def test_bad_records_are_refused_by_field(changes: dict[str, Any], field: str) -> None:
    permit, errors = parse_permit(json.dumps(record(**changes)), TODAY)
    assert permit is None
    assert field in [e.field for e in errors]


def test_holder_errors_name_the_field_without_quoting_it() -> None:
    raw = record()
    raw["holder"]["v_number"] = "12ab"
    permit, errors = parse_permit(json.dumps(raw), TODAY)
    assert permit is None
    assert [e.field for e in errors] == ["holder.v_number"]
    assert "12ab" not in errors[0].message


def test_broken_json_is_a_field_error() -> None:
    permit, errors = parse_permit("{not json", TODAY)
    assert permit is None
    assert errors


def test_the_holder_and_the_status_go_to_the_registry_once(tmp_path: Any) -> None:
    """The import writes what a first run would record (the workflow then records nothing)."""
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    registry.migrate()
    permit = parsed()
    register_holder(registry, permit, imported_state(permit, PermitSettings(), NOW), NOW)
    register_holder(registry, permit, imported_state(permit, PermitSettings(), NOW), NOW)  # a batch run again
    with registry.transaction() as session:
        assert session.query(CaseRow).count() == 1
        assert session.query(PermitRow).count() == 1
        applicant = session.query(ApplicantRow).one()
        assert (applicant.v_number, applicant.family_name) == ("1234567890", "Voorbeeld")
        status = session.query(PermitStatusChangeRow).one()
        assert (status.status, status.key) == ("active", "active-1")
    other = parsed(application_id="HASA-2022-000778")
    with pytest.raises(ValueError, match="document_number: already registered to another case"):
        register_holder(registry, other, imported_state(other, PermitSettings(), NOW), NOW)
    registry.dispose()


def test_the_first_valid_from_and_term_are_kept() -> None:
    state = imported_state(parsed(first_valid_from="2017-03-01", term=2), PermitSettings(), NOW)
    assert state.first_valid_from == date(2017, 3, 1)
    assert state.term == 2


def test_a_busy_registry_is_waited_out_and_then_stops_the_batch_with_the_reason(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the 5,000-permit storm of `make bench`: SQLite said "database is locked" past
    its busy timeout and the whole batch ended with a traceback. Now the record's registry
    write is retried; if the registry stays busy the batch stops with a reason to run it again."""
    import asyncio
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from intake import permit_import
    from intake.errors import Unavailable

    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    registry.migrate()
    permit = parsed()
    state = imported_state(permit, PermitSettings(), NOW)
    monkeypatch.setattr(permit_import, "REGISTRY_RETRY_SECONDS", (0.0, 0.0))
    real = permit_import.register_holder
    calls: list[int] = []

    def locked_twice(*args: Any) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
        real(*args)

    monkeypatch.setattr(permit_import, "register_holder", locked_twice)
    asyncio.run(permit_import.write_registry(registry, permit, state, NOW))
    with registry.transaction() as session:
        assert session.query(PermitRow).count() == 1

    def always_locked(*args: Any) -> None:
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(permit_import, "register_holder", always_locked)
    other = parsed(application_id="HASA-2022-000777")
    with pytest.raises(Unavailable, match="HASA-2022-000777") as raised:
        asyncio.run(permit_import.write_registry(registry, other, state, NOW))
    assert "run the batch again" in str(raised.value)
    assert "Voorbeeld" not in str(raised.value)
    registry.dispose()
