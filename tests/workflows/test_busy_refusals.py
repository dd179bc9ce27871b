"""An event sent while the case is busy is refused for now only, and a client sends it again.

Found by the three-worker test (tests/deploy/test_three_workers.py): after a worker was
killed during the document check, the check's result and the caseworker's
``interview-decision`` reached the workflow in one workflow task.  The SDK runs update
validators before the workflow code sees the activity result, so the validator saw the case
still "having its documents checked" and refused, although ``status`` (answered from the
same history) already showed the case waiting for the interview decision.

Such a refusal is now of its own type (``domain.refusal.BUSY_TYPE``): the case is unchanged,
an operator reads the reason like any refusal, and ``intake.cases.send_event`` (what
``starter.py send`` and the intake systems use) sends the event again until its wait ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.messages import CheckDocuments, DocumentCheckResult
from domain.refusal import BUSY_TYPE, REFUSAL_TYPE
from domain.steps import EVENT_MODELS
from intake.cases import send_event
from intake.errors import Refused
from tests.support.fakes import FakeWorld
from tests.support.temporal import worker as new_test_worker
from tests.workflows.test_application import make_application, start, status, wait_phase, workflow_classes

ANSWER_WITHIN = 20.0
NO_INTERVIEW = {"needed": False, "reason": "the file suffices"}


@dataclass
class HeldCheck(FakeWorld):
    """The fakes, with the document check held open until the test lets it go."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="check_documents")
    async def check_documents(self, request: CheckDocuments) -> DocumentCheckResult:
        self.entered.set()
        await self.release.wait()
        return await super().check_documents(request)


@pytest.fixture
async def world(own_env: WorkflowEnvironment) -> AsyncIterator[tuple[WorkflowEnvironment, HeldCheck, Worker]]:
    fake = HeldCheck()
    worker = new_test_worker(own_env.client, workflow_classes(), fake.activities(), task_queue="busy")
    async with worker:
        yield own_env, fake, worker
        fake.release.set()


async def test_an_event_during_the_document_check_is_refused_for_now_and_sent_again(
    world: tuple[WorkflowEnvironment, HeldCheck, Worker],
) -> None:
    env, fake, worker = world
    app = make_application()
    handle = await start(env.client, worker, app)
    await asyncio.wait_for(fake.entered.wait(), ANSWER_WITHIN)

    body = EVENT_MODELS["interview-decision"].model_validate(NO_INTERVIEW)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("interview-decision", body)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == BUSY_TYPE
    assert "having its documents checked" in cause.message
    assert (await status(handle)).phase == "checking_documents"  # unchanged

    sending = asyncio.create_task(
        send_event(env.client, app.application_id, "interview-decision", body, wait_seconds=ANSWER_WITHIN)
    )
    await asyncio.sleep(1.5)  # refused (busy) and sent again at least once meanwhile
    assert not sending.done()
    fake.release.set()
    after = await asyncio.wait_for(sending, ANSWER_WITHIN)  # the case as JSON, as `starter.py send` prints it
    assert after["phase"] == "awaiting_decision"
    assert after["interview"]["needed"] is False


async def test_a_refusal_by_the_transition_table_is_final_and_not_sent_again(
    world: tuple[WorkflowEnvironment, HeldCheck, Worker],
) -> None:
    env, fake, worker = world
    fake.release.set()
    app = make_application()
    handle = await start(env.client, worker, app)
    await wait_phase(handle, "awaiting_interview_decision")
    body = EVENT_MODELS["judgment"].model_validate({"result": "upheld"})
    # No appeal was lodged: the table refuses, once, however long the caller would wait.
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("judgment", body)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == REFUSAL_TYPE
    begun = asyncio.get_running_loop().time()
    with pytest.raises(Refused, match="judgment"):
        await send_event(env.client, app.application_id, "judgment", body, wait_seconds=ANSWER_WITHIN)
    assert asyncio.get_running_loop().time() - begun < ANSWER_WITHIN / 2
