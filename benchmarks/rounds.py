"""The overhead run's runner: cases in flight, interleaved rounds, the results per run.

The machine is shared (2 cores; other people's tests and browsers come and go), so the
runs alternate in rounds, each round a slice of every run in a rotating order; a burst of
outside load then hits all of them.  CPU time is read beside wall time: wall time and
latency move with outside load, the CPU seconds this process (client + worker) and the dev
server spend per case hardly do.  Children outlive their parents by design; they are
terminated after each round, outside the measurements.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from benchmarks.common import own_cpu, process_cpu
from benchmarks.history import HistoryMeasure, measure_history

Handle = WorkflowHandle[Any, Any]
Case = Callable[[], Awaitable[tuple[float, Handle]]]  # one case, start to close: (seconds, its handle)
ChildIds = Callable[[Handle], list[str]]

CASE_TIMEOUT = 120.0  # seconds; a case the worker cannot finish (a broken workflow) must not hang the run


@dataclass
class Label:
    """What a run is: its name in the report, the workflow measured, with the codec or not, on which activities."""

    name: str
    workflow: str
    codec: bool
    activities: str


@dataclass
class Run:
    """One configuration being measured, and what has been measured of it so far."""

    label: Label
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


@dataclass
class RunResult(Label):
    """A run's figures (the results file's keys): per case, and one case's history."""

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
        walls = ", ".join(f"{r.label.name} {r.round_walls[-1]:.1f}s" for r in order)
        print(f"  round {number + 1}/{rounds}: {walls}", flush=True)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


async def result_of(run: Run, concurrency: int) -> RunResult:
    """The run's figures per case, with the history of its last case."""
    assert run.last is not None
    cases = len(run.latencies)
    per_case_ms = 1000 / cases
    return RunResult(
        **asdict(run.label),
        cases=cases,
        concurrency=concurrency,
        wall_s=run.wall_s,
        cases_per_s=cases / run.wall_s,
        mean_ms=statistics.fmean(run.latencies) * 1000,
        p95_ms=p95(run.latencies) * 1000,
        own_cpu_ms_per_case=run.own_cpu_s * per_case_ms,
        server_cpu_ms_per_case=run.server_cpu_s * per_case_ms,
        round_walls_s=run.round_walls,
        children_terminated=run.children_terminated,
        history=await measure_history(run.last),
    )
