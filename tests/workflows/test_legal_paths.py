"""Issue 9's paths on the time-skipping server: a missed interview, a not-processed decision
with an appeal, more time to decide, admissibility vs merits, manual interview booking, the
repair period from hand-over, and (issue 8 defect 8) event dates checked against the case.

Each test's docstring names its source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.converter import decode_search_attributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import search_attributes as sa
from domain.case import ApplicationInput, CaseOptions, CaseStatus
from domain.deadlines import AMSTERDAM, compute
from domain.identifiers import application_workflow_id
from domain.messages import LettersSent, SendLetter
from domain.models import Application
from domain.policy import ADMISSIBILITY, EU_APR, MERITS
from tests.support.fakes import FakeWorld
from tests.support.temporal import worker as new_test_worker
from tests.workflows.test_application import (
    DECIDE,
    _started,
    make_application,
    send,
    status,
    terminate_leftovers,
    wait_phase,
    workflow_classes,
)
from workflows.application import ApplicationWorkflow

__all__ = ["terminate_leftovers"]  # the autouse fixture that ends the cases a test leaves open


@dataclass
class HandOverRegistry(FakeWorld):
    """The fakes, with the letter handed over ``hand_over_after`` after the activity was scheduled."""

    hand_over_after: timedelta = timedelta(0)
    handed_over: list[datetime] = field(default_factory=list)  # of letters that start a period

    @activity.defn(name="send_letter")
    async def send_letter(self, inp: SendLetter) -> LettersSent:
        sent = await super().send_letter(inp)
        at = activity.info().scheduled_time + self.hand_over_after
        if inp.period is not None:
            self.handed_over.append(at)
        return sent.model_copy(update={"handed_over_at": at})


@pytest.fixture
def fake() -> HandOverRegistry:
    return HandOverRegistry()


@pytest.fixture
async def worker(new_worker: Any, fake: FakeWorld) -> Worker:
    worker: Worker = new_worker(workflow_classes(), fake.activities())
    return worker


@pytest.fixture
async def own(own_env: WorkflowEnvironment, fake: FakeWorld) -> AsyncIterator[tuple[WorkflowEnvironment, Worker]]:
    """A server of the test's own, for a test that skips time (docs/decisions/0008)."""
    worker = new_test_worker(own_env.client, workflow_classes(), fake.activities(), task_queue="legal")
    async with worker:
        yield own_env, worker


async def start(client: Client, worker: Worker, app: Application, **options: Any) -> WorkflowHandle[Any, CaseStatus]:
    handle = await client.start_workflow(
        ApplicationWorkflow.run,
        ApplicationInput(application=app, options=CaseOptions(**options)),
        id=application_workflow_id(app.application_id),
        task_queue=worker.task_queue,
    )
    _started.append(handle)
    return handle


async def refused(handle: WorkflowHandle[Any, CaseStatus], event: str, body: dict[str, Any]) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await send(handle, event, body)
    return str(caught.value.cause)


async def to_interview(handle: WorkflowHandle[Any, CaseStatus]) -> CaseStatus:
    await wait_phase(handle, "awaiting_interview_decision")
    return await send(handle, "interview-decision", {"needed": True, "reason": "hear the new elements"})


async def decision_due_by(handle: WorkflowHandle[Any, CaseStatus]) -> datetime | None:
    """The DecisionDueBy search attribute as the workflow last upserted it (from its history:
    the test server's describe cannot decode an unset Datetime attribute)."""
    value: datetime | None = None
    async for event in handle.fetch_history_events():
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if sa.DECISION_DUE_BY.name in fields:
                decoded = decode_search_attributes(event.upsert_workflow_search_attributes_event_attributes.search_attributes)
                found = decoded.get(sa.DECISION_DUE_BY.name) or []
                value = found[0] if found else None  # type: ignore[assignment]
    return value


def day(instant: datetime) -> str:
    return instant.astimezone(AMSTERDAM).date().isoformat()


# --- point 1: a missed interview -------------------------------------------------------------


async def test_excused_no_show_books_a_new_interview_up_to_the_limit(client: Client, worker: Worker, fake: FakeWorld) -> None:
    """Issue 9 point 1: an excused absence leads to a new interview (Rb Den Haag 6 Oct 2025,
    ECLI:NL:RBDHA:2025:19553); the number of rebookings is a setting.  Beyond it the case
    goes to the decision on the file, and buiten behandeling (art. 30c Vw) stays refused."""
    async with worker:
        handle = await start(client, worker, make_application(), interview_rebook_limit=1)
        first = await to_interview(handle)
        again = await send(handle, "no-show", {"excused": True, "note": "hospital admission, letter attached"})
        assert again.phase == "interview_booked"
        assert again.interview.rebooked == 1
        assert again.interview.starts_at != first.interview.starts_at
        assert [b.purpose for b in fake.bookings] == ["interview", "interview-2"]
        assert [lt.key for lt in fake.letters if lt.kind.value == "interview_invitation"] == [
            "interview-invitation",
            "interview-invitation-2",
        ]
        over = await send(handle, "no-show", {"excused": True, "note": "ill again"})
        assert over.phase == "awaiting_decision"
        assert any("rebooked interview(s), the limit: decide on the file" in w for w in over.warnings)
        reason = await refused(handle, "decision", {"outcome": "not_processed", **DECIDE})
        assert "allowed only after an unexcused no-show" in reason
        decided = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
        assert decided.phase == "appeal_window"


