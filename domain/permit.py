"""The residence permit's five-year life: statuses, transitions, rules, state and view.

The permit workflow (``workflows/permit.py``) only orchestrates; everything it decides is
here, pure and unit-tested without a server.  ``PERMIT_TRANSITIONS`` is the one table that
says which trigger (a human event sent through an update, or one of the workflow's own
timers) moves a permit from which status to which; update validators, the timer loop and
the README's Mermaid diagram all read it.

Timers are absolute instants kept in ``PermitState`` (reminders, the five-year mark,
expiry) and recomputed from ``valid_until`` whenever an event moves it, so a renewal
reschedules every reminder.  ``PermitState`` is the one model handed to continue-as-new:
fields get defaults when added and are never renamed or removed, because a permit that
started five years ago must still load.

Legal facts (domain.md, "The permit"): validity 5 years (Vw 2000 art. 28(2)); extension may
be applied for from 6 months before expiry while the permit is valid; a permanent permit
after 5 consecutive years on a temporary one (or from 6 months before expiry); replacement
for damaged, lost or stolen cards (police report for lost or stolen) or changed details,
refused with less than 6 months left; a first late report of a change gets a warning valid
2 years, a repeat within 2 years a fine of at most EUR 1,500, half for a less serious
violation; withdrawal on the grounds of Vw 2000 art. 32.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from domain.deadlines import AMSTERDAM, add_months
from domain.messages import PermitInput
from domain.models import Model, NonEmpty

# --- legal constants -------------------------------------------------------------------------
# The legal rules, not settings: a change in law arrives as a new policy version (see
# domain/policy.py), never as an environment variable.

EXTENSION_WINDOW_MONTHS = 6  # extension may be applied for from 6 months before expiry
PERMANENT_AFTER_MONTHS = 60  # 5 consecutive years on a temporary asylum permit
REPLACEMENT_MIN_MONTHS_LEFT = 6  # with less left, apply for extension instead
WARNING_VALID_MONTHS = 24  # a warning counts for 2 years
FINE_MAXIMUM_EUR = Decimal("1500")  # administrative fine for breaching the duty to inform
FINE_MAXIMUM_LESS_SERIOUS_EUR = FINE_MAXIMUM_EUR / 2


class PermitRuleError(ValueError):
    """An event the rules do not accept now; the message is shown to the caller as is."""


# --- statuses, triggers and the transition table --------------------------------------------


class PermitType(enum.StrEnum):
    TEMPORARY = "III"
    PERMANENT = "IV"


class PermitStatus(enum.StrEnum):
    ACTIVE = "active"
    EXTENSION_PENDING = "extension_pending"
    PERMANENT_PENDING = "permanent_pending"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REPLACED_BY_PERMANENT = "replaced_by_permanent"


STATUS_TEXT: dict[PermitStatus, str] = {
    PermitStatus.ACTIVE: "valid",
    PermitStatus.EXTENSION_PENDING: "valid or lawfully continued; an extension application is pending",
    PermitStatus.PERMANENT_PENDING: "valid or lawfully continued; a permanent permit application is pending",
    PermitStatus.EXPIRED: "expired",
    PermitStatus.WITHDRAWN: "withdrawn",
    PermitStatus.REPLACED_BY_PERMANENT: "ended: replaced by a permanent permit",
}

TERMINAL = frozenset({PermitStatus.EXPIRED, PermitStatus.WITHDRAWN, PermitStatus.REPLACED_BY_PERMANENT})


class PermitTrigger(enum.StrEnum):
    """What moves a permit: human events (update names) and the workflow's own timers."""

    # human events; the value is the update name and the `starter.py send` event name
    EXTENSION_APPLICATION = "extension-application"
    EXTENSION_DECISION = "extension-decision"
    PERMANENT_APPLICATION = "permanent-application"
    PERMANENT_DECISION = "permanent-decision"
    REPLACE_DOCUMENT = "replace-document"
    REPORT_CHANGE = "report-change"
    FINE_DECISION = "fine-decision"
    WITHDRAW_PERMIT = "withdraw-permit"
    DOCUMENT_COLLECTED = "document-collected"
    # the workflow's own
    EXTENSION_REMINDER_DUE = "extension reminder due"
    FIVE_YEARS_REACHED = "five years reached"
    EXPIRY_REACHED = "expiry reached"
    DESK_BOOKING_DUE = "desk booking due"


