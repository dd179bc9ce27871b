"""The rules behind the permit's events: what is accepted now, and what an event leads to.

Pure functions of the state and the event; the workflow calls activities and applies what
these return.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from domain.deadlines import add_months
from domain.models import Model
from domain.permit.events import (
    DocumentCollectedEvent,
    ExtensionApplicationEvent,
    FineDecisionEvent,
    PermanentApplicationEvent,
    ReplaceDocumentEvent,
    ReportChangeEvent,
    ViolationOutcome,
)
from domain.permit.law import (
    FINE_MAXIMUM_EUR,
    FINE_MAXIMUM_LESS_SERIOUS_EUR,
    REPLACEMENT_MIN_MONTHS_LEFT,
    WARNING_VALID_MONTHS,
)
from domain.permit.schedule import extension_window_opens, five_years_on
from domain.permit.state import Fine, PermitState, PermitWarning
from domain.permit.transitions import PermitStatus, PermitTrigger, PermitType, allowed, rejection


class PermitRuleError(ValueError):
    """An event the rules do not accept now; the message is shown to the caller as is."""


def check_event(state: PermitState, trigger: PermitTrigger, event: Model, today: date) -> None:  # noqa: C901  # one rule per event: a dispatch over the permit's triggers
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
