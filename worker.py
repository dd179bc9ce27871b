"""The worker: the composition root that wires the real components to the workflows.

Connection from Temporal's environment variables (``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``), the service's own settings from ``HASA_*`` variables (see
``infra/settings.py`` and the README).  Activities are synchronous (SQLAlchemy, file I/O, PDF
rendering) and run in a bounded thread pool; the workflows run in the SDK's sandbox.
SIGINT and SIGTERM drain the worker: running activities finish, nothing is lost.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from infra.client import connect
from infra.logconfig import configure_logging
from infra.settings import Settings
from workflows.application import ApplicationWorkflow
from workflows.permit import PermitWorkflow

ACTIVITY_THREADS = 16


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
        max_concurrent_activities=ACTIVITY_THREADS,
    )


async def run(settings: Settings) -> None:
    log = structlog.get_logger("worker")
    registry = Registry(settings.registry_url)
    registry.migrate()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        worker = build_worker(client, settings, registry, executor)
        log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace)
        async with worker:
            await stop.wait()
            log.info("worker draining")
    registry.dispose()
    log.info("worker stopped")


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    configure_logging("worker")
    asyncio.run(run(Settings.from_env()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
