"""SIGTERM drains a worker: running activities finish, no new task is taken, in bounded time.

``worker.serve`` is what ``worker.py`` runs between start and exit (the signal handler only
sets the ``stop`` event).  It is driven here on a real dev server with a probe workflow
whose synchronous activity blocks until the test lets it go, so the moment of the stop is
exact: the stop comes while the activity runs, and a second case is started after it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from worker import DRAIN_MARGIN_SECONDS, serve

RELEASE = threading.Event()
STARTED = threading.Event()


@activity.defn(name="drain_probe_step")
def probe_step(hold_seconds: float) -> str:
    """Blocks (a thread, as the service's activities) until released or ``hold_seconds`` pass."""
    STARTED.set()
    RELEASE.wait(timeout=hold_seconds)
    return "finished"


# Not sandboxed: the probe is trivial, and this module imports worker.py (the whole service)
# and the test fixtures, which the sandbox would re-import for every run.
@workflow.defn(name="DrainProbe", sandboxed=False)
class DrainProbe:
    @workflow.run
    async def run(self, hold_seconds: float) -> str:
        result: str = await workflow.execute_activity(
            probe_step,
            hold_seconds,
            start_to_close_timeout=timedelta(seconds=120),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return result


def new_worker(client: Client, queue: str, executor: ThreadPoolExecutor, drain: float) -> Worker:
    return Worker(
        client,
        task_queue=queue,
        workflows=[DrainProbe],
        activities=[probe_step],
        activity_executor=executor,
        graceful_shutdown_timeout=timedelta(seconds=drain),
    )


async def event_types(handle: WorkflowHandle[object, object]) -> list[int]:
    return [event.event_type for event in (await handle.fetch_history()).events]


async def wait_for(flag: threading.Event, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not flag.is_set():
        assert time.monotonic() < deadline, "the activity never started"
        await asyncio.sleep(0.05)


async def test_a_stop_lets_the_running_activity_finish_and_takes_no_new_work(dev_server: WorkflowEnvironment) -> None:
    RELEASE.clear()
    STARTED.clear()
    client, queue = dev_server.client, "drain-finish"
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = new_worker(client, queue, executor, drain=20)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(worker, stop, 20))
        first = await client.start_workflow(DrainProbe.run, 60.0, id="drain-first", task_queue=queue)
        await wait_for(STARTED)

        stop.set()  # SIGTERM while the activity runs
        await asyncio.sleep(1.0)
        second = await client.start_workflow(DrainProbe.run, 60.0, id="drain-second", task_queue=queue)
        await asyncio.sleep(1.0)
        assert not serving.done()  # still draining: the activity holds it
        RELEASE.set()
        drained = await asyncio.wait_for(serving, timeout=20)
    assert drained is True
    # The running activity finished and its result reached the server ...
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in await event_types(first)
    # ... while the case started after the stop was never touched by the draining worker.
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED not in await event_types(second)

    # A new worker picks both up: nothing was lost.
    RELEASE.set()
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with new_worker(client, queue, executor, drain=5):
            assert await first.result() == "finished"
            assert await second.result() == "finished"


async def test_the_drain_is_bounded_when_an_activity_does_not_finish(dev_server: WorkflowEnvironment) -> None:
    RELEASE.clear()
    STARTED.clear()
    client, queue = dev_server.client, "drain-bounded"
    executor = ThreadPoolExecutor(max_workers=4)
    try:
        drain = 1.0
        worker = new_worker(client, queue, executor, drain=drain)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(worker, stop, drain))
        await client.start_workflow(DrainProbe.run, 120.0, id="drain-stuck", task_queue=queue)
        await wait_for(STARTED)
        begun = time.monotonic()
        stop.set()
        drained = await asyncio.wait_for(serving, timeout=drain + DRAIN_MARGIN_SECONDS + 10)
        took = time.monotonic() - begun
        assert drained is False  # the caller (worker.py) then exits 1 without waiting for the thread
        assert drain <= took < drain + DRAIN_MARGIN_SECONDS + 2
    finally:
        RELEASE.set()  # let the stuck thread end so the test process can exit
        executor.shutdown(wait=True)
