"""Workflow histories read back as plain facts: what happened, when, with which (decrypted) data.

The case file is built from what Temporal recorded, not from what the workflow code of
today would compute: a history is the durable record of every event a case accepted,
every activity it ran and every timer that fired, also for closed workflows and for every
run of a permit that continued as new.  This module knows the shape of a history (event
types, payloads, the codec) and nothing about asylum law; ``reports.casefile`` gives the
facts their meaning.

Payloads are decrypted with the key ring (``infra.codec``); a payload that does not
decrypt raises :class:`~infra.codec.CodecError`, so a case file is never built from half
its data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from domain import search_attributes as sa
from infra.codec import EncryptionCodec

# The search attributes whose changes are part of the chronology (no personal data).
TRACKED_ATTRIBUTES = (sa.APPLICATION_PHASE.name, sa.APPLICATION_OUTCOME.name, sa.PERMIT_STATUS.name)


@dataclass(frozen=True)
class Fact:
    """One thing a workflow run recorded.

    ``kind`` is ``started``, ``event`` (an accepted update), ``activity`` (a completed or
    finally failed activity), ``timer`` (a timer that fired), ``attribute`` (a search
    attribute changed), ``child`` (a child workflow started), ``continued`` (continue-as-new),
    ``completed``, ``failed``, ``terminated`` or ``canceled``.
    """

    at: datetime
    workflow_id: str
    run_id: str
    event_id: int
    kind: str
    name: str
    input: Any = None
    result: Any = None
    failure: str | None = None
    summary: str | None = None


@dataclass
class RunHistory:
    workflow_id: str
    run_id: str
    workflow_type: str
    started_at: datetime
    closed_at: datetime | None
    status: str
    facts: list[Fact] = field(default_factory=list)


class PayloadReader:
    """Decrypts and parses payloads the way the service's data converter wrote them."""

    def __init__(self, codec: EncryptionCodec) -> None:
        self._codec = codec

    def value(self, payload: Payload) -> Any:
        plain = self._codec.decrypt(payload)
        encoding = plain.metadata.get("encoding", b"").decode()
        if encoding == "binary/null" or not plain.data:
            return None
        if encoding.startswith("json/"):
            return json.loads(plain.data)
        return plain.data.decode("utf-8", errors="replace")

    def values(self, payloads: Payloads) -> list[Any]:
        return [self.value(p) for p in payloads.payloads]

    def first(self, payloads: Payloads) -> Any:
        values = self.values(payloads)
        return values[0] if values else None

    def failure(self, failure: Failure) -> str:
        """The failure's message, decrypted from its encoded attributes when it has them."""
        message = failure.message
        if failure.HasField("encoded_attributes"):
            attributes = self.value(failure.encoded_attributes)
            if isinstance(attributes, dict) and isinstance(attributes.get("message"), str):
                message = attributes["message"]
        if failure.HasField("cause"):
            message = f"{message} ({self.failure(failure.cause)})"
        return message


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def _attribute_value(payload: Payload) -> Any:
    # Search attributes are never encrypted: they are what operators query without the key.
    if payload.metadata.get("encoding", b"") == b"binary/null" or not payload.data:
        return None
    return json.loads(payload.data)


_CLOSING = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "continued",
}


