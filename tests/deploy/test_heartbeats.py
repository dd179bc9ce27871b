"""A live worker keeps a long activity alive by heartbeats; a killed one is noticed within the
heartbeat timeout (infra/heartbeat.py).

On a real dev server, with a synchronous activity that never heartbeats itself (as the
service's): it completes on a worker with the interceptor and times out on one without; and
when the worker process running it is SIGKILLed, the activity is retried on another worker
after the heartbeat timeout (2 s here), not after its start-to-close timeout (120 s).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.testing import WorkflowEnvironment

from infra.heartbeat import HeartbeatInterceptor
from tests.conftest import ROOT
from tests.deploy.heartbeat_probe import HEARTBEAT_TIMEOUT, START_TO_CLOSE, HeartbeatProbe, probe_worker

LONG_WORK = HEARTBEAT_TIMEOUT.total_seconds() * 3


async def test_a_long_activity_lives_on_heartbeats_from_the_interceptor(dev_server: WorkflowEnvironment) -> None:
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with probe_worker(dev_server.client, "beats", executor, [HeartbeatInterceptor()]):
            attempt = await dev_server.client.execute_workflow(
                HeartbeatProbe.run, args=[LONG_WORK, 1], id="beats", task_queue="beats"
            )
    assert attempt == 1


async def test_without_the_interceptor_the_same_activity_times_out(dev_server: WorkflowEnvironment) -> None:
    """The control: the activity never heartbeats itself, so the interceptor is what kept it alive."""
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with probe_worker(dev_server.client, "no-beats", executor, []):
            with pytest.raises(WorkflowFailureError) as failed:
                await dev_server.client.execute_workflow(
                    HeartbeatProbe.run, args=[LONG_WORK, 1], id="no-beats", task_queue="no-beats"
                )
    cause = failed.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, TimeoutError)
    assert cause.cause.type is TimeoutType.HEARTBEAT


async def test_the_activity_of_a_killed_worker_is_retried_after_the_heartbeat_timeout(dev_server: WorkflowEnvironment) -> None:
    client, queue = dev_server.client, "killed"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.deploy.heartbeat_probe", client.service_client.config.target_host, queue, cwd=ROOT
    )
    try:
        # The first attempt would work for a minute; the process is killed while it does.
        handle = await client.start_workflow(HeartbeatProbe.run, args=[60.0, 2], id="killed", task_queue=queue)
        await until_started(client, handle.id)
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
        killed_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as executor:
            async with probe_worker(client, queue, executor, [HeartbeatInterceptor()]):
                attempt = await asyncio.wait_for(handle.result(), START_TO_CLOSE.total_seconds())
        waited = time.monotonic() - killed_at
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert attempt == 2  # the second attempt, on the surviving worker
    assert waited < START_TO_CLOSE.total_seconds() / 4, f"the retry came {waited:.0f} s after the kill"


async def until_started(client: Client, workflow_id: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pending = (await client.get_workflow_handle(workflow_id).describe()).raw_description.pending_activities
        if any(p.HasField("last_started_time") for p in pending):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the activity never started")
