"""Every path of the application workflow, on the time-skipping test server.

The activities are the one set of in-memory fakes (tests/support/fakes.py) with the real
contracts; the real components are exercised by tests/unit and the end-to-end test.  After
every event and every phase reached, the test also checks what operators see: the search
attributes and the current details agree with the case's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.case import ApplicationInput, CaseOptions, CaseStatus
from domain.deadlines import AMSTERDAM
from domain.identifiers import application_workflow_id
from domain.models import Application
from domain.steps import EVENT_MODELS
from tests.conftest import EXAMPLE
from tests.support.fakes import FakeWorld
from tests.support.temporal import assert_operators_see, poll
from tests.support.temporal import worker as new_test_worker
from tests.workflows.fake_permit import FakePermitWorkflow
from workflows.application import ApplicationWorkflow

_ids = itertools.count(1)


def make_application(received_at: str = "2026-11-27T09:30:00+01:00", **applicant: Any) -> Application:
    raw = json.loads(EXAMPLE.read_text())
    raw["application_id"] = f"HASA-2026-{next(_ids) + 700000:06d}"
    raw["received_at"] = received_at
    raw["applicant"].update(applicant)
    return Application.model_validate(raw)


def workflow_classes() -> list[type]:
    return [ApplicationWorkflow, FakePermitWorkflow]


_started: list[WorkflowHandle[Any, CaseStatus]] = []


@pytest.fixture(autouse=True)
async def terminate_leftovers() -> AsyncIterator[None]:
    """A case left open would hold the shared test server's clock: end it after each test."""
    yield
    while _started:
        handle = _started.pop()
        for workflow_id in (handle.id, handle.id.replace("application-", "permit-", 1)):
            with contextlib.suppress(RPCError):
                await handle._client.get_workflow_handle(workflow_id).terminate("test over")


async def start(client: Client, worker: Worker, app: Application) -> WorkflowHandle[Any, CaseStatus]:
    handle = await client.start_workflow(
        ApplicationWorkflow.run,
        ApplicationInput(application=app, options=CaseOptions()),
        id=application_workflow_id(app.application_id),
        task_queue=worker.task_queue,
    )
    _started.append(handle)
    return handle


async def status(handle: WorkflowHandle[Any, CaseStatus]) -> CaseStatus:
    return await handle.query(ApplicationWorkflow.status)


async def wait_phase(handle: WorkflowHandle[Any, CaseStatus], phase: str) -> CaseStatus:
    reached = await poll(lambda: status(handle), lambda s: s.phase == phase, f"phase {phase}")
    await assert_operators_see(handle, reached)
    return reached


# A refusal comes from the update's validator, before the event reaches history.
REFUSED_WITHIN_SECONDS = 30


async def send(handle: WorkflowHandle[Any, CaseStatus], event: str, body: dict[str, Any]) -> CaseStatus:
    result: CaseStatus = await handle.execute_update(event, EVENT_MODELS[event].model_validate(body), result_type=CaseStatus)
    await assert_operators_see(handle, result)
    return result


DECIDE = {"grounds": "new elements assessed", "decided_by": "officer-17"}


@pytest.fixture
def fake() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
async def worker(new_worker: Callable[..., Worker], fake: FakeWorld) -> Worker:
    return new_worker(workflow_classes(), fake.activities())


def day_of(case: CaseStatus) -> str:
    """The Dutch date of the case's last decision: a date an event may report."""
    return case.decisions[-1].decided_at.astimezone(AMSTERDAM).date().isoformat()


