"""Memory per parked case, and the cost of rebuilding a case from its history.

**Parked cases.**  Three worker processes on one dev server, in one run: the bare worker
(``benchmarks/bare_worker.py``: ``BareParked``, a sandboxed workflow parked on a signal),
and ``worker.py`` as shipped (real activities: SQLite registry, document store, PDF
letters).  Cases are parked in two sizes (N/3, then N); the worker's resident memory is
read at each (``/proc``), and the slope between them is the memory per parked case:
fixed costs (the interpreter, the libraries, the first run's caches) drop out.

* bare: ``BareParked`` workflows, parked once their first workflow task completed;
* application: ``RepeatAsylumApplication`` at step 5 (``awaiting_interview_decision``:
  registered, acknowledged, documents checked), as `starter.py submit` starts it;
* permit: ``ResidencePermit`` parked on its timers mid-term, as ``starter.py import-permits``
  starts the permits that already exist (collected card, 30 months left).

Every worker's cache holds more than the cases parked, so nothing is evicted while
measuring.  The report is the slope per kind and its ratio to bare.

**Replay.**  The cost to rebuild a case from history after eviction: the worker replays the
whole history of the run before it can act on the next event.  Measured with the SDK's
``Replayer`` on the shipped sandbox runner for histories at each phase (ms per replay, the
median of several, and events), and for a permit in its fifth year.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from benchmarks.common import (
    PeakRss,
    Slope,
    follow_path,
    gather_limited,
    new_application,
    rss_kb,
    settle,
    spawn_worker,
    start_import,
    stored_template,
    template,
    wait_count,
    wait_phase,
)
from domain import search_attributes as sa
from domain.deadlines import add_months
from domain.identifiers import application_workflow_id, permit_workflow_id
from domain.permit.schedule import local_date
from infra.client import connect
from infra.devstack import DevStack
from infra.sandbox import workflow_runner
from infra.settings import Settings
from intake.cases import start_case
from workflows.application import ApplicationWorkflow
from workflows.permit import PermitWorkflow

PARK_TIMEOUT = 900.0
STEP5 = "awaiting_interview_decision"
# What the replay run measures after each event of the path.
AFTER = {
    "interview-decision": "application awaiting the decision",
    "decision": "application granted, awaiting collection",
    "permit-collected": "application closed",
}


@dataclass
class MemoryResult:
    parked: int
    bare: Slope
    application: Slope
    permit: Slope | None
    stock: Slope | None = None
    worker_rss_kb: dict[str, int] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        out = {"application": self.application.kb_per_case / self.bare.kb_per_case}
        if self.permit is not None:
            out["permit"] = self.permit.kb_per_case / self.bare.kb_per_case
        if self.stock is not None:
            out["application_stock_sandbox"] = self.stock.kb_per_case / self.bare.kb_per_case
        return out


async def park_bare(client: Client, task_queue: str, first: int, count: int) -> None:
    async def one(number: int) -> None:

        handle = await client.start_workflow("BareParked", number, id=f"bare-parked-{number:06d}", task_queue=task_queue)
        # Parked once its first workflow task has completed.
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                return

    await gather_limited([lambda n=n: one(n) for n in range(first, first + count)], 20)  # type: ignore[misc]


async def park_applications(client: Client, settings: Settings, raw: dict[str, Any], count: int, total: int) -> list[str]:
    ids: list[str] = []

    async def one() -> None:
        app = new_application(raw)
        ids.append(app.application_id)
        await start_case(client, settings, app)

    await gather_limited([one for _ in range(count)], 20)
    query = f"TaskQueue = '{settings.task_queue}' AND {sa.APPLICATION_PHASE.name} = '{STEP5}'"
    await wait_count(client, query, total, PARK_TIMEOUT, "applications parked at step 5")
    return ids


async def park_permits(stack: DevStack, client: Client, task_queue: str, first: int, count: int, total: int) -> None:
    """``count`` existing permits imported (``starter.py import-permits``), parked mid-term on their timers."""
    from benchmarks.scale import write_records

    today = local_date(datetime.now(UTC))
    path = write_records(stack.data_dir / f"parked-permits-{first}.jsonl", count, first, add_months(today, 30))
    process = await start_import(stack, path, task_queue)
    if await process.wait() != 0:
        raise RuntimeError(f"starter.py import-permits {path} exited {process.returncode}")
    query = f"TaskQueue = '{task_queue}' AND {sa.PERMIT_STATUS.name} = 'active'"
    await wait_count(client, query, total, PARK_TIMEOUT, "permits parked")


Park = Callable[[int, int, int], Awaitable[object]]  # (first number, how many, parked in all by then)


async def slope(pid: int, small: int, large: int, park: Park) -> Slope:
    """The worker's RSS with ``small`` cases parked, then ``large``."""
    await park(0, small, small)
    await settle()
    rss_small = rss_kb(pid)
    await park(small, large - small, large)
    await settle()
    return Slope(small, large, rss_small, rss_kb(pid))


