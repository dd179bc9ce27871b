"""The one set of activity fakes: every activity the workflows call, in memory (tests and benchmark only).

``FakeWorld`` implements the same interface as the real activities in ``activities/``: the
same activity names, the same request and result models (``tests/unit/test_fakes.py``
checks names and signatures against the real classes).  It records every call, so a test
can assert which letters went out, what was booked and decided, on which workflow date.
Like the real outbox, a letter is written once per (case, key).

Behaviour knobs: ``complete_from_round`` (the document check is complete from this round
on), ``slots_free`` (no slot when False).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio import activity

from domain.identifiers import DOCUMENT_NUMBER_ALPHABET
from domain.messages import (
    BookSlot,
    CardCollected,
    CaseClosed,
    CaseRegistered,
    CheckDocuments,
    CloseCase,
    DecisionRecorded,
    DocumentCheckResult,
    DocumentInvalidated,
    FineDecisionRecorded,
    InvalidateDocument,
    IssuePermit,
    LetterKind,
    LetterRef,
    LettersSent,
    MissingItem,
    PermitIssued,
    PermitStatusRecorded,
    RecordCardCollected,
    RecordDecision,
    RecordFineDecision,
    RecordPermitStatus,
    RecordViolation,
    RegisterCase,
    SendLetter,
    SlotBooking,
    SlotKind,
    ViolationRecorded,
)

INTERVIEW_LOCATION = "Ter Apel"
DESK_LOCATION = "IND-loket Zwolle"


def fake_document_number(permit_type: str, n: int) -> str:
    """A document number in the real format (type, V, eight characters of the alphabet)."""
    chars = []
    for _ in range(8):
        n, r = divmod(n, len(DOCUMENT_NUMBER_ALPHABET))
        chars.append(DOCUMENT_NUMBER_ALPHABET[r])
    return f"{permit_type}-V{''.join(reversed(chars))}"


@dataclass
class FakeWorld:
    """The registry, document store, outbox and desk as the workflows see them."""

    complete_from_round: int = 1
    slots_free: bool = True
    registered: list[RegisterCase] = field(default_factory=list)
    checks: list[CheckDocuments] = field(default_factory=list)
    bookings: list[BookSlot] = field(default_factory=list)
    decisions: list[RecordDecision] = field(default_factory=list)
    permits: list[IssuePermit] = field(default_factory=list)
    closed: list[CloseCase] = field(default_factory=list)
    letters: list[SendLetter] = field(default_factory=list)
    statuses: list[RecordPermitStatus] = field(default_factory=list)
    invalidated: list[InvalidateDocument] = field(default_factory=list)
    violations: list[RecordViolation] = field(default_factory=list)
    fine_decisions: list[RecordFineDecision] = field(default_factory=list)
    collected: list[RecordCardCollected] = field(default_factory=list)
    _letter_keys: set[tuple[str, str]] = field(default_factory=set)

    # --- the application's registry, documents and outbox (RegistryActivities,
    # DocumentActivities, LetterActivities) -------------------------------------------------

    @activity.defn(name="register_case")
    async def register_case(self, request: RegisterCase) -> CaseRegistered:
        self.registered.append(request)
        return CaseRegistered(application_id=request.application.application_id, registered_at=datetime.now(UTC))

    @activity.defn(name="check_documents")
    async def check_documents(self, request: CheckDocuments) -> DocumentCheckResult:
        self.checks.append(request)
        if request.round >= self.complete_from_round:
            return DocumentCheckResult(complete=True, checked_documents=len(request.documents))
        return DocumentCheckResult(
            complete=False,
            missing=[MissingItem(code="translation", document_id="doc-3", message="no translation of doc-3")],
            checked_documents=len(request.documents),
        )

    @activity.defn(name="book_slot")
    async def book_slot(self, request: BookSlot) -> SlotBooking:
        """An interview the next day in Ter Apel; a desk appointment a week on in Zwolle."""
        self.bookings.append(request)
        if not self.slots_free:
            return SlotBooking(booked=False)
        interview = request.kind is SlotKind.INTERVIEW
        return SlotBooking(
            booked=True,
            slot_id=len(self.bookings),
            starts_at=request.not_before + (timedelta(days=1) if interview else timedelta(days=7)),
            location=INTERVIEW_LOCATION if interview else DESK_LOCATION,
            interpreter_language=request.language,
        )

    @activity.defn(name="record_decision")
    async def record_decision(self, request: RecordDecision) -> DecisionRecorded:
        self.decisions.append(request)
        return DecisionRecorded(decision_id=len(self.decisions), letters=[])

    @activity.defn(name="issue_permit")
    async def issue_permit(self, request: IssuePermit) -> PermitIssued:
        self.permits.append(request)
        return PermitIssued(
            document_number=fake_document_number(request.permit_type, 1000 + len(self.permits)),
            permit_type=request.permit_type,
            valid_from=request.valid_from,
            valid_until=request.valid_until,
            endorsement="Arbeid vrij toegestaan. TWV niet vereist.",
        )

    @activity.defn(name="close_case")
    async def close_case(self, request: CloseCase) -> CaseClosed:
        self.closed.append(request)
        return CaseClosed(application_id=request.application_id, outcome=request.outcome)

    @activity.defn(name="send_letter")
    async def send_letter(self, request: SendLetter) -> LettersSent:
        if (request.application_id, request.key) not in self._letter_keys:  # the outbox is idempotent by key
            self._letter_keys.add((request.application_id, request.key))
            self.letters.append(request)
        return LettersSent(
            letters=[
                LetterRef(letter_id=len(self.letters), recipient=r.value, kind=request.kind.value, path="-", sha256="0" * 64)
                for r in request.recipients
            ]
        )

    # --- the permit's registry (PermitActivities) ------------------------------------------

    @activity.defn(name="record_permit_status")
    async def record_permit_status(self, request: RecordPermitStatus) -> PermitStatusRecorded:
        self.statuses.append(request)
        return PermitStatusRecorded()

    @activity.defn(name="invalidate_document")
    async def invalidate_document(self, request: InvalidateDocument) -> DocumentInvalidated:
        self.invalidated.append(request)
        return DocumentInvalidated(document_number=request.document_number)

    @activity.defn(name="record_violation")
    async def record_violation(self, request: RecordViolation) -> ViolationRecorded:
        self.violations.append(request)
        return ViolationRecorded(violation_id=len(self.violations))

    @activity.defn(name="record_fine_decision")
    async def record_fine_decision(self, request: RecordFineDecision) -> FineDecisionRecorded:
        self.fine_decisions.append(request)
        return FineDecisionRecorded()

    @activity.defn(name="record_card_collected")
    async def record_card_collected(self, request: RecordCardCollected) -> CardCollected:
        self.collected.append(request)
        return CardCollected()

    # --- for the tests ---------------------------------------------------------------------

    def activities(self) -> list[Callable[..., Any]]:
        """Every fake, bound to this world, to hand to a Worker."""
        return [
            self.register_case,
            self.check_documents,
            self.book_slot,
            self.record_decision,
            self.issue_permit,
            self.close_case,
            self.send_letter,
            self.record_permit_status,
            self.invalidate_document,
            self.record_violation,
            self.record_fine_decision,
            self.record_card_collected,
        ]

    def letter_kinds(self) -> list[str]:
        return [letter.kind.value for letter in self.letters]

    def kinds(self) -> list[LetterKind]:
        return [letter.kind for letter in self.letters]

    def dates(self, kind: LetterKind) -> list[date]:
        return [date.fromisoformat(letter.facts["letter_date"]) for letter in self.letters if letter.kind is kind]
