"""Record application histories for the replay test: ``python -m tests.replay.record_application_history``.

Run it only when a new history should be kept (say, before a workflow change that goes
behind ``workflow.patched``); the old files stay, so today's code must keep replaying them.
Payloads are encrypted with the test key in ``histories/test-codec-key.json`` (test data
only, fictitious persons), so the replayer is exercised with the codec as in production.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from domain.deadlines import AMSTERDAM
from infra.codec import KeyRing, generate_key_file
from tests.support.fakes import FakeWorld
from tests.support.temporal import worker as new_test_worker
from tests.workflows.conftest import start_environment
from tests.workflows.fake_permit import FakePermitWorkflow
from tests.workflows.test_application import DECIDE, day_of, make_application, send, start, wait_phase
from workflows.application import ApplicationWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
KEY_FILE = HISTORIES / "test-codec-key.json"


def keyring() -> KeyRing:
    return KeyRing.from_file(KEY_FILE, require_private=False)  # a test key in git, which keeps no modes


async def record() -> None:
    environment = await start_environment(keyring())
    try:
        fake = FakeWorld()
        async with new_test_worker(
            environment.client, [ApplicationWorkflow, FakePermitWorkflow], fake.activities(), task_queue="record"
        ) as worker:
            # 1. new policy: interview, granted, permit collected
            handle = await start(environment.client, worker, make_application())
            await wait_phase(handle, "awaiting_interview_decision")
            booked = await send(handle, "interview-decision", {"needed": True, "reason": "verify the summons"})
            assert booked.interview.starts_at is not None
            # a report is accepted once the interview has taken place (issue 8 defect 8)
            await environment.sleep(booked.interview.starts_at - await environment.get_current_time() + timedelta(hours=2))
            held_on = booked.interview.starts_at.astimezone(AMSTERDAM).date().isoformat()
            await send(handle, "interview-report", {"held_on": held_on, "report_document": None})
            granted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
            assert granted.permit is not None
            await send(handle, "permit-collected", {"collected_on": granted.permit.issued_on.isoformat()})
            await handle.result()
            (HISTORIES / "application_granted.json").write_text((await handle.fetch_history()).to_json())

            # 2. old policy: intended decision, response, final rejection, appeal annulled, granted
            handle = await start(environment.client, worker, make_application(received_at="2026-05-04T10:00:00+02:00"))
            await wait_phase(handle, "awaiting_interview_decision")
            await send(handle, "interview-decision", {"needed": False, "reason": "file suffices"})
            intended = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
            await send(handle, "response", {"submitted_on": day_of(intended), "summary": "the summons is authentic"})
            final = await send(handle, "decision", {"outcome": "unfounded", **DECIDE})
            await send(handle, "appeal", {"lodged_on": day_of(final), "court_case": "AWB 26/12345"})
            await send(handle, "judgment", {"result": "annulled"})
            granted = await send(handle, "decision", {"outcome": "granted", **DECIDE})
            assert granted.permit is not None
            await send(handle, "permit-collected", {"collected_on": granted.permit.issued_on.isoformat()})
            await handle.result()
            (HISTORIES / "application_annulled_then_granted.json").write_text((await handle.fetch_history()).to_json())

            # 3. issue 9: more time, an excused no-show (a new interview), an unexcused one,
            #    not processed (art. 30c Vw) with its appeal window, which ends
            received = (await environment.get_current_time()).astimezone(AMSTERDAM) - timedelta(days=1)
            handle = await start(environment.client, worker, make_application(received_at=received.isoformat()))
            await wait_phase(handle, "awaiting_interview_decision")
            await send(handle, "extend-decision-period", {"reason": "many applications at once", "months": 2})
            await send(handle, "interview-decision", {"needed": True, "reason": "hear the new elements"})
            await send(handle, "no-show", {"excused": True, "note": "ill, a doctor's note"})
            await send(handle, "no-show", {"excused": False, "note": "no contact"})
            await send(handle, "decision", {"outcome": "not_processed", **DECIDE})
            await handle.result()
            (HISTORIES / "application_no_show_not_processed.json").write_text((await handle.fetch_history()).to_json())
    finally:
        await environment.shutdown()


if __name__ == "__main__":
    generate_key_file(KEY_FILE, key_id="replay-test")  # kept if it exists
    asyncio.run(record())
    os._exit(0)  # the SDK's threads can crash a finishing interpreter (sdk-python#300)