PERMIT_EVENTS: tuple[PermitTrigger, ...] = (
    PermitTrigger.EXTENSION_APPLICATION,
    PermitTrigger.EXTENSION_DECISION,
    PermitTrigger.PERMANENT_APPLICATION,
    PermitTrigger.PERMANENT_DECISION,
    PermitTrigger.REPLACE_DOCUMENT,
    PermitTrigger.REPORT_CHANGE,
    PermitTrigger.FINE_DECISION,
    PermitTrigger.WITHDRAW_PERMIT,
    PermitTrigger.DOCUMENT_COLLECTED,
)

S = PermitStatus
T = PermitTrigger

# The duty to inform, fines, withdrawal and card collection do not pause while an
# application is pending: the holder still holds the permit (lawful residence continues
# while a timely extension or permanent application is decided, Vw 2000 art. 8(c)).
_IN_FORCE_EVENTS: dict[PermitTrigger, None] = dict.fromkeys(
    (T.REPORT_CHANGE, T.FINE_DECISION, T.WITHDRAW_PERMIT, T.DOCUMENT_COLLECTED, T.DESK_BOOKING_DUE)
)

PERMIT_TRANSITIONS: dict[PermitStatus, dict[PermitTrigger, frozenset[PermitStatus]]] = {
    S.ACTIVE: {
        T.EXTENSION_APPLICATION: frozenset({S.EXTENSION_PENDING}),
        T.PERMANENT_APPLICATION: frozenset({S.PERMANENT_PENDING}),
        T.REPLACE_DOCUMENT: frozenset({S.ACTIVE}),
        T.REPORT_CHANGE: frozenset({S.ACTIVE}),
        T.FINE_DECISION: frozenset({S.ACTIVE}),
        T.WITHDRAW_PERMIT: frozenset({S.WITHDRAWN}),
        T.DOCUMENT_COLLECTED: frozenset({S.ACTIVE}),
        T.DESK_BOOKING_DUE: frozenset({S.ACTIVE}),
        T.EXTENSION_REMINDER_DUE: frozenset({S.ACTIVE}),
        T.FIVE_YEARS_REACHED: frozenset({S.ACTIVE}),
        T.EXPIRY_REACHED: frozenset({S.EXPIRED}),
    },
    S.EXTENSION_PENDING: {
        # granted: a new term (ACTIVE); refused: ACTIVE while still valid, else EXPIRED
        T.EXTENSION_DECISION: frozenset({S.ACTIVE, S.EXPIRED}),
        # a timely application keeps the holder lawfully resident past the expiry date
        T.EXPIRY_REACHED: frozenset({S.EXTENSION_PENDING}),
    },
    S.PERMANENT_PENDING: {
        T.PERMANENT_DECISION: frozenset({S.REPLACED_BY_PERMANENT, S.ACTIVE, S.EXPIRED}),
        T.EXPIRY_REACHED: frozenset({S.PERMANENT_PENDING}),
    },
    S.EXPIRED: {
        # a fine proposed before the end is still decided
        T.FINE_DECISION: frozenset({S.EXPIRED}),
    },
    S.WITHDRAWN: {
        T.FINE_DECISION: frozenset({S.WITHDRAWN}),
    },
    S.REPLACED_BY_PERMANENT: {
        T.DOCUMENT_COLLECTED: frozenset({S.REPLACED_BY_PERMANENT}),
        T.DESK_BOOKING_DUE: frozenset({S.REPLACED_BY_PERMANENT}),
        T.FINE_DECISION: frozenset({S.REPLACED_BY_PERMANENT}),
    },
}
for _status in (S.EXTENSION_PENDING, S.PERMANENT_PENDING):
    for _trigger in _IN_FORCE_EVENTS:
        PERMIT_TRANSITIONS[_status][_trigger] = frozenset({S.WITHDRAWN if _trigger is T.WITHDRAW_PERMIT else _status})

