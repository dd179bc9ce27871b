"""The permit's registry activities against a real, migrated SQLite registry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.permits import (
    DOCUMENT_NUMBER_MISMATCH,
    FINE_ABOVE_MAXIMUM,
    FINE_ALREADY_DECIDED,
    FINE_NOT_PROPOSED,
    InvalidDocumentRow,
    PermitActivities,
    PermitStatusChangeRow,
    PermitViolationRow,
)
from activities.registry import RegistryActivities
from activities.registry_db import CASE_NOT_FOUND, PERMIT_INVALID, PermitRow, Registry
from domain.messages import (
    InvalidateDocument,
    IssuePermit,
    PermitIssued,
    RecordCardCollected,
    RecordFineDecision,
    RecordPermitStatus,
    RecordViolation,
)
from domain.models import Application
from domain.permit.events import ViolationOutcome, WithdrawalGround
from domain.permit.transitions import PermitStatus, PermitType

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def permits(registry: Registry) -> PermitActivities:
    return PermitActivities(registry)


@pytest.fixture
def card(env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application) -> PermitIssued:
    issued: PermitIssued = env.run(
        registry_activities.issue_permit,
        IssuePermit(application_id=registered.application_id, valid_from=date(2026, 12, 1), valid_until=date(2031, 11, 30)),
    )
    return issued


def violation(application_id: str, sequence: int, outcome: ViolationOutcome) -> RecordViolation:
    return RecordViolation(
        application_id=application_id,
        sequence=sequence,
        outcome=outcome,
        change_kind="address",
        occurred_on=date(2027, 1, 1),
        reported_on=date(2027, 3, 1),
        decided_on=date(2027, 3, 1),
        warning_valid_until=date(2029, 3, 1) if outcome is ViolationOutcome.WARNING else None,
        fine_maximum_eur=Decimal(1500) if outcome is ViolationOutcome.FINE else None,
    )


def test_all_lists_every_activity(permits: PermitActivities) -> None:
    names = [fn.__temporal_activity_definition.name for fn in permits.all()]  # type: ignore[attr-defined]
    assert names == [
        "record_permit_status",
        "invalidate_document",
        "record_violation",
        "record_fine_decision",
        "record_card_collected",
    ]


def test_status_changes_are_recorded_once(
    env: ActivityEnvironment, permits: PermitActivities, registry: Registry, registered: Application
) -> None:
    request = RecordPermitStatus(
        application_id=registered.application_id,
        key="withdrawn-3",
        status=PermitStatus.WITHDRAWN,
        permit_type=PermitType.TEMPORARY,
        valid_until=date(2031, 11, 30),
        changed_at=NOW,
        withdrawal_ground=WithdrawalGround.PUBLIC_ORDER,
    )
    assert not env.run(permits.record_permit_status, request).already_recorded
    assert env.run(permits.record_permit_status, request).already_recorded
    with registry.transaction() as session:
        rows = session.scalars(select(PermitStatusChangeRow)).all()
        assert [(r.status, r.withdrawal_ground) for r in rows] == [("withdrawn", "public_order")]


def test_unknown_case_is_a_business_failure(env: ActivityEnvironment, permits: PermitActivities) -> None:
    request = RecordCardCollected(
        application_id="HASA-2026-999999", document_number="III-V123AL568", collected_on=date(2027, 1, 1)
    )
    with pytest.raises(ApplicationError) as info:
        env.run(permits.record_card_collected, request)
    assert info.value.type == CASE_NOT_FOUND
    assert info.value.non_retryable


def test_an_invalid_number_stays_invalid(
    env: ActivityEnvironment,
    permits: PermitActivities,
    registry_activities: RegistryActivities,
    registry: Registry,
    registered: Application,
    card: PermitIssued,
) -> None:
    request = InvalidateDocument(
        application_id=registered.application_id, document_number=card.document_number, reason="lost", invalidated_at=NOW
    )
    assert not env.run(permits.invalidate_document, request).already_invalid
    assert env.run(permits.invalidate_document, request).already_invalid
    # The replacement card does not turn the lost one back into "replaced".
    env.run(
        registry_activities.issue_permit,
        IssuePermit(
            application_id=registered.application_id,
            purpose="replacement-1",
            valid_from=date(2027, 3, 1),
            valid_until=date(2031, 11, 30),
        ),
    )
    with registry.transaction() as session:
        row = session.scalar(select(PermitRow).where(PermitRow.document_number == card.document_number))
        assert row is not None
        assert row.status == PERMIT_INVALID
        assert session.scalar(select(InvalidDocumentRow.reason)) == "lost"


def test_a_number_of_another_case_is_refused(env: ActivityEnvironment, permits: PermitActivities, card: PermitIssued) -> None:
    request = InvalidateDocument(
        application_id="HASA-2026-000999", document_number=card.document_number, reason="lost", invalidated_at=NOW
    )
    with pytest.raises(ApplicationError) as info:
        env.run(permits.invalidate_document, request)
    assert info.value.type in {DOCUMENT_NUMBER_MISMATCH, CASE_NOT_FOUND}


def test_a_fine_is_proposed_then_decided_once(
    env: ActivityEnvironment, permits: PermitActivities, registry: Registry, registered: Application
) -> None:
    app_id = registered.application_id
    env.run(permits.record_violation, violation(app_id, 1, ViolationOutcome.WARNING))
    first = env.run(permits.record_violation, violation(app_id, 2, ViolationOutcome.FINE))
    again = env.run(permits.record_violation, violation(app_id, 2, ViolationOutcome.FINE))
    assert again.already_recorded
    assert again.violation_id == first.violation_id

    with pytest.raises(ApplicationError) as info:
        env.run(
            permits.record_fine_decision,
            RecordFineDecision(
                application_id=app_id, violation_sequence=1, imposed=True, amount_eur=Decimal(100), decided_on=date(2027, 4, 1)
            ),
        )
    assert info.value.type == FINE_NOT_PROPOSED

    with pytest.raises(ApplicationError) as info:
        env.run(
            permits.record_fine_decision,
            RecordFineDecision(
                application_id=app_id, violation_sequence=2, imposed=True, amount_eur=Decimal(1501), decided_on=date(2027, 4, 1)
            ),
        )
    assert info.value.type == FINE_ABOVE_MAXIMUM

    decision = RecordFineDecision(
        application_id=app_id, violation_sequence=2, imposed=True, amount_eur=Decimal(1200), decided_on=date(2027, 4, 1)
    )
    assert not env.run(permits.record_fine_decision, decision).already_recorded
    assert env.run(permits.record_fine_decision, decision).already_recorded
    with pytest.raises(ApplicationError) as info:
        env.run(permits.record_fine_decision, decision.model_copy(update={"imposed": False}))
    assert info.value.type == FINE_ALREADY_DECIDED

    with registry.transaction() as session:
        row = session.scalar(select(PermitViolationRow).where(PermitViolationRow.sequence == 2))
        assert row is not None
        assert (row.fine_status, row.fine_amount_eur) == ("imposed", Decimal(1200))


def test_a_collection_is_recorded_once(
    env: ActivityEnvironment, permits: PermitActivities, registered: Application, card: PermitIssued
) -> None:
    request = RecordCardCollected(
        application_id=registered.application_id, document_number=card.document_number, collected_on=date(2026, 12, 8)
    )
    assert not env.run(permits.record_card_collected, request).already_recorded
    assert env.run(permits.record_card_collected, request).already_recorded
