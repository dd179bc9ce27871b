"""The permit's letters: which template, which idempotency key, which facts.

Pure functions of the state (and the event); the workflow sends what they return through
the outbox (``activities/letters.py``), whose key makes every letter go out once.  Facts
are dates, amounts and codes, never names or addresses (the outbox reads those from the
registry).  The templates are ``activities/templates/*.txt.j2``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from domain.messages import LetterKind
from domain.models import Model
from domain.permit.events import ReplacementReason, ReportChangeEvent, WithdrawPermitEvent
from domain.permit.schedule import extension_window_opens, local_date
from domain.permit.state import Card, Fine, PermitState, PermitWarning, Reminder
from domain.permit.transitions import PermitStatus, PermitTrigger


class Letter(Model):
    kind: LetterKind
    key: str
    facts: dict[str, str]


def extension_reminder(state: PermitState, reminder: Reminder) -> Letter:
    return Letter(
        kind=LetterKind.EXTENSION_REMINDER,
        key=f"extension-reminder-{local_date(reminder.due_at).isoformat()}",
        facts={
            "months_before": str(reminder.months_before),
            "valid_until": state.valid_until.isoformat(),
            "apply_from": extension_window_opens(state.valid_until).isoformat(),
            "document_number": state.document_number,
        },
    )


def permanent_eligible(state: PermitState, apply_from: datetime) -> Letter:
    """Sent when a permanent permit may first be applied for (issue 9 point 7); the
    conditions are in the template (``permanent_eligible.txt.j2``)."""
    return Letter(
        kind=LetterKind.PERMANENT_ELIGIBLE,
        key="permanent-eligible",
        facts={
            "eligible_from": local_date(state.five_years_at).isoformat(),
            "apply_from": local_date(apply_from).isoformat(),
            "valid_until": state.valid_until.isoformat(),
        },
    )


def expired(state: PermitState) -> Letter | None:
    """The letter that the permit has expired, when ``state`` (after the move) says it has."""
    if state.status is not PermitStatus.EXPIRED:
        return None
    refusal = state.refusal
    return Letter(
        kind=LetterKind.PERMIT_EXPIRED,
        key=f"expired-{state.term}",
        facts={
            "valid_until": state.valid_until.isoformat(),
            "document_number": state.document_number,
            "after_refusal": "true" if refusal is not None else "false",
            "appeal_lodged": "true" if refusal is not None and refusal.appeal_lodged_on else "false",
        },
    )


def _decision(state: PermitState, trigger: PermitTrigger) -> tuple[LetterKind, str]:
    """The letter kind of a decision on the pending application, and its key (one per application)."""
    extension = trigger is PermitTrigger.EXTENSION_DECISION
    applications = state.extension_applications if extension else state.permanent_applications
    sequence = state.pending.sequence if state.pending else applications
    if extension:
        return LetterKind.EXTENSION_DECISION, f"extension-decision-{sequence}"
    return LetterKind.PERMANENT_DECISION, f"permanent-decision-{sequence}"


def granted(state: PermitState, trigger: PermitTrigger, grounds: str, valid_from: date, valid_until: date) -> Letter:
    """An extension (``valid_until``: the new term's last day) or a permanent permit
    (``card_valid_until``: the type IV card's)."""
    kind, key = _decision(state, trigger)
    until = "valid_until" if kind is LetterKind.EXTENSION_DECISION else "card_valid_until"
    return Letter(
        kind=kind,
        key=key,
        facts={"outcome": "granted", "grounds": grounds, "valid_from": valid_from.isoformat(), until: valid_until.isoformat()},
    )


def refused(trigger: PermitTrigger, grounds: str, before: PermitState, after: PermitState) -> Letter:
    """A refusal names its appeal period and whether the permit is still valid, so it never
    says the permit "remains valid" after its last day (issue 9 points 8 and 14)."""
    assert after.refusal is not None
    kind, key = _decision(before, trigger)
    return Letter(
        kind=kind,
        key=key,
        facts={
            "outcome": "refused",
            "grounds": grounds,
            "valid_until": before.valid_until.isoformat(),
            "still_valid": "true" if after.status is PermitStatus.ACTIVE else "false",
            "appeal_by": after.refusal.appeal_by.isoformat(),
        },
    )


def replacement(reason: ReplacementReason, old: Card, card: Card, valid_until: date, sequence: int) -> Letter:
    return Letter(
        kind=LetterKind.REPLACEMENT,
        key=f"replacement-{sequence}",
        facts={
            "reason": reason.value,
            "document_number": card.document_number,
            "old_document_number": old.document_number,
            "valid_until": valid_until.isoformat(),
        },
    )


def replacement_refused(state: PermitState, reason: ReplacementReason) -> Letter:
    return Letter(
        kind=LetterKind.REPLACEMENT_REFUSED,
        key=f"replacement-refused-{state.replacement_refusals + 1}",
        facts={
            "reason": "expiring",
            "requested_for": reason.value,
            "valid_until": state.valid_until.isoformat(),
            "apply_from": extension_window_opens(state.valid_until).isoformat(),
        },
    )


def warning(event: ReportChangeEvent, given: PermitWarning) -> Letter:
    """A warning is not a decision open to objection, so its letter offers none; it says
    whether it is the first warning (issue 9 point 9)."""
    return Letter(
        kind=LetterKind.WARNING,
        key=f"warning-{given.sequence}",
        facts={
            "violation": event.kind,
            "occurred_on": event.occurred_on.isoformat(),
            "reported_on": event.reported_on.isoformat(),
            "valid_until": given.valid_until.isoformat(),
            "first_warning": "true" if given.sequence == 1 else "false",
        },
    )


def fine(proposed: Fine, amount: Decimal) -> Letter:
    """The fine is a decision: its letter offers objection (``_macros.beroep``)."""
    return Letter(
        kind=LetterKind.FINE,
        key=f"fine-{proposed.sequence}",
        facts={
            "amount": f"{amount:.2f}",
            "violation": proposed.change_kind,
            "reduced": "true" if proposed.less_serious else "false",
            "serious": "false" if proposed.less_serious else "true",
        },
    )


def withdrawn(state: PermitState, event: WithdrawPermitEvent, today: date) -> Letter:
    return Letter(
        kind=LetterKind.PERMIT_WITHDRAWN,
        key="withdrawn",
        facts={
            "reason": event.ground.value,
            "grounds": event.explanation,
            "effective_from": today.isoformat(),
            "document_number": state.document_number,
        },
    )


def card_invitation(card: Card) -> Letter:
    assert card.appointment_at is not None
    return Letter(
        kind=LetterKind.CARD_INVITATION,
        key=f"card-invitation-{card.purpose}",
        facts={
            "permit_type": card.permit_type.value,
            "desk_at": card.appointment_at.isoformat(),
            "desk_location": card.appointment_location or "",
            "document_number": card.document_number,
            "valid_until": card.valid_until.isoformat(),
        },
    )