EVENT_WHEN: dict[PermitTrigger, str] = {
    T.EXTENSION_APPLICATION: "only while the permit is active, from 6 months before expiry until the expiry date",
    T.EXTENSION_DECISION: "only while an extension application is pending",
    T.PERMANENT_APPLICATION: "only while the permit is active, once 5 years are reached or within 6 months of expiry",
    T.PERMANENT_DECISION: "only while a permanent permit application is pending",
    T.REPLACE_DOCUMENT: "only while the permit is active and no application is pending",
    T.REPORT_CHANGE: "only while the permit is in force",
    T.FINE_DECISION: "only while a fine is proposed",
    T.WITHDRAW_PERMIT: "only while the permit is in force",
    T.DOCUMENT_COLLECTED: "only while a new card waits at the desk",
}


class PermitTransitionError(Exception):
    """A move the transition table does not allow: a bug in the workflow, not a user error."""


def allowed(status: PermitStatus, trigger: PermitTrigger) -> bool:
    return trigger in PERMIT_TRANSITIONS[status]


def rejection(status: PermitStatus, trigger: PermitTrigger) -> str:
    """A sentence a caller can show when an event is not accepted in this status."""
    return (
        f"event '{trigger.value}' is not allowed now: the permit is {STATUS_TEXT[status]} "
        f"(status '{status.value}'); '{trigger.value}' is accepted {EVENT_WHEN.get(trigger, 'never')}"
    )


def move(status: PermitStatus, trigger: PermitTrigger, target: PermitStatus) -> PermitStatus:
    """Check one transition against the table and return the new status."""
    targets = PERMIT_TRANSITIONS[status].get(trigger)
    if targets is None or target not in targets:
        raise PermitTransitionError(f"{status.value} --{trigger.value}--> {target.value} is not in the table")
    return target


def mermaid_lines(indent: str = "    ") -> list[str]:
    """The permit's states and edges, to embed in a larger diagram (e.g. a composite state)."""
    order = list(PermitStatus)
    lines = [f"{indent}[*] --> {S.ACTIVE.value}: permit issued"]
    for source, edges in PERMIT_TRANSITIONS.items():
        by_target: dict[PermitStatus, list[str]] = {}
        for trigger, targets in edges.items():
            for target in targets:
                by_target.setdefault(target, []).append(trigger.value)
        for target in sorted(by_target, key=order.index):
            lines.append(f"{indent}{source.value} --> {target.value}: {', '.join(by_target[target])}")
    lines.extend(f"{indent}{status.value} --> [*]" for status in order if status in TERMINAL)
    return lines


def mermaid() -> str:
    """The permit's state diagram, generated from the table (the README embeds this text)."""
    return "\n".join(["stateDiagram-v2", *mermaid_lines()])


# --- events (update inputs) -------------------------------------------------------------------


class ExtensionApplicationEvent(Model):
    submitted_on: date


class ExtensionDecisionEvent(Model):
    granted: bool
    grounds: NonEmpty


class PermanentApplicationEvent(Model):
    submitted_on: date
    civic_integration_met: bool


class PermanentDecisionEvent(Model):
    granted: bool
    grounds: NonEmpty


class ReplacementReason(enum.StrEnum):
    DAMAGED = "damaged"
    LOST = "lost"
    STOLEN = "stolen"
    DETAILS_CHANGED = "details_changed"


class ReplaceDocumentEvent(Model):
    reason: ReplacementReason
    police_report: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Police report reference; required when the card was lost or stolen."
    )

    @model_validator(mode="after")
    def _police_report(self) -> ReplaceDocumentEvent:
        if self.reason in (ReplacementReason.LOST, ReplacementReason.STOLEN) and self.police_report is None:
            raise ValueError(f"a {self.reason.value} card needs a police report (police_report)")
        return self


class ReportChangeEvent(Model):
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="What changed, e.g. address, household, work, marital status."
    )
    occurred_on: date
    reported_on: date
    less_serious: bool = Field(
        default=False, description="The officer judges a late report less serious: a fine is then at most half."
    )

    @model_validator(mode="after")
    def _order(self) -> ReportChangeEvent:
        if self.reported_on < self.occurred_on:
            raise ValueError("reported_on lies before occurred_on")
        return self