async def test_granted_without_interview(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        first = await wait_phase(handle, "awaiting_interview_decision")
        assert first.step_number == 5
        assert first.policy_version == "eu-2024-1348"
        # Regulation 2024/1348 art. 35(1): 2 months from Fri 2026-11-27 ends Wed 2027-01-27 for
        # the admissibility decision; art. 35(3): 6 months (unconfirmed) for the merits.
        assert first.deadlines["admissibility_by"].astimezone(AMSTERDAM).date() == date(2027, 1, 27)
        assert "Regulation (EU) 2024/1348 art. 35(1)" in first.deadline_basis["admissibility_by"]
        assert first.deadlines["decide_by"].astimezone(AMSTERDAM).date() == date(2027, 5, 27)
        assert "Regulation (EU) 2024/1348 art. 35(3)" in first.deadline_basis["decide_by"]

        after = await send(handle, "interview-decision", {"needed": False, "reason": "the file suffices"})
        assert after.phase == "awaiting_decision"
        assert after.step_number == 6

        granted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
        assert granted.phase == "awaiting_collection"
        assert granted.step_number == 7
        assert granted.outcome == "granted"
        assert granted.permit is not None
        # From the day of receipt (ABRvS 4 March 2024, 202107377/1/V1), through the day
        # before the fifth anniversary (domain.md, "The permit"): five years, not five and a day.
        assert granted.permit.valid_from == date(2026, 11, 27)
        assert granted.permit.valid_until == date(2031, 11, 26)
        assert fake.permits[0].valid_from == date(2026, 11, 27)
        assert "decide_by" not in granted.deadlines

        done = await send(handle, "permit-collected", {"collected_on": granted.permit.issued_on.isoformat()})
        assert done.closed
        final = await handle.result()
        assert final.outcome == "granted"
        assert final.permit is not None
        assert final.permit.collected
    assert fake.letter_kinds() == ["acknowledgement", "permit_invitation"]
    assert [b.kind.value for b in fake.bookings] == ["desk"]
    assert len(fake.permits) == 1
    assert [d.final for d in fake.decisions] == [True]
    assert fake.closed[0].outcome == "granted"


async def test_the_web_ui_lists_every_event_as_an_update(client: Client, worker: Worker) -> None:
    """The handlers are registered from the event table in __init__; the Web UI reads their
    names from the workflow's metadata query, as it did for the decorated handlers."""
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert {u.name for u in metadata.definition.update_definitions} == set(EVENT_MODELS)
        assert {q.name for q in metadata.definition.query_definitions} >= {"status"}
        await send(handle, "withdraw", {"reason": "test over"})


async def test_grant_may_name_a_later_effective_date(client: Client, worker: Worker, fake: FakeWorld) -> None:
    """A permit starts on the day of receipt (ABRvS 4 March 2024, 202107377/1/V1) unless the
    decision names a later effective date with a reason; an earlier date is refused."""
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "the file suffices"})
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await send(
                handle,
                "decision",
                {"outcome": "granted", "effective_from": "2026-11-26", "effective_from_reason": "typo", **DECIDE},
            )
        assert "effective_from 2026-11-26 lies before the day the application was received (2026-11-27)" in str(
            refused.value.cause
        )
        granted = await send(
            handle,
            "decision",
            {
                "outcome": "granted",
                "effective_from": "2027-01-04",
                "effective_from_reason": "new elements arose only after receipt",
                **DECIDE,
            },
        )
        assert granted.permit is not None
        assert (granted.permit.valid_from, granted.permit.valid_until) == (date(2027, 1, 4), date(2032, 1, 3))
        assert granted.permit.issued_on is not None
        await send(handle, "permit-collected", {"collected_on": granted.permit.issued_on.isoformat()})
        await handle.result()


