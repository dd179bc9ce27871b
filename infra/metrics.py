"""Prometheus metrics of a worker: the SDK's own and the service's, through the SDK's meter.

``HASA_METRICS_ADDRESS`` (``host:port``) makes a worker serve ``/metrics`` there (the Rust
core's Prometheus exporter, configured on the process's ``Runtime``).  Off when empty, which
is the default: tests and ``make run`` start no endpoint unless asked.

The SDK's metrics (``temporal_*``: task latencies, slots in use, sticky cache, polls, activity
and workflow outcomes) come with the runtime.  The service's own, all prefixed ``hasa_``:

=====================================  =============================================================
``hasa_cases_started``                 a case (or a permit's life) began its first run
``hasa_cases_finished``                a case ended; ``result`` (the outcome, or ``failed`` /
                                       ``cancelled``)
``hasa_events_accepted``               an event (update) passed its validator; ``event``
``hasa_events_refused``                an event was refused by its validator; ``event``
``hasa_letters_rendered``              a letter PDF was written to the outbox (not a retry's
                                       re-read); ``kind``
``hasa_decisions_recorded``            a decision was recorded (once per decision round);
                                       ``outcome`` and ``stage`` (``intended`` / ``final``)
``hasa_decision_deadlines_overdue``    gauge: open cases whose registered decision deadline has
                                       passed, read from the registry every minute
=====================================  =============================================================

The SDK adds ``namespace``, ``task_queue`` and, on the workflow side, ``workflow_type`` to
each.  No label carries personal data or an application id: every label value is either a
name from the code (update name, letter kind, outcome) or ``other``.  The workflow
side is a worker interceptor, so the workflow modules know nothing of metrics; it records
through ``workflow.metric_meter()``, which records nothing while a history is replayed, so a
case moved to another worker is not counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from temporalio import activity, workflow
from temporalio.common import MetricMeter
from temporalio.exceptions import CancelledError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

PREFIX = "hasa_"
OVERDUE_POLL_SECONDS = 60.0
# A label value is a code name; anything else (an unknown update name sent by a client) is "other".
_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")


def label(value: object) -> str:
    text = str(getattr(value, "value", value)).lower()
    return text if _LABEL.fullmatch(text) else "other"


def runtime_for(metrics_address: str) -> Runtime | None:
    """A runtime that serves Prometheus at ``metrics_address``; ``None`` (the default runtime) when empty."""
    if not metrics_address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=metrics_address)))


# --- workflows: an interceptor, so workflow code stays free of metrics ------------------------


class MetricsInterceptor(Interceptor):
    """Counts cases and events from the worker's side of every workflow."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowMetrics


class _WorkflowMetrics(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        info = workflow.info()
        meter = workflow.metric_meter()  # the SDK labels it with workflow_type
        if info.continued_run_id is None:  # a continue-as-new is the same case going on
            meter.create_counter(f"{PREFIX}cases_started", "Cases begun").add(1)
        finished = meter.create_counter(f"{PREFIX}cases_finished", "Cases ended, by result")
        try:
            result = await super().execute_workflow(input)
        except workflow.ContinueAsNewError:
            raise
        except (asyncio.CancelledError, CancelledError):
            finished.add(1, {"result": "cancelled"})
            raise
        except Exception:
            finished.add(1, {"result": "failed"})
            raise
        outcome = getattr(result, "outcome", None) or getattr(result, "status", None) or "completed"
        finished.add(1, {"result": label(outcome)})
        return result

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        try:
            super().handle_update_validator(input)
        except Exception:
            _event_counter("events_refused", "Events refused by their validator", input.update).add(1)
            raise

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        # The handler runs only for an accepted update, once (never again on replay).
        _event_counter("events_accepted", "Events accepted", input.update).add(1)
        return await super().handle_update_handler(input)


def _event_counter(name: str, description: str, update: str) -> Any:
    event = label(update) if workflow.get_update_handler(update) is not None else "other"
    meter = workflow.metric_meter().with_additional_attributes({"workflow": label(workflow.info().workflow_type), "event": event})
    return meter.create_counter(f"{PREFIX}{name}", description)


# --- activities: called where the work is actually done (not on an idempotent re-read) --------


def _activity_meter() -> MetricMeter:
    return activity.metric_meter() if activity.in_activity() else MetricMeter.noop


def letter_rendered(kind: object) -> None:
    """A letter PDF was written to the outbox."""
    _activity_meter().create_counter(f"{PREFIX}letters_rendered", "Letters written to the outbox, by kind").add(
        1, {"kind": label(kind)}
    )


def decision_recorded(outcome: object, *, final: bool) -> None:
    """A decision round's decision was recorded for the first time."""
    _activity_meter().create_counter(f"{PREFIX}decisions_recorded", "Decisions recorded, by outcome").add(
        1, {"outcome": label(outcome), "stage": "final" if final else "intended"}
    )


# --- the registry's view: overdue decision deadlines -------------------------------------------


def count_overdue(registry: Any, now: datetime | None = None) -> int:
    """Open cases whose registered decision deadline (``cases.decide_by``) has passed."""
    from activities.registry_db import CASE_OPEN, CaseRow

    moment = now or datetime.now(UTC)
    with registry.transaction() as session:
        found = session.scalar(
            select(func.count()).select_from(CaseRow).where(CaseRow.status == CASE_OPEN, CaseRow.decide_by < moment)
        )
    return int(found or 0)


async def report_overdue(
    meter: MetricMeter, count: Callable[[], int], interval: float = OVERDUE_POLL_SECONDS, stop: asyncio.Event | None = None
) -> None:
    """Set the overdue gauge from ``count`` (run in a thread) every ``interval`` seconds until ``stop``."""
    gauge = meter.create_gauge(f"{PREFIX}decision_deadlines_overdue", "Open cases past their decision deadline")
    stop = stop or asyncio.Event()
    while not stop.is_set():
        # The registry briefly away: keep the last value, try again at the next interval.
        with contextlib.suppress(Exception):
            gauge.set(await asyncio.to_thread(count))
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
