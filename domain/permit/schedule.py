"""The permit's dates and timers: terms, reminders, the five-year mark, expiry.

Timers are absolute instants kept in ``PermitState`` and recomputed from ``valid_until``
whenever an event moves it, so a renewal reschedules every reminder.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pydantic import AwareDatetime

from domain.deadlines import AMSTERDAM, add_months
from domain.messages import PermitInput
from domain.models import Model
from domain.permit.law import EXTENSION_WINDOW_MONTHS, PERMANENT_AFTER_MONTHS
from domain.permit.state import Card, CardStatus, PermitSettings, PermitState, Reminder
from domain.permit.transitions import TERMINAL, PermitStatus, PermitTrigger, PermitType, allowed

T = PermitTrigger


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


def permanent_window_opens(first_valid_from: date, valid_until: date) -> date:
    """The first day a permanent permit may be applied for: once 5 consecutive years are
    reached, or from 6 months before the temporary permit expires, whichever comes first
    (domain.md, "Permanent asylum permit"; IND page on permanent asylum residency).

    The letter about a permanent permit goes out on this day, not when the five years are
    reached: with a first term that ends the day before the fifth anniversary, that day
    would be the day after expiry.
    """
    return min(five_years_on(first_valid_from), extension_window_opens(valid_until))


def reminder_schedule(valid_until: date, months: tuple[int, ...]) -> list[Reminder]:
    """The extension reminders, earliest first, at the start of their Dutch day."""
    return [
        Reminder(months_before=m, due_at=start_of_day(add_months(valid_until, -m))) for m in sorted(set(months), reverse=True)
    ]


def term_end(valid_from: date, term_years: int) -> date:
    """The last valid day of a term: the day before the anniversary that completes it.

    A permit is valid *through* ``valid_until``, so five years from 2 March 2026 end on
    1 March 2031, not on 2 March 2031 (which would be five years and one day): domain.md,
    "The permit", after ABRvS 4 March 2024, 202107377/1/V1.
    """
    return add_months(valid_from, 12 * term_years) - timedelta(days=1)


def first_term(received_on: date, term_years: int, effective_from: date | None = None) -> tuple[date, date]:
    """The first term of an asylum permit: (valid_from, valid_until).

    The permit takes effect on the day the asylum application was received, not on the
    decision date (ABRvS 4 March 2024, 202107377/1/V1, on the *ingangsdatum*); a decision
    may name a later effective date (with a reason), never an earlier one.  The five
    consecutive years towards a permanent permit count from ``valid_from`` too.
    """
    if effective_from is not None and effective_from < received_on:
        raise ValueError(f"effective_from {effective_from} lies before the day the application was received ({received_on})")
    valid_from = effective_from or received_on
    return valid_from, term_end(valid_from, term_years)


def new_term(valid_until: date, term_years: int) -> tuple[date, date]:
    """An extension runs for another term from the day after the old expiry: exactly
    ``term_years`` years, (valid_from, valid_until)."""
    valid_from = valid_until + timedelta(days=1)
    return valid_from, term_end(valid_from, term_years)


def initial_state(handover: PermitInput, settings: PermitSettings) -> PermitState:
    """The state of a freshly issued permit, from the application workflow's hand-over."""
    permit_type = PermitType(handover.permit_type)
    state = PermitState(
        application_id=handover.application_id,
        permit_type=permit_type,
        document_number=handover.document_number,
        valid_from=handover.valid_from,
        valid_until=handover.valid_until,
        first_valid_from=handover.first_valid_from or handover.valid_from,
        language=handover.language,
        term=handover.term,
        status_changes=1,  # the issue: the first run records it
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
        five_years_at=start_of_day(five_years_on(handover.first_valid_from or handover.valid_from)),
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
    state.permanent_letter_at = (
        start_of_day(permanent_window_opens(state.first_valid_from, state.valid_until))
        if state.permit_type is PermitType.TEMPORARY
        else None
    )


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
    letter_at = permanent_letter_due(state)
    if allowed(status, T.PERMANENT_WINDOW_OPENS) and letter_at is not None:
        candidates.append(Due(at=letter_at, trigger=T.PERMANENT_WINDOW_OPENS))
    if allowed(status, T.EXPIRY_REACHED) and not state.expiry_passed_while_pending:
        candidates.append(Due(at=state.expires_at, trigger=T.EXPIRY_REACHED))
    refusal = state.refusal
    if allowed(status, T.APPEAL_PERIOD_ENDED) and refusal is not None and refusal.appeal_lodged_on is None:
        candidates.append(Due(at=refusal.appeal_by, trigger=T.APPEAL_PERIOD_ENDED))
    if allowed(status, T.DESK_BOOKING_DUE):
        retries = [
            c.booking_retry_at
            for c in state.cards
            if c.booking_retry_at is not None and c.status is CardStatus.AWAITING_COLLECTION
        ]
        if retries:
            candidates.append(Due(at=min(retries), trigger=T.DESK_BOOKING_DUE))
    return min(candidates, key=lambda d: d.at, default=None)


def permanent_letter_due(state: PermitState) -> datetime | None:
    """When the letter about a permanent permit is due; None once sent or for a permanent permit."""
    if state.permit_type is not PermitType.TEMPORARY or state.five_years_letter_sent_at is not None:
        return None
    return state.permanent_letter_at or state.five_years_at


def due_reminder(state: PermitState, now: datetime) -> Reminder | None:
    """The reminder to send now.  When several are overdue (a worker was down, or an
    application was pending), only the latest is sent (``effects.reminder_sent`` skips the
    older ones), so the holder never gets a pile of reminders at once."""
    overdue = [r for r in state.reminders if r.sent_at is None and not r.skipped and r.due_at <= now]
    return max(overdue, key=lambda r: r.due_at, default=None)


def is_finished(state: PermitState) -> bool:
    """The workflow ends once the permit is over and nothing is left to decide or collect."""
    if state.status not in TERMINAL or state.open_fine() is not None:
        return False
    if state.status is PermitStatus.REPLACED_BY_PERMANENT:
        return state.card_awaiting_collection() is None
    return True
