"""The permit workflow's state: one model handed to continue-as-new, and its settings.

Fields get defaults when added and are never renamed or removed, because a permit that
started five years ago must still load.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.messages import PermitInput
from domain.models import Model
from domain.permit.events import WithdrawalGround
from domain.permit.law import EXTENSION_WINDOW_MONTHS
from domain.permit.transitions import PermitStatus, PermitTrigger, PermitType


class PermitSettings(Model):
    """The permit's settings, filled by the caller from ``infra/settings.py`` and fixed per run.

    A workflow never reads the environment; these travel in its input and through
    continue-as-new, so a running permit keeps the values it started with.
    """

    extension_reminder_months: tuple[int, ...] = Field(
        default=(6, 3, 1), description="Reminders this many months before expiry; the first opens the window."
    )
    late_report_weeks: int = Field(default=4, ge=1, le=52)
    term_years: int = Field(default=5, ge=1, le=10, description="Validity of a temporary permit (policy version).")
    permanent_document_years: int = Field(
        default=10, ge=1, le=20, description="Validity of the type IV card (unconfirmed: 10 years)."
    )
    desk_notice_days: int = Field(default=7, ge=0, le=60, description="A new card is ready at the desk after this.")
    desk_booking_retry_hours: int = Field(default=24, ge=1, le=24 * 14)
    refusal_appeal_weeks: int = Field(
        default=4,
        ge=1,
        le=12,
        description=(
            "Appeal period against the refusal of an extension or a permanent permit (unconfirmed: "
            "4 weeks, Vw 2000 art. 69(1); HASA_APPEAL_WEEKS); residence stays lawful meanwhile."
        ),
    )

    max_history_events: int = Field(
        default=1000,
        ge=50,
        le=40_000,
        description=(
            "A run continues as new once its history holds this many events (besides every renewal and "
            "whenever Temporal suggests it), so rebuilding an evicted permit replays at most this much "
            "(decision 0053)."
        ),
    )

    @field_validator("extension_reminder_months")
    @classmethod
    def _offsets(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= m <= EXTENSION_WINDOW_MONTHS for m in value):
            raise ValueError(f"reminder offsets lie between 1 and {EXTENSION_WINDOW_MONTHS} months")
        return tuple(sorted(set(value), reverse=True))


# --- state ---------------------------------------------------------------------------------------


class Record(BaseModel):
    """Base for the parts of ``PermitState``: strict like ``Model``, but mutable in the workflow."""

    model_config = ConfigDict(extra="forbid")


class CardStatus(enum.StrEnum):
    AWAITING_COLLECTION = "awaiting_collection"
    CURRENT = "current"  # collected, or the card handed over at step 7
    SUPERSEDED = "superseded"  # an extension or a permanent card took over
    INVALID = "invalid"  # reported lost, stolen or damaged, or withdrawn: invalid for good


class Card(Record):
    """One residence document the permit has had."""

    document_number: str
    permit_type: PermitType
    purpose: str = Field(description="registry idempotency key: initial, extension-2, replacement-1, permanent")
    valid_from: date
    valid_until: date
    issued_on: date
    status: CardStatus = CardStatus.CURRENT
    invalid_reason: str | None = None
    appointment_at: AwareDatetime | None = None
    appointment_location: str | None = None
    booking_retry_at: AwareDatetime | None = None
    collected_on: date | None = None


class Reminder(Record):
    months_before: int
    due_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    skipped: bool = False


class ApplicationKind(enum.StrEnum):
    EXTENSION = "extension"
    PERMANENT = "permanent"


class PendingApplication(Record):
    kind: ApplicationKind
    sequence: int
    submitted_on: date
    received_at: AwareDatetime
    civic_integration_met: bool | None = None


class Violation(Record):
    """What a warning and a fine share: the change reported late (or a serious violation)."""

    sequence: int  # of its kind: the n-th warning, the n-th fine
    violation: int = Field(description="the violation number (warnings and fines share the count)")
    change_kind: str
    occurred_on: date
    reported_on: date


class PermitWarning(Violation):
    issued_on: date
    valid_until: date


class FineStatus(enum.StrEnum):
    PROPOSED = "proposed"
    IMPOSED = "imposed"
    NOT_IMPOSED = "not_imposed"


class Fine(Violation):
    proposed_on: date
    maximum_eur: Decimal
    less_serious: bool
    status: FineStatus = FineStatus.PROPOSED
    amount_eur: Decimal | None = None
    decided_on: date | None = None


class TimelineEntry(Record):
    """Something that happened.  ``text`` holds no personal data: it is shown to operators."""

    at: AwareDatetime
    event: str
    text: str


class Refusal(Record):
    """A refused extension or permanent application, with its appeal.

    While it can still be appealed (until ``appeal_by``) or an appeal is pending, residence
    stays lawful and the permit does not expire (Vw 2000 art. 8(h) with art. 82(1):
    unconfirmed reading; see docs/legal.md).
    """

    kind: ApplicationKind
    sequence: int
    decided_on: date
    appeal_by: AwareDatetime = Field(description="the end of the appeal period (Atw applied)")
    appeal_lodged_on: date | None = None
    appeal_result: str | None = Field(default=None, description="upheld or annulled, once the court has decided")


class Withdrawal(Record):
    ground: WithdrawalGround
    withdrawn_on: date


class PermitState(Record):
    """Everything the permit workflow knows; the one object handed to continue-as-new."""

    application_id: str
    permit_type: PermitType = PermitType.TEMPORARY
    status: PermitStatus = PermitStatus.ACTIVE
    document_number: str
    valid_from: date
    valid_until: date
    first_valid_from: date = Field(description="Start of the consecutive years on temporary permits.")
    language: str = "nl"
    term: int = Field(default=1, description="1 for the first five years, +1 per extension")
    run: int = Field(default=1, description="+1 at every continue-as-new")
    cards: list[Card] = Field(default_factory=list)
    reminders: list[Reminder] = Field(default_factory=list)
    five_years_at: AwareDatetime
    five_years_letter_sent_at: AwareDatetime | None = Field(
        default=None, description="when the letter about a permanent permit went out"
    )
    permanent_letter_at: AwareDatetime | None = Field(
        default=None, description="when that letter is due: the first day a permanent permit may be applied for"
    )
    expires_at: AwareDatetime
    expiry_passed_while_pending: bool = False
    pending: PendingApplication | None = None
    extension_applications: int = 0
    permanent_applications: int = 0
    replacements: int = 0
    replacement_refusals: int = 0
    violations: int = 0
    warnings: list[PermitWarning] = Field(default_factory=list)
    fines: list[Fine] = Field(default_factory=list)
    withdrawal: Withdrawal | None = None
    refusal: Refusal | None = None
    status_changes: int = 0
    timeline: list[TimelineEntry] = Field(default_factory=list)

    # -- derived ------------------------------------------------------------------------

    @property
    def document_numbers(self) -> list[str]:
        return [card.document_number for card in self.cards]

    def card_awaiting_collection(self) -> Card | None:
        return next((c for c in self.cards if c.status is CardStatus.AWAITING_COLLECTION), None)

    def open_fine(self) -> Fine | None:
        return next((f for f in self.fines if f.status is FineStatus.PROPOSED), None)

    def note(self, at: datetime, event: PermitTrigger | str, text: str) -> None:
        self.timeline.append(TimelineEntry(at=at, event=str(event), text=text))


class PermitWorkflowInput(Model):
    """The permit workflow's input: the hand-over on the first run, the state after that.

    A permit that exists outside this service starts from either: a hand-over with
    ``first_valid_from`` and ``term`` (an active permit in its n-th term), or a whole
    ``PermitState`` with ``started_from_import=True`` (any status).
    """

    settings: PermitSettings = Field(default_factory=PermitSettings)
    handover: PermitInput | None = None
    state: PermitState | None = None
    started_from_import: bool = Field(
        default=False,
        description=(
            "The state was built from an imported record (starter.py import-permits), not carried by "
            "continue-as-new: the first run records its status in the registry, as a hand-over does."
        ),
    )

    @model_validator(mode="after")
    def _one(self) -> PermitWorkflowInput:
        if (self.handover is None) == (self.state is None):
            raise ValueError("give either the hand-over (first run) or the carried state (continue-as-new)")
        return self
