"""What the permit shows: the status view (``starter.py status``) and the operator's details."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, Field

from domain import alerts
from domain import search_attributes as sa
from domain.models import Model
from domain.permit.schedule import extension_window_opens, is_finished, local_date, permanent_letter_due, start_of_day
from domain.permit.state import ApplicationKind, CardStatus, Fine, PermitState, PermitWarning, Refusal
from domain.permit.transitions import TERMINAL, PermitStatus, PermitTrigger, PermitType

T = PermitTrigger


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
    permanent_application_from: date | None = Field(
        default=None, description="the first day a permanent permit may be applied for (temporary permits)"
    )
    appeal_by: AwareDatetime | None = Field(
        default=None, description="end of the appeal period against a refused extension or permanent permit"
    )
    appeal_lodged_on: date | None = None
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
                    text=f"extension reminder ({_months(reminder.months_before)} before expiry) due",
                    done=False,
                )
            )
    letter_at = permanent_letter_due(state)
    if letter_at is not None:
        items.append(
            TimelineItem(
                on=local_date(letter_at), text="permanent permit may be applied for from this day: letter due", done=False
            )
        )
    if not state.expiry_passed_while_pending and state.status is not PermitStatus.AWAITING_APPEAL:
        items.append(TimelineItem(on=state.valid_until, text="permit expires (last valid day)", done=False))
    refusal = state.refusal
    if refusal is not None and refusal.appeal_lodged_on is None and refusal.appeal_result is None:
        items.append(TimelineItem(on=local_date(refusal.appeal_by), text="appeal period against the refusal ends", done=False))
    return sorted(items, key=lambda i: i.on)


def _open_refusal(state: PermitState) -> Refusal | None:
    refusal = state.refusal
    return refusal if refusal is not None and refusal.appeal_result is None else None


def permanent_application_at(state: PermitState) -> datetime | None:
    if state.permit_type is not PermitType.TEMPORARY:
        return None
    return state.permanent_letter_at or state.five_years_at


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
        permanent_application_from=local_date(letter_at) if (letter_at := permanent_application_at(state)) else None,
        appeal_by=open_refusal.appeal_by if (open_refusal := _open_refusal(state)) else None,
        appeal_lodged_on=open_refusal.appeal_lodged_on if open_refusal else None,
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
        T.PERMANENT_WINDOW_OPENS.value,
        T.EXPIRY_REACHED.value,
        T.REFUSAL_APPEALED.value,
        T.APPEAL_DECIDED.value,
        T.APPEAL_PERIOD_ENDED.value,
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
        f"- Valid {state.valid_from} to {state.valid_until} (term {state.term})",
        f"- 5 years on temporary permits: {local_date(state.five_years_at)}",
    ]
    done = [f"- {local_date(entry.at)}: {entry.text}" for entry in state.timeline if entry.event in _DETAIL_EVENTS]
    due = [f"- {item.on}: {item.text}" for item in upcoming(state)]
    # One date per line, no table: the Web UI's narrow details pane runs table cells together.
    for title, items in (("Done", done), ("Due", due)):
        if items:
            lines += ["", f"**{title}**", "", *items]
    return "\n".join(lines)


def _months(n: int) -> str:
    return f"{n} month" if n == 1 else f"{n} months"


def search_attributes(state: PermitState, today: date) -> dict[str, Any]:
    """The permit's search attributes by name: what the workflow publishes, and what
    ``starter.py import-permits`` starts an imported permit with (no personal data)."""
    alert = alerts.permit_alert(
        expired=state.status is PermitStatus.EXPIRED,
        ended=state.status in (PermitStatus.WITHDRAWN, PermitStatus.REPLACED_BY_PERMANENT),
        valid_until=state.valid_until,
        window_opens=extension_window_opens(state.valid_until),
        today=today,
    )
    return {
        sa.PERMIT_STATUS.name: state.status.value,
        sa.PERMIT_VALID_UNTIL.name: start_of_day(state.valid_until),
        sa.FINE_PROPOSED.name: state.open_fine() is not None,
        sa.PERMIT_ALERT.name: alert.value,
    }
