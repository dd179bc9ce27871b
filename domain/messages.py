"""Inputs and outputs of the activities: one model in, one model out.

They live in ``domain`` because both sides need them: the workflows (deterministic) and the
activities (I/O).  None carries document bytes; personal data travels only inside
``Application`` for registration, and letters read names and addresses from the registry.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, Field

from domain.models import Application, Document, Model, NewElement
from domain.permit.transitions import PermitType
from domain.records import DecisionFacts, PermitStatusFacts, PermitValidity, ViolationFacts
from domain.steps import Phase

# The registry notes the phase a case is in.  The workflow says which phase follows an
# activity (it alone reads the transition table); the activity never guesses.  The fields
# default to None for activities scheduled by older histories: then no phase is noted.


class RegisterCase(Model):
    application: Application
    policy_version: str
    decide_by: AwareDatetime
    phase: Phase = Field(default=Phase.CHECKING_DOCUMENTS, description="the phase the case is in once registered")


class CaseRegistered(Model):
    application_id: str
    registered_at: AwareDatetime
    already_registered: bool = False


class CheckDocuments(Model):
    """Check the documents against the checklist and the store; records new documents."""

    application_id: str
    documents: list[Document]
    new_elements: list[NewElement]
    round: int = Field(ge=1, description="1 for the first check, +1 for each repair")
    phase_if_complete: Phase | None = None
    phase_if_incomplete: Phase | None = None


class MissingItem(Model):
    code: str = Field(description="e.g. application_form, evidence, translation, file_missing, sha256_mismatch, type, size")
    document_id: str | None = None
    message: str = Field(description="Dutch-free, personal-data-free text for the letter and the UI")
    message_nl: str = Field(default="", description="the same problem in Dutch, for the letter to the applicant")


class DocumentCheckResult(Model):
    complete: bool
    missing: list[MissingItem] = Field(default_factory=list)
    checked_documents: int = 0


class SlotKind(enum.StrEnum):
    INTERVIEW = "interview"
    DESK = "desk"


class BookSlot(Model):
    application_id: str
    kind: SlotKind
    purpose: str = Field(description="idempotency key within the case, e.g. 'interview-1', 'permit-desk'")
    not_before: AwareDatetime
    language: str | None = Field(default=None, description="interpreter language (interviews only)")
    phase_if_booked: Phase | None = None


class SlotBooking(Model):
    booked: bool
    slot_id: int | None = None
    starts_at: AwareDatetime | None = None
    location: str | None = None
    interpreter_language: str | None = None


class RecordDecision(DecisionFacts):
    application_id: str
    phase_after: Phase | None = None
    letter_facts: dict[str, str] = Field(
        default_factory=dict, description="extra facts for the letter, e.g. why a case is not processed"
    )
    letter_items: list[str] = Field(default_factory=list, description="bullet lines for the letter, e.g. what was missing")


class LetterRef(Model):
    letter_id: int
    recipient: str
    kind: str
    path: str
    sha256: str


class DecisionRecorded(Model):
    decision_id: int
    letters: list[LetterRef]


class IssuePermit(PermitValidity):
    permit_type: PermitType = PermitType.TEMPORARY
    application_id: str
    purpose: str = Field(default="initial", description="idempotency key: 'initial', 'replacement-2', ...")


class PermitIssued(PermitValidity):
    document_number: str
    endorsement: str


class Recipient(enum.StrEnum):
    APPLICANT = "applicant"
    LAWYER = "lawyer"
    RETURN_SERVICE = "return_service"  # DT&V


class LetterKind(enum.StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    DOCUMENTS_MISSING = "documents_missing"
    INTERVIEW_INVITATION = "interview_invitation"
    INTENDED_DECISION = "intended_decision"
    DECISION = "decision"
    NOT_PROCESSED = "not_processed"
    WITHDRAWAL = "withdrawal"
    PERMIT_INVITATION = "permit_invitation"
    DECISION_PERIOD_EXTENDED = "decision_period_extended"  # more time to decide (issue 9 point 3)
    RETURN_HANDOVER = "return_handover"  # to DT&V once no appeal can stop departure (point 12)
    # the permit's life (issue 3)
    EXTENSION_REMINDER = "extension_reminder"
    PERMANENT_ELIGIBLE = "permanent_eligible"
    PERMIT_EXPIRED = "permit_expired"
    EXTENSION_DECISION = "extension_decision"
    PERMANENT_DECISION = "permanent_decision"
    REPLACEMENT = "replacement"
    REPLACEMENT_REFUSED = "replacement_refused"
    WARNING = "warning"
    FINE = "fine"
    PERMIT_WITHDRAWN = "permit_withdrawn"
    CARD_INVITATION = "card_invitation"


class PeriodFromHandOver(Model):
    """A legal period that starts when the applicant is told (issue 9 point 15).

    The letter activity records when it hands the letter over, computes the period's end
    from that instant (``domain.deadlines.compute``, pure) and writes it into the letter;
    the workflow computes the same end from the returned ``handed_over_at``.
    """

    fact: str = Field(description="the letter fact that receives the end, e.g. repair_by")
    amount: int = Field(ge=1)
    unit: str
    rule: str
    basis: str


class SendLetter(Model):
    """One letter to one or more recipients.

    ``key`` makes it idempotent: the same (application_id, key, recipient) is written once.
    ``facts`` are the non-personal details the template fills in (dates, deadlines, the
    list of missing documents, a slot); names and addresses come from the registry.
    """

    application_id: str
    key: str
    kind: LetterKind
    recipients: list[Recipient]
    facts: dict[str, str] = Field(default_factory=dict)
    items: list[str] = Field(default_factory=list, description="bullet lines, e.g. missing documents")
    period: PeriodFromHandOver | None = Field(
        default=None,
        description="a period that starts when the letter is handed over; its end goes into facts[period.fact]",
    )


class LettersSent(Model):
    letters: list[LetterRef]
    handed_over_at: AwareDatetime | None = Field(
        default=None, description="when the letter was handed over to the applicant (the outbox's record of it)"
    )


class CloseCase(Model):
    application_id: str
    outcome: str
    closed_at: AwareDatetime


class CaseClosed(Model):
    application_id: str
    outcome: str


class PermitInput(PermitValidity):
    """The hand-over from the application workflow at step 7 to the permit's own workflow."""

    permit_type: PermitType = PermitType.TEMPORARY
    application_id: str
    document_number: str
    issued_at: AwareDatetime
    language: str = Field(default="nl", description="the holder's language, for interpreters at the desk")
    first_valid_from: date | None = Field(
        default=None,
        description="start of the consecutive years on temporary permits, when earlier than valid_from (an imported permit)",
    )
    term: int = Field(default=1, ge=1, description="1 for the first five years, +1 per extension (an imported permit)")


