"""What events do to a permit (domain/permit/effects.py) and what its letters say, without a server.

Each rule's test names its source in the docstring (see docs/legal.md, "Permit").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from activities.letters import LetterOutbox
from activities.registry_db import Registry
from domain.deadlines import AMSTERDAM
from domain.messages import PermitInput, PermitIssued, Recipient, SendLetter, SlotBooking
from domain.models import JudgmentResult
from domain.permit import effects as fx
from domain.permit import letters
from domain.permit.events import (
    AppealDecidedEvent,
    RefusalAppealedEvent,
    ReportChangeEvent,
    ViolationOutcome,
)
from domain.permit.rules import PermitRuleError, check_event, refusal_open, violation_outcome
from domain.permit.schedule import first_term, initial_state, next_due, permanent_window_opens, term_end
from domain.permit.state import ApplicationKind, CardStatus, PermitSettings, PermitState
from domain.permit.transitions import PermitStatus, PermitTrigger

S = PermitStatus
T = PermitTrigger
SETTINGS = PermitSettings()


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM)


def permit(valid_from: date = date(2026, 3, 2)) -> PermitState:
    valid_from, valid_until = first_term(valid_from, 5)
    return initial_state(
        PermitInput(
            application_id="HASA-2026-000123",
            document_number="III-V123AL568",
            valid_from=valid_from,
            valid_until=valid_until,
            issued_at=at(date(2026, 11, 2)),
        ),
        SETTINGS,
    )


def pending_extension(today: date) -> PermitState:
    return fx.applied(permit(), ApplicationKind.EXTENSION, today, at(today))


# --- the permit's dates ---------------------------------------------------------------------------


def test_first_term_runs_from_receipt_to_the_day_before_the_fifth_anniversary() -> None:
    """ABRvS 4 March 2024, 202107377/1/V1: the permit takes effect on the day the
    application was received; Vw 2000 art. 28(2): five years, so the last valid day is the
    day before the fifth anniversary (domain.md, "The permit")."""
    assert first_term(date(2026, 3, 2), 5) == (date(2026, 3, 2), date(2031, 3, 1))
    assert first_term(date(2024, 2, 29), 5) == (date(2024, 2, 29), date(2029, 2, 27))
    assert first_term(date(2026, 3, 2), 5, effective_from=date(2026, 6, 1)) == (date(2026, 6, 1), date(2031, 5, 31))
    with pytest.raises(ValueError, match="before the day the application was received"):
        first_term(date(2026, 3, 2), 5, effective_from=date(2026, 3, 1))
    assert term_end(date(2031, 3, 2), 5) == date(2036, 3, 1)  # an extension: exactly five years too


def test_the_five_years_count_from_receipt_and_the_letter_goes_when_one_may_apply() -> None:
    """The five years towards a permanent permit run from the permit's start (ABRvS
    202107377/1/V1); a permanent permit may be applied for from 6 months before expiry or
    once past 5 years (domain.md; IND page on permanent asylum residency): the letter goes
    on the first of those days, not on the last valid day (issue 9 point 7)."""
    s = permit()
    assert s.first_valid_from == date(2026, 3, 2)
    assert permanent_window_opens(s.first_valid_from, s.valid_until) == date(2030, 9, 1)
    assert s.permanent_letter_at == datetime(2030, 9, 1, tzinfo=AMSTERDAM)
    sent = fx.reminder_sent(s, s.reminders[0].due_at, s.reminders[0].due_at)
    due = next_due(sent)
    assert due is not None
    assert (due.trigger, due.at) == (T.PERMANENT_WINDOW_OPENS, datetime(2030, 9, 1, tzinfo=AMSTERDAM))


# --- effects are pure and follow the table --------------------------------------------------------


def test_extension_granted_supersedes_the_cards_and_reschedules() -> None:
    before = pending_extension(date(2030, 10, 1))
    card = fx.new_card(
        PermitIssued(
            document_number="III-V223AL568",
            permit_type="III",
            valid_from=date(2031, 3, 2),
            valid_until=date(2036, 3, 1),
            endorsement="Arbeid vrij toegestaan. TWV niet vereist.",
        ),
        "extension-2",
        date(2030, 11, 1),
    )
    booked = fx.with_booking(card, SlotBooking(booked=False), at(date(2030, 11, 1)), 24)
    assert booked.booking_retry_at == at(date(2030, 11, 2))
    after = fx.extension_granted(before, booked, at(date(2030, 11, 1)), SETTINGS)
    assert after.status is S.ACTIVE
    assert (after.term, after.valid_from, after.valid_until) == (2, date(2031, 3, 2), date(2036, 3, 1))
    assert [c.status for c in after.cards] == [CardStatus.SUPERSEDED, CardStatus.AWAITING_COLLECTION]
    assert after.reminders[0].due_at == datetime(2035, 9, 1, tzinfo=AMSTERDAM)
    assert after.status_changes == before.status_changes + 1
    assert before.status is S.EXTENSION_PENDING
    assert len(before.cards) == 1


def test_a_refusal_after_expiry_keeps_residence_lawful_until_the_appeal_is_decided() -> None:
    """Vw 2000 art. 8(h) with art. 82(1) (unconfirmed reading, docs/legal.md): residence is
    lawful while the appeal period against the refusal of an extension runs and, once an
    appeal is lodged, until it is decided; the permit expires only then (issue 9 point 8)."""
    s = pending_extension(date(2031, 1, 10))
    s = fx.expiry_reached(s, at(date(2031, 3, 2), 0))
    assert s.status is S.EXTENSION_PENDING
    assert s.expiry_passed_while_pending
    refused = fx.application_refused(s, T.EXTENSION_DECISION, at(date(2031, 4, 1)), appeal_weeks=4)
    assert refused.status is S.AWAITING_APPEAL
    assert refused.refusal is not None
    # 4 weeks from Tue 1 April 2031 end on Tue 29 April 2031 (a working day: not moved)
    assert refused.refusal.appeal_by.astimezone(AMSTERDAM).date() == date(2031, 4, 29)
    assert refusal_open(refused, at(date(2031, 4, 29)))
    due = next_due(refused)
    assert due is not None
    assert due.trigger is T.APPEAL_PERIOD_ENDED

    with pytest.raises(PermitRuleError, match="lodged_on must lie between"):
        check_event(refused, T.REFUSAL_APPEALED, RefusalAppealedEvent(lodged_on=date(2031, 5, 1)), date(2031, 5, 1))
    appealed = fx.refusal_appealed(refused, RefusalAppealedEvent(lodged_on=date(2031, 4, 20)), at(date(2031, 4, 20)))
    assert next_due(appealed) is None  # nothing ends it now but the court
    assert refusal_open(appealed, at(date(2032, 1, 1)))

    upheld = fx.appeal_decided(appealed, AppealDecidedEvent(result=JudgmentResult.UPHELD), at(date(2031, 9, 1)))
    assert upheld.status is S.EXPIRED
    annulled = fx.appeal_decided(appealed, AppealDecidedEvent(result=JudgmentResult.ANNULLED), at(date(2031, 9, 1)))
    assert annulled.status is S.EXTENSION_PENDING
    assert annulled.pending is not None
    assert annulled.expiry_passed_while_pending


def test_a_refusal_while_valid_leaves_the_permit_active_and_expiry_waits_for_the_appeal_period() -> None:
    """A refusal before the last valid day changes nothing until then; if the appeal period
    is still running at expiry, residence continues lawfully (Vw 2000 art. 82(1), unconfirmed)."""
    s = pending_extension(date(2031, 1, 10))
    refused = fx.application_refused(s, T.EXTENSION_DECISION, at(date(2031, 2, 20)), appeal_weeks=4)
    assert refused.status is S.ACTIVE
    at_expiry = fx.expiry_reached(refused, at(date(2031, 3, 2), 0))
    assert at_expiry.status is S.AWAITING_APPEAL
    ended = fx.appeal_period_ended(at_expiry, at(date(2031, 3, 21), 0))
    assert ended.status is S.EXPIRED
    # long before expiry, the appeal period is over by then: plain expiry
    early = fx.application_refused(pending_extension(date(2030, 10, 1)), T.EXTENSION_DECISION, at(date(2030, 10, 5)), 4)
    assert fx.expiry_reached(early, at(date(2031, 3, 2), 0)).status is S.EXPIRED


def test_a_first_serious_violation_is_a_fine_proposal_a_less_serious_one_a_warning() -> None:
    """domain.md, "Obligation to provide information" (IND page on administrative fines):
    a serious violation may be fined at once, at most EUR 1,500; a less serious one gets a
    warning first and then at most half (issue 9 point 9)."""
    s = permit()
    now = at(date(2027, 6, 1))
    serious = ReportChangeEvent(kind="household", occurred_on=date(2027, 1, 1), reported_on=date(2027, 6, 1), serious=True)
    fined = fx.change_reported(s, serious, violation_outcome(s, serious, 4), now)
    assert [(f.maximum_eur, f.less_serious) for f in fined.fines] == [(1500, False)]
    assert fined.warnings == []
    record = fx.violation_record(fined, serious, ViolationOutcome.FINE, date(2027, 6, 1))
    assert (record.sequence, record.fine_maximum_eur, record.warning_valid_until) == (1, 1500, None)
    less = serious.model_copy(update={"serious": False})
    warned = fx.change_reported(s, less, violation_outcome(s, less, 4), now)
    assert warned.fines == []
    assert len(warned.warnings) == 1


# --- letters --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outbox() -> Iterator[LetterOutbox]:
    registry = Registry("sqlite://")
    yield LetterOutbox(Path("unused"), registry)
    registry.dispose()


def render(outbox: LetterOutbox, letter: letters.Letter) -> str:
    holder = SimpleNamespace(
        given_names="Test", family_name="Holder", full_name="Test Holder", v_number="0000000000",
        date_of_birth=date(1990, 1, 1), nationality="XXX",
    )  # fmt: skip
    message = SendLetter(
        application_id="HASA-2026-000123",
        key=f"permit-{letter.key}",
        kind=letter.kind,
        recipients=[Recipient.APPLICANT],
        facts={"letter_date": "2031-04-01", **letter.facts},
    )
    return outbox.render_text(message, Recipient.APPLICANT, holder, None, date(2031, 4, 1))  # type: ignore[arg-type]


def test_a_refused_permanent_permit_does_not_say_an_expired_permit_remains_valid(outbox: LetterOutbox) -> None:
    """Issue 9 point 14: after its last valid day the temporary permit does not "remain
    valid"; the letter says residence continues while the appeal runs (Vw 2000 art. 8(h),
    82(1)) and gives the appeal date."""
    s = fx.applied(permit(), ApplicationKind.PERMANENT, date(2031, 1, 10), at(date(2031, 1, 10)), False)
    after_expiry = fx.expiry_reached(s, at(date(2031, 3, 2), 0))
    refused = fx.application_refused(after_expiry, T.PERMANENT_DECISION, at(date(2031, 4, 1)), 4)
    text = render(outbox, letters.refused(T.PERMANENT_DECISION, "civic integration", after_expiry, refused))
    assert "blijft geldig" not in text
    assert "was geldig tot en met 1 maart 2031" in text
    assert "29 april 2031" in text
    assert "totdat de rechter op uw beroep heeft beslist" in text
    still = fx.application_refused(s, T.PERMANENT_DECISION, at(date(2031, 2, 1)), 4)
    text = render(outbox, letters.refused(T.PERMANENT_DECISION, "civic integration", s, still))
    assert "blijft geldig tot en met 1 maart 2031" in text
    assert "Nederland verlaten" not in text


def test_an_extension_refused_while_valid_does_not_tell_the_holder_to_leave(outbox: LetterOutbox) -> None:
    """Issue 9 point 12 for the permit: "U moet Nederland verlaten" only where that is the
    consequence, not while the permit is still valid."""
    s = pending_extension(date(2030, 10, 1))
    refused = fx.application_refused(s, T.EXTENSION_DECISION, at(date(2030, 10, 5)), 4)
    text = render(outbox, letters.refused(T.EXTENSION_DECISION, "grounds lapsed", s, refused))
    assert "Nederland verlaten" not in text
    assert "blijft geldig tot en met 1 maart 2031" in text


def test_the_warning_says_whether_it_is_the_first_and_offers_no_objection(outbox: LetterOutbox) -> None:
    """A warning is not a decision (besluit), so no objection is offered; a fine is one and
    its letter offers objection (Awb art. 1:3 and 8:1 via 7:1; issue 9 point 9)."""
    s = permit()
    event = ReportChangeEvent(kind="address", occurred_on=date(2027, 1, 1), reported_on=date(2027, 3, 1))
    warned = fx.change_reported(s, event, ViolationOutcome.WARNING, at(date(2027, 3, 1)))
    text = render(outbox, letters.warning(event, warned.warnings[0]))
    assert "Dit is uw eerste waarschuwing" in text
    assert "geen bezwaar tegen maken" in text
    assert "bezwaar maken bij de IND" not in text
    later = event.model_copy(update={"occurred_on": date(2030, 1, 1), "reported_on": date(2030, 3, 1)})
    again = fx.change_reported(warned, later, ViolationOutcome.WARNING, at(date(2030, 3, 1)))
    assert "U heeft al eerder een waarschuwing gekregen" in render(outbox, letters.warning(later, again.warnings[1]))
    serious = event.model_copy(update={"serious": True})
    fined = fx.change_reported(s, serious, ViolationOutcome.FINE, at(date(2027, 3, 1)))
    text = render(outbox, letters.fine(fined.fines[0], fined.fines[0].maximum_eur - 500))
    assert "ernstig" in text
    assert "ook zonder eerdere waarschuwing" in text
    assert "bezwaar maken bij de IND" in text


def test_the_expiry_letter_after_an_upheld_refusal_names_it(outbox: LetterOutbox) -> None:
    s = pending_extension(date(2031, 1, 10))
    s = fx.expiry_reached(s, at(date(2031, 3, 2), 0))
    refused = fx.application_refused(s, T.EXTENSION_DECISION, at(date(2031, 4, 1)), 4)
    ended = fx.appeal_period_ended(refused, at(date(2031, 4, 30), 0))
    letter = letters.expired(ended)
    assert letter is not None
    text = render(outbox, letter)
    assert "geen beroep ingesteld" in text
    assert "geen aanvraag tot verlenging ontvangen" not in text
    assert letters.expired(refused) is None
