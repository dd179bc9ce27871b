"""Bare Temporal: the workflow the service is measured against.

An ordinary workflow module: the sandbox executes it anew for every run, as it would any
user's workflow module, with the stock sandbox runner.  No pydantic models are defined here
(``benchmarks/plan.py`` holds the baseline's plan, passed through).

``BenchBaseline`` takes the service's shape in Temporal terms (the overhead run).  Its
activity (``bench_step``) and its stand-in child (``BareParked``, never signalled: it lives
on until terminated, as the service's permit does) are the references of
``benchmarks/bare.py``, called by name.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from benchmarks.plan import BaselinePlan
    from domain import search_attributes as sa
    from workflows.common import ACTIVITY_RETRY, ACTIVITY_TIMEOUT

BASELINE_TIMER = timedelta(days=30)


@workflow.defn(name="BenchBaseline")
class BaselineWorkflow:
    """Bare Temporal in the service's shape: sequential activities per stage, one update
    accepted at a time and answered when the main loop has acted on it, timers cancelled
    when a later stage begins, abandoned children started (their start awaited) where the
    service starts its own.  No domain logic; search attributes only if the plan says so."""

    def __init__(self) -> None:
        self._stage = 0
        self._ready = False
        self._pending = False
        self._accepted = 0
        self._done = 0

    @workflow.run
    async def run(self, plan: BaselinePlan) -> int:
        timers = [asyncio.create_task(self._timer(plan.timers_cancelled_in_stage)) for _ in range(plan.timers)]
        for stage, count in enumerate(plan.stages):
            if stage > 0:
                await workflow.wait_condition(lambda: self._pending)
            self._stage = stage
            for number, values in enumerate(plan.upserts[stage] if stage < len(plan.upserts) else []):
                updates: list[SearchAttributeUpdate[Any]] = [
                    sa.APPLICATION_PHASE.value_set(f"stage-{stage}-{number}"),
                    sa.APPLICATION_STEP.value_set(f"stage-{stage}"),
                    sa.POLICY_VERSION.value_set("bench"),
                    sa.APPLICATION_OUTCOME.value_unset(),
                    sa.DECISION_DUE_BY.value_unset(),
                    sa.INTERVIEW_AT.value_unset(),
                ]
                workflow.upsert_search_attributes(updates[: max(1, min(values, len(updates)))])
            for _ in range(count):
                await workflow.execute_activity(
                    "bench_step",
                    stage,
                    result_type=int,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
            if stage == plan.children_in_stage:
                for number in range(plan.children):
                    child_id = f"{workflow.info().workflow_id}-child-{number}"
                    abandon = workflow.ParentClosePolicy.ABANDON
                    if plan.child_workflow is None:
                        await workflow.start_child_workflow("BareParked", number, id=child_id, parent_close_policy=abandon)
                    else:
                        await workflow.start_child_workflow(
                            plan.child_workflow, plan.child_input, id=child_id, parent_close_policy=abandon
                        )
            if stage == 0:
                self._ready = True
            else:
                self._pending = False
                self._done = self._accepted
        for timer in timers:
            timer.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._done

    async def _timer(self, cancel_in_stage: int) -> None:
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._stage >= cancel_in_stage, timeout=BASELINE_TIMER)

    @workflow.update(name="step")
    async def step(self, number: int) -> int:
        self._pending = True
        self._accepted += 1
        ticket = self._accepted
        await workflow.wait_condition(lambda: self._done >= ticket)
        return ticket

    @step.validator
    def _v_step(self, number: int) -> None:
        if not self._ready or self._pending:
            raise ValueError("not now")
