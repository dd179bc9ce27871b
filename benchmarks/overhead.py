"""Overhead: what the application workflow costs on top of bare Temporal, per case.

Runs N cases, 20 at a time, of each of:

* **service**: ``RepeatAsylumApplication`` along the path granted-without-interview (start;
  updates ``interview-decision`` needed=false, ``decision`` granted, ``permit-collected``)
  on the in-memory activities of ``tests/support/fakes.py`` (the tests' one set of fakes), so the numbers are the
  orchestration's, not SQLite's or the PDF renderer's; the worker's sandbox as shipped
  (``infra/sandbox.py``);
* **baseline**: ``benchmarks/baseline.py``'s bare workflow making the same number of
  activity calls in the same stages (counted from the fake's recorded calls of one
  calibration case), starting the same number of timers and abandoned children, and taking
  the same updates, with trivial payloads and no domain logic, on the stock sandbox;

each with the service's data converter (pydantic + AES-GCM codec) and with the plain
pydantic converter, so the codec's share is visible; then a smaller run of the service on
the real activities (``worker.build_worker``: SQLite registry, document store, PDF letters
in a temporary data directory).  ``--diagnose`` adds the baseline with the service's
search-attribute upserts, and with those plus the service's real ``ResidencePermit`` child,
to price each separately.  docs/benchmark.md has the results and what they mean.

Why it is shaped so:

* **Interleaved rounds.**  The machine is shared (2 cores; other people's tests and
  browsers come and go), so the runs alternate in rounds (``--rounds``), each round a
  slice of every run in a rotating order; a burst of outside load then hits all of them.
* **CPU time beside wall time.**  Wall time and latency move with outside load; the CPU
  seconds this process (client + worker) and the dev server spend per case hardly do.
  They are the cost measure to trust, wall time the one users feel.
* Every run has its own task queue and worker, and a few untimed warm-up cases first.
* A case is ready for its first update when its stage-0 activities and the workflow task
  after them have completed; the driver long-polls the case's history for that (no query,
  no rejected update), for service and baseline alike.
* History numbers (events, payload bytes) come from ``fetch_history()`` of one case.
* Children (the ``ResidencePermit`` the application hands over to, and the baseline's
  stand-in) outlive their parents by design; they are terminated after each round,
  outside the measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Worker

from benchmarks.baseline import BaselineChild, BaselineWorkflow, bench_step
from benchmarks.plan import BaselinePlan
from domain.case import ApplicationInput, CaseOptions, CaseStatus
from domain.identifiers import application_workflow_id, permit_workflow_id
from domain.models import Application
from domain.steps import EVENT_MODELS
from infra.codec import KeyRing, data_converter
from infra.devstack import DevStack, make_example_documents
from infra.sandbox import workflow_runner
from tests.support.fakes import FakeWorld
from workflows.application import ApplicationWorkflow
from workflows.names import APPLICATION_WORKFLOW
from workflows.permit import PermitWorkflow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "application.json"

# The path measured: update name and body, in order.  permit-collected's date comes from
# the decision's result (the validator refuses a date before the permit's issue date).
DECIDE = {"grounds": "new elements assessed", "decided_by": "officer-17"}
PATH: list[tuple[str, dict[str, Any]]] = [
    ("interview-decision", {"needed": False, "reason": "the file suffices"}),
    ("decision", {"outcome": "granted", **DECIDE}),
    ("permit-collected", {}),
]
# The --diagnose baseline upserts the keys the service upserts (domain/search_attributes.py).

_case_numbers = itertools.count(1)


def service_worker(client: Client, task_queue: str, fake: FakeWorld) -> Worker:
    """The application and permit workflows on in-memory activities."""
    registered: list[Any] = fake.activities()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ApplicationWorkflow, PermitWorkflow],
        activities=registered,
        workflow_runner=workflow_runner(),
    )


def fake_calls(fake: FakeWorld) -> int:
    """The application's activity calls the fake recorded (not the permit's own)."""
    return sum(
        len(calls)
        for calls in (fake.registered, fake.checks, fake.letters, fake.bookings, fake.decisions, fake.permits, fake.closed)
    )


def baseline_worker(client: Client, task_queue: str, *, with_permit: bool = False) -> Worker:
    """The baseline's worker (stock sandbox); ``with_permit`` adds the permit workflow and its in-memory activities."""
    workflows: list[type] = [BaselineWorkflow, BaselineChild]
    activities: list[Any] = [bench_step]
    if with_permit:
        fake = FakeWorld()
        workflows.append(PermitWorkflow)
        activities += fake.activities()
    return Worker(client, task_queue=task_queue, workflows=workflows, activities=activities)


