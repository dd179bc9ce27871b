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

The modules: ``sides.py`` (the service's and the baseline's cases and workers),
``rounds.py`` (cases in flight, interleaved rounds, the figures per run), ``history.py``
(events and payload bytes; the baseline's plan from the service's history),
``report.overhead_markdown`` (the tables); this module calibrates and runs them.

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
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from benchmarks.common import follow_path, new_application, stored_template, template, wait_phase
from benchmarks.history import HistoryMeasure, measure_history, plan_from_history
from benchmarks.plan import BaselinePlan
from benchmarks.report import overhead_markdown
from benchmarks.rounds import Run, RunResult, measure, result_of, terminate_children
from benchmarks.sides import (
    baseline_side,
    closed_granted,
    fake_calls,
    permit_child_ids,
    service_run,
    service_side,
    service_worker,
    start_application,
)
from infra.codec import KeyRing, data_converter
from infra.devstack import DevStack
from tests.support.fakes import FakeWorld

STEP5 = "awaiting_interview_decision"


@dataclass
class Calibration:
    plan: BaselinePlan
    fake_calls_per_stage: list[int]
    history: HistoryMeasure
    child_history: HistoryMeasure | None
    child_workflow: str | None = None
    child_input: dict[str, Any] | None = None


async def calibrate(client: Client, raw: dict[str, Any]) -> Calibration:
    """One service case, driven as the workflow tests drive it, counting the fake's calls."""
    fake = FakeWorld()
    async with service_worker(client, "bench-calibrate", fake):
        handle = await start_application(client, "bench-calibrate", new_application(raw))
        await wait_phase(handle, STEP5, limit_s=10)
        before = fake_calls(fake)
        stages = [before]
        async for _ in follow_path(handle):
            stages.append(fake_calls(fake) - before)
            before = fake_calls(fake)
        await closed_granted(handle)
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


async def real_run(
    client: Client, raw: dict[str, Any], plan: BaselinePlan, data_dir: Path, args: argparse.Namespace, server_pid: int
) -> RunResult:
    """The service's cases on the real activities (``worker.build_worker``) in ``data_dir``."""
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
    stored = stored_template(raw, data_dir)
    run = service_run(
        "service, real activities",
        client,
        stored,
        plan,
        task_queue=settings.task_queue,
        activities="real (SQLite registry, PDF letters)",
    )
    try:
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
            async with build_worker(client, settings, registry, executor):
                await measure([run], args.real_cases, 1, min(args.warmup, 3), args.concurrency, server_pid)
                return await result_of(run, args.concurrency)
    finally:
        registry.dispose()


async def overhead(stack: DevStack, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """The overhead runs on ``stack``'s dev server; returns the results and their Markdown."""
    raw = template()
    started = time.perf_counter()
    server_pid = stack.processes["temporal"].pid
    clients = {
        True: await Client.connect(stack.address, data_converter=data_converter(KeyRing.generate("bench"))),
        False: await Client.connect(stack.address, data_converter=data_converter(None)),
    }
    print(f"Temporal dev server at {stack.address}; calibrating ...", flush=True)
    calibration = await calibrate(clients[True], raw)
    plan = calibration.plan
    print(f"  plan: {plan.model_dump()}", flush=True)
    fakes = {codec: FakeWorld() for codec in clients}
    sides = []
    for codec, client in clients.items():
        suffix = "codec" if codec else "no codec"
        sides.append(service_side(f"service, {suffix}", client, fakes[codec], raw, plan))
        sides.append(baseline_side(f"baseline, {suffix}", client, plan.model_copy(update={"upserts": []})))
    if args.diagnose:
        sides.append(baseline_side("baseline + upserts, codec", clients[True], plan))
        if calibration.child_workflow is not None:
            child = {"child_workflow": calibration.child_workflow, "child_input": calibration.child_input}
            sides.append(baseline_side("baseline + upserts + permit, codec", clients[True], plan.model_copy(update=child)))
    runs: list[Run] = [run for _, run in sides]
    async with contextlib.AsyncExitStack() as exits:
        for worker, _ in sides:
            await exits.enter_async_context(worker)
        await measure(runs, args.cases, args.rounds, args.warmup, args.concurrency, server_pid)
        results = [await result_of(run, args.concurrency) for run in runs]
    for codec, fake in fakes.items():
        expected = (args.cases + args.warmup) * sum(plan.stages)
        if fake_calls(fake) != expected:
            raise RuntimeError(f"the fake (codec={codec}) recorded {fake_calls(fake)} calls, expected {expected}")
    if args.real_cases > 0:
        print("Real activities ...", flush=True)
        results.append(await real_run(clients[True], raw, plan, directory / "real", args, server_pid))
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
        "markdown": overhead_markdown(results, calibration, args),
    }
