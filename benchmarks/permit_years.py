"""A permit in its fifth year, for the replay cost: its history after 4 years and 7 months.

Run on Temporal's time-skipping test server (years pass in seconds) with the permit
workflow's test fakes (``tests/support/fakes.py``): the history's
shape is what matters for replay, not the registry behind it.  Along the way the permit
takes a reported change in its second year; by the end its first extension reminder (six
months before expiry) has gone out.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.memory import ReplayCost, replay_cost, replayer
from domain.deadlines import add_months
from domain.identifiers import permit_workflow_id
from domain.messages import PermitInput
from domain.permit.events import ReportChangeEvent
from domain.permit.schedule import local_date
from domain.permit.state import PermitSettings, PermitWorkflowInput
from infra.codec import KeyRing
from infra.heartbeat import HeartbeatInterceptor
from infra.sandbox import workflow_runner
from tests.support.fakes import FakeWorld, fake_document_number
from tests.workflows.conftest import start_environment
from workflows.permit import PermitWorkflow


async def _advance_to(env: WorkflowEnvironment, day: date) -> None:
    now = await env.get_current_time()
    gap = (day - local_date(now)).days
    if gap > 0:
        await env.sleep(timedelta(days=gap, hours=12))
    await asyncio.sleep(0.2)  # let the worker finish the tasks the timers caused


async def permit_in_fifth_year() -> ReplayCost:
    env = await start_environment(KeyRing.generate("bench-years"))
    try:
        world = FakeWorld()
        async with Worker(
            env.client,
            task_queue="bench-years",
            workflows=[PermitWorkflow],
            activities=world.activities(),
            workflow_runner=workflow_runner(),
            interceptors=[HeartbeatInterceptor()],
        ):
            now = await env.get_current_time()
            issued_on = local_date(now)
            valid_until = add_months(issued_on, 60) - timedelta(days=1)
            handover = PermitInput(
                application_id="BENCH-2026-900001",
                document_number=fake_document_number("III", 4242),
                valid_from=issued_on,
                valid_until=valid_until,
                issued_at=now,
            )
            handle = await env.client.start_workflow(
                PermitWorkflow.run,
                PermitWorkflowInput(handover=handover, settings=PermitSettings()),
                id=permit_workflow_id(handover.application_id),
                task_queue="bench-years",
            )
            await _advance_to(env, add_months(issued_on, 18))
            today = local_date(await env.get_current_time())
            change = ReportChangeEvent(kind="address", occurred_on=today - timedelta(days=3), reported_on=today)
            await handle.execute_update("report-change", change)
            await _advance_to(env, add_months(valid_until, -5))
            history = await handle.fetch_history()
            cost = await replay_cost("permit in its fifth year (4 years 7 months)", history, replayer(env.client))
            await handle.terminate("benchmark over")
            return cost
    finally:
        await env.shutdown()