# --- CPU accounting ---------------------------------------------------------------------


def own_cpu() -> float:
    """CPU seconds of this process: client, worker (workflows, activities, SDK core)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds of another process (Linux /proc); NaN where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- history measures --------------------------------------------------------------------


def payload_bytes(message: Message) -> int:
    """Serialized size of every Payload inside ``message`` (inputs, results, headers,
    search attributes, user metadata), found by walking the protobuf."""
    if isinstance(message, Payload):
        return message.ByteSize()
    total = 0
    for descriptor, value in message.ListFields():
        if descriptor.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        entry = descriptor.message_type
        assert entry is not None
        if entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                total += sum(payload_bytes(v) for v in value.values())
        elif descriptor.is_repeated:
            total += sum(payload_bytes(v) for v in value)
        else:
            total += payload_bytes(value)
    return total


def event_name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]


@dataclass
class HistoryMeasure:
    events: int
    payload_bytes: int
    history_bytes: int
    activities: int
    workflow_tasks: int
    timers: int
    child_workflows: int
    upserts: int
    upserts_changing_nothing: int
    upserted_values: int
    upserted_values_changed: int
    event_types: dict[str, int]
    payload_bytes_by_event: dict[str, int]


async def measure_history(handle: WorkflowHandle[Any, Any]) -> HistoryMeasure:
    history = await handle.fetch_history()
    types: Counter[str] = Counter()
    by_event: Counter[str] = Counter()
    attributes: dict[str, bytes] = {}
    idle_upserts = values = changed = 0
    for event in history.events:
        name = event_name(event.event_type)
        types[name] += 1
        by_event[name] += payload_bytes(event)
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            news = {key: fields[key].SerializeToString(deterministic=True) for key in fields}
            delta = sum(1 for key, value in news.items() if attributes.get(key) != value)
            values += len(news)
            changed += delta
            idle_upserts += delta == 0
            attributes.update(news)
    return HistoryMeasure(
        events=len(history.events),
        payload_bytes=sum(by_event.values()),
        history_bytes=sum(e.ByteSize() for e in history.events),
        activities=types["ACTIVITY_TASK_SCHEDULED"],
        workflow_tasks=types["WORKFLOW_TASK_SCHEDULED"],
        timers=types["TIMER_STARTED"],
        child_workflows=types["START_CHILD_WORKFLOW_EXECUTION_INITIATED"],
        upserts=types["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        upserts_changing_nothing=idle_upserts,
        upserted_values=values,
        upserted_values_changed=changed,
        event_types=dict(sorted(types.items())),
        payload_bytes_by_event=dict(sorted(by_event.items())),
    )


async def wait_ready(handle: WorkflowHandle[Any, Any], activities: int) -> None:
    """Until ``activities`` activities have completed and the workflow task after them too."""
    completed = 0
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and completed >= activities:
            return
    raise RuntimeError(f"workflow {handle.id} closed before it was ready for updates")


# --- the cases ---------------------------------------------------------------------------

Handle = WorkflowHandle[Any, Any]
Case = Callable[[], Awaitable[tuple[float, Handle]]]
ChildIds = Callable[[Handle], list[str]]


def new_application(template: dict[str, Any]) -> Application:
    raw = json.loads(json.dumps(template))
    raw["application_id"] = f"BENCH-2026-{next(_case_numbers):06d}"
    raw["received_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return Application.model_validate(raw)


async def drive_service_case(handle: Handle) -> CaseStatus:
    """The updates of the path, in order; returns the last result."""
    status: CaseStatus | None = None
    for name, body in PATH:
        if name == "permit-collected":
            assert status is not None
            assert status.permit is not None
            body = {"collected_on": str(status.permit.issued_on)}
        status = await handle.execute_update(name, EVENT_MODELS[name].model_validate(body), result_type=CaseStatus)
    assert status is not None
    return status


def service_case(client: Client, task_queue: str, template: dict[str, Any], plan: BaselinePlan) -> Case:
    async def one() -> tuple[float, Handle]:
        app = new_application(template)
        started = time.perf_counter()
        handle = await client.start_workflow(
            ApplicationWorkflow.run,
            ApplicationInput(application=app, options=CaseOptions()),
            id=application_workflow_id(app.application_id),
            task_queue=task_queue,
        )
        await wait_ready(handle, plan.stages[0])
        await drive_service_case(handle)
        final: CaseStatus = await handle.result()
        elapsed = time.perf_counter() - started
        if not (final.closed and final.outcome == "granted"):
            raise RuntimeError(f"{handle.id} ended {final.phase}/{final.outcome}, not closed/granted")
        return elapsed, handle

    return one


def baseline_case(client: Client, task_queue: str, plan: BaselinePlan) -> Case:
    async def one() -> tuple[float, Handle]:
        started = time.perf_counter()
        handle = await client.start_workflow(
            BaselineWorkflow.run, plan, id=f"baseline-{next(_case_numbers):06d}", task_queue=task_queue
        )
        await wait_ready(handle, plan.stages[0])
        for number in range(1, len(plan.stages)):
            await handle.execute_update("step", number, result_type=int)
        await handle.result()
        return time.perf_counter() - started, handle

    return one


def permit_child_ids(handle: Handle) -> list[str]:
    return [permit_workflow_id(handle.id.removeprefix("application-"))]


def baseline_child_ids(plan: BaselinePlan) -> ChildIds:
    def ids(handle: Handle) -> list[str]:
        return [f"{handle.id}-child-{number}" for number in range(plan.children)]

    return ids


async def terminate_children(client: Client, handles: Sequence[Handle], child_ids: ChildIds | None) -> int:
    """End the children of finished cases (a permit would live for five years); returns how many."""
    if child_ids is None:
        return 0
    gate = asyncio.Semaphore(20)

    async def end(workflow_id: str) -> int:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).terminate("benchmark over")
            except RPCError:  # already closed, or never started
                return 0
            return 1

    return sum(await asyncio.gather(*(end(i) for h in handles for i in child_ids(h))))


# --- runs --------------------------------------------------------------------------------


@dataclass
class Run:
    """One configuration being measured, and what has been measured of it so far."""

    name: str
    workflow: str
    codec: bool
    activities: str
    one: Case
    client: Client
    child_ids: ChildIds | None
    wall_s: float = 0.0
    own_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    round_walls: list[float] = field(default_factory=list)
    children_terminated: int = 0
    last: Handle | None = None


CASE_TIMEOUT = 120.0  # seconds; a case the worker cannot finish (a broken workflow) must not hang the run


async def run_cases(one: Case, cases: int, concurrency: int) -> tuple[float, list[float], list[Handle]]:
    gate = asyncio.Semaphore(concurrency)

    async def gated() -> tuple[float, Handle]:
        async with gate:
            try:
                return await asyncio.wait_for(one(), CASE_TIMEOUT)
            except TimeoutError:
                raise RuntimeError(
                    f"a case did not finish within {CASE_TIMEOUT:.0f}s: is a workflow failing its tasks? "
                    "(the worker logs the failure above)"
                ) from None

    started = time.perf_counter()
    done = await asyncio.gather(*(gated() for _ in range(cases)))
    return time.perf_counter() - started, [d[0] for d in done], [d[1] for d in done]


async def measure_round(run: Run, cases: int, concurrency: int, server_pid: int) -> None:
    own, served = own_cpu(), process_cpu(server_pid)
    wall, latencies, handles = await run_cases(run.one, cases, concurrency)
    run.own_cpu_s += own_cpu() - own
    run.server_cpu_s += process_cpu(server_pid) - served
    run.wall_s += wall
    run.round_walls.append(wall)
    run.latencies += latencies
    run.last = handles[-1]
    run.children_terminated += await terminate_children(run.client, handles, run.child_ids)


async def measure(runs: list[Run], cases: int, rounds: int, warmup: int, concurrency: int, server_pid: int) -> None:
    """Warm every run up, then measure them in interleaved rounds, rotating the order."""
    for run in runs:
        if warmup:
            _, _, handles = await run_cases(run.one, warmup, concurrency)
            await terminate_children(run.client, handles, run.child_ids)
    rounds = max(1, min(rounds, cases))
    for number in range(rounds):
        share = cases // rounds + (1 if number < cases % rounds else 0)
        order = runs[number % len(runs) :] + runs[: number % len(runs)]
        for run in order:
            await measure_round(run, share, concurrency, server_pid)
        print(f"  round {number + 1}/{rounds}: " + ", ".join(f"{r.name} {r.round_walls[-1]:.1f}s" for r in order), flush=True)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


@dataclass
class RunResult:
    name: str
    workflow: str
    codec: bool
    activities: str
    cases: int
    concurrency: int
    wall_s: float
    cases_per_s: float
    mean_ms: float
    p95_ms: float
    own_cpu_ms_per_case: float
    server_cpu_ms_per_case: float
    round_walls_s: list[float]
    children_terminated: int
    history: HistoryMeasure


async def result_of(run: Run, concurrency: int) -> RunResult:
    assert run.last is not None
    cases = len(run.latencies)
    return RunResult(
        name=run.name,
        workflow=run.workflow,
        codec=run.codec,
        activities=run.activities,
        cases=cases,
        concurrency=concurrency,
        wall_s=run.wall_s,
        cases_per_s=cases / run.wall_s,
        mean_ms=statistics.fmean(run.latencies) * 1000,
        p95_ms=p95(run.latencies) * 1000,
        own_cpu_ms_per_case=run.own_cpu_s / cases * 1000,
        server_cpu_ms_per_case=run.server_cpu_s / cases * 1000,
        round_walls_s=run.round_walls,
        children_terminated=run.children_terminated,
        history=await measure_history(run.last),
    )


# --- calibration -------------------------------------------------------------------------


@dataclass
class Calibration:
    plan: BaselinePlan
    fake_calls_per_stage: list[int]
    history: HistoryMeasure
    child_history: HistoryMeasure | None
    child_workflow: str | None = None
    child_input: dict[str, Any] | None = None


def plan_from_history(history: WorkflowHistory) -> BaselinePlan:
    """Per stage (stage n begins when the n-th update is accepted) the activities and
    upserts; the timers and where the first is cancelled; the children and where."""
    stages: list[int] = [0]
    upserts: list[list[int]] = [[]]
    timers = children = 0
    cancelled_in = children_in = -1
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            stages.append(0)
            upserts.append([])
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            stages[-1] += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            upserts[-1].append(len(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields))
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timers += 1
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED and cancelled_in < 0:
            cancelled_in = len(stages) - 1
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children += 1
            children_in = len(stages) - 1
    return BaselinePlan(
        stages=stages,
        upserts=upserts,
        timers=timers,
        timers_cancelled_in_stage=cancelled_in if cancelled_in >= 0 else len(stages),
        children=children,
        children_in_stage=max(children_in, 0),
    )


async def calibrate(client: Client, template: dict[str, Any]) -> Calibration:
    """One service case, driven as the workflow tests drive it, counting the fake's calls."""
    fake = FakeWorld()
    task_queue = "bench-calibrate"
    async with service_worker(client, task_queue, fake):
        app = new_application(template)
        handle = await client.start_workflow(
            ApplicationWorkflow.run,
            ApplicationInput(application=app, options=CaseOptions()),
            id=application_workflow_id(app.application_id),
            task_queue=task_queue,
        )
        for _ in range(400):
            current: CaseStatus = await handle.query(ApplicationWorkflow.status)
            if current.phase == "awaiting_interview_decision":
                break
            await asyncio.sleep(0.025)
        else:
            raise RuntimeError(f"calibration case never reached awaiting_interview_decision; it is {current.phase}")
        stages = [fake_calls(fake)]
        status: CaseStatus | None = None
        for name, body in PATH:
            if name == "permit-collected":
                assert status is not None
                assert status.permit is not None
                body = {"collected_on": str(status.permit.issued_on)}
            before = fake_calls(fake)
            status = await handle.execute_update(name, EVENT_MODELS[name].model_validate(body), result_type=CaseStatus)
            stages.append(fake_calls(fake) - before)
        final: CaseStatus = await handle.result()
        if not (final.closed and final.outcome == "granted"):
            raise RuntimeError(f"calibration case ended {final.phase}/{final.outcome}, not closed/granted")
        history = await measure_history(handle)
        plan = plan_from_history(await handle.fetch_history())
        child_history = child_input = child_workflow = None
        if plan.children:
            await asyncio.sleep(1)  # let the child do its first work before it is measured
            child_history = await measure_history(client.get_workflow_handle(permit_child_ids(handle)[0]))
            await terminate_children(client, [handle], permit_child_ids)
            for event in (await handle.fetch_history()).events:
                if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
                    started = event.start_child_workflow_execution_initiated_event_attributes
                    child_workflow = started.workflow_type.name
                    [child_input] = await client.data_converter.decode(started.input.payloads, [dict])
                    break
    if plan.stages != stages:
        raise RuntimeError(f"the application's history schedules {plan.stages} activities per stage, the fake saw {stages}")
    return Calibration(
        plan=plan,
        fake_calls_per_stage=stages,
        history=history,
        child_history=child_history,
        child_workflow=child_workflow,
        child_input=child_input,
    )