def read_run(history: WorkflowHistory, reader: PayloadReader) -> RunHistory:  # noqa: C901, PLR0912, PLR0915  # one branch per history event type; owner: casefile, to split
    """The facts of one run, in history order."""
    events = list(history.events)
    if not events:
        raise ValueError(f"{history.workflow_id}: empty history")
    first = events[0].workflow_execution_started_event_attributes
    run = RunHistory(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        workflow_type=first.workflow_type.name,
        started_at=_time(events[0]),
        closed_at=None,
        status="running",
    )

    def add(event: HistoryEvent, kind: str, name: str, **more: Any) -> None:
        run.facts.append(
            Fact(
                at=_time(event),
                workflow_id=run.workflow_id,
                run_id=run.run_id,
                event_id=event.event_id,
                kind=kind,
                name=name,
                **more,
            )
        )

    scheduled: dict[int, HistoryEvent] = {}
    timers: dict[int, HistoryEvent] = {}
    updates: dict[str, Fact] = {}
    attributes: dict[str, Any] = {}
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            add(event, "started", run.workflow_type, input=reader.first(first.input))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event
        elif kind in (EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED):
            completed = kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            attrs = event.activity_task_completed_event_attributes if completed else event.activity_task_failed_event_attributes
            origin = scheduled.get(attrs.scheduled_event_id)
            if origin is None:
                continue
            sched = origin.activity_task_scheduled_event_attributes
            add(
                event,
                "activity",
                sched.activity_type.name,
                input=reader.first(sched.input),
                result=reader.first(event.activity_task_completed_event_attributes.result) if completed else None,
                failure=None if completed else reader.failure(event.activity_task_failed_event_attributes.failure),
            )
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timers[event.event_id] = event
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            origin = timers.get(event.timer_fired_event_attributes.started_event_id)
            summary = None
            if origin is not None and origin.user_metadata.HasField("summary"):
                value = reader.value(origin.user_metadata.summary)
                summary = value if isinstance(value, str) else None
            add(event, "timer", summary or "timer", summary=summary)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted = event.workflow_execution_update_accepted_event_attributes
            request = accepted.accepted_request
            fact = Fact(
                at=_time(event),
                workflow_id=run.workflow_id,
                run_id=run.run_id,
                event_id=event.event_id,
                kind="event",
                name=request.input.name,
                input=reader.first(request.input.args),
            )
            updates[request.meta.update_id] = fact
            run.facts.append(fact)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            done = event.workflow_execution_update_completed_event_attributes
            accepted_fact = updates.get(done.meta.update_id)
            if accepted_fact is None:
                continue
            index = run.facts.index(accepted_fact)
            if done.outcome.HasField("failure"):
                run.facts[index] = _replace(accepted_fact, failure=reader.failure(done.outcome.failure))
            else:
                run.facts[index] = _replace(accepted_fact, result=reader.first(done.outcome.success))
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            for name in TRACKED_ATTRIBUTES:
                if name in fields:
                    value = _attribute_value(fields[name])
                    if attributes.get(name) != value:
                        attributes[name] = value
                        add(event, "attribute", name, result=value)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes
            add(event, "child", child.workflow_type.name, result=child.workflow_id)
        elif kind in _CLOSING:
            run.closed_at = _time(event)
            run.status = _CLOSING[kind]
            result: Any = None
            failure: str | None = None
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                result = reader.first(event.workflow_execution_completed_event_attributes.result)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                failure = reader.failure(event.workflow_execution_failed_event_attributes.failure)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                result = event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            add(event, _CLOSING[kind], run.workflow_type, result=result, failure=failure)
    return run


def _replace(fact: Fact, **changes: Any) -> Fact:
    values = {name: getattr(fact, name) for name in fact.__dataclass_fields__}
    values.update(changes)
    return Fact(**values)


async def fetch_runs(client: Client, workflow_id: str, reader: PayloadReader) -> list[RunHistory]:
    """Every run of ``workflow_id``, oldest first: the latest run, then back along continue-as-new.

    Each run's start event names the run it continued (``continued_execution_run_id``), so
    no visibility query (which may lag behind) is needed to find the earlier runs.
    """
    runs: list[RunHistory] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(read_run(history, reader))
        previous = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous:
            break
        run_id = previous
    return list(reversed(runs))


def facts_of(runs: Iterable[RunHistory]) -> list[Fact]:
    """All facts of the runs, in time order (history order within an instant)."""
    facts = [f for run in runs for f in run.facts]
    return sorted(facts, key=lambda f: (f.at, f.workflow_id.startswith("permit-"), f.event_id))


def latest(runs: Sequence[RunHistory]) -> RunHistory | None:
    return runs[-1] if runs else None
