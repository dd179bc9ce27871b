"""What each event and timer does to a ``PermitState``: pure functions, one per outcome.

Each takes the state and returns a new one (the argument is never changed), so the
workflow can do its side effects first (idempotent activities: letters, the registry, a new
card) and only then apply the result; a failed activity leaves the state as it was.
Every status change goes through ``_moved``, which checks it against the transition table and
counts it (``status_changes`` keys the registry's status record, so a retry writes once).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.messages import PermitIssued, RecordPermitStatus, RecordViolation, SlotBooking
from domain.permit.events import (
    AppealDecidedEvent,
    FineDecisionEvent,
    RefusalAppealedEvent,
    ReplacementReason,
    ReportChangeEvent,
    ViolationOutcome,
    WithdrawalGround,
)
from domain.permit.rules import after_appeal, after_refusal, new_fine, new_refusal, new_warning, refusal_open
from domain.permit.schedule import local_date, reschedule
from domain.permit.state import (
    ApplicationKind,
    Card,
    CardStatus,
    FineStatus,
    PendingApplication,
    PermitSettings,
    PermitState,
    Withdrawal,
)
from domain.permit.transitions import PermitStatus, PermitTrigger, PermitType, move

S = PermitStatus
T = PermitTrigger

_LIVE = (CardStatus.CURRENT, CardStatus.AWAITING_COLLECTION)


def _moved(state: PermitState, trigger: PermitTrigger, target: PermitStatus | None = None) -> PermitState:
    """A copy of ``state`` moved along one edge of the table (``target`` None: the status stays)."""
    new = state.model_copy(deep=True)
    target = state.status if target is None else target
    if target is not state.status:
        new.status_changes += 1
    new.status = move(state.status, trigger, target)
    return new


def _retire_live_cards(state: PermitState, status: CardStatus, reason: str | None = None) -> None:
    for card in state.cards:
        if card.status in _LIVE:
            card.status, card.booking_retry_at = status, None
            if reason is not None:
                card.invalid_reason = reason


def _invalidate_current_card(state: PermitState, reason: ReplacementReason) -> None:
    current = next(c for c in state.cards if c.document_number == state.document_number)
    current.status, current.invalid_reason, current.booking_retry_at = CardStatus.INVALID, reason.value, None


def _in_force(state: PermitState, card: Card) -> None:
    """A granted extension or permanent permit: ``card`` supersedes the live cards and sets
    the validity; the application is no longer pending, nor a refusal open."""
    _retire_live_cards(state, CardStatus.SUPERSEDED)
    state.cards.append(card)
    state.document_number = card.document_number
    state.valid_from, state.valid_until = card.valid_from, card.valid_until
    state.pending = None
    state.refusal = None


# --- cards ---------------------------------------------------------------------------------------


def new_card(issued: PermitIssued, purpose: str, today: date) -> Card:
    return Card(
        document_number=issued.document_number,
        permit_type=PermitType(issued.permit_type),
        purpose=purpose,
        valid_from=issued.valid_from,
        valid_until=issued.valid_until,
        issued_on=today,
        status=CardStatus.AWAITING_COLLECTION,
    )


def with_booking(card: Card, booking: SlotBooking, now: datetime, retry_hours: int) -> Card:
    """The card with its desk appointment, or a retry instant when no slot was free."""
    if not booking.booked or booking.starts_at is None:
        return card.model_copy(update={"booking_retry_at": now + timedelta(hours=retry_hours)})
    return card.model_copy(
        update={"appointment_at": booking.starts_at, "appointment_location": booking.location, "booking_retry_at": None}
    )


def desk_booked(state: PermitState, card: Card) -> PermitState:
    """A retried booking for a card already in the state: replace it by its booked copy."""
    new = state.model_copy(deep=True)
    new.cards = [card if c.document_number == card.document_number else c for c in new.cards]
    return new


def card_collected(state: PermitState, collected_on: date, now: datetime) -> PermitState:
    new = _moved(state, T.DOCUMENT_COLLECTED)
    card = new.card_awaiting_collection()
    assert card is not None, "checked by rules.check_event"
    card.status, card.collected_on, card.booking_retry_at = CardStatus.CURRENT, collected_on, None
    new.note(now, T.DOCUMENT_COLLECTED, f"type {card.permit_type.value} card collected")
    return new


def card_replaced(state: PermitState, reason: ReplacementReason, card: Card, now: datetime) -> PermitState:
    """The old card is invalid for good; the new one waits at the desk."""
    new = _moved(state, T.REPLACE_DOCUMENT, S.ACTIVE)
    _invalidate_current_card(new, reason)
    new.cards.append(card)
    new.document_number = card.document_number
    new.replacements += 1
    new.note(now, T.REPLACE_DOCUMENT, f"card replaced ({reason.value}); the old number is invalid")
    return new


def replacement_refused(state: PermitState, reason: ReplacementReason, now: datetime) -> PermitState:
    """Refused (too little validity left); a card reported lost or stolen is invalid even so."""
    new = _moved(state, T.REPLACE_DOCUMENT, S.ACTIVE)
    if reason in (ReplacementReason.LOST, ReplacementReason.STOLEN):
        _invalidate_current_card(new, reason)
    new.replacement_refusals += 1
    new.note(now, T.REPLACE_DOCUMENT, "replacement refused: apply for extension instead")
    return new


# --- applications and decisions ------------------------------------------------------------------


def applied(
    state: PermitState, kind: ApplicationKind, submitted_on: date, now: datetime, civic_integration_met: bool | None = None
) -> PermitState:
    """An extension or permanent application is pending from now on."""
    extension = kind is ApplicationKind.EXTENSION
    trigger = T.EXTENSION_APPLICATION if extension else T.PERMANENT_APPLICATION
    new = _moved(state, trigger, S.EXTENSION_PENDING if extension else S.PERMANENT_PENDING)
    if extension:
        new.extension_applications += 1
    else:
        new.permanent_applications += 1
    sequence = new.extension_applications if extension else new.permanent_applications
    new.pending = PendingApplication(
        kind=kind,
        sequence=sequence,
        submitted_on=submitted_on,
        received_at=now,
        civic_integration_met=civic_integration_met,
    )
    what = "extension" if extension else "permanent permit"
    new.note(now, trigger, f"{what} applied for on {submitted_on}")
    return new


def extension_granted(state: PermitState, card: Card, now: datetime, settings: PermitSettings) -> PermitState:
    """A new term from the day after the old expiry; the old cards are superseded and every
    timer is recomputed from the new ``valid_until``."""
    new = _moved(state, T.EXTENSION_DECISION, S.ACTIVE)
    _in_force(new, card)
    new.term += 1
    reschedule(new, settings)
    new.note(now, "renewed", f"extension granted: term {new.term}, valid {card.valid_from} to {card.valid_until}")
    return new


def permanent_granted(state: PermitState, card: Card, now: datetime) -> PermitState:
    new = _moved(state, T.PERMANENT_DECISION, S.REPLACED_BY_PERMANENT)
    _in_force(new, card)
    new.permit_type = PermitType.PERMANENT
    new.note(now, T.PERMANENT_DECISION, f"permanent permit granted; type IV card valid until {card.valid_until}")
    return new


def application_refused(state: PermitState, trigger: PermitTrigger, now: datetime, appeal_weeks: int) -> PermitState:
    """The pending application is refused: the refusal opens an appeal period; the permit
    stays active while valid, and after its last valid day residence continues while the
    refusal can be, or is being, appealed."""
    new = _moved(state, trigger, after_refusal(state, local_date(now)))
    new.refusal = new_refusal(state, now, appeal_weeks)
    what = "extension" if trigger is T.EXTENSION_DECISION else "permanent permit"
    new.pending = None
    until = local_date(new.refusal.appeal_by)
    new.note(now, trigger, f"{what} refused; permit {new.status.value}; appeal possible until {until}")
    return new


def refusal_appealed(state: PermitState, event: RefusalAppealedEvent, now: datetime) -> PermitState:
    new = _moved(state, T.REFUSAL_APPEALED)
    assert new.refusal is not None, "checked by rules.check_event"
    new.refusal.appeal_lodged_on = event.lodged_on
    new.note(now, T.REFUSAL_APPEALED, f"appeal against the refusal lodged on {event.lodged_on}; residence stays lawful")
    return new


def appeal_decided(state: PermitState, event: AppealDecidedEvent, now: datetime) -> PermitState:
    """Upheld: the refusal stands.  Annulled: the application is pending again."""
    target = after_appeal(state, event.result, local_date(now))
    new = _moved(state, T.APPEAL_DECIDED, target)
    refusal = new.refusal
    assert refusal is not None, "checked by rules.check_event"
    refusal.appeal_result = event.result.value
    if target in (S.EXTENSION_PENDING, S.PERMANENT_PENDING):
        new.pending = PendingApplication(
            kind=refusal.kind, sequence=refusal.sequence, submitted_on=local_date(now), received_at=now
        )
        new.expiry_passed_while_pending = now >= new.expires_at
    new.note(now, T.APPEAL_DECIDED, f"appeal decided: refusal {event.result.value}; permit {target.value}")
    return new


# --- timers --------------------------------------------------------------------------------------


def expiry_reached(state: PermitState, now: datetime) -> PermitState:
    """The last valid day has passed.  Active: expired, unless a refusal can still be or is
    being appealed.  Pending: residence continues while the application is decided."""
    if state.status is S.ACTIVE:
        target = S.AWAITING_APPEAL if refusal_open(state, now) else S.EXPIRED
        new = _moved(state, T.EXPIRY_REACHED, target)
        text = (
            f"validity ended on {state.valid_until}; residence continues while the refusal can be or is being appealed"
            if target is S.AWAITING_APPEAL
            else f"permit expired (last valid day {state.valid_until})"
        )
    else:
        new = _moved(state, T.EXPIRY_REACHED)
        new.expiry_passed_while_pending = True
        text = f"validity ended on {state.valid_until}; residence continues while the application is decided"
    new.note(now, T.EXPIRY_REACHED, text)
    return new


def appeal_period_ended(state: PermitState, now: datetime) -> PermitState:
    new = _moved(state, T.APPEAL_PERIOD_ENDED, S.EXPIRED)
    new.note(now, T.APPEAL_PERIOD_ENDED, f"no appeal against the refusal; permit expired (last valid day {state.valid_until})")
    return new


def reminder_sent(state: PermitState, due_at: datetime, now: datetime) -> PermitState:
    """The reminder due at ``due_at`` went out; older overdue ones are skipped, never sent late."""
    new = state.model_copy(deep=True)
    for reminder in new.reminders:
        if reminder.due_at == due_at:
            reminder.sent_at = now
            new.note(now, T.EXTENSION_REMINDER_DUE, f"extension reminder sent ({reminder.months_before} months before expiry)")
        elif reminder.sent_at is None and reminder.due_at < due_at:
            reminder.skipped = True
    return new


def permanent_letter_sent(state: PermitState, now: datetime) -> PermitState:
    new = state.model_copy(deep=True)
    new.five_years_letter_sent_at = now
    new.note(now, T.PERMANENT_WINDOW_OPENS, "a permanent permit may be applied for from today: letter sent")
    return new


# --- duty to inform, fines, withdrawal -----------------------------------------------------------


def change_reported(state: PermitState, event: ReportChangeEvent, outcome: ViolationOutcome, now: datetime) -> PermitState:
    """In time: noted.  Late: a warning, or a fine proposal for an officer to decide."""
    new = _moved(state, T.REPORT_CHANGE)
    today = local_date(now)
    if outcome is ViolationOutcome.WARNING:
        warning = new_warning(state, event, today)
        new.warnings.append(warning)
        new.violations += 1
        new.note(now, T.REPORT_CHANGE, f"change reported late: warning, valid until {warning.valid_until}")
    elif outcome is ViolationOutcome.FINE:
        new.fines.append(new_fine(state, event, today))
        new.violations += 1
        why = "a serious violation" if event.serious else "reported late again within 2 years"
        new.note(now, T.REPORT_CHANGE, f"change reported late ({why}): fine proposed")
    else:
        new.note(now, T.REPORT_CHANGE, "change reported in time")
    return new


def fine_decided(state: PermitState, event: FineDecisionEvent, now: datetime) -> PermitState:
    new = _moved(state, T.FINE_DECISION)
    fine = new.open_fine()
    assert fine is not None, "checked by rules.check_event"
    fine.status = FineStatus.IMPOSED if event.imposed else FineStatus.NOT_IMPOSED
    fine.amount_eur = event.amount_eur if event.imposed else None
    fine.decided_on = local_date(now)
    new.note(now, T.FINE_DECISION, "fine imposed" if event.imposed else "fine not imposed")
    return new


def fine_amount(event: FineDecisionEvent) -> Decimal:
    return event.amount_eur if event.imposed else Decimal(0)


def withdrawn(state: PermitState, ground: WithdrawalGround, now: datetime) -> PermitState:
    """Every live card is invalid for good; nothing is pending any more."""
    new = _moved(state, T.WITHDRAW_PERMIT, S.WITHDRAWN)
    _retire_live_cards(new, CardStatus.INVALID, "withdrawn")
    new.withdrawal = Withdrawal(ground=ground, withdrawn_on=local_date(now))
    new.pending = None
    new.note(now, T.WITHDRAW_PERMIT, "permit withdrawn")
    return new


def violation_record(after: PermitState, event: ReportChangeEvent, outcome: ViolationOutcome, today: date) -> RecordViolation:
    """The registry's record of the violation ``change_reported`` has just added to ``after``."""
    warning = after.warnings[-1] if outcome is ViolationOutcome.WARNING else None
    fine = after.fines[-1] if outcome is ViolationOutcome.FINE else None
    return RecordViolation(
        application_id=after.application_id,
        sequence=after.violations,
        outcome=outcome,
        change_kind=event.kind,
        occurred_on=event.occurred_on,
        reported_on=event.reported_on,
        decided_on=today,
        warning_valid_until=warning.valid_until if warning else None,
        fine_maximum_eur=fine.maximum_eur if fine else None,
    )


def status_record(state: PermitState, at: datetime, withdrawal_ground: WithdrawalGround | None = None) -> RecordPermitStatus:
    """The registry's record of the permit's current status, keyed so that a retry writes once."""
    return RecordPermitStatus(
        application_id=state.application_id,
        key=f"{state.status.value}-{state.status_changes}",
        status=state.status,
        permit_type=state.permit_type,
        valid_until=state.valid_until,
        changed_at=at,
        withdrawal_ground=withdrawal_ground,
    )