class FineDecisionEvent(Model):
    imposed: bool
    amount_eur: Decimal = Field(ge=0, max_digits=9, decimal_places=2)


class WithdrawalGround(enum.StrEnum):
    FALSE_INFORMATION = "false_information"
    PUBLIC_ORDER = "public_order"
    GROUNDS_LAPSED = "grounds_lapsed"
    RESIDENCE_ABROAD = "residence_abroad"


class WithdrawPermitEvent(Model):
    ground: WithdrawalGround
    explanation: NonEmpty


class DocumentCollectedEvent(Model):
    collected_on: date


PERMIT_EVENT_MODELS: dict[str, type[Model]] = {
    T.EXTENSION_APPLICATION.value: ExtensionApplicationEvent,
    T.EXTENSION_DECISION.value: ExtensionDecisionEvent,
    T.PERMANENT_APPLICATION.value: PermanentApplicationEvent,
    T.PERMANENT_DECISION.value: PermanentDecisionEvent,
    T.REPLACE_DOCUMENT.value: ReplaceDocumentEvent,
    T.REPORT_CHANGE.value: ReportChangeEvent,
    T.FINE_DECISION.value: FineDecisionEvent,
    T.WITHDRAW_PERMIT.value: WithdrawPermitEvent,
    T.DOCUMENT_COLLECTED.value: DocumentCollectedEvent,
}


# --- settings and the workflow input ----------------------------------------------------------


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


class PermitWarning(Record):
    sequence: int
    violation: int = Field(description="the violation number (warnings and fines share the count)")
    issued_on: date
    valid_until: date
    change_kind: str
    occurred_on: date
    reported_on: date


class FineStatus(enum.StrEnum):
    PROPOSED = "proposed"
    IMPOSED = "imposed"
    NOT_IMPOSED = "not_imposed"


class Fine(Record):
    sequence: int
    violation: int = Field(description="the violation number (warnings and fines share the count)")
    proposed_on: date
    maximum_eur: Decimal
    less_serious: bool
    change_kind: str
    occurred_on: date
    reported_on: date
    status: FineStatus = FineStatus.PROPOSED
    amount_eur: Decimal | None = None
    decided_on: date | None = None


class TimelineEntry(Record):
    """Something that happened.  ``text`` holds no personal data: it is shown to operators."""

    at: AwareDatetime
    event: str
    text: str


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
    five_years_letter_sent_at: AwareDatetime | None = None
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
    """The permit workflow's input: the hand-over on the first run, the state after that."""

    settings: PermitSettings = Field(default_factory=PermitSettings)
    handover: PermitInput | None = None
    state: PermitState | None = None

    @model_validator(mode="after")
    def _one(self) -> PermitWorkflowInput:
        if (self.handover is None) == (self.state is None):
            raise ValueError("give either the hand-over (first run) or the carried state (continue-as-new)")
        return self


# --- dates and instants ------------------------------------------------------------------------


