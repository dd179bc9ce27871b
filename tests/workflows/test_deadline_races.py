"""Issue 8, defect 1: an event sent while a deadline path runs is refused, never lost.

When the repair period, the response period or the appeal window ends, the workflow runs
activities (a letter, ``close_case``) while its phase still names the period.  Before the
fix an event validated in that moment was accepted, parked and never acted on: the case
closed, the caller's update never completed and the workflow waited for its handler
forever.  Each test holds the activity of the deadline path open (a fake that blocks until
the test lets it go), sends the event the deadline ended, and expects a refusal that names
the instant the period ended; then it lets the activity finish and expects the case to end
with no update left waiting.  The time-skipping server jumps over the period.

Periods (domain/policy.py): repair period Vw 2000 art. 30c, Vb 2000 art. 3.118b (one
week); response period to an intended decision Vw 2000 art. 39, Vb 2000 art. 3.118b (one
day); appeal window Vw 2000 art. 69(2) (one week for an inadmissible decision).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.case import CaseStatus
from domain.messages import CaseClosed, CloseCase, DecisionRecorded, LettersSent, RecordDecision, SendLetter
from tests.support.fakes import FakeWorld
from tests.support.temporal import worker as new_test_worker
from tests.workflows.test_application import DECIDE, make_application, send, start, status, wait_phase, workflow_classes
from workflows.common import EventDesk

# How long an update may take before the test calls it lost (the fixed workflow answers at once).
ANSWER_WITHIN = 10.0


@dataclass
class GatedRegistry(FakeWorld):
    """The fakes, with one activity held open: ``send_letter`` of ``hold_letter``, or ``close_case``."""

    hold_letter: str | None = None
    hold_close: bool = False
    hold_decision: bool = False
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def _hold(self) -> None:
        self.entered.set()
        await self.release.wait()

    @activity.defn(name="send_letter")
    async def send_letter(self, inp: SendLetter) -> LettersSent:
        if inp.key == self.hold_letter:
            await self._hold()
        return await super().send_letter(inp)

    @activity.defn(name="record_decision")
    async def record_decision(self, inp: RecordDecision) -> DecisionRecorded:
        if self.hold_decision:
            await self._hold()
        return await super().record_decision(inp)

    @activity.defn(name="close_case")
    async def close_case(self, inp: CloseCase) -> CaseClosed:
        if self.hold_close:
            await self._hold()
        return await super().close_case(inp)


@pytest.fixture
async def world(own_env: WorkflowEnvironment) -> AsyncIterator[tuple[WorkflowEnvironment, GatedRegistry, Worker]]:
    fake = GatedRegistry()
    worker = new_test_worker(own_env.client, workflow_classes(), fake.activities(), task_queue="races")
    async with worker:
        yield own_env, fake, worker
        fake.release.set()


async def refusal(handle: WorkflowHandle[Any, CaseStatus], event: str, body: dict[str, Any]) -> str:
    """Send the event and return the refusal; an update that does not answer fails the test."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await asyncio.wait_for(send(handle, event, body), ANSWER_WITHIN)
    return str(caught.value.cause)


async def skip_past(env: WorkflowEnvironment, due: datetime) -> None:
    """Skip to just after ``due``: the test server cannot skip further while an activity is held."""
    await env.sleep(due - await env.get_current_time() + timedelta(seconds=1))


async def finish(fake: GatedRegistry, handle: WorkflowHandle[Any, CaseStatus]) -> CaseStatus:
    fake.release.set()
    return await asyncio.wait_for(handle.result(), ANSWER_WITHIN)


async def test_documents_after_the_repair_period_are_refused(world: tuple[WorkflowEnvironment, GatedRegistry, Worker]) -> None:
    env, fake, worker = world
    fake.complete_from_round = 99
    fake.hold_decision = True  # the not-processed decision (art. 30c Vw) is being recorded
    handle = await start(env.client, worker, make_application())
    waiting = await wait_phase(handle, "awaiting_documents")
    await skip_past(env, waiting.deadlines["repair_by"])
    await asyncio.wait_for(fake.entered.wait(), ANSWER_WITHIN)  # the not-processed decision is being recorded
    doc = {
        "id": "doc-5",
        "kind": "translation",
        "translation_of": "doc-3",
        "filename": "summons-nl.pdf",
        "media_type": "application/pdf",
        "language": "nl",
    }
    refused = await refusal(handle, "documents", {"documents": [doc]})
    assert "the repair period ended at" in refused
    assert "not processed" in refused
    assert "the repair period ended at" in await refusal(handle, "withdraw", {"reason": "too late"})
    final = await finish(fake, handle)
    assert final.outcome == "not_processed"
    assert len(fake.checks) == 1  # the refused documents were never checked
    assert [d.outcome.value for d in fake.decisions] == ["not_processed"]  # its letter goes with the decision
    assert fake.letter_kinds() == ["acknowledgement", "documents_missing"]


async def test_appeal_after_the_appeal_window_is_refused(world: tuple[WorkflowEnvironment, GatedRegistry, Worker]) -> None:
    env, fake, worker = world
    fake.hold_close = True
    handle = await start(env.client, worker, make_application())
    await wait_phase(handle, "awaiting_interview_decision")
    await send(handle, "interview-decision", {"needed": False, "reason": "no new elements"})
    decided = await send(handle, "decision", {"outcome": "inadmissible", **DECIDE})
    assert decided.phase == "appeal_window"
    await skip_past(env, decided.deadlines["appeal_by"])
    await asyncio.wait_for(fake.entered.wait(), ANSWER_WITHIN)  # close_case is running
    refused = await refusal(handle, "appeal", {"lodged_on": "2026-12-10", "court_case": "AWB 26/1234"})
    assert "the appeal window ended at" in refused
    final = await finish(fake, handle)
    assert final.outcome == "inadmissible"
    assert not final.appeal_court_case_lodged
    assert len(fake.closed) == 1


async def test_response_after_the_response_period_is_refused(world: tuple[WorkflowEnvironment, GatedRegistry, Worker]) -> None:
    """No activity runs when the response period ends (the case moves on at once), so the
    event arrives after the move; it is refused and the case still takes the final decision."""
    env, _, worker = world
    handle = await start(env.client, worker, make_application(received_at="2026-06-11T16:00:00+02:00"))
    await wait_phase(handle, "awaiting_interview_decision")
    await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
    intended = await send(handle, "decision", {"outcome": "manifestly_unfounded", **DECIDE})
    assert intended.phase == "intended_decision"
    await skip_past(env, intended.deadlines["respond_by"])
    await wait_phase(handle, "awaiting_final_decision")
    refused = await refusal(handle, "response", {"submitted_on": "2026-06-20", "summary": "late"})
    assert "only while an intended decision is open" in refused
    final = await send(handle, "decision", {"outcome": "manifestly_unfounded", **DECIDE})
    assert final.phase == "appeal_window"
    assert (await status(handle)).phase == "appeal_window"
    await handle.terminate("test over")  # before its own server shuts down


async def test_an_event_parked_when_the_case_closes_is_answered() -> None:
    """The last guard, unit-level: a parked event gets an error, never silence (EventDesk.answer_parked)."""
    desk: EventDesk[str] = EventDesk(str)
    desk.pending = ("documents", None)
    desk._accepted = 1
    desk.answer_parked("the case closed")
    assert desk.pending is None
    assert desk._not_applied == {1: "the case closed"}
    assert desk.refusal("documents") is None
