"""Heartbeats while an activity runs, so the activity of a killed worker is retried within seconds.

Temporal learns that a worker died only from a timeout.  Without heartbeats that is the
activity's start-to-close timeout (60 s; 2 minutes for decisions and letters, which render
PDFs), and an event waiting on that activity waits as long (decisions 0016, 0024).  The
workflows therefore schedule every activity with a heartbeat timeout as well
(``workflows.common.ACTIVITY_HEARTBEAT_TIMEOUT``), and this interceptor heartbeats from the
worker's event loop for as long as the activity runs in its thread: a live worker keeps the
activity alive however long it takes (up to start-to-close), a dead one stops heartbeating
and the activity is retried on another worker once the heartbeat timeout has passed.

Every worker that runs the service's activities carries it (``worker.build_worker``, the
benchmark's service side and the tests' workers): without it an activity that takes longer
than the heartbeat timeout would be timed out and retried.  An activity scheduled without a
heartbeat timeout is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

# Beats per heartbeat timeout: one lost or late beat does not time the activity out.  The SDK
# sends at most one heartbeat per 0.8 timeout to the server; the rest stay in the worker.
BEATS_PER_TIMEOUT = 4


class HeartbeatInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HeartbeatWhileRunning(next)


class _HeartbeatWhileRunning(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        # The outbound heartbeat, called on the event loop: the SDK replaces the activity's own
        # heartbeat callable for a synchronous activity with one meant for its thread.
        self._outbound = outbound
        super().init(outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        if timeout is None:
            return await super().execute_activity(input)
        beating = asyncio.create_task(self._beat(timeout.total_seconds() / BEATS_PER_TIMEOUT))
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _beat(self, every: float) -> None:
        # The first beat only after a quarter of the timeout: the server times out an activity
        # that has not heartbeaten within the timeout of its start, and the service's
        # activities nearly all end well before, so they cost no heartbeat at all.
        while True:
            await asyncio.sleep(every)
            self._outbound.heartbeat()