def local_date(instant: datetime) -> date:
    """The Dutch date of an aware instant."""
    return instant.astimezone(AMSTERDAM).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of a Dutch date, as an aware instant."""
    return datetime.combine(day, time(0, 0), tzinfo=AMSTERDAM)


def expiry_instant(valid_until: date) -> datetime:
    """The permit is valid through ``valid_until``: it expires when the next Dutch day starts."""
    return start_of_day(valid_until + timedelta(days=1))


def extension_window_opens(valid_until: date) -> date:
    return add_months(valid_until, -EXTENSION_WINDOW_MONTHS)


def five_years_on(first_valid_from: date) -> date:
    return add_months(first_valid_from, PERMANENT_AFTER_MONTHS)


def reminder_schedule(valid_until: date, months: tuple[int, ...]) -> list[Reminder]:
    """The extension reminders, earliest first, at the start of their Dutch day."""
    return [
        Reminder(months_before=m, due_at=start_of_day(add_months(valid_until, -m))) for m in sorted(set(months), reverse=True)
    ]


def new_term(valid_until: date, term_years: int) -> tuple[date, date]:
    """An extension runs for another term from the old expiry: (valid_from, valid_until)."""
    return valid_until + timedelta(days=1), add_months(valid_until, 12 * term_years)


def initial_state(handover: PermitInput, settings: PermitSettings) -> PermitState:
    """The state of a freshly issued permit, from the application workflow's hand-over."""
    permit_type = PermitType(handover.permit_type)
    state = PermitState(
        application_id=handover.application_id,
        permit_type=permit_type,
        document_number=handover.document_number,
        valid_from=handover.valid_from,
        valid_until=handover.valid_until,
        first_valid_from=handover.valid_from,
        language=handover.language,
        cards=[
            Card(
                document_number=handover.document_number,
                permit_type=permit_type,
                purpose="initial",
                valid_from=handover.valid_from,
                valid_until=handover.valid_until,
                issued_on=local_date(handover.issued_at),
            )
        ],
        five_years_at=start_of_day(five_years_on(handover.valid_from)),
        expires_at=expiry_instant(handover.valid_until),
    )
    reschedule(state, settings)
    state.note(handover.issued_at, "issued", f"permit type {permit_type.value} issued, valid until {handover.valid_until}")
    return state


def reschedule(state: PermitState, settings: PermitSettings) -> None:
    """Recompute the timers that hang on ``valid_until`` (after issue and every renewal)."""
    state.expires_at = expiry_instant(state.valid_until)
    state.expiry_passed_while_pending = False
    state.reminders = reminder_schedule(state.valid_until, settings.extension_reminder_months)


# --- the timers ---------------------------------------------------------------------------------


class Due(Model):
    """The next timer of the workflow: when, and which trigger it fires."""

    at: AwareDatetime
    trigger: PermitTrigger


def next_due(state: PermitState) -> Due | None:
    """The earliest timer the current status takes; None when only an event can move it."""
    candidates: list[Due] = []
    status = state.status
    if allowed(status, T.EXTENSION_REMINDER_DUE):
        open_reminders = [r.due_at for r in state.reminders if r.sent_at is None and not r.skipped]
        if open_reminders:
            candidates.append(Due(at=min(open_reminders), trigger=T.EXTENSION_REMINDER_DUE))
    if (
        allowed(status, T.FIVE_YEARS_REACHED)
        and state.permit_type is PermitType.TEMPORARY
        and state.five_years_letter_sent_at is None
    ):
        candidates.append(Due(at=state.five_years_at, trigger=T.FIVE_YEARS_REACHED))
    if allowed(status, T.EXPIRY_REACHED) and not state.expiry_passed_while_pending:
        candidates.append(Due(at=state.expires_at, trigger=T.EXPIRY_REACHED))
    if allowed(status, T.DESK_BOOKING_DUE):
        retries = [
            c.booking_retry_at
            for c in state.cards
            if c.booking_retry_at is not None and c.status is CardStatus.AWAITING_COLLECTION
        ]
        if retries:
            candidates.append(Due(at=min(retries), trigger=T.DESK_BOOKING_DUE))
    return min(candidates, key=lambda d: d.at, default=None)


def due_reminder(state: PermitState, now: datetime) -> Reminder | None:
    """The reminder to send now.  When several are overdue (a worker was down, or an
    application was pending), only the latest is sent and the older ones are skipped, so
    the holder never gets a pile of reminders at once."""
    overdue = [r for r in state.reminders if r.sent_at is None and not r.skipped and r.due_at <= now]
    if not overdue:
        return None
    latest = max(overdue, key=lambda r: r.due_at)
    for reminder in overdue:
        if reminder is not latest:
            reminder.skipped = True
    return latest


def is_finished(state: PermitState) -> bool:
    """The workflow ends once the permit is over and nothing is left to decide or collect."""
    if state.status not in TERMINAL or state.open_fine() is not None:
        return False
    if state.status is PermitStatus.REPLACED_BY_PERMANENT:
        return state.card_awaiting_collection() is None
    return True


