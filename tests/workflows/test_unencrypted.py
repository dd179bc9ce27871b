"""Issue 8 defect 3: a client without the key can neither start a case nor change one.

The worker runs with the production converter (the session's test server uses it); a
second client on the same server has the plain pydantic converter, as a client without
the key would.  Before the fix the clear start ran the case (personal data in clear in the
history) and the clear ``decision: granted`` was applied.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.case import CaseStatus
from domain.identifiers import application_workflow_id
from domain.models import DecisionEvent, InterviewDecisionEvent
from tests.support.fakes import FakeWorld
from tests.workflows.test_application import _started, make_application, start, wait_phase, workflow_classes
from workflows.application import ApplicationInput, ApplicationWorkflow, CaseOptions


@pytest.fixture
def plain_client(client: Client) -> Client:
    return Client(client.service_client, namespace=client.namespace, data_converter=pydantic_data_converter)


async def test_a_start_in_clear_fails_before_any_step(
    client: Client, plain_client: Client, new_worker: Callable[..., Worker]
) -> None:
    fake = FakeWorld()
    async with new_worker(workflow_classes(), fake.activities()) as worker:
        app = make_application()
        handle = await plain_client.start_workflow(
            ApplicationWorkflow.run,
            ApplicationInput(application=app, options=CaseOptions()),
            id=application_workflow_id(app.application_id),
            task_queue=worker.task_queue,
        )
        _started.append(handle)
        with pytest.raises(WorkflowFailureError) as unreadable:
            await handle.result()
        # Without the key the failure's type is readable, its message (encrypted) is not;
        # with the key, the message says what happened.
        assert isinstance(unreadable.value.cause, ApplicationError)
        assert unreadable.value.cause.type == "UnencryptedPayload"
        with pytest.raises(WorkflowFailureError) as caught:
            await client.get_workflow_handle(handle.id).result()
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "UnencryptedPayload"
    assert "unencrypted payload was refused" in cause.message
    assert fake.registered == []
    assert fake.letters == []


async def test_an_update_in_clear_is_refused_and_changes_nothing(
    client: Client, plain_client: Client, new_worker: Callable[..., Worker]
) -> None:
    fake = FakeWorld()
    async with new_worker(workflow_classes(), fake.activities()) as worker:
        handle = await start(client, worker, make_application())
        before = await wait_phase(handle, "awaiting_interview_decision")
        clear = plain_client.get_workflow_handle(handle.id)
        for event, body in (
            ("interview-decision", InterviewDecisionEvent(needed=False, reason="file suffices")),
            ("decision", DecisionEvent.model_validate({"outcome": "granted", "grounds": "x", "decided_by": "o"})),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as caught:
                await clear.execute_update(event, body)
            assert isinstance(caught.value.cause, ApplicationError)
            assert caught.value.cause.type == "UnencryptedPayload"
        after = await handle.query(ApplicationWorkflow.status, result_type=CaseStatus)
    assert after == before
    assert fake.decisions == []
