"""A worker process for the bare workflows of ``benchmarks/bare.py``.

``python -m benchmarks.bare_worker``: connection and task queue from the same variables
as ``worker.py`` (``TEMPORAL_ADDRESS``, ``HASA_TASK_QUEUE``, the codec key), the same
cache size and slots, the stock sandbox.  The benchmark runs it as a separate process so
its memory can be read from ``/proc`` beside the service's worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from temporalio.worker import Worker

from benchmarks.bare import BARE_ACTIVITIES, BARE_WORKFLOWS
from infra.client import connect
from infra.settings import Settings


async def run(settings: Settings) -> None:
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=BARE_WORKFLOWS,
        activities=BARE_ACTIVITIES,
        max_cached_workflows=settings.max_cached_workflows,
        max_concurrent_workflow_tasks=settings.workflow_task_slots,
        max_concurrent_activities=settings.activity_slots,
    )
    async with worker:
        await stop.wait()


def main() -> int:
    asyncio.run(run(Settings.from_env()))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