async def test_granted_after_interview(client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        booked = await send(handle, "interview-decision", {"needed": True, "reason": "credibility of the summons"})
        assert booked.phase == "interview_booked"
        assert booked.interview.starts_at is not None
        assert fake.bookings[0].language == "ar"
        interview_day = booked.interview.starts_at.astimezone(AMSTERDAM).date()
        await env.sleep(booked.interview.starts_at - await env.get_current_time() + timedelta(hours=2))
        reported = await send(handle, "interview-report", {"held_on": interview_day.isoformat(), "report_document": None})
        assert reported.phase == "awaiting_decision"
        assert reported.interview.held_on == interview_day
        granted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
        assert granted.phase == "awaiting_collection"
        await send(handle, "permit-collected", {"collected_on": str(granted.permit.issued_on) if granted.permit else ""})
        assert (await handle.result()).outcome == "granted"
    assert fake.letter_kinds() == ["acknowledgement", "interview_invitation", "permit_invitation"]


async def test_no_interview_slot_is_a_visible_wait(
    client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld
) -> None:
    fake.slots_free = False
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        waiting = await send(handle, "interview-decision", {"needed": True, "reason": "credibility"})
        assert waiting.phase == "awaiting_interview_slot"
        assert any("interview slot" in w for w in waiting.warnings)
        fake.slots_free = True
        await env.sleep(timedelta(hours=5))
        booked = await wait_phase(handle, "interview_booked")
        assert not any("interview slot" in w for w in booked.warnings)
    assert len(fake.bookings) >= 2


async def test_inadmissible_closes_when_the_appeal_window_ends(
    client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld
) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "no new elements"})
        decided = await send(handle, "decision", {"outcome": "inadmissible", **DECIDE})
        assert decided.phase == "appeal_window"
        assert decided.outcome == "inadmissible"
        decided_on = decided.decisions[0].decided_at.astimezone(AMSTERDAM).date()
        appeal_by = decided.deadlines["appeal_by"].astimezone(AMSTERDAM).date()
        assert timedelta(days=7) <= appeal_by - decided_on <= timedelta(days=10)  # 1 week, moved by the Atw at most to a Monday
        assert "Vw 2000 art. 69(2)" in decided.deadline_basis["appeal_by"]
        final = await handle.result()  # the test server skips the week
    assert final.closed
    assert final.outcome == "inadmissible"
    assert final.deadlines == {}
    assert fake.decisions[0].final
    assert fake.decisions[0].appeal_by is not None


async def test_not_processed_after_the_repair_period(
    client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld
) -> None:
    """Vw 2000 art. 30c: not repaired in time, the application is put *buiten behandeling*;
    that is a decision that can be appealed (issue 9 point 2), within 1 week (the usual
    period for a repeat application; unconfirmed, a setting), its end in the letter."""
    fake.complete_from_round = 99
    async with worker:
        handle = await start(client, worker, make_application())
        waiting = await wait_phase(handle, "awaiting_documents")
        assert waiting.step_number == 4
        assert waiting.outstanding_documents == ["doc-3: no translation of doc-3"]
        assert "repair_by" in waiting.deadlines
        assert "1 week" in waiting.deadline_basis["repair_by"]
        await env.sleep(waiting.deadlines["repair_by"] - await env.get_current_time() + timedelta(seconds=1))
        window = await wait_phase(handle, "appeal_window")
        assert window.outcome == "not_processed"
        assert "Vw 2000 art. 30c, 69(2) (not processed; unconfirmed: 1 week)" in window.deadline_basis["appeal_by"]
        [decision] = fake.decisions
        assert (decision.outcome.value, decision.final) == ("not_processed", True)
        assert decision.appeal_by == window.deadlines["appeal_by"]
        assert decision.letter_facts["reason"] == "repair"
        final = await handle.result()
    assert final.outcome == "not_processed"
    # not a return decision: nothing goes to DT&V when the appeal window ends
    assert fake.letter_kinds() == ["acknowledgement", "documents_missing"]


async def test_four_hour_repair_after_earlier_repeat_applications(client: Client, worker: Worker, fake: FakeWorld) -> None:
    fake.complete_from_round = 99
    async with worker:
        handle = await start(client, worker, make_application(earlier_repeat_applications=2))
        waiting = await wait_phase(handle, "awaiting_documents")
        opened = fake.checks[0]
        assert opened.round == 1
        assert "4 hours" in waiting.deadline_basis["repair_by"]
        final = await handle.result()
    assert final.outcome == "not_processed"


async def test_repaired_documents_continue_the_case(client: Client, worker: Worker, fake: FakeWorld) -> None:
    fake.complete_from_round = 2
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_documents")
        doc = {
            "id": "doc-5",
            "kind": "translation",
            "translation_of": "doc-3",
            "filename": "summons-nl.pdf",
            "media_type": "application/pdf",
            "language": "nl",
        }
        repaired = await send(handle, "documents", {"documents": [doc]})
        assert repaired.phase == "awaiting_interview_decision"
        assert "repair_by" not in repaired.deadlines
        assert repaired.outstanding_documents == []
    assert [c.round for c in fake.checks] == [1, 2]
    assert [d.id for d in fake.checks[1].documents][-1] == "doc-5"


