"""The smallest workflows and activity: the references of the memory run, the reminder storm and the baseline.

A module of its own, as small as a user's first workflow module: the stock sandbox
executes (and compiles) it anew for every run, which is part of what bare Temporal costs.

* ``BareParked``: started, then parked on a signal (also the baseline's child, which
  lives on until it is terminated);
* ``BareReminder``: one timer, then one activity;
* ``bench_step``: the activity, which returns its argument (also the baseline's).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@workflow.defn(name="BareParked")
class BareParked:
    """Started, then waits for a signal: the least a parked case can cost."""

    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self, number: int) -> int:
        await workflow.wait_condition(lambda: self._go)
        return number

    @workflow.signal
    def go(self) -> None:
        self._go = True


@activity.defn(name="bench_step")
async def bench_step(number: int) -> int:
    """The least an activity can do."""
    return number


@workflow.defn(name="BareReminder")
class BareReminder:
    """One timer until the given instant (seconds from its start), then one activity."""

    @workflow.run
    async def run(self, seconds: float) -> int:
        await asyncio.sleep(seconds)
        return await workflow.execute_activity(bench_step, 1, start_to_close_timeout=timedelta(seconds=60))


BARE_WORKFLOWS: list[type] = [BareParked, BareReminder]
BARE_ACTIVITIES = [bench_step]
