"""Workers on fresh task queues, polling with a deadline, and what operators see of a case."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import default
from temporalio.worker import Worker

from domain import search_attributes as sa
from domain.case import CaseStatus, details_markdown
from domain.steps import APPLICATION_EVENTS, MACHINE, Phase
from infra.heartbeat import HeartbeatInterceptor

T = TypeVar("T")

POLL_SECONDS = 10.0
POLL_INTERVAL = 0.05


def worker(
    client: Client, workflows: Sequence[type], activities: Sequence[Callable[..., Any]], task_queue: str | None = None
) -> Worker:
    """The tests' worker: the service's heartbeats (its activities are scheduled with a heartbeat
    timeout, infra/heartbeat.py), on a task queue of its own unless one is named, so tests never
    pick up each other's tasks."""
    return Worker(
        client,
        task_queue=task_queue or f"tq-{uuid.uuid4()}",
        workflows=list(workflows),
        activities=list(activities),
        interceptors=[HeartbeatInterceptor()],
    )


async def poll(read: Callable[[], Awaitable[T]], until: Callable[[T], bool], what: str, seconds: float = POLL_SECONDS) -> T:
    """Read until ``until`` holds; fail after ``seconds`` (wall clock) naming ``what`` and the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = await read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s; last seen: {value!r}")
        await asyncio.sleep(POLL_INTERVAL)


async def assert_operators_see(handle: WorkflowHandle[Any, Any], status: CaseStatus) -> None:
    """The search attributes and current details of an application agree with its status.

    What the workflow publishes is what operators filter and read by; a transition that
    forgets to publish (a phase, DecisionDueBy, InterviewAt) fails here.
    """
    attributes = await search_attributes(handle)
    due = [status.deadlines[k] for k in ("admissibility_by", "decide_by") if k in status.deadlines]
    interview_at = status.interview.starts_at if status.phase == "interview_booked" else None
    expected = {
        sa.APPLICATION_PHASE.name: status.phase,
        sa.APPLICATION_STEP.name: status.step,
        sa.POLICY_VERSION.name: status.policy_version,
        sa.APPLICATION_OUTCOME.name: status.outcome,
        sa.DECISION_DUE_BY.name: min(due) if due else None,
        sa.INTERVIEW_AT.name: interview_at,
    }
    # (the alert attributes follow the clock, not the status: tests/workflows/test_alerts.py)
    assert {name: attributes.get(name) for name in expected} == expected
    accepts = [t.value for t in APPLICATION_EVENTS if MACHINE.allowed(Phase(status.phase), t)]
    # (the fakes' missing items carry no Dutch text, so the Dutch column stays empty)
    assert await current_details(handle) == details_markdown(status, missing_nl=[], accepts=accepts)


async def search_attributes(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """The workflow's search attributes by name, an unset one as None.

    Read through the raw service call: the SDK's describe() cannot parse an unset Datetime as
    the time-skipping test server returns it (a null payload typed Datetime).
    """
    client = handle._client
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id))
    )
    fields = raw.workflow_execution_info.search_attributes.indexed_fields
    converter = default().payload_converter
    found: dict[str, Any] = {}
    for name, payload in fields.items():
        value = converter.from_payloads([payload])[0]
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and payload.metadata.get("type") == b"Datetime":
            value = datetime.fromisoformat(value)
        found[name] = value
    return found


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    """The Web UI's current details of a workflow, read the way the UI reads them."""
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(metadata.current_details)
