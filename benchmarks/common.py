"""What the benchmark's parts share: the dev stack, worker processes, process readings, cases."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from domain.case import CaseStatus
from domain.models import Application
from domain.steps import EVENT_MODELS
from infra.codec import generate_key_file
from infra.devstack import DevStack, free_port, make_example_documents

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "application.json"

# The path the benchmark drives an application along (granted without interview): update
# name and body, in order.  permit-collected's date comes from the decision's result (the
# validator refuses a date before the permit's issue date).
DECIDE = {"grounds": "new elements assessed", "decided_by": "officer-17"}
PATH: list[tuple[str, dict[str, Any]]] = [
    ("interview-decision", {"needed": False, "reason": "the file suffices"}),
    ("decision", {"outcome": "granted", **DECIDE}),
    ("permit-collected", {}),
]

_case_numbers = itertools.count(1)


@contextlib.contextmanager
def bench_stack(directory: Path) -> Iterator[DevStack]:
    """A headless dev server on free ports in ``directory``, stopped (with every process spawned on it) at the end."""
    stack = DevStack(
        data_dir=directory / "stack",
        frontend_port=free_port(),
        ui_port=free_port(),
        codec_port=free_port(),
        with_ui=False,
        logs=directory / "logs",
    )
    try:
        stack.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        generate_key_file(stack.key_file)
        stack.start_server()
        yield stack
    finally:
        stack.stop()


def spawn_worker(stack: DevStack, name: str, task_queue: str, *, bare: bool = False, stock: bool = False, **settings: int) -> int:
    """A worker process on ``stack`` (``worker.py``, or the bare workflows' worker); returns its pid.

    ``settings`` are worker settings by name (``max_cached_workflows=...`` becomes
    ``HASA_MAX_CACHED_WORKFLOWS``).
    """
    env = {"HASA_TASK_QUEUE": task_queue}
    env.update({f"HASA_{key.upper()}": str(value) for key, value in settings.items()})
    if not bare and not stock:
        return stack.spawn_worker(name, env).pid
    # Named worker-*: the stack stops it with its own workers.
    module = "benchmarks.bare_worker" if bare else "benchmarks.stock_worker"
    stack.processes[name] = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=stack.env() | env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    return stack.processes[name].pid


async def start_import(
    stack: DevStack, path: Path, task_queue: str, *, stderr: int = subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """``starter.py import-permits path`` on ``stack`` for ``task_queue``, as an operator runs it."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        "import-permits",
        str(path),
        cwd=ROOT,
        env=stack.env() | {"HASA_TASK_QUEUE": task_queue},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


# --- process readings (Linux /proc) -------------------------------------------------------


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


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class PeakRss:
    """Samples a process's resident memory every ``interval`` seconds while it is used as a context."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            with contextlib.suppress(OSError, RuntimeError):
                self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(OSError, RuntimeError):
            self.peak_kb = max(self.peak_kb, rss_kb(self.pid))


# --- cases ----------------------------------------------------------------------------------


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return loaded


def stored_template(raw: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The example application with its files in the document store (as `starter.py submit` does)."""
    from activities.document_store import DocumentStore

    documents = make_example_documents(data_dir / "example-documents")
    store = DocumentStore(data_dir / "documents")
    copied: dict[str, Any] = json.loads(json.dumps(raw))
    for doc in copied["documents"]:
        doc["sha256"], doc["size_bytes"] = store.put_file(documents / doc["filename"])
    return copied


def new_application(raw: dict[str, Any], prefix: str = "BENCH") -> Application:
    copied = json.loads(json.dumps(raw))
    copied["application_id"] = f"{prefix}-2026-{next(_case_numbers):06d}"
    copied["received_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return Application.model_validate(copied)


async def send(handle: WorkflowHandle[Any, Any], event: str, body: dict[str, Any]) -> CaseStatus:
    """One event to an application: its update, the body validated by the event's model."""
    status: CaseStatus = await handle.execute_update(event, EVENT_MODELS[event].model_validate(body), result_type=CaseStatus)
    return status


async def follow_path(handle: WorkflowHandle[Any, Any]) -> AsyncIterator[tuple[str, CaseStatus]]:
    """The updates of ``PATH`` in order, each event's name and result as it is answered."""
    status: CaseStatus | None = None
    for event, body in PATH:
        if event == "permit-collected":
            assert status is not None
            assert status.permit is not None
            body = {"collected_on": str(status.permit.issued_on)}
        status = await send(handle, event, body)
        yield event, status


async def wait_phase(handle: WorkflowHandle[Any, Any], phase: str, limit_s: float = 60.0) -> None:
    """Until the application's status query says ``phase``."""
    started = time.monotonic()
    current = "-"
    while time.monotonic() - started < limit_s:
        status: CaseStatus = await handle.query("status", result_type=CaseStatus)
        if (current := status.phase) == phase:
            return
        await asyncio.sleep(0.025)
    raise RuntimeError(f"{handle.id} never reached {phase} in {limit_s:.0f}s; it is {current}")


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def wait_count(client: Client, query: str, expected: int, limit_s: float, what: str) -> float:
    """Until visibility counts ``expected`` workflows for ``query``; returns the seconds waited."""
    started = time.monotonic()
    count = -1
    while time.monotonic() - started < limit_s:
        count = (await client.count_workflows(query)).count
        if count >= expected:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{what}: {count} of {expected} after {limit_s:.0f}s ({query})")


async def settle(seconds: float = 2.0) -> None:
    """Let the workers finish what they are doing before a memory reading."""
    await asyncio.sleep(seconds)


@dataclass
class Slope:
    """Resident memory at two sizes; the slope per case (fixed costs drop out)."""

    small: int
    large: int
    rss_small_kb: int
    rss_large_kb: int

    @property
    def kb_per_case(self) -> float:
        return (self.rss_large_kb - self.rss_small_kb) / (self.large - self.small)