# --- the rules behind the events ----------------------------------------------------------------


def check_event(state: PermitState, trigger: PermitTrigger, event: Model, today: date) -> None:
    """Raise ``PermitRuleError`` with a caller-facing sentence if ``event`` is not accepted now.

    ``today`` is the Dutch date of the workflow's clock.  The same check runs in the update
    validator (before the event reaches history) and again when the handler starts work,
    because two updates can pass their validators before either handler runs.
    """
    if not allowed(state.status, trigger):
        raise PermitRuleError(rejection(state.status, trigger))
    if isinstance(event, ExtensionApplicationEvent):
        _check_extension_application(state, event, today)
    elif isinstance(event, PermanentApplicationEvent):
        _check_permanent_application(state, event, today)
    elif isinstance(event, ReportChangeEvent):
        if event.reported_on > today:
            raise PermitRuleError(f"reported_on {event.reported_on} lies in the future (today is {today})")
    elif isinstance(event, FineDecisionEvent):
        _check_fine_decision(state, event)
    elif isinstance(event, ReplaceDocumentEvent):
        if state.card_awaiting_collection() is not None:
            # The waiting card is the replacement; a lost old card is reported at the desk.
            raise PermitRuleError("a new card already waits at the desk: collect it instead of asking for a replacement")
    elif isinstance(event, DocumentCollectedEvent):
        card = state.card_awaiting_collection()
        if card is None:
            raise PermitRuleError(f"event '{trigger.value}' is not allowed now: no new card waits at the desk")
        if not card.issued_on <= event.collected_on <= today:
            raise PermitRuleError(f"collected_on must lie between the card's issue date {card.issued_on} and today {today}")


def _check_extension_application(state: PermitState, event: ExtensionApplicationEvent, today: date) -> None:
    opens = extension_window_opens(state.valid_until)
    if today < opens:
        raise PermitRuleError(f"an extension may be applied for from {opens} (6 months before expiry on {state.valid_until})")
    if today > state.valid_until:
        raise PermitRuleError(f"the permit expired on {state.valid_until}; an extension needs a valid permit")
    if not opens <= event.submitted_on <= today:
        raise PermitRuleError(f"submitted_on must lie between {opens} and today {today}")


def permanent_application_error(state: PermitState, today: date) -> str | None:
    reached = five_years_on(state.first_valid_from)
    opens = extension_window_opens(state.valid_until)
    if state.permit_type is not PermitType.TEMPORARY:
        return "the permit is already permanent"
    if today >= reached or opens <= today <= state.valid_until:
        return None
    return (
        f"a permanent permit may be applied for once 5 consecutive years are reached ({reached}) "
        f"or from 6 months before expiry ({opens})"
    )


def _check_permanent_application(state: PermitState, event: PermanentApplicationEvent, today: date) -> None:
    error = permanent_application_error(state, today)
    if error:
        raise PermitRuleError(error)
    if event.submitted_on > today:
        raise PermitRuleError(f"submitted_on {event.submitted_on} lies in the future (today is {today})")


def fine_maximum(less_serious: bool) -> Decimal:
    return FINE_MAXIMUM_LESS_SERIOUS_EUR if less_serious else FINE_MAXIMUM_EUR


def _check_fine_decision(state: PermitState, event: FineDecisionEvent) -> None:
    fine = state.open_fine()
    if fine is None:
        raise PermitRuleError("no fine is proposed, so there is nothing to decide")
    if event.imposed:
        if event.amount_eur <= 0:
            raise PermitRuleError("an imposed fine has an amount above EUR 0")
        if event.amount_eur > fine.maximum_eur:
            kind = "a less serious violation" if fine.less_serious else "this violation"
            raise PermitRuleError(f"EUR {event.amount_eur} is above the legal maximum of EUR {fine.maximum_eur:,.0f} for {kind}")
    elif event.amount_eur != 0:
        raise PermitRuleError("a fine that is not imposed has amount_eur 0")


REPLACEMENT_REFUSED_TEXT = "apply for extension instead"


