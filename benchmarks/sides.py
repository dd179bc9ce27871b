"""The two sides of the overhead run: the service's cases and bare Temporal's, with their workers.

* **service**: ``RepeatAsylumApplication`` along ``common.PATH`` (granted without
  interview) on the in-memory activities of ``tests/support/fakes.py`` (the tests' one set
  of fakes), so the numbers are the orchestration's, not SQLite's or the PDF renderer's;
  the worker's sandbox as shipped (``infra/sandbox.py``);
* **baseline**: ``benchmarks/baseline.py``'s bare workflow following the plan read from
  the service's history, on the stock sandbox.

A case is ready for its first update when its stage-0 activities and the workflow task
after them have completed; both sides long-poll the case's history for that
(``history.wait_ready``: no query, no rejected update).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from benchmarks.bare import BareParked, bench_step
from benchmarks.baseline import BaselineWorkflow
from benchmarks.common import follow_path, new_application
from benchmarks.history import wait_ready
from benchmarks.plan import BaselinePlan
from benchmarks.rounds import Case, ChildIds, Handle, Label, Run
from domain.case import ApplicationInput, CaseOptions, CaseStatus
from domain.identifiers import application_workflow_id, permit_workflow_id
from domain.models import Application
from infra.heartbeat import HeartbeatInterceptor
from infra.sandbox import workflow_runner
from tests.support.fakes import FakeWorld
from workflows.application import ApplicationWorkflow
from workflows.names import APPLICATION_WORKFLOW
from workflows.permit import PermitWorkflow

_baseline_numbers = itertools.count(1)


def task_queue_of(name: str) -> str:
    """A run's own task queue, from its name ("baseline + upserts, codec" -> bench-baseline-upserts-codec)."""
    return "bench-" + re.sub(r"[^a-z]+", "-", name).strip("-")


def has_codec(client: Client) -> bool:
    return client.data_converter.payload_codec is not None


# --- the service ---------------------------------------------------------------------------


def service_worker(client: Client, task_queue: str, fake: FakeWorld) -> Worker:
    """The application and permit workflows on in-memory activities."""
    registered: list[Any] = fake.activities()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ApplicationWorkflow, PermitWorkflow],
        activities=registered,
        workflow_runner=workflow_runner(),
        interceptors=[HeartbeatInterceptor()],  # as worker.py's
    )


def fake_calls(fake: FakeWorld) -> int:
    """The application's activity calls the fake recorded (not the permit's own)."""
    return sum(
        len(calls)
        for calls in (fake.registered, fake.checks, fake.letters, fake.bookings, fake.decisions, fake.permits, fake.closed)
    )


async def start_application(client: Client, task_queue: str, app: Application) -> Handle:
    """The application's workflow, as the service's cases start (no summary, default options)."""
    return await client.start_workflow(
        ApplicationWorkflow.run,
        ApplicationInput(application=app, options=CaseOptions()),
        id=application_workflow_id(app.application_id),
        task_queue=task_queue,
    )


async def closed_granted(handle: Handle) -> CaseStatus:
    """The case's result, which must be closed and granted (else the path broke)."""
    final: CaseStatus = await handle.result()
    if not (final.closed and final.outcome == "granted"):
        raise RuntimeError(f"{handle.id} ended {final.phase}/{final.outcome}, not closed/granted")
    return final


def service_case(client: Client, task_queue: str, raw: dict[str, Any], plan: BaselinePlan) -> Case:
    async def one() -> tuple[float, Handle]:
        app = new_application(raw)
        started = time.perf_counter()
        handle = await start_application(client, task_queue, app)
        await wait_ready(handle, plan.stages[0])
        async for _ in follow_path(handle):
            pass
        await closed_granted(handle)
        return time.perf_counter() - started, handle

    return one


def permit_child_ids(handle: Handle) -> list[str]:
    return [permit_workflow_id(handle.id.removeprefix("application-"))]


def service_run(
    name: str,
    client: Client,
    raw: dict[str, Any],
    plan: BaselinePlan,
    *,
    task_queue: str = "",
    activities: str = "in-memory fakes",
) -> Run:
    """The service's cases on ``task_queue`` (default: the run's own, from its name)."""
    return Run(
        Label(name, APPLICATION_WORKFLOW, has_codec(client), activities),
        one=service_case(client, task_queue or task_queue_of(name), raw, plan),
        client=client,
        child_ids=permit_child_ids if plan.children else None,
    )


def service_side(name: str, client: Client, fake: FakeWorld, raw: dict[str, Any], plan: BaselinePlan) -> tuple[Worker, Run]:
    """The service's run on in-memory activities, with its worker."""
    return service_worker(client, task_queue_of(name), fake), service_run(name, client, raw, plan)


# --- the baseline --------------------------------------------------------------------------


def baseline_worker(client: Client, task_queue: str, *, with_permit: bool = False) -> Worker:
    """The baseline's worker (stock sandbox); ``with_permit`` adds the permit workflow and its in-memory activities."""
    workflows: list[type] = [BaselineWorkflow, BareParked]
    activities: list[Any] = [bench_step]
    if with_permit:
        fake = FakeWorld()
        workflows.append(PermitWorkflow)
        activities += fake.activities()
    return Worker(client, task_queue=task_queue, workflows=workflows, activities=activities)


def baseline_case(client: Client, task_queue: str, plan: BaselinePlan) -> Case:
    async def one() -> tuple[float, Handle]:
        started = time.perf_counter()
        handle = await client.start_workflow(
            BaselineWorkflow.run, plan, id=f"baseline-{next(_baseline_numbers):06d}", task_queue=task_queue
        )
        await wait_ready(handle, plan.stages[0])
        for number in range(1, len(plan.stages)):
            await handle.execute_update("step", number, result_type=int)
        await handle.result()
        return time.perf_counter() - started, handle

    return one


def baseline_child_ids(plan: BaselinePlan) -> ChildIds:
    def ids(handle: Handle) -> list[str]:
        return [f"{handle.id}-child-{number}" for number in range(plan.children)]

    return ids


def baseline_side(name: str, client: Client, plan: BaselinePlan) -> tuple[Worker, Run]:
    """The baseline's run with its worker; a plan naming the service's child gets the permit workflow too."""
    with_permit = plan.child_workflow is not None
    task_queue = task_queue_of(name)
    run = Run(
        Label(name, "BenchBaseline", has_codec(client), "trivial; the permit child's in-memory" if with_permit else "trivial"),
        one=baseline_case(client, task_queue, plan),
        client=client,
        child_ids=baseline_child_ids(plan) if plan.children else None,
    )
    return baseline_worker(client, task_queue, with_permit=with_permit), run