# --- the permit's registry (activities/permits.py) ------------------------------------------
# The registry records what the permit workflow decides.  Each message carries its own
# idempotency key, so a retried activity writes once.


class RecordPermitStatus(PermitStatusFacts):
    application_id: str
    key: str = Field(description="idempotency key within the case, e.g. 'extension_pending-3'")


class PermitStatusRecorded(Model):
    already_recorded: bool = False


class InvalidateDocument(Model):
    """A document number that is invalid for good: reported lost, stolen, damaged, or withdrawn."""

    application_id: str
    document_number: str
    reason: str
    invalidated_at: AwareDatetime


class DocumentInvalidated(Model):
    document_number: str
    already_invalid: bool = False


class RecordViolation(ViolationFacts):
    """A late report of a change: a warning, or a fine proposal."""

    application_id: str


class ViolationRecorded(Model):
    violation_id: int
    already_recorded: bool = False


class RecordFineDecision(Model):
    application_id: str
    violation_sequence: int = Field(ge=1)
    imposed: bool
    amount_eur: Decimal
    decided_on: date


class FineDecisionRecorded(Model):
    already_recorded: bool = False


class RecordCardCollected(Model):
    application_id: str
    document_number: str
    collected_on: date


class CardCollected(Model):
    already_recorded: bool = False
