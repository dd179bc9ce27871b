"""The worker: the composition root that wires the real components to the workflows.

Connection from Temporal's client configuration (a ``temporal.toml`` profile and the
``TEMPORAL_*`` variables, TLS and API key included: ``infra/client.py``), the service's own
settings from ``HASA_*`` variables (see ``infra/settings.py`` and the README).  Activities are
synchronous (SQLAlchemy, file I/O, PDF rendering) and run in a bounded thread pool; the
workflows run in the SDK's sandbox.  With ``HASA_METRICS_ADDRESS`` the worker serves
Prometheus metrics (``infra/metrics.py``).

SIGINT and SIGTERM drain the worker: it stops polling at once (no new workflow or activity
task is taken), lets running activities finish for up to ``HASA_WORKER_DRAIN_SECONDS``, then
cancels what is left and exits.  An activity cut off that way is retried by another worker
after its timeout; every activity is idempotent, so nothing is done twice.  A worker whose
activities ignore the cancellation is ended anyway a few seconds later: the drain is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.document_store import DocumentStore
from activities.documents import DocumentActivities
from activities.letters import LetterActivities, LetterOutbox
from activities.permits import PermitActivities
from activities.registry import RegistryActivities
from activities.registry_db import Registry
from infra.client import ClientConfigError, connect
from infra.heartbeat import HeartbeatInterceptor
from infra.logconfig import configure_logging
from infra.metrics import MetricsInterceptor, count_overdue, report_overdue, runtime_for
from infra.sandbox import workflow_runner
from infra.settings import Settings, restrict_umask
from reports.stats import report_stats
from workflows.application import ApplicationWorkflow
from workflows.permit import PermitWorkflow

# The activity thread pool when no settings are at hand (the benchmark); the worker uses
# settings.activity_slots.
ACTIVITY_THREADS = 16
# After the drain time the SDK cancels running activities; a synchronous activity can only
# notice at its end, so the process waits this much longer and then exits regardless.
DRAIN_MARGIN_SECONDS = 5.0


def workflows() -> list[type]:
    return [ApplicationWorkflow, PermitWorkflow]


def activities(settings: Settings, registry: Registry) -> list[Callable[..., Any]]:
    """Every activity, bound to the real registry, document store and outbox."""
    store = DocumentStore(settings.document_store)
    outbox = LetterOutbox(settings.outbox_dir, registry)
    registry_activities = RegistryActivities(registry, outbox, settings)
    document_activities = DocumentActivities(store, registry, settings)
    letter_activities = LetterActivities(outbox)
    found: list[Callable[..., Any]] = [
        registry_activities.register_case,
        registry_activities.book_slot,
        registry_activities.record_decision,
        registry_activities.issue_permit,
        registry_activities.close_case,
        document_activities.check_documents,
        letter_activities.send_letter,
    ]
    found += PermitActivities(registry).all()
    return found


def build_worker(client: Client, settings: Settings, registry: Registry, executor: ThreadPoolExecutor) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows(),
        activities=activities(settings, registry),
        activity_executor=executor,
        # The sandbox, with each workflow module compiled once per process (infra/sandbox.py).
        workflow_runner=workflow_runner(),
        max_cached_workflows=settings.max_cached_workflows,
        max_concurrent_workflow_tasks=settings.workflow_task_slots,
        max_concurrent_activities=settings.activity_slots,
        # Metrics, and heartbeats for every running activity (a killed worker's are retried in seconds).
        interceptors=[MetricsInterceptor(), HeartbeatInterceptor()],
        graceful_shutdown_timeout=timedelta(seconds=settings.drain_seconds),
    )


async def serve(worker: Worker, stop: asyncio.Event, drain_seconds: float) -> bool:
    """Run ``worker`` until it fails or ``stop`` is set, then drain it within a bounded time.

    Returns False when the drain did not finish in ``drain_seconds`` plus a margin (activities
    that ignored their cancellation); the caller then exits without waiting for them.
    """
    log = structlog.get_logger("worker")
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():  # the worker failed on its own (lost its server for good, a bug)
        stopping.cancel()
        running.result()
        return True
    log.info("worker draining", drain_seconds=drain_seconds)
    try:
        await asyncio.wait_for(worker.shutdown(), timeout=drain_seconds + DRAIN_MARGIN_SECONDS)
    except TimeoutError:
        log.error("worker drain timed out: activities still running are left to their retries")
        return False
    await running
    return True


async def run(settings: Settings) -> int:
    log = structlog.get_logger("worker")
    registry = Registry(settings.registry_url)
    registry.migrate()
    runtime = runtime_for(settings.metrics_address)
    client = await connect(settings, runtime=runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    executor = ThreadPoolExecutor(max_workers=settings.activity_slots, thread_name_prefix="activity")
    worker = build_worker(client, settings, registry, executor)
    background: list[asyncio.Task[None]] = []
    if runtime is not None:
        overdue = report_overdue(runtime.metric_meter, lambda: count_overdue(registry), stop=stop)
        background.append(asyncio.create_task(overdue))
        # The management figures of `starter.py stats` as hasa_stats_* gauges (reports/stats.py).
        figures = report_stats(runtime.metric_meter, client, settings.registry_url, stop)
        background.append(asyncio.create_task(figures))
    log.info(
        "worker started",
        task_queue=settings.task_queue,
        namespace=settings.temporal_namespace,
        metrics=settings.metrics_address or None,
    )
    drained = await serve(worker, stop, settings.drain_seconds)
    stop.set()
    for task in background:
        await task
    if not drained:
        executor.shutdown(wait=False, cancel_futures=True)
        return 1
    executor.shutdown(wait=True)
    registry.dispose()
    log.info("worker stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    restrict_umask()
    configure_logging("worker")
    try:
        settings = Settings.from_env()
    except (ClientConfigError, ValueError) as error:  # a setting that cannot be used, named in the message
        sys.stderr.write(f"worker: {error}\n")
        return 2
    code = asyncio.run(run(settings))
    if code != 0:
        # Threads of activities that outlived the drain would hold the interpreter open.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