async def test_withdrawn(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        withdrawn = await send(handle, "withdraw", {"reason": "returning voluntarily"})
        assert withdrawn.closed
        final = await handle.result()
    assert final.outcome == "withdrawn"
    assert fake.letter_kinds() == ["acknowledgement", "withdrawal"]


async def test_old_policy_intended_decision_then_final(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application(received_at="2026-05-04T10:00:00+02:00"))
        first = await wait_phase(handle, "awaiting_interview_decision")
        assert first.policy_version == "vw2000"
        # 6 months from Mon 2026-05-04 ends Wed 2026-11-04 (longer than 3 months: not moved)
        assert first.deadlines["decide_by"].astimezone(AMSTERDAM).date() == date(2026, 11, 4)
        assert any("decision deadline passed" in w for w in first.warnings)
        await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
        intended = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
        assert intended.phase == "intended_decision"
        assert intended.outcome is None
        assert "respond_by" in intended.deadlines
        responded = await send(handle, "response", {"submitted_on": day_of(intended), "summary": "the summons is authentic"})
        assert responded.phase == "awaiting_final_decision"
        final = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
        assert final.phase == "appeal_window"
        assert final.outcome == "unfounded"
        assert "Awb art. 6:7" in final.deadline_basis["appeal_by"]
    assert [(d.final, d.outcome.value) for d in fake.decisions] == [(False, "unfounded"), (True, "unfounded")]


async def test_old_policy_response_period_passes(
    client: Client, env: WorkflowEnvironment, worker: Worker, fake: FakeWorld
) -> None:
    async with worker:
        handle = await start(client, worker, make_application(received_at="2026-06-11T16:00:00+02:00"))
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
        await send(handle, "decision", {"outcome": "manifestly_unfounded", **DECIDE})
        await env.sleep(timedelta(days=5))
        waiting = await wait_phase(handle, "awaiting_final_decision")
        assert "respond_by" not in waiting.deadlines
        granted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
        assert granted.outcome == "granted"


async def test_new_policy_from_12_june_2026(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application(received_at="2026-06-12T08:00:00+02:00"))
        first = await wait_phase(handle, "awaiting_interview_decision")
        assert first.policy_version == "eu-2024-1348"
        # Regulation 2024/1348 art. 35(1): 2 months from Fri 2026-06-12 ends Wed 2026-08-12;
        # the merits' 6 months (art. 35(3)) end Sat 2026-12-12, moved to Mon 2026-12-14 by
        # Regulation 1182/71 art. 3(4).
        assert first.deadlines["admissibility_by"].astimezone(AMSTERDAM).date() == date(2026, 8, 12)
        assert first.deadlines["decide_by"].astimezone(AMSTERDAM).date() == date(2026, 12, 14)
        await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
        final = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
        assert final.phase == "appeal_window"  # no intended decision under the regulation
    assert [d.final for d in fake.decisions] == [True]


async def test_appeal_annulled_then_a_new_decision(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
        decided = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
        lodged = await send(handle, "appeal", {"lodged_on": day_of(decided), "court_case": "AWB 26/12345"})
        assert lodged.phase == "appeal_lodged"
        assert "appeal_by" not in lodged.deadlines
        annulled = await send(handle, "judgment", {"result": "annulled"})
        assert annulled.phase == "awaiting_decision"
        assert annulled.outcome is None
        assert "decide_by" in annulled.deadlines
        regranted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
        assert regranted.outcome == "granted"
        assert regranted.phase == "awaiting_collection"
    assert [d.sequence for d in fake.decisions] == [1, 2]


async def test_appeal_upheld_closes(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
        decided = await send(handle, "decision", {"outcome": "inadmissible", **DECIDE})
        await send(handle, "appeal", {"lodged_on": day_of(decided), "court_case": "AWB 26/555"})
        await send(handle, "judgment", {"result": "upheld"})
        final = await handle.result()
    assert final.outcome == "inadmissible"
    assert final.closed
    # Vw 2000 art. 45: the return decision goes to DT&V only once the court has upheld it.
    assert fake.letter_kinds()[-1] == "return_handover"
    assert fake.letters[-1].facts["ground"] == "appeal_rejected"


@pytest.mark.parametrize(
    ("event", "body", "reason"),
    [
        ("decision", {"outcome": "granted", **DECIDE}, "only once the documents are complete and the interview is settled"),
        (
            "documents",
            {
                "documents": [
                    {"id": "d9", "kind": "other", "filename": "x.pdf", "media_type": "application/pdf", "language": "nl"}
                ]
            },
            "only while the repair period is open",
        ),
        ("appeal", {"lodged_on": "2026-12-01", "court_case": "AWB 1"}, "only while the appeal window is open"),
        ("permit-collected", {"collected_on": "2026-12-01"}, "only once a permit is issued"),
        ("no-show", {}, "only while an interview is booked"),
    ],
)
async def test_rejected_events_leave_the_case_unchanged(
    client: Client, worker: Worker, fake: FakeWorld, event: str, body: dict[str, Any], reason: str
) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        before = await wait_phase(handle, "awaiting_interview_decision")
        # The validator refuses at once: an event let through would wait for an answer forever.
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await asyncio.wait_for(send(handle, event, body), REFUSED_WITHIN_SECONDS)
        message = str(caught.value.cause)
        assert f"event '{event}' is not allowed now" in message
        assert reason in message
        after = await status(handle)
        assert after == before
        await send(handle, "withdraw", {"reason": "test over"})
    assert len(fake.decisions) == 0


async def test_withdraw_after_final_decision_is_rejected(client: Client, worker: Worker, fake: FakeWorld) -> None:
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
        before = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await send(handle, "withdraw", {"reason": "too late"})
        assert "only before the final decision" in str(caught.value.cause)
        assert await status(handle) == before


async def test_decision_deadline_warns_before_and_after(own_env: WorkflowEnvironment, fake: FakeWorld) -> None:
    env, client = own_env, own_env.client
    worker = new_test_worker(client, workflow_classes(), fake.activities(), task_queue="deadline")
    now = (await env.get_current_time()).astimezone(AMSTERDAM)
    received = (now - timedelta(days=60 - 10)).isoformat()  # 2 months from it ends in about 10 days
    async with worker:
        handle = await start(client, worker, make_application(received_at=received))
        first = await wait_phase(handle, "awaiting_interview_decision")
        assert any(w.startswith("decision due by") for w in first.warnings)
        await env.sleep(timedelta(days=20))
        later = await status(handle)
        assert any(w.startswith("decision deadline passed") for w in later.warnings)
        assert not any(w.startswith("decision due by") for w in later.warnings)
        await handle.terminate("test over")  # before its own server shuts down


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("decision", {"outcome": "granted", **DECIDE}), ("decision", {"outcome": "granted", **DECIDE})),
        (("decision", {"outcome": "unfounded", **DECIDE}), ("withdraw", {"reason": "returning voluntarily"})),
    ],
    ids=["same-event-twice", "decision-and-withdraw"],
)
async def test_concurrent_events_one_accepted_one_refused(
    client: Client, worker: Worker, fake: FakeWorld, first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]]
) -> None:
    """Two events sent at once while the case acts: one is accepted and applied once, the
    other is refused with the reason, and nothing happens twice (one decision, one permit)."""
    async with worker:
        handle = await start(client, worker, make_application())
        await wait_phase(handle, "awaiting_interview_decision")
        await send(handle, "interview-decision", {"needed": False, "reason": "the file suffices"})
        results = await asyncio.gather(send(handle, *first), send(handle, *second), return_exceptions=True)
        accepted = [r for r in results if isinstance(r, CaseStatus)]
        refused = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
        assert (len(accepted), len(refused)) == (1, 1), results
        assert "not allowed now" in str(refused[0].cause)
        after = await status(handle)
        assert after == accepted[0]
        await assert_operators_see(handle, after)
    if after.outcome == "withdrawn":
        assert (len(fake.decisions), len(fake.closed), fake.letter_kinds().count("withdrawal")) == (0, 1, 1)
    else:
        assert (len(fake.decisions), len(fake.closed)) == (1, 0)
        assert len(fake.permits) == (1 if after.outcome == "granted" else 0)
