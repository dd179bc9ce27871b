"""A permit's history per run is bounded: the run continues as new once it holds
``PermitSettings.max_history_events`` events (decision 0053), carrying its state."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.deadlines import add_months
from domain.identifiers import permit_workflow_id
from domain.messages import PermitInput
from domain.permit.events import ReportChangeEvent
from domain.permit.schedule import local_date
from domain.permit.state import PermitSettings, PermitWorkflowInput
from domain.permit.view import PermitView
from tests.support.fakes import FakeWorld, fake_document_number
from tests.support.temporal import worker
from workflows.permit import PermitWorkflow

BOUND = 60


async def test_a_run_continues_as_new_at_the_history_bound(env: WorkflowEnvironment, client: Client) -> None:
    world = FakeWorld()
    async with worker(client, [PermitWorkflow], world.activities()) as w:
        now = await env.get_current_time()
        issued_on = local_date(now)
        handover = PermitInput(
            application_id="HASA-2026-990001",
            document_number=fake_document_number("III", 990001),
            valid_from=issued_on,
            valid_until=add_months(issued_on, 60) - timedelta(days=1),
            issued_at=now,
        )
        handle = await client.start_workflow(
            PermitWorkflow.run,
            PermitWorkflowInput(handover=handover, settings=PermitSettings(max_history_events=BOUND)),
            id=permit_workflow_id(handover.application_id),
            task_queue=w.task_queue,
        )
        first_run = handle.result_run_id
        latest = client.get_workflow_handle(handle.id)
        for n in range(40):  # each reported change adds a handful of events
            if (await latest.describe()).run_id != first_run:
                break
            change = ReportChangeEvent(kind=f"address {n}", occurred_on=issued_on, reported_on=issued_on)
            await latest.execute_update("report-change", change)
        described = await latest.describe()
        assert described.run_id != first_run, "the run never continued as new"
        old = await client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
        assert old.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        # The bound is checked each time the main loop wakes: one event's worth of slack.
        assert BOUND <= len(old.events) <= BOUND + 20
        view: PermitView = await latest.query(PermitWorkflow.status)
        assert view.valid_until == handover.valid_until
        assert view.status.value == "active"
        await latest.terminate("test over")
