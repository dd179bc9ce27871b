"""In-memory stand-ins for the registry, document store and outbox (workflow tests only).

They keep the activity names and contracts of the real ones and record every call, so a
test can assert which letters went out and what was booked, on which workflow date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity

from domain.messages import (
    BookSlot,
    CaseClosed,
    CaseRegistered,
    CheckDocuments,
    CloseCase,
    DecisionRecorded,
    DocumentCheckResult,
    IssuePermit,
    LetterRef,
    LettersSent,
    MissingItem,
    PermitIssued,
    RecordDecision,
    RegisterCase,
    SendLetter,
    SlotBooking,
)


@dataclass
class FakeRegistry:
    """Complete after ``complete_from_round`` checks; slots free unless ``slots_free`` is False."""

    complete_from_round: int = 1
    slots_free: bool = True
    letters: list[SendLetter] = field(default_factory=list)
    decisions: list[RecordDecision] = field(default_factory=list)
    permits: list[IssuePermit] = field(default_factory=list)
    bookings: list[BookSlot] = field(default_factory=list)
    checks: list[CheckDocuments] = field(default_factory=list)
    closed: list[CloseCase] = field(default_factory=list)
    registered: list[RegisterCase] = field(default_factory=list)

    @activity.defn(name="register_case")
    async def register_case(self, inp: RegisterCase) -> CaseRegistered:
        self.registered.append(inp)
        return CaseRegistered(application_id=inp.application.application_id, registered_at=datetime.now(UTC))

    @activity.defn(name="check_documents")
    async def check_documents(self, inp: CheckDocuments) -> DocumentCheckResult:
        self.checks.append(inp)
        if inp.round >= self.complete_from_round:
            return DocumentCheckResult(complete=True, checked_documents=len(inp.documents))
        return DocumentCheckResult(
            complete=False,
            missing=[MissingItem(code="translation", document_id="doc-3", message="no translation of doc-3")],
            checked_documents=len(inp.documents),
        )

    @activity.defn(name="book_slot")
    async def book_slot(self, inp: BookSlot) -> SlotBooking:
        self.bookings.append(inp)
        if not self.slots_free:
            return SlotBooking(booked=False)
        return SlotBooking(
            booked=True,
            slot_id=len(self.bookings),
            starts_at=inp.not_before + timedelta(days=1),
            location="Ter Apel",
            interpreter_language=inp.language,
        )

    @activity.defn(name="record_decision")
    async def record_decision(self, inp: RecordDecision) -> DecisionRecorded:
        self.decisions.append(inp)
        return DecisionRecorded(decision_id=len(self.decisions), letters=[])

    @activity.defn(name="issue_permit")
    async def issue_permit(self, inp: IssuePermit) -> PermitIssued:
        self.permits.append(inp)
        return PermitIssued(
            document_number=f"{inp.permit_type}-V12345AB{len(self.permits)}",
            permit_type=inp.permit_type,
            valid_from=inp.valid_from,
            valid_until=inp.valid_until,
            endorsement="Arbeid vrij toegestaan. TWV niet vereist.",
        )

    @activity.defn(name="close_case")
    async def close_case(self, inp: CloseCase) -> CaseClosed:
        self.closed.append(inp)
        return CaseClosed(application_id=inp.application_id, outcome=inp.outcome)

    @activity.defn(name="send_letter")
    async def send_letter(self, inp: SendLetter) -> LettersSent:
        self.letters.append(inp)
        return LettersSent(
            letters=[
                LetterRef(letter_id=len(self.letters), recipient=r.value, kind=inp.kind.value, path="-", sha256="0" * 64)
                for r in inp.recipients
            ]
        )

    def activities(self) -> list[object]:
        return [
            self.register_case,
            self.check_documents,
            self.book_slot,
            self.record_decision,
            self.issue_permit,
            self.close_case,
            self.send_letter,
        ]

    def letter_kinds(self) -> list[str]:
        return [letter.kind.value for letter in self.letters]