async def test_unexcused_no_show_may_be_not_processed_with_an_appeal(client: Client, worker: Worker, fake: FakeWorld) -> None:
    """Issue 9 points 1-2: without an excuse the IND may put the application buiten
    behandeling (art. 30c Vw; Rb Den Haag 18 Sep 2025, ECLI:NL:RBDHA:2025:17421); that is a
    decision with an appeal window of 1 week (usual for a repeat application; unconfirmed),
    its end in deadlines.appeal_by and in the letter."""
    async with worker:
        handle = await start(client, worker, make_application())
        booked = await to_interview(handle)
        missed = await send(handle, "no-show", {"excused": False, "note": "no contact"})
        assert missed.phase == "awaiting_decision"
        assert missed.interview.no_show_excused is False
        decided = await send(handle, "decision", {"outcome": "not_processed", **DECIDE})
        assert decided.phase == "appeal_window"
        assert decided.outcome == "not_processed"
        received = decided.decisions[-1].decided_at.astimezone(AMSTERDAM)
        assert decided.deadlines["appeal_by"].astimezone(AMSTERDAM).date() >= (received + timedelta(days=7)).date()
        assert "not processed; unconfirmed: 1 week" in decided.deadline_basis["appeal_by"]
        [decision] = fake.decisions
        assert decision.outcome.value == "not_processed"
        assert decision.final
        assert decision.appeal_by == decided.deadlines["appeal_by"]
        assert decision.letter_facts["reason"] == "no_show"
        assert booked.interview.starts_at is not None
        assert decision.letter_facts["interview_at"] == booked.interview.starts_at.isoformat()
        lodged = await send(handle, "appeal", {"lodged_on": day(decision.decided_at), "court_case": "AWB 26/1"})
        assert lodged.phase == "appeal_lodged"


async def test_not_processed_is_refused_without_a_missed_interview(client: Client, worker: Worker, fake: FakeWorld) -> None:
    """Issue 9 point 1: `not_processed` as a decision is only for an unexcused no-show
    (art. 30c Vw); an unrepaired application has its own path (the repair period)."""
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        before = await send(handle, "interview-decision", {"needed": False, "reason": "the file suffices"})
        reason = await refused(handle, "decision", {"outcome": "not_processed", **DECIDE})
        assert "outcome: 'not_processed' (art. 30c Vw) is allowed only after an unexcused no-show" in reason
        assert await status(handle) == before
        await send(handle, "withdraw", {"reason": "test over"})


# --- point 3: more time to decide -------------------------------------------------------------


async def test_extension_moves_decide_by_search_attribute_and_sends_a_letter(
    client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld
) -> None:
    """Issue 9 point 3: the extension recomputes decide_by from receipt with its explanation
    (Regulation 2024/1348 art. 35; the merits period and its maximum are unconfirmed
    settings, 6 + 6 months), moves the DecisionDueBy search attribute, writes to applicant and
    lawyer, and a total beyond the maximum is refused with the case unchanged.  Under Vw 2000
    (art. 42(1): one 6-month period) a period that has ended is not extended."""
    async with worker:
        handle = await start(client, worker, make_application(received_at="2026-05-04T10:00:00+02:00"))
        first = await wait_phase(handle, "awaiting_interview_decision")
        assert first.deadlines["decide_by"].astimezone(AMSTERDAM).date() == date(2026, 11, 4)
        one_period = await refused(handle, "extend-decision-period", {"reason": "x", "months": 1, "deadline": "admissibility_by"})
        assert "policy vw2000 has one decision period" in one_period
        late = await refused(handle, "extend-decision-period", {"reason": "complex", "months": 3})
        assert "decide_by ended at 04-11-2026 23:59; a period is extended only before it ends" in late
        await send(handle, "withdraw", {"reason": "test over"})

        received = (await env.get_current_time()).astimezone(AMSTERDAM) - timedelta(days=10)
        handle = await start(client, worker, make_application(received_at=received.isoformat()))
        before = await wait_phase(handle, "awaiting_interview_decision")
        assert before.policy_version == "eu-2024-1348"
        extended = await send(handle, "extend-decision-period", {"reason": "Complex country information.", "months": 3})
        expected = compute(received, EU_APR.extended(MERITS, 3))
        assert extended.deadlines["decide_by"] == expected.due
        assert (
            "art. 35(3) (unconfirmed: 6 months), extended by 3 months (Regulation (EU) 2024/1348 art. 35)"
            in (extended.deadline_basis["decide_by"])
        )
        assert f"9 months from {received.date().isoformat()}" in extended.deadline_basis["decide_by"]
        assert extended.deadlines["admissibility_by"] == before.deadlines["admissibility_by"]
        assert extended.phase == "awaiting_interview_decision"
        assert await decision_due_by(handle) == extended.deadlines["admissibility_by"]  # still the earlier one
        [letter] = [lt for lt in fake.letters if lt.kind.value == "decision_period_extended"]
        assert [r.value for r in letter.recipients] == ["applicant", "lawyer"]
        assert letter.facts["months"] == "3"
        assert letter.facts["reason"] == "Complex country information."
        assert letter.facts["previous_due"] == before.deadlines["decide_by"].isoformat()
        too_much = await refused(handle, "extend-decision-period", {"reason": "more", "months": 4})
        assert "decide_by may be extended by at most 6 month(s) under eu-2024-1348" in too_much
        assert "3 already used" in too_much
        assert await status(handle) == extended
        await send(handle, "withdraw", {"reason": "test over"})