def replacement_refusal(valid_until: date, today: date) -> str | None:
    """Why a replacement is refused (less than 6 months left), or None."""
    if add_months(today, REPLACEMENT_MIN_MONTHS_LEFT) > valid_until:
        return (
            f"less than {REPLACEMENT_MIN_MONTHS_LEFT} months of validity left (valid until {valid_until}): "
            f"{REPLACEMENT_REFUSED_TEXT}"
        )
    return None


def is_late(occurred_on: date, reported_on: date, late_report_weeks: int) -> bool:
    """A change must be reported within the set number of weeks after it occurred."""
    return reported_on > occurred_on + timedelta(weeks=late_report_weeks)


class ViolationOutcome(enum.StrEnum):
    NONE = "none"  # reported in time
    WARNING = "warning"
    FINE = "fine"


def violation_outcome(state: PermitState, event: ReportChangeEvent, late_report_weeks: int) -> ViolationOutcome:
    """In time: nothing.  Late: a warning, or a fine proposal when a warning from the last
    2 years still counts on the day the change was reported."""
    if not is_late(event.occurred_on, event.reported_on, late_report_weeks):
        return ViolationOutcome.NONE
    if any(w.issued_on <= event.reported_on <= w.valid_until for w in state.warnings):
        return ViolationOutcome.FINE
    return ViolationOutcome.WARNING


def new_warning(state: PermitState, event: ReportChangeEvent, today: date) -> PermitWarning:
    return PermitWarning(
        sequence=len(state.warnings) + 1,
        violation=state.violations + 1,
        issued_on=today,
        valid_until=add_months(today, WARNING_VALID_MONTHS),
        change_kind=event.kind,
        occurred_on=event.occurred_on,
        reported_on=event.reported_on,
    )


def new_fine(state: PermitState, event: ReportChangeEvent, today: date) -> Fine:
    return Fine(
        sequence=len(state.fines) + 1,
        violation=state.violations + 1,
        proposed_on=today,
        maximum_eur=fine_maximum(event.less_serious),
        less_serious=event.less_serious,
        change_kind=event.kind,
        occurred_on=event.occurred_on,
        reported_on=event.reported_on,
    )


def after_refusal(state: PermitState, today: date) -> PermitStatus:
    """A refused application leaves the permit as it was, unless it has run out meanwhile."""
    return PermitStatus.ACTIVE if today <= state.valid_until else PermitStatus.EXPIRED


# --- the view -----------------------------------------------------------------------------------


class TimelineItem(Model):
    on: date
    text: str
    done: bool


class PendingApplicationView(Model):
    kind: ApplicationKind
    submitted_on: date


class PermitView(Model):
    """What ``starter.py status`` shows of the permit; also the workflow's result."""

    application_id: str
    status: PermitStatus
    permit_type: PermitType
    document_number: str
    valid_from: date
    valid_until: date
    first_valid_from: date
    term: int
    next_reminder: date | None = None
    extension_window_opens: date
    five_years_on: date
    pending_applications: list[PendingApplicationView] = Field(default_factory=list)
    card_awaiting_collection: bool = False
    desk_appointment: AwareDatetime | None = None
    document_numbers: list[str] = Field(default_factory=list)
    invalid_document_numbers: list[str] = Field(default_factory=list)
    warnings: list[PermitWarning] = Field(default_factory=list)
    fines: list[Fine] = Field(default_factory=list)
    timeline: list[TimelineItem] = Field(default_factory=list)
    finished: bool = False


class EventOutcome(Model):
    """What an update returns: a sentence for the caller, and the permit after the event."""

    event: str
    refused: bool = Field(default=False, description="True when the event was taken but the request refused")
    message: str
    permit: PermitView


def upcoming(state: PermitState) -> list[TimelineItem]:
    """The dates still ahead of the permit, for the view and the operator's details."""
    items: list[TimelineItem] = []
    if state.status in TERMINAL:
        return items
    for reminder in state.reminders:
        if reminder.sent_at is None and not reminder.skipped:
            items.append(
                TimelineItem(
                    on=local_date(reminder.due_at),
                    text=f"extension reminder ({reminder.months_before} months before expiry) due",
                    done=False,
                )
            )
    if state.permit_type is PermitType.TEMPORARY and state.five_years_letter_sent_at is None:
        items.append(
            TimelineItem(on=local_date(state.five_years_at), text="5 years reached: permanent permit letter due", done=False)
        )
    if not state.expiry_passed_while_pending:
        items.append(TimelineItem(on=state.valid_until, text="permit expires (last valid day)", done=False))
    return sorted(items, key=lambda i: i.on)


