"""A probe workflow with one synchronous activity, and a worker process for it.

Used by ``tests/deploy/test_heartbeats.py``; run as ``python -m tests.deploy.heartbeat_probe
ADDRESS TASK_QUEUE`` it serves the probe with the service's heartbeat interceptor until it is
killed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Interceptor, Worker

from infra.heartbeat import HeartbeatInterceptor

HEARTBEAT_TIMEOUT = timedelta(seconds=2)
START_TO_CLOSE = timedelta(seconds=120)


@activity.defn(name="heartbeat_probe_step")
def probe_step(seconds: float) -> int:
    """Works ``seconds`` in its thread without heartbeating itself, as the service's activities
    do; a retry returns at once.  The attempt that finished is the result."""
    attempt = activity.info().attempt
    if attempt == 1:
        time.sleep(seconds)
    return attempt


# Not sandboxed: the probe is trivial (as tests/deploy/test_worker_drain.py's).
@workflow.defn(name="HeartbeatProbe", sandboxed=False)
class HeartbeatProbe:
    @workflow.run
    async def run(self, seconds: float, attempts: int) -> int:
        result: int = await workflow.execute_activity(
            probe_step,
            seconds,
            start_to_close_timeout=START_TO_CLOSE,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=attempts, initial_interval=timedelta(milliseconds=100)),
        )
        return result


def probe_worker(client: Client, queue: str, executor: ThreadPoolExecutor, interceptors: list[Interceptor]) -> Worker:
    return Worker(
        client,
        task_queue=queue,
        workflows=[HeartbeatProbe],
        activities=[probe_step],
        activity_executor=executor,
        interceptors=interceptors,
    )


async def main(address: str, queue: str) -> None:
    client = await Client.connect(address)
    with ThreadPoolExecutor(max_workers=2) as executor:
        await probe_worker(client, queue, executor, [HeartbeatInterceptor()]).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
