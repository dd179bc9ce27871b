"""The permit's rules and transition table, without a server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.deadlines import AMSTERDAM
from domain.messages import PermitInput
from domain.permit.effects import reminder_sent
from domain.permit.events import (
    PERMIT_EVENT_MODELS,
    DocumentCollectedEvent,
    ExtensionApplicationEvent,
    FineDecisionEvent,
    PermanentApplicationEvent,
    ReplaceDocumentEvent,
    ReplacementReason,
    ReportChangeEvent,
    ViolationOutcome,
)
from domain.permit.rules import (
    PermitRuleError,
    check_event,
    fine_maximum,
    is_late,
    new_fine,
    new_warning,
    replacement_refusal,
    violation_outcome,
)
from domain.permit.schedule import (
    due_reminder,
    expiry_instant,
    extension_window_opens,
    initial_state,
    is_finished,
    new_term,
    next_due,
)
from domain.permit.state import CardStatus, Fine, FineStatus, PermitSettings, PermitState, PermitWorkflowInput
from domain.permit.transitions import (
    EVENT_WHEN,
    PERMIT_EVENTS,
    PERMIT_TRANSITIONS,
    TERMINAL,
    PermitStatus,
    PermitTransitionError,
    PermitTrigger,
    PermitType,
    allowed,
    mermaid,
    move,
    rejection,
)
from domain.permit.view import details_markdown, view

S = PermitStatus
T = PermitTrigger
ISSUED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=AMSTERDAM)


def handover(valid_from: date = date(2026, 3, 2), valid_until: date = date(2031, 3, 1)) -> PermitInput:
    return PermitInput(
        application_id="HASA-2026-000123",
        document_number="III-V123AL568",
        valid_from=valid_from,
        valid_until=valid_until,
        issued_at=ISSUED_AT,
    )


def state(**settings: object) -> PermitState:
    return initial_state(handover(), PermitSettings.model_validate(settings))


# --- the table ------------------------------------------------------------------------------


def test_every_status_has_a_row_and_every_target_is_a_status() -> None:
    assert set(PERMIT_TRANSITIONS) == set(PermitStatus)
    for edges in PERMIT_TRANSITIONS.values():
        for targets in edges.values():
            assert targets <= set(PermitStatus)


def test_every_human_event_has_a_model_and_a_when() -> None:
    assert set(PERMIT_EVENT_MODELS) == {e.value for e in PERMIT_EVENTS}
    assert set(EVENT_WHEN) == set(PERMIT_EVENTS)


def test_terminal_statuses_take_no_status_changing_event() -> None:
    for status in TERMINAL:
        for targets in PERMIT_TRANSITIONS[status].values():
            assert targets == {status}


@pytest.mark.parametrize(
    ("status", "trigger", "ok"),
    [
        (S.ACTIVE, T.EXTENSION_APPLICATION, True),
        (S.ACTIVE, T.EXTENSION_DECISION, False),
        (S.EXTENSION_PENDING, T.EXTENSION_APPLICATION, False),
        (S.EXTENSION_PENDING, T.REPORT_CHANGE, True),
        (S.EXTENSION_PENDING, T.REPLACE_DOCUMENT, False),
        (S.PERMANENT_PENDING, T.WITHDRAW_PERMIT, True),
        (S.EXPIRED, T.WITHDRAW_PERMIT, False),
        (S.WITHDRAWN, T.FINE_DECISION, True),
        (S.REPLACED_BY_PERMANENT, T.DOCUMENT_COLLECTED, True),
        (S.REPLACED_BY_PERMANENT, T.REPORT_CHANGE, False),
    ],
)
def test_allowed(status: PermitStatus, trigger: PermitTrigger, ok: bool) -> None:
    assert allowed(status, trigger) is ok


def test_move_checks_the_table() -> None:
    assert move(S.ACTIVE, T.WITHDRAW_PERMIT, S.WITHDRAWN) is S.WITHDRAWN
    with pytest.raises(PermitTransitionError):
        move(S.ACTIVE, T.WITHDRAW_PERMIT, S.EXPIRED)


def test_rejection_says_what_the_permit_waits_for() -> None:
    text = rejection(S.ACTIVE, T.EXTENSION_DECISION)
    assert "'extension-decision' is not allowed now" in text
    assert "only while an extension application is pending" in text


def test_mermaid_has_every_status_and_event() -> None:
    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2")
    for status in PermitStatus:
        assert status.value in diagram
    for event in PERMIT_EVENTS:
        assert event.value in diagram
    assert "expired --> [*]" in diagram


# --- dates and timers ---------------------------------------------------------------------------


def test_initial_state_schedules_reminders_five_years_and_expiry() -> None:
    s = state()
    assert [r.months_before for r in s.reminders] == [6, 3, 1]
    assert [r.due_at for r in s.reminders] == [
        datetime(2030, 9, 1, tzinfo=AMSTERDAM),
        datetime(2030, 12, 1, tzinfo=AMSTERDAM),
        datetime(2031, 2, 1, tzinfo=AMSTERDAM),
    ]
    assert s.expires_at == datetime(2031, 3, 2, tzinfo=AMSTERDAM)
    assert s.five_years_at == datetime(2031, 3, 2, tzinfo=AMSTERDAM)
    assert s.document_numbers == ["III-V123AL568"]
    assert s.cards[0].status is CardStatus.CURRENT


def test_reminder_offsets_are_a_setting() -> None:
    s = state(extension_reminder_months=[2, 6])
    assert [r.months_before for r in s.reminders] == [6, 2]
    with pytest.raises(ValidationError):
        PermitSettings(extension_reminder_months=(7,))


def test_instants_are_aware_and_dutch_across_dst() -> None:
    # 1 July is summer time (UTC+2); 1 January winter time (UTC+1).
    assert expiry_instant(date(2031, 6, 30)).utcoffset() == timedelta(hours=2)
    assert expiry_instant(date(2031, 12, 31)).utcoffset() == timedelta(hours=1)


def test_next_due_follows_the_status() -> None:
    s = state()
    due = next_due(s)
    assert due is not None
    assert due.trigger is T.EXTENSION_REMINDER_DUE
    s.status = S.EXTENSION_PENDING
    due = next_due(s)
    assert due is not None
    assert due.trigger is T.EXPIRY_REACHED  # no reminders while an extension is pending
    s.expiry_passed_while_pending = True
    assert next_due(s) is None
    s.status = S.WITHDRAWN
    assert next_due(s) is None


def test_overdue_reminders_send_only_the_latest() -> None:
    s = state()
    now = datetime(2031, 2, 15, tzinfo=AMSTERDAM)
    reminder = due_reminder(s, now)
    assert reminder is not None
    assert reminder.months_before == 1
    after = reminder_sent(s, reminder.due_at, now)
    assert [r.skipped for r in after.reminders] == [True, True, False]
    assert [r.sent_at for r in after.reminders] == [None, None, now]
    assert [r.skipped for r in s.reminders] == [False, False, False]  # pure: the old state is unchanged


def test_new_term_runs_five_years_from_the_old_expiry() -> None:
    assert new_term(date(2031, 3, 1), 5) == (date(2031, 3, 2), date(2036, 3, 1))


def test_is_finished() -> None:
    s = state()
    assert not is_finished(s)
    s.status = S.EXPIRED
    assert is_finished(s)
    s.fines.append(
        Fine(
            sequence=1,
            violation=2,
            proposed_on=date(2027, 1, 1),
            maximum_eur=Decimal(1500),
            less_serious=False,
            change_kind="address",
            occurred_on=date(2026, 10, 1),
            reported_on=date(2026, 12, 1),
        )
    )
    assert not is_finished(s)  # a proposed fine is decided first
    s.fines[0].status = FineStatus.IMPOSED
    assert is_finished(s)


# --- events ---------------------------------------------------------------------------------------


def test_extension_window() -> None:
    s = state()
    assert extension_window_opens(s.valid_until) == date(2030, 9, 1)
    with pytest.raises(PermitRuleError, match="from 2030-09-01"):
        check_event(s, T.EXTENSION_APPLICATION, ExtensionApplicationEvent(submitted_on=date(2030, 8, 31)), date(2030, 8, 31))
    check_event(s, T.EXTENSION_APPLICATION, ExtensionApplicationEvent(submitted_on=date(2030, 9, 1)), date(2030, 9, 1))
    with pytest.raises(PermitRuleError, match="expired"):
        check_event(s, T.EXTENSION_APPLICATION, ExtensionApplicationEvent(submitted_on=date(2031, 3, 1)), date(2031, 3, 2))


def test_permanent_application_needs_five_years_or_the_window() -> None:
    s = state()
    event = PermanentApplicationEvent(submitted_on=date(2029, 1, 1), civic_integration_met=True)
    with pytest.raises(PermitRuleError, match="5 consecutive years"):
        check_event(s, T.PERMANENT_APPLICATION, event, date(2029, 1, 1))
    check_event(s, T.PERMANENT_APPLICATION, event, date(2030, 10, 1))  # within 6 months of expiry
    s.valid_until = date(2036, 3, 1)  # a second term: past 5 years, any time
    check_event(s, T.PERMANENT_APPLICATION, event, date(2032, 1, 1))


def test_replacement_needs_a_police_report_for_lost_or_stolen() -> None:
    with pytest.raises(ValidationError, match="police report"):
        ReplaceDocumentEvent.model_validate({"reason": "stolen"})
    ReplaceDocumentEvent.model_validate({"reason": "damaged"})
    ReplaceDocumentEvent.model_validate({"reason": "lost", "police_report": "PL0900-2027-123"})


def test_no_replacement_while_a_new_card_waits() -> None:
    s = state()
    s.cards[0].status = CardStatus.AWAITING_COLLECTION
    with pytest.raises(PermitRuleError, match="already waits at the desk"):
        check_event(s, T.REPLACE_DOCUMENT, ReplaceDocumentEvent(reason=ReplacementReason.DAMAGED), date(2027, 1, 1))


def test_replacement_refused_with_less_than_six_months_left() -> None:
    assert replacement_refusal(date(2031, 3, 1), date(2030, 9, 1)) is None
    refusal = replacement_refusal(date(2031, 3, 1), date(2030, 9, 2))
    assert refusal is not None
    assert refusal.endswith("apply for extension instead")


def test_late_reports_a_warning_then_a_fine_within_two_years() -> None:
    s = state()
    assert not is_late(date(2027, 1, 1), date(2027, 1, 29), 4)
    assert is_late(date(2027, 1, 1), date(2027, 1, 30), 4)
    first = ReportChangeEvent(kind="address", occurred_on=date(2027, 1, 1), reported_on=date(2027, 3, 1))
    assert violation_outcome(s, first, 4) is ViolationOutcome.WARNING
    s.warnings.append(new_warning(s, first, date(2027, 3, 1)))
    s.violations = 1
    assert s.warnings[0].valid_until == date(2029, 3, 1)
    second = ReportChangeEvent(kind="household", occurred_on=date(2028, 1, 1), reported_on=date(2028, 3, 1))
    assert violation_outcome(s, second, 4) is ViolationOutcome.FINE
    fine = new_fine(s, second, date(2028, 3, 1))
    assert fine.maximum_eur == Decimal(750)
    assert fine.violation == 2
    third = ReportChangeEvent(kind="work", occurred_on=date(2029, 2, 1), reported_on=date(2029, 4, 1))
    assert violation_outcome(s, third, 4) is ViolationOutcome.WARNING  # the warning has lapsed


def test_a_serious_violation_may_be_fined_at_once_a_less_serious_one_is_warned_first() -> None:
    """domain.md, "Obligation to provide information" (IND page on administrative fines): a
    first violation usually gets a warning; a serious violation may get a fine of at most
    EUR 1,500 at once; a less serious one at most half, and only after a warning (issue 9
    point 9)."""
    s = state()
    serious = ReportChangeEvent(kind="household", occurred_on=date(2027, 1, 1), reported_on=date(2027, 6, 1), serious=True)
    assert violation_outcome(s, serious, 4) is ViolationOutcome.FINE
    fine = new_fine(s, serious, date(2027, 6, 1))
    assert (fine.maximum_eur, fine.less_serious) == (Decimal(1500), False)
    less = serious.model_copy(update={"serious": False})
    assert violation_outcome(s, less, 4) is ViolationOutcome.WARNING
    assert fine_maximum(serious=False) == Decimal(750)
    in_time = serious.model_copy(update={"reported_on": date(2027, 1, 20)})
    assert violation_outcome(s, in_time, 4) is ViolationOutcome.NONE  # reported in time: no violation at all


def test_fine_decision_checks_the_maximum() -> None:
    s = state()
    event = ReportChangeEvent(kind="address", occurred_on=date(2027, 1, 1), reported_on=date(2027, 3, 1))
    s.fines.append(new_fine(s, event.model_copy(update={"serious": True}), date(2027, 3, 1)))
    with pytest.raises(PermitRuleError, match="above the legal maximum of EUR 1,500"):
        check_event(s, T.FINE_DECISION, FineDecisionEvent(imposed=True, amount_eur=Decimal("1500.01")), date(2027, 3, 2))
    with pytest.raises(PermitRuleError, match="amount_eur 0"):
        check_event(s, T.FINE_DECISION, FineDecisionEvent(imposed=False, amount_eur=Decimal(10)), date(2027, 3, 2))
    check_event(s, T.FINE_DECISION, FineDecisionEvent(imposed=True, amount_eur=Decimal(1500)), date(2027, 3, 2))


def test_fine_decision_needs_a_proposal() -> None:
    with pytest.raises(PermitRuleError, match="no fine is proposed"):
        check_event(state(), T.FINE_DECISION, FineDecisionEvent(imposed=True, amount_eur=Decimal(100)), date(2027, 3, 2))


def test_document_collected_needs_a_waiting_card() -> None:
    with pytest.raises(PermitRuleError, match="no new card waits"):
        check_event(state(), T.DOCUMENT_COLLECTED, DocumentCollectedEvent(collected_on=date(2027, 1, 1)), date(2027, 1, 1))


def test_report_in_the_future_is_rejected() -> None:
    event = ReportChangeEvent(kind="address", occurred_on=date(2027, 1, 1), reported_on=date(2027, 2, 1))
    with pytest.raises(PermitRuleError, match="in the future"):
        check_event(state(), T.REPORT_CHANGE, event, date(2027, 1, 15))


# --- state, view and details ---------------------------------------------------------------------


def test_state_round_trips_through_json_for_continue_as_new() -> None:
    s = state()
    s.warnings.append(
        new_warning(
            s, ReportChangeEvent(kind="address", occurred_on=date(2027, 1, 1), reported_on=date(2027, 3, 1)), date(2027, 3, 1)
        )
    )
    carried = PermitWorkflowInput(state=s)
    again = PermitWorkflowInput.model_validate_json(carried.model_dump_json())
    assert again.state == s


def test_workflow_input_takes_handover_or_state() -> None:
    with pytest.raises(ValidationError):
        PermitWorkflowInput()
    with pytest.raises(ValidationError):
        PermitWorkflowInput(handover=handover(), state=state())


def test_view_and_details_hold_no_document_number() -> None:
    s = state()
    v = view(s)
    assert v.status is S.ACTIVE
    assert v.permit_type is PermitType.TEMPORARY
    assert v.next_reminder == date(2030, 9, 1)
    assert v.timeline[0].text.startswith("permit type III issued")
    assert [(i.on, i.text) for i in v.timeline if not i.done] == [
        (date(2030, 9, 1), "extension reminder (6 months before expiry) due"),
        (date(2030, 9, 1), "permanent permit may be applied for from this day: letter due"),
        (date(2030, 12, 1), "extension reminder (3 months before expiry) due"),
        (date(2031, 2, 1), "extension reminder (1 month before expiry) due"),
        (date(2031, 3, 1), "permit expires (last valid day)"),
    ]
    assert v.permanent_application_from == date(2030, 9, 1)
    details = details_markdown(s)
    assert "III-V123AL568" not in details
    assert "HASA-2026-000123" not in details
    assert "2031-03-01" in details


def test_every_permit_event_has_exactly_one_handler() -> None:
    """One row per event in PERMIT_EVENT_TABLE, one `@on(...)` method per row."""
    from domain.permit.events import PERMIT_EVENT_TABLE
    from workflows.permit import on

    assert on.missing(list(PERMIT_EVENT_TABLE)) == []
    assert set(on.handlers) == set(PERMIT_EVENT_TABLE)
    assert {event.name for event in PERMIT_EVENT_TABLE.values()} == {t.value for t in PERMIT_EVENTS}
