"""The registry side of the permit's life: status changes, invalid numbers, violations, collections.

Cards, slots and letters go through the registry's own activities (``issue_permit``,
``book_slot``, ``send_letter``); what the registry lacks for a permit that lives five years
is here, in tables of migration ``0002_permit_life``.  Every activity is idempotent: the
workflow passes a key (a status-change key, a document number, a violation sequence), the
activity looks it up inside a ``BEGIN IMMEDIATE`` transaction, and a unique constraint is
the backstop, so a retry after a lost result writes nothing twice.  Business failures are
non-retryable ``ApplicationError``s whose ``type`` is one of the constants below.  Logs bind
the application id only, never a document number or anything else about the holder.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Numeric, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.registry_db import PERMIT_INVALID, Base, OfCase, PermitRow, Registry, new_row, require_case, utcnow
from domain.messages import (
    CardCollected,
    DocumentInvalidated,
    FineDecisionRecorded,
    InvalidateDocument,
    PermitStatusRecorded,
    RecordCardCollected,
    RecordFineDecision,
    RecordPermitStatus,
    RecordViolation,
    ViolationRecorded,
)
from domain.permit.events import ViolationOutcome

# A document number that belongs to another case: the workflow's state and the registry
# disagree, and no retry will reconcile them.
DOCUMENT_NUMBER_MISMATCH = "DocumentNumberMismatch"
# A fine decision for a violation that was not a fine proposal, or that was decided otherwise.
FINE_NOT_PROPOSED = "FineNotProposed"
FINE_ALREADY_DECIDED = "FineAlreadyDecided"
# The registry checks the legal maximum again: the workflow's validator is not the only gate.
FINE_ABOVE_MAXIMUM = "FineAboveMaximum"
# The same violation sequence recorded with a different outcome: a bug in the caller.
VIOLATION_CONFLICT = "ViolationConflict"


class PermitStatusChangeRow(OfCase, Base):
    """Each status the permit has had, as the workflow reported it."""

    __tablename__ = "permit_status_changes"
    __table_args__ = (UniqueConstraint("application_id", "key"),)

    key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    permit_type: Mapped[str] = mapped_column(String(4))
    valid_until: Mapped[date]
    withdrawal_ground: Mapped[str | None] = mapped_column(String(32))
    changed_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class InvalidDocumentRow(OfCase, Base):
    """A document number that is invalid for good (lost, stolen, damaged, withdrawn)."""

    __tablename__ = "permit_invalid_documents"

    document_number: Mapped[str] = mapped_column(String(16), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    invalidated_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class PermitViolationRow(OfCase, Base):
    """A late report of a change: a warning, or a fine proposal and its decision."""

    __tablename__ = "permit_violations"
    __table_args__ = (UniqueConstraint("application_id", "sequence"),)

    sequence: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16))
    change_kind: Mapped[str] = mapped_column(String(100))
    occurred_on: Mapped[date]
    reported_on: Mapped[date]
    decided_on: Mapped[date]
    warning_valid_until: Mapped[date | None]
    fine_maximum_eur: Mapped[Decimal | None] = mapped_column(Numeric(9, 2))
    fine_status: Mapped[str | None] = mapped_column(String(16))
    fine_amount_eur: Mapped[Decimal | None] = mapped_column(Numeric(9, 2))
    fine_decided_on: Mapped[date | None]
    recorded_at: Mapped[datetime]


class CardCollectionRow(OfCase, Base):
    """A card handed over at the desk."""

    __tablename__ = "permit_card_collections"

    document_number: Mapped[str] = mapped_column(String(16), unique=True)
    collected_on: Mapped[date]
    recorded_at: Mapped[datetime]


def add_status_change(session: Session, request: RecordPermitStatus) -> bool:
    """Add the permit's status row unless its key is there (a retry); whether it was added.

    Also used by ``starter.py import-permits``, in the transaction that writes the holder."""
    existing = session.scalar(select(PermitStatusChangeRow.id).filter_by(application_id=request.application_id, key=request.key))
    if existing is not None:
        return False
    session.add(new_row(PermitStatusChangeRow, request, recorded_at=utcnow()))
    return True


class PermitActivities:
    """The permit workflow's registry writes; the registry is injected by ``worker.py``."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [
            self.record_permit_status,
            self.invalidate_document,
            self.record_violation,
            self.record_fine_decision,
            self.record_card_collected,
        ]

    @activity.defn(name="record_permit_status")
    def record_permit_status(self, request: RecordPermitStatus) -> PermitStatusRecorded:
        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            if not add_status_change(session, request):
                return PermitStatusRecorded(already_recorded=True)
        _log(request.application_id).info("permit_status_recorded", status=request.status.value)
        return PermitStatusRecorded()

    @activity.defn(name="invalidate_document")
    def invalidate_document(self, request: InvalidateDocument) -> DocumentInvalidated:
        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            card = _card(session, request.application_id, request.document_number)
            existing = session.scalar(select(InvalidDocumentRow).filter_by(document_number=request.document_number))
            if existing is not None:
                if existing.application_id != request.application_id:
                    raise _mismatch(request.application_id)
                return DocumentInvalidated(document_number=request.document_number, already_invalid=True)
            session.add(new_row(InvalidDocumentRow, request, recorded_at=utcnow()))
            if card is not None:
                card.status = PERMIT_INVALID  # for good: issue_permit never turns it back
        _log(request.application_id).info("document_invalidated", reason=request.reason)
        return DocumentInvalidated(document_number=request.document_number)

    @activity.defn(name="record_violation")
    def record_violation(self, request: RecordViolation) -> ViolationRecorded:
        if request.outcome is ViolationOutcome.NONE:
            raise ApplicationError("a change reported in time is no violation", type=VIOLATION_CONFLICT, non_retryable=True)
        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            existing = _violation(session, request.application_id, request.sequence)
            if existing is not None:
                if existing.outcome != request.outcome.value:
                    raise ApplicationError(
                        f"violation {request.sequence} of case {request.application_id} was recorded as {existing.outcome}",
                        type=VIOLATION_CONFLICT,
                        non_retryable=True,
                    )
                return ViolationRecorded(violation_id=existing.id, already_recorded=True)
            is_fine = request.outcome is ViolationOutcome.FINE
            row = new_row(
                PermitViolationRow,
                request,
                fine_maximum_eur=request.fine_maximum_eur if is_fine else None,
                fine_status="proposed" if is_fine else None,
                recorded_at=utcnow(),
            )
            session.add(row)
            session.flush()
            violation_id = row.id
        _log(request.application_id).info("violation_recorded", outcome=request.outcome.value, sequence=request.sequence)
        return ViolationRecorded(violation_id=violation_id)

    @activity.defn(name="record_fine_decision")
    def record_fine_decision(self, request: RecordFineDecision) -> FineDecisionRecorded:
        status = "imposed" if request.imposed else "not_imposed"
        amount = request.amount_eur if request.imposed else Decimal(0)
        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            row = _violation(session, request.application_id, request.violation_sequence)
            if row is None or row.outcome != ViolationOutcome.FINE.value or row.fine_maximum_eur is None:
                raise ApplicationError(
                    f"violation {request.violation_sequence} of case {request.application_id} is no fine proposal",
                    type=FINE_NOT_PROPOSED,
                    non_retryable=True,
                )
            if row.fine_status != "proposed":
                if row.fine_status == status and Decimal(row.fine_amount_eur or 0) == amount:
                    return FineDecisionRecorded(already_recorded=True)
                raise ApplicationError(
                    f"the fine for violation {request.violation_sequence} was already decided ({row.fine_status})",
                    type=FINE_ALREADY_DECIDED,
                    non_retryable=True,
                )
            if amount > Decimal(row.fine_maximum_eur):
                raise ApplicationError(
                    f"EUR {amount} is above the legal maximum of EUR {row.fine_maximum_eur} for this violation",
                    type=FINE_ABOVE_MAXIMUM,
                    non_retryable=True,
                )
            row.fine_status = status
            row.fine_amount_eur = amount
            row.fine_decided_on = request.decided_on
        _log(request.application_id).info("fine_decided", imposed=request.imposed)
        return FineDecisionRecorded()

    @activity.defn(name="record_card_collected")
    def record_card_collected(self, request: RecordCardCollected) -> CardCollected:
        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            existing = session.scalar(select(CardCollectionRow).filter_by(document_number=request.document_number))
            if existing is not None:
                if existing.application_id != request.application_id:
                    raise _mismatch(request.application_id)
                return CardCollected(already_recorded=True)
            _card(session, request.application_id, request.document_number)
            session.add(new_row(CardCollectionRow, request, recorded_at=utcnow()))
        _log(request.application_id).info("card_collected")
        return CardCollected()


def _card(session: Session, application_id: str, document_number: str) -> PermitRow | None:
    """The card with this number, if the registry issued it; it must be this case's."""
    card = session.scalar(select(PermitRow).filter_by(document_number=document_number))
    if card is not None and card.application_id != application_id:
        raise _mismatch(application_id)
    return card


def _violation(session: Session, application_id: str, sequence: int) -> PermitViolationRow | None:
    return session.scalar(select(PermitViolationRow).filter_by(application_id=application_id, sequence=sequence))


def _mismatch(application_id: str) -> ApplicationError:
    # The message names the case, not the number: document numbers are personal data.
    return ApplicationError(
        f"the document number does not belong to case {application_id}",
        type=DOCUMENT_NUMBER_MISMATCH,
        non_retryable=True,
    )


def _log(application_id: str) -> Any:
    return structlog.get_logger().bind(application_id=application_id)
