"""The rules behind the permit's events: whether an event is accepted now, and what it leads to.

Pure functions of the state and the event.  ``check_event`` runs in the update validator
and again when the handler starts; the functions below it decide outcomes (a warning or a
fine, a refused replacement, a refusal's appeal period) that ``effects`` applies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.deadlines import Period, Rule, Unit, add_months, compute
from domain.models import JudgmentResult, Model
from domain.permit.events import (
    AppealDecidedEvent,
    DocumentCollectedEvent,
    ExtensionApplicationEvent,
    FineDecisionEvent,
    PermanentApplicationEvent,
    RefusalAppealedEvent,
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
from domain.permit.schedule import extension_window_opens, five_years_on, local_date, permanent_window_opens
from domain.permit.state import ApplicationKind, Fine, PermitState, PermitWarning, Refusal
from domain.permit.transitions import PermitStatus, PermitTrigger, PermitType, allowed, rejection

T = PermitTrigger


class PermitRuleError(ValueError):
    """An event the rules do not accept now; the message is shown to the caller as is."""


# --- is the event accepted now? -----------------------------------------------------------------


def check_event(state: PermitState, trigger: PermitTrigger, event: Model, today: date) -> None:
    """Raise ``PermitRuleError`` with a caller-facing sentence if ``event`` is not accepted now.

    ``today`` is the Dutch date of the workflow's clock.  The same check runs in the update
    validator (before the event reaches history) and again when the handler starts work,
    because two updates can pass their validators before either handler runs.
    """
    if not allowed(state.status, trigger):
        raise PermitRuleError(rejection(state.status, trigger))
    check = _CHECKS.get(trigger)
    if check is not None:
        check(state, event, today)


def _check_extension_application(state: PermitState, event: ExtensionApplicationEvent, today: date) -> None:
    opens = extension_window_opens(state.valid_until)
    if today < opens:
        raise PermitRuleError(f"an extension may be applied for from {opens} (6 months before expiry on {state.valid_until})")
    if today > state.valid_until:
        raise PermitRuleError(f"the permit expired on {state.valid_until}; an extension needs a valid permit")
    if not opens <= event.submitted_on <= today:
        raise PermitRuleError(f"submitted_on must lie between {opens} and today {today}")


def permanent_application_error(state: PermitState, today: date) -> str | None:
    if state.permit_type is not PermitType.TEMPORARY:
        return "the permit is already permanent"
    opens = permanent_window_opens(state.first_valid_from, state.valid_until)
    if today >= five_years_on(state.first_valid_from) or opens <= today <= state.valid_until:
        return None
    return (
        f"a permanent permit may be applied for once 5 consecutive years are reached "
        f"({five_years_on(state.first_valid_from)}) or from 6 months before expiry ({extension_window_opens(state.valid_until)})"
    )


def _check_permanent_application(state: PermitState, event: PermanentApplicationEvent, today: date) -> None:
    error = permanent_application_error(state, today)
    if error:
        raise PermitRuleError(error)
    if event.submitted_on > today:
        raise PermitRuleError(f"submitted_on {event.submitted_on} lies in the future (today is {today})")


def _check_report_change(state: PermitState, event: ReportChangeEvent, today: date) -> None:
    if event.reported_on > today:
        raise PermitRuleError(f"reported_on {event.reported_on} lies in the future (today is {today})")


def _check_fine_decision(state: PermitState, event: FineDecisionEvent, today: date) -> None:
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


def _check_replace_document(state: PermitState, event: ReplaceDocumentEvent, today: date) -> None:
    if state.card_awaiting_collection() is not None:
        # The waiting card is the replacement; a lost old card is reported at the desk.
        raise PermitRuleError("a new card already waits at the desk: collect it instead of asking for a replacement")


def _check_document_collected(state: PermitState, event: DocumentCollectedEvent, today: date) -> None:
    card = state.card_awaiting_collection()
    if card is None:
        raise PermitRuleError(f"event '{T.DOCUMENT_COLLECTED.value}' is not allowed now: no new card waits at the desk")
    if not card.issued_on <= event.collected_on <= today:
        raise PermitRuleError(f"collected_on must lie between the card's issue date {card.issued_on} and today {today}")


def _check_refusal_appealed(state: PermitState, event: RefusalAppealedEvent, today: date) -> None:
    refusal = state.refusal
    if refusal is None or refusal.appeal_result is not None:
        raise PermitRuleError("no refused extension or permanent permit can be appealed now")
    if refusal.appeal_lodged_on is not None:
        raise PermitRuleError(f"an appeal against this refusal was already lodged on {refusal.appeal_lodged_on}")
    last = min(local_date(refusal.appeal_by), today)
    if not refusal.decided_on <= event.lodged_on <= last:
        raise PermitRuleError(
            f"lodged_on must lie between the refusal on {refusal.decided_on} and the end of the appeal period "
            f"{local_date(refusal.appeal_by)} (and not after today {today})"
        )


def _check_appeal_decided(state: PermitState, event: AppealDecidedEvent, today: date) -> None:
    refusal = state.refusal
    if refusal is None or refusal.appeal_lodged_on is None or refusal.appeal_result is not None:
        raise PermitRuleError("no appeal against a refused extension or permanent permit is pending")


_CHECKS: dict[PermitTrigger, Callable[[PermitState, Any, date], None]] = {
    T.EXTENSION_APPLICATION: _check_extension_application,
    T.PERMANENT_APPLICATION: _check_permanent_application,
    T.REPORT_CHANGE: _check_report_change,
    T.FINE_DECISION: _check_fine_decision,
    T.REPLACE_DOCUMENT: _check_replace_document,
    T.DOCUMENT_COLLECTED: _check_document_collected,
    T.REFUSAL_APPEALED: _check_refusal_appealed,
    T.APPEAL_DECIDED: _check_appeal_decided,
}


# --- what an event leads to ---------------------------------------------------------------------

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


def fine_maximum(serious: bool) -> Decimal:
    """EUR 1,500 for a serious violation, half for a less serious one (domain.md, "Obligation
    to provide information"; IND page on administrative fines)."""
    return FINE_MAXIMUM_EUR if serious else FINE_MAXIMUM_LESS_SERIOUS_EUR


def warning_counts(state: PermitState, reported_on: date) -> bool:
    """A warning from the last 2 years still counts on the day the change was reported."""
    return any(w.issued_on <= reported_on <= w.valid_until for w in state.warnings)


def violation_outcome(state: PermitState, event: ReportChangeEvent, late_report_weeks: int) -> ViolationOutcome:
    """In time: nothing.  Late and serious: a fine may follow at once.  Late and less
    serious: a warning first; a fine (at most half the maximum) only while a warning from
    the last 2 years counts.  Source: domain.md, "Obligation to provide information" (a
    first violation usually gets a warning; a repeat within 2 years or a serious violation
    a fine of at most EUR 1,500, halved for a less serious one); issue 9 point 9."""
    if not is_late(event.occurred_on, event.reported_on, late_report_weeks):
        return ViolationOutcome.NONE
    if event.serious or warning_counts(state, event.reported_on):
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


def refusal_appeal_period(weeks: int) -> Period:
    return Period(
        amount=weeks,
        unit=Unit.WEEKS,
        rule=Rule.ATW,
        basis="Vw 2000 art. 69(1) (appeal against a decision on an asylum permit; period unconfirmed)",
    )


def new_refusal(state: PermitState, now: datetime, appeal_weeks: int) -> Refusal:
    """The refusal of the pending application, with the end of its appeal period."""
    pending = state.pending
    assert pending is not None, "a decision needs a pending application"
    return Refusal(
        kind=pending.kind,
        sequence=pending.sequence,
        decided_on=local_date(now),
        appeal_by=compute(now, refusal_appeal_period(appeal_weeks)).due,
    )


def refusal_open(state: PermitState, now: datetime) -> bool:
    """Whether a refusal still keeps residence lawful: its appeal period runs, or an appeal
    against it is pending (Vw 2000 art. 8(h) with art. 82(1): the decision's effect waits
    for the appeal period and, once lodged, for the appeal; unconfirmed reading)."""
    refusal = state.refusal
    if refusal is None or refusal.appeal_result is not None:
        return False
    return refusal.appeal_lodged_on is not None or now < refusal.appeal_by


def after_refusal(state: PermitState, today: date) -> PermitStatus:
    """A refused application leaves the permit active while it is valid; after its last
    valid day, residence continues while the refusal can be appealed."""
    return PermitStatus.ACTIVE if today <= state.valid_until else PermitStatus.AWAITING_APPEAL


def after_appeal(state: PermitState, result: JudgmentResult, today: date) -> PermitStatus:
    """Upheld: the refusal stands (active while still valid, else expired).  Annulled: the
    IND decides the application again, so it is pending once more."""
    refusal = state.refusal
    assert refusal is not None
    if result is JudgmentResult.UPHELD:
        return PermitStatus.ACTIVE if today <= state.valid_until else PermitStatus.EXPIRED
    return PermitStatus.EXTENSION_PENDING if refusal.kind is ApplicationKind.EXTENSION else PermitStatus.PERMANENT_PENDING


def new_fine(state: PermitState, event: ReportChangeEvent, today: date) -> Fine:
    """A fine proposal; an officer decides whether and how much (``fine-decision``)."""
    return Fine(
        sequence=len(state.fines) + 1,
        violation=state.violations + 1,
        proposed_on=today,
        maximum_eur=fine_maximum(event.serious),
        less_serious=not event.serious,
        change_kind=event.kind,
        occurred_on=event.occurred_on,
        reported_on=event.reported_on,
    )