def view(state: PermitState) -> PermitView:
    card = state.card_awaiting_collection()
    next_reminder = min(
        (local_date(r.due_at) for r in state.reminders if r.sent_at is None and not r.skipped),
        default=None,
    )
    pending = (
        [PendingApplicationView(kind=state.pending.kind, submitted_on=state.pending.submitted_on)]
        if state.pending is not None
        else []
    )
    past = [TimelineItem(on=local_date(e.at), text=e.text, done=True) for e in state.timeline]
    return PermitView(
        application_id=state.application_id,
        status=state.status,
        permit_type=state.permit_type,
        document_number=state.document_number,
        valid_from=state.valid_from,
        valid_until=state.valid_until,
        first_valid_from=state.first_valid_from,
        term=state.term,
        next_reminder=next_reminder if state.status not in TERMINAL else None,
        extension_window_opens=extension_window_opens(state.valid_until),
        five_years_on=local_date(state.five_years_at),
        pending_applications=pending,
        card_awaiting_collection=card is not None,
        desk_appointment=card.appointment_at if card is not None else None,
        document_numbers=state.document_numbers,
        invalid_document_numbers=[c.document_number for c in state.cards if c.status is CardStatus.INVALID],
        warnings=[w.model_copy() for w in state.warnings],
        fines=[f.model_copy() for f in state.fines],
        timeline=past + upcoming(state),
        finished=is_finished(state),
    )


# Timeline events shown in the operator's details: the permit's dates, never the content of
# reports, fines or withdrawals.
_DETAIL_EVENTS = frozenset(
    {
        "issued",
        T.EXTENSION_REMINDER_DUE.value,
        T.FIVE_YEARS_REACHED.value,
        T.EXPIRY_REACHED.value,
        T.EXTENSION_APPLICATION.value,
        T.EXTENSION_DECISION.value,
        T.PERMANENT_APPLICATION.value,
        T.PERMANENT_DECISION.value,
        "renewed",
    }
)


def details_markdown(state: PermitState) -> str:
    """The Web UI's current details: status, type and dates only.

    No names, V-numbers or document numbers (details are not encrypted by a codec in every
    setup), and no content of reports, fines or withdrawals.
    """
    lines = [
        f"**Residence permit** — type {state.permit_type.value}, status **{state.status.value}**",
        "",
        f"Valid {state.valid_from} to {state.valid_until} (term {state.term}); "
        f"5 years on temporary permits: {local_date(state.five_years_at)}",
        "",
        "| date | | |",
        "|---|---|---|",
    ]
    for entry in state.timeline:
        if entry.event in _DETAIL_EVENTS:
            lines.append(f"| {local_date(entry.at)} | done | {entry.text} |")
    lines.extend(f"| {item.on} | due | {item.text} |" for item in upcoming(state))
    return "\n".join(lines)


# --- activity messages (activities/permits.py) -----------------------------------------------
# The registry records what the permit workflow decides.  Each message carries its own
# idempotency key, so a retried activity writes once.


class RecordPermitStatus(Model):
    application_id: str
    key: str = Field(description="idempotency key within the case, e.g. 'extension_pending-3'")
    status: PermitStatus
    permit_type: PermitType
    valid_until: date
    changed_at: AwareDatetime
    withdrawal_ground: WithdrawalGround | None = None


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


class RecordViolation(Model):
    """A late report of a change: a warning, or a fine proposal."""

    application_id: str
    sequence: int = Field(ge=1, description="1 for the first violation, +1 for each later one")
    outcome: ViolationOutcome
    change_kind: str
    occurred_on: date
    reported_on: date
    decided_on: date
    warning_valid_until: date | None = None
    fine_maximum_eur: Decimal | None = None


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