async def parked_memory(stack: DevStack, parked: int, kinds: list[str]) -> MemoryResult:
    """The RSS slope per parked case: bare, application at step 5, permit; one dev server, one run."""
    small, large = max(1, parked // 3), parked
    cache = 3 * parked + 100  # nothing evicted while measuring
    pids = {
        "bare": spawn_worker(stack, "worker-bare", "bench-bare", bare=True, max_cached_workflows=cache),
        "application": spawn_worker(stack, "worker-app", "bench-app", max_cached_workflows=cache),
        "stock": spawn_worker(stack, "worker-stock", "bench-stock", stock=True, max_cached_workflows=cache)
        if "stock" in kinds
        else 0,
        "permit": spawn_worker(stack, "worker-permit", "bench-permit", max_cached_workflows=cache),
    }
    client = await stack_client(stack)
    raw = stored_template(template(), stack.data_dir)
    await settle(3)

    def applications(task_queue: str) -> Park:
        settings = stack_settings(stack, task_queue)
        return lambda _, count, total: park_applications(client, settings, raw, count, total)

    parks: dict[str, tuple[str, Park]] = {
        "bare": ("bare", lambda first, count, _: park_bare(client, "bench-bare", first, count)),
        "application": ("applications at step 5", applications("bench-app")),
        "stock": ("applications on the stock sandbox (before decision 0050)", applications("bench-stock")),
        "permit": (
            "permits",
            lambda first, count, total: park_permits(stack, client, "bench-permit", 700_000 + first, count, total),
        ),
    }
    slopes: dict[str, Slope] = {}
    for kind, (what, park) in parks.items():
        if kind in ("bare", "application") or kind in kinds:
            print(f"  memory: {what}, {small} then {large} parked ...", flush=True)
            slopes[kind] = await slope(pids[kind], small, large, park)
    return MemoryResult(
        parked=large,
        bare=slopes["bare"],
        application=slopes["application"],
        permit=slopes.get("permit"),
        stock=slopes.get("stock"),
        worker_rss_kb={
            "bare": rss_kb(pids["bare"]),
            "application": rss_kb(pids["application"]),
            "permit": rss_kb(pids["permit"]),
            "application_stock_sandbox": rss_kb(pids["stock"]) if pids["stock"] else 0,
        },
    )


def stack_settings(stack: DevStack, task_queue: str) -> Settings:
    """A client's settings on ``stack`` (its address and data directory) for ``task_queue``."""
    return Settings(temporal_address=stack.address, task_queue=task_queue, data_dir=stack.data_dir)


async def stack_client(stack: DevStack) -> Client:
    """A client of ``stack`` with its codec key."""
    return await connect(stack_settings(stack, "-"), environ=stack.env())


# --- replay -------------------------------------------------------------------------------


@dataclass
class ReplayCost:
    name: str
    events: int
    ms: float


async def replay_cost(name: str, history: WorkflowHistory, replayer: Replayer, repeats: int = 5) -> ReplayCost:
    times: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
        times.append(time.perf_counter() - started)
        assert result.replay_failure is None
    return ReplayCost(name=name, events=len(history.events), ms=statistics.median(times) * 1000)


def replayer(client: Client) -> Replayer:
    return Replayer(
        workflows=[ApplicationWorkflow, PermitWorkflow],
        data_converter=client.data_converter,
        workflow_runner=workflow_runner(),
    )


async def application_phases(stack: DevStack) -> list[ReplayCost]:
    """One application through its phases on the real worker; its history replayed at each."""
    settings = stack_settings(stack, "bench-replay")
    spawn_worker(stack, "worker-replay", "bench-replay")
    client = await stack_client(stack)
    raw = stored_template(template(), stack.data_dir)
    app = new_application(raw, prefix="REPLAY")
    await start_case(client, settings, app)
    handle = client.get_workflow_handle(application_workflow_id(app.application_id))
    replay = replayer(client)
    costs: list[ReplayCost] = []

    await wait_phase(handle, STEP5)
    costs.append(await replay_cost("application at step 5 (interview decision)", await handle.fetch_history(), replay))
    async for event, _ in follow_path(handle):
        if event == "permit-collected":
            await handle.result()
        costs.append(await replay_cost(AFTER[event], await handle.fetch_history(), replay))
    permit = client.get_workflow_handle(permit_workflow_id(app.application_id))
    await asyncio.sleep(2)
    costs.append(await replay_cost("permit, first weeks", await permit.fetch_history(), replay))
    return costs


def summary(result: MemoryResult) -> dict[str, Any]:
    return {**asdict(result), "kb_per_case": _per_case(result), "ratio_to_bare": result.ratios()}


def _per_case(result: MemoryResult) -> dict[str, float]:
    out = {"bare": result.bare.kb_per_case, "application": result.application.kb_per_case}
    if result.permit is not None:
        out["permit"] = result.permit.kb_per_case
    if result.stock is not None:
        out["application_stock_sandbox"] = result.stock.kb_per_case
    return out


__all__ = ["PeakRss", "application_phases", "parked_memory", "summary"]


async def replay(stack: DevStack) -> dict[str, Any]:
    """Replay cost per phase (application on the real worker) and of a permit in its fifth year."""
    from benchmarks.permit_years import permit_in_fifth_year

    costs = await application_phases(stack)
    costs.append(await permit_in_fifth_year())
    return {"costs": [asdict(c) for c in costs]}