async def test_eu_admissibility_extension_is_at_most_two_months(
    client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld
) -> None:
    """Regulation (EU) 2024/1348 art. 35(1): the admissibility examination's 2 months may be
    extended by 2 more; the merits deadline (art. 35(3)) is a separate one (issue 9 point 4)."""
    async with worker:
        received = (await env.get_current_time()).astimezone(AMSTERDAM) - timedelta(days=3)
        handle = await start(client, worker, make_application(received_at=received.isoformat()))
        first = await wait_phase(handle, "awaiting_interview_decision")
        assert first.deadlines["admissibility_by"] < first.deadlines["decide_by"]
        assert await decision_due_by(handle) == first.deadlines["admissibility_by"]
        reason = await refused(
            handle, "extend-decision-period", {"reason": "many applications", "months": 3, "deadline": "admissibility_by"}
        )
        assert "admissibility_by may be extended by at most 2 month(s) under eu-2024-1348" in reason
        extended = await send(
            handle, "extend-decision-period", {"reason": "many applications", "months": 2, "deadline": "admissibility_by"}
        )
        # 2 + 2 months from receipt, moved off a weekend or holiday by Regulation 1182/71 art. 3(4)
        assert extended.deadlines["admissibility_by"] == compute(received, EU_APR.extended(ADMISSIBILITY, 2)).due
        assert "extended by 2 months" in extended.deadline_basis["admissibility_by"]
        assert extended.deadlines["decide_by"] == first.deadlines["decide_by"]
        await send(handle, "interview-decision", {"needed": False, "reason": "the file suffices"})
        decided = await send(handle, "decision", {"outcome": "inadmissible", **DECIDE})
        assert "admissibility_by" not in decided.deadlines
        assert "decide_by" not in decided.deadlines
        assert "Vw 2000 art. 69(2) (inadmissible)" in decided.deadline_basis["appeal_by"]


# --- point 17: no interpreter slots -----------------------------------------------------------


async def test_manual_booking_after_failed_tries(own: tuple[WorkflowEnvironment, Worker], fake: FakeWorld) -> None:
    """Issue 9 point 17: after a number of failed tries (a setting) operators are warned and
    an interview booked by hand is accepted, with a date in the future and an interpreter in
    the applicant's language."""
    fake.slots_free = False
    env, worker = own
    client = env.client
    handle = await start(client, worker, make_application(), slot_tries_before_manual=2, slot_retry_interval=timedelta(minutes=5))
    waiting = await to_interview(handle)
    assert waiting.phase == "awaiting_interview_slot"
    now = await env.get_current_time()
    body = {"starts_at": (now + timedelta(days=3)).isoformat(), "location": "IND Zevenaar", "interpreter_language": "ar"}
    early = await refused(handle, "interview-booked", body)
    assert "only after 2 failed automatic bookings (so far 1)" in early
    await env.sleep(timedelta(minutes=6))
    warned = await status(handle)
    assert any("after 2 tries: book one by hand and send 'interview-booked'" in w for w in warned.warnings)
    wrong = await refused(handle, "interview-booked", {**body, "interpreter_language": "fr"})
    assert "interpreter_language: not the language the applicant asked an interpreter for" in wrong
    past = await refused(handle, "interview-booked", {**body, "starts_at": (now - timedelta(days=1)).isoformat()})
    assert "is not in the future" in past
    booked = await send(handle, "interview-booked", body)
    assert booked.phase == "interview_booked"
    assert booked.interview.booked_by_hand
    assert booked.interview.location == "IND Zevenaar"
    assert not any("interview slot" in w for w in booked.warnings)
    assert fake.letter_kinds()[-1] == "interview_invitation"
    await send(handle, "withdraw", {"reason": "test over"})


