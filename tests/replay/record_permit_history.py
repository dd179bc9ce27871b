"""Record the permit histories that ``test_permit_replay.py`` replays.

    .venv/bin/python -m tests.replay.record_permit_history

Runs one permit life on the time-skipping test server with the production converter and
codec (the checked-in test key ``histories/test-codec-key.json``, as the application's
recorder) and the fakes of
``tests/workflows/test_permit.py``: issued, two extension reminders, an extension applied
for and granted (continue-as-new), the new card collected, a late change report (a warning),
a change reported in time, a serious late report fined at once, a permanent permit
refused and appealed (the refusal upheld), and a withdrawal.  Each run of the chain is written to
``histories/permit_renewal_run<N>.json``.

Re-record only when the workflow's first release changes on purpose *before* it is
deployed.  Once permits run in production, these files are the old code's histories: keep
them, add new recordings beside them, and make every change pass all of them (through
``workflow.patched``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.deadlines import add_months
from domain.identifiers import permit_workflow_id
from domain.messages import PermitInput
from domain.models import JudgmentResult
from domain.permit.events import (
    AppealDecidedEvent,
    DocumentCollectedEvent,
    ExtensionApplicationEvent,
    ExtensionDecisionEvent,
    FineDecisionEvent,
    PermanentApplicationEvent,
    PermanentDecisionEvent,
    RefusalAppealedEvent,
    ReportChangeEvent,
    WithdrawalGround,
    WithdrawPermitEvent,
)
from domain.permit.schedule import local_date, start_of_day
from domain.permit.state import PermitSettings, PermitWorkflowInput
from domain.permit.view import EventOutcome
from domain.search_attributes import indexed_types
from infra.codec import data_converter
from tests.replay.record_application_history import keyring
from tests.support.fakes import FakeWorld, fake_document_number
from tests.support.temporal import worker as new_test_worker
from workflows.permit import PermitWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
APPLICATION_ID = "HASA-2026-000777"
SEARCH_ATTRIBUTES = indexed_types()


def _test_server() -> str:
    candidate = Path(sys.executable).parent / "temporal-test-server"
    return str(candidate) if candidate.exists() else "temporal-test-server"


async def record() -> list[Path]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_test_server(), data_converter=data_converter(keyring())
    )
    async with env:
        with contextlib.suppress(RPCError):  # already registered
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace="default", search_attributes=SEARCH_ATTRIBUTES)
            )
        world = FakeWorld()
        task_queue = f"record-{uuid.uuid4()}"
        async with new_test_worker(env.client, [PermitWorkflow], world.activities(), task_queue=task_queue):
            return await _live(env, env.client, task_queue)


async def _live(env: WorkflowEnvironment, client: Client, task_queue: str) -> list[Path]:
    now = await env.get_current_time()
    issued_on = local_date(now)
    valid_until = add_months(issued_on, 60) - timedelta(days=1)
    workflow_id = permit_workflow_id(APPLICATION_ID)
    started = await client.start_workflow(
        PermitWorkflow.run,
        PermitWorkflowInput(
            handover=PermitInput(
                application_id=APPLICATION_ID,
                document_number=fake_document_number("III", 77),
                valid_from=issued_on,
                valid_until=valid_until,
                issued_at=now,
            ),
            settings=PermitSettings(),
        ),
        id=workflow_id,
        task_queue=task_queue,
    )
    handle = client.get_workflow_handle(workflow_id)

    async def advance_to(day: date) -> None:
        await env.sleep(start_of_day(day) + timedelta(hours=1) - await env.get_current_time())

    async def send(event: str, body: object) -> EventOutcome:
        outcome: EventOutcome = await handle.execute_update(event, body, result_type=EventOutcome)
        return outcome

    await advance_to(add_months(valid_until, -3))
    today = local_date(await env.get_current_time())
    await send("extension-application", ExtensionApplicationEvent(submitted_on=today))
    await send("extension-decision", ExtensionDecisionEvent(granted=True, grounds="asylum grounds still apply"))
    await send("document-collected", DocumentCollectedEvent(collected_on=today))
    await advance_to(add_months(valid_until, 6))
    today = local_date(await env.get_current_time())
    await send("report-change", ReportChangeEvent(kind="address", occurred_on=today - timedelta(weeks=8), reported_on=today))
    await send("report-change", ReportChangeEvent(kind="work", occurred_on=today - timedelta(weeks=1), reported_on=today))
    serious = ReportChangeEvent(kind="household", occurred_on=today - timedelta(weeks=9), reported_on=today, serious=True)
    await send("report-change", serious)
    await send("fine-decision", FineDecisionEvent(imposed=True, amount_eur=Decimal(900)))
    await send("permanent-application", PermanentApplicationEvent(submitted_on=today, civic_integration_met=False))
    await send("permanent-decision", PermanentDecisionEvent(granted=False, grounds="civic integration not met"))
    await send("refusal-appealed", RefusalAppealedEvent(lodged_on=today))
    await send("appeal-decided", AppealDecidedEvent(result=JudgmentResult.UPHELD))
    await send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.RESIDENCE_ABROAD, explanation="moved abroad"))
    await started.result()

    HISTORIES.mkdir(exist_ok=True)
    written: list[Path] = []
    run_id: str | None = started.first_execution_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        path = HISTORIES / f"permit_renewal_run{len(written) + 1}.json"
        path.write_text(history.to_json(), encoding="utf-8")
        written.append(path)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return written


if __name__ == "__main__":
    for written_path in asyncio.run(record()):
        sys.stdout.write(f"{written_path}\n")
