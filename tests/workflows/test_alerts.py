"""Alerts (domain/alerts.py) moved by the workflow's own timers, on the time-skipping server.

The decision period: 2 months from receipt under the EU policy for the admissibility
decision (Regulation (EU) 2024/1348 art. 38 as the policy computes it); operators are
warned 14 days before (``CaseOptions.decision_warning_lead``, a setting).  The repair
period: 1 week (Vw 2000 art. 30c, IND page step 4); ``RepairAlert`` says "approaching" from
``REPAIR_ALERT_LEAD`` (3 days, a setting) before its end.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.deadlines import AMSTERDAM
from domain.search_attributes import APPEAL_ALERT, DECISION_ALERT, REPAIR_ALERT
from tests.support.fakes import FakeWorld
from tests.support.temporal import worker as new_test_worker
from tests.workflows.test_application import make_application, start, status, wait_phase, workflow_classes


@pytest.fixture
def fake() -> FakeWorld:
    return FakeWorld()


async def attributes(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """Keyword attributes as the server holds them (read raw: the time-skipping server's
    datetime values do not decode as typed attributes, docs/decisions/0008)."""
    described = await handle._client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default", execution=WorkflowExecution(workflow_id=handle.id))
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    return {name: json.loads(p.data) for name, p in fields.items() if p.data and p.metadata.get("encoding") == b"json/plain"}


async def test_decision_alert_moves_from_none_to_approaching_to_overdue(own_env: WorkflowEnvironment, fake: FakeWorld) -> None:
    env, client = own_env, own_env.client
    worker = new_test_worker(client, workflow_classes(), fake.activities(), task_queue="alerts")
    now = (await env.get_current_time()).astimezone(AMSTERDAM)
    received = (now - timedelta(days=30)).isoformat()  # the earliest decision deadline is about a month ahead
    async with worker:
        handle = await start(client, worker, make_application(received_at=received))
        await wait_phase(handle, "awaiting_interview_decision")
        first = await attributes(handle)
        assert first[DECISION_ALERT.name] == "none"
        assert REPAIR_ALERT.name not in first  # no repair period runs
        assert APPEAL_ALERT.name not in first
        due = min((await status(handle)).deadlines.values())
        await env.sleep(due - timedelta(days=7) - await env.get_current_time())
        assert (await attributes(handle))[DECISION_ALERT.name] == "approaching"
        await env.sleep(timedelta(days=8))
        assert (await attributes(handle))[DECISION_ALERT.name] == "overdue"
        await handle.terminate("test over")


async def test_repair_alert_before_the_repair_period_ends(own_env: WorkflowEnvironment, fake: FakeWorld) -> None:
    env, client = own_env, own_env.client
    fake.complete_from_round = 99
    worker = new_test_worker(client, workflow_classes(), fake.activities(), task_queue="alerts")
    async with worker:
        handle = await start(client, worker, make_application())
        waiting = await wait_phase(handle, "awaiting_documents")
        assert (await attributes(handle))[REPAIR_ALERT.name] == "none"
        await env.sleep(waiting.deadlines["repair_by"] - timedelta(days=2) - await env.get_current_time())
        assert (await attributes(handle))[REPAIR_ALERT.name] == "approaching"
        await handle.terminate("test over")