# --- point 15: the repair period starts at hand-over --------------------------------------------


async def test_four_hour_repair_period_runs_from_the_letters_hand_over(
    client: Client, worker: Worker, fake: HandOverRegistry
) -> None:
    """Issue 9 point 15 (Vb 2000 art. 3.118b: 4 hours after earlier repeat applications): the
    period starts when the applicant is told, so it cannot end before the letter exists."""
    fake.complete_from_round = 99
    fake.hand_over_after = timedelta(hours=3)
    async with worker:
        handle = await start(client, worker, make_application(earlier_repeat_applications=1))
        waiting = await wait_phase(handle, "awaiting_documents")
        [letter] = [lt for lt in fake.letters if lt.kind.value == "documents_missing"]
        assert letter.period is not None
        assert (letter.period.fact, letter.period.amount, letter.period.unit) == ("repair_by", 4, "hours")
        assert "repair_by" not in letter.facts  # the outbox writes the end it computes from the hand-over
        [handed_over] = fake.handed_over
        due = waiting.deadlines["repair_by"]
        assert due == handed_over + timedelta(hours=4)  # not 4 hours after the check: 7 hours after it
        assert "4 hours from" in waiting.deadline_basis["repair_by"]
        assert "periods in hours are not moved by the Atw" in waiting.deadline_basis["repair_by"]
        await send(handle, "withdraw", {"reason": "test over"})


# --- issue 8 defect 8: dates an event reports --------------------------------------------------


async def test_event_dates_are_checked_against_the_case_and_the_clock(
    own: tuple[WorkflowEnvironment, Worker], fake: FakeWorld
) -> None:
    """Issue 8 defect 8: an interview report dated before the booked interview, or in the
    future, and a permit collected in the future are refused with the reason; the case is
    unchanged."""
    env, worker = own
    client = env.client
    handle = await start(client, worker, make_application())
    booked = await to_interview(handle)
    assert booked.interview.starts_at is not None
    interview_day = booked.interview.starts_at.astimezone(AMSTERDAM).date()
    before = await refused(
        handle, "interview-report", {"held_on": (interview_day - timedelta(days=1)).isoformat(), "report_document": None}
    )
    assert f"lies before the booked interview on {interview_day}" in before
    future = await refused(handle, "interview-report", {"held_on": interview_day.isoformat(), "report_document": None})
    assert "held_on:" in future
    assert "lies in the future" in future
    assert await status(handle) == booked
    await env.sleep(booked.interview.starts_at - await env.get_current_time() + timedelta(hours=1))
    await send(handle, "interview-report", {"held_on": interview_day.isoformat(), "report_document": None})
    granted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
    assert granted.permit is not None
    assert granted.permit.issued_on is not None
    tomorrow = (granted.permit.issued_on + timedelta(days=1)).isoformat()
    later = await refused(handle, "permit-collected", {"collected_on": tomorrow})
    assert "collected_on:" in later
    assert "lies in the future" in later
    done = await send(handle, "permit-collected", {"collected_on": granted.permit.issued_on.isoformat()})
    assert done.closed


async def test_a_rejection_goes_to_the_return_service_only_after_the_appeal_window(
    own: tuple[WorkflowEnvironment, Worker], fake: FakeWorld
) -> None:
    """Issue 9 point 12 (Vw 2000 art. 45, 69): departure is not handed to DT&V while an
    appeal can still be lodged; the hand-over letter follows the end of the appeal window."""
    env, worker = own
    client = env.client
    handle = await start(client, worker, make_application())
    await wait_phase(handle, "awaiting_interview_decision")
    await send(handle, "interview-decision", {"needed": False, "reason": "the file suffices"})
    decided = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
    assert "return_handover" not in fake.letter_kinds()
    future = await refused(
        handle,
        "appeal",
        {
            "lodged_on": (date.fromisoformat(day(decided.decisions[-1].decided_at)) + timedelta(days=2)).isoformat(),
            "court_case": "AWB 1",
        },
    )
    assert "lodged_on:" in future
    assert "lies in the future" in future
    await env.sleep(decided.deadlines["appeal_by"] - await env.get_current_time() + timedelta(seconds=1))
    final = await handle.result()
    assert final.closed
    assert fake.letter_kinds()[-1] == "return_handover"
    handover = fake.letters[-1]
    assert [r.value for r in handover.recipients] == ["return_service"]
    assert handover.facts["ground"] == "appeal_window_ended"
    assert handover.facts["appeal_by"] == decided.deadlines["appeal_by"].isoformat()