# --- the real activities -----------------------------------------------------------------


def real_template(template: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The example application with its files in the document store (as `starter.py submit` does)."""
    from activities.document_store import DocumentStore

    documents = make_example_documents(data_dir / "example-documents")
    store = DocumentStore(data_dir / "documents")
    raw: dict[str, Any] = json.loads(json.dumps(template))
    for doc in raw["documents"]:
        doc["sha256"], doc["size_bytes"] = store.put_file(documents / doc["filename"])
    return raw


async def real_run(
    client: Client, template: dict[str, Any], plan: BaselinePlan, data_dir: Path, args: argparse.Namespace, server_pid: int
) -> RunResult:
    from activities.registry_db import Registry
    from infra.settings import Settings
    from worker import ACTIVITY_THREADS, build_worker

    settings = Settings(
        task_queue="bench-real",
        data_dir=data_dir,
        document_store=data_dir / "documents",
        outbox_dir=data_dir / "letters",
    )
    registry = Registry(settings.registry_url)
    registry.migrate()
    raw = real_template(template, data_dir)
    run = Run(
        name="service, real activities",
        workflow=APPLICATION_WORKFLOW,
        codec=True,
        activities="real (SQLite registry, PDF letters)",
        one=service_case(client, settings.task_queue, raw, plan),
        client=client,
        child_ids=permit_child_ids if plan.children else None,
    )
    try:
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
            async with build_worker(client, settings, registry, executor):
                await measure([run], args.real_cases, 1, min(args.warmup, 3), args.concurrency, server_pid)
                return await result_of(run, args.concurrency)
    finally:
        registry.dispose()


# --- report ------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def markdown(results: list[RunResult], calibration: Calibration, args: argparse.Namespace) -> str:
    plan = calibration.plan
    lines = [
        f"Path: granted without interview. {args.cases} cases per run ({args.real_cases} with the real activities), "
        f"{args.concurrency} at a time, in {args.rounds} interleaved rounds; {os.cpu_count()} CPUs.",
        f"Per case, from the fake's calls: activities per stage {calibration.fake_calls_per_stage} "
        f"(start, then after each update); {plan.timers} timer(s); {plan.children} child workflow(s).",
        "",
        "| run | cases | wall s | cases/s | mean ms | p95 ms | CPU ms/case worker+client | CPU ms/case server "
        "| events/case | workflow tasks/case | activities/case | payload B/case | history B/case |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        h = r.history
        lines.append(
            f"| {r.name} | {r.cases} | {r.wall_s:.1f} | {r.cases_per_s:.1f} | {r.mean_ms:.0f} | {r.p95_ms:.0f} "
            f"| {r.own_cpu_ms_per_case:.0f} | {r.server_cpu_ms_per_case:.0f} | {h.events} | {h.workflow_tasks} "
            f"| {h.activities} | {h.payload_bytes} | {h.history_bytes} |"
        )
    by_name = {r.name: r for r in results}
    lines += [
        "",
        "| ratio | wall time | mean latency | p95 latency | CPU worker+client | CPU server | events | payload bytes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    pairs = [
        ("service / baseline, codec", "service, codec", "baseline, codec"),
        ("service / baseline, no codec", "service, no codec", "baseline, no codec"),
        ("service / baseline + upserts, codec", "service, codec", "baseline + upserts, codec"),
        ("baseline + upserts / baseline, codec", "baseline + upserts, codec", "baseline, codec"),
        ("baseline + upserts + permit / + upserts, codec", "baseline + upserts + permit, codec", "baseline + upserts, codec"),
        ("service / baseline + upserts + permit, codec", "service, codec", "baseline + upserts + permit, codec"),
        ("service codec / no codec", "service, codec", "service, no codec"),
        ("baseline codec / no codec", "baseline, codec", "baseline, no codec"),
        ("service real / fake activities, codec", "service, real activities", "service, codec"),
    ]
    for label, a_name, b_name in pairs:
        a, b = by_name.get(a_name), by_name.get(b_name)
        if a is None or b is None:
            continue
        lines.append(
            f"| {label} | {ratio(a.wall_s / a.cases, b.wall_s / b.cases)} | {ratio(a.mean_ms, b.mean_ms)} "
            f"| {ratio(a.p95_ms, b.p95_ms)} | {ratio(a.own_cpu_ms_per_case, b.own_cpu_ms_per_case)} "
            f"| {ratio(a.server_cpu_ms_per_case, b.server_cpu_ms_per_case)} "
            f"| {ratio(a.history.events, b.history.events)} | {ratio(a.history.payload_bytes, b.history.payload_bytes)} |"
        )
    service, baseline = by_name.get("service, codec"), by_name.get("baseline, codec")
    if service is not None and baseline is not None:
        names = sorted(set(service.history.event_types) | set(baseline.history.event_types))
        lines += [
            "",
            "| event type (one case, codec) | service | baseline | service payload B | baseline payload B |",
            "|---|--:|--:|--:|--:|",
        ]
        for n in names:
            lines.append(
                f"| {n} | {service.history.event_types.get(n, 0)} | {baseline.history.event_types.get(n, 0)} "
                f"| {service.history.payload_bytes_by_event.get(n, 0)} | {baseline.history.payload_bytes_by_event.get(n, 0)} |"
            )
        h = service.history
        lines += [
            "",
            f"Search-attribute upserts per service case: {h.upserts} (values per upsert, by stage: {plan.upserts}), "
            f"{h.upserts_changing_nothing} of them changing no value; {h.upserted_values} values sent, "
            f"{h.upserted_values_changed} of them changed.",
        ]
    child = calibration.child_history
    if child is not None:
        lines += [
            f"Each service case also starts a ResidencePermit child (its own history, not counted above): "
            f"{child.events} events, {child.workflow_tasks} workflow tasks, {child.activities} activity, "
            f"{child.timers} timer, {child.payload_bytes} payload bytes until it waits for its first timer. "
            "Its CPU is in the service's CPU columns; the baseline's stand-in child is one workflow task.",
        ]
    terminated = {r.name: r.children_terminated for r in results if r.children_terminated}
    if terminated:
        lines.append(
            "Children terminated after each round (outside the measurements): "
            + ", ".join(f"{name} {count}" for name, count in terminated.items())
            + "."
        )
    return "\n".join(lines)


# --- the runs -------------------------------------------------------------------------


async def overhead(stack: DevStack, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """The overhead runs on ``stack``'s dev server; returns the results and their Markdown."""
    template = json.loads(EXAMPLE.read_text())
    started = time.perf_counter()
    server_pid = stack.processes["temporal"].pid
    clients = {
        True: await Client.connect(stack.address, data_converter=data_converter(KeyRing.generate("bench"))),
        False: await Client.connect(stack.address, data_converter=data_converter(None)),
    }
    print(f"Temporal dev server at {stack.address}; calibrating ...", flush=True)
    calibration = await calibrate(clients[True], template)
    plan = calibration.plan
    bare = plan.model_copy(update={"upserts": []})
    print(f"  plan: {plan.model_dump()}", flush=True)
    fakes = {codec: FakeWorld() for codec in clients}
    runs: list[Run] = []
    async with contextlib.AsyncExitStack() as exits:
        for codec, client in clients.items():
            suffix = "codec" if codec else "no codec"
            queue = suffix.replace(" ", "-")
            await exits.enter_async_context(service_worker(client, f"bench-service-{queue}", fakes[codec]))
            runs.append(
                Run(
                    name=f"service, {suffix}",
                    workflow=APPLICATION_WORKFLOW,
                    codec=codec,
                    activities="in-memory fakes",
                    one=service_case(client, f"bench-service-{queue}", template, plan),
                    client=client,
                    child_ids=permit_child_ids if plan.children else None,
                )
            )
            await exits.enter_async_context(baseline_worker(client, f"bench-baseline-{queue}"))
            runs.append(
                Run(
                    name=f"baseline, {suffix}",
                    workflow="BenchBaseline",
                    codec=codec,
                    activities="trivial",
                    one=baseline_case(client, f"bench-baseline-{queue}", bare),
                    client=client,
                    child_ids=baseline_child_ids(plan) if plan.children else None,
                )
            )
        if args.diagnose:
            await exits.enter_async_context(baseline_worker(clients[True], "bench-baseline-upserts"))
            runs.append(
                Run(
                    name="baseline + upserts, codec",
                    workflow="BenchBaseline",
                    codec=True,
                    activities="trivial",
                    one=baseline_case(clients[True], "bench-baseline-upserts", plan),
                    client=clients[True],
                    child_ids=baseline_child_ids(plan) if plan.children else None,
                )
            )
            if calibration.child_workflow is not None:
                await exits.enter_async_context(baseline_worker(clients[True], "bench-baseline-upserts-permit", with_permit=True))
                runs.append(
                    Run(
                        name="baseline + upserts + permit, codec",
                        workflow="BenchBaseline",
                        codec=True,
                        activities="trivial; the permit child's in-memory",
                        one=baseline_case(
                            clients[True],
                            "bench-baseline-upserts-permit",
                            plan.model_copy(
                                update={"child_workflow": calibration.child_workflow, "child_input": calibration.child_input}
                            ),
                        ),
                        client=clients[True],
                        child_ids=baseline_child_ids(plan),
                    )
                )
        await measure(runs, args.cases, args.rounds, args.warmup, args.concurrency, server_pid)
        results = [await result_of(run, args.concurrency) for run in runs]
    for codec, fake in fakes.items():
        expected = (args.cases + args.warmup) * sum(plan.stages)
        if fake_calls(fake) != expected:
            raise RuntimeError(f"the fake (codec={codec}) recorded {fake_calls(fake)} calls, expected {expected}")
    if args.real_cases > 0:
        print("Real activities ...", flush=True)
        results.append(await real_run(clients[True], template, plan, directory / "real", args, server_pid))
    table = markdown(results, calibration, args)
    return {
        "cpus": os.cpu_count(),
        "cases": args.cases,
        "real_cases": args.real_cases,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "seconds": time.perf_counter() - started,
        "calibration": asdict(calibration),
        "results": [asdict(r) for r in results],
        "markdown": table,
    }
