"""What a workflow's history says: its events and payload bytes, and the plan bare Temporal follows to match it.

``measure_history`` counts a finished case's events by type and the bytes of every payload
in them (walking the protobuf); ``plan_from_history`` reads the service's activities,
upserts, timers and children per stage into the baseline's plan; ``wait_ready`` long-polls
a case's history until it can take its first update (no query, no rejected update).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory

from benchmarks.plan import BaselinePlan


def payload_bytes(message: Message) -> int:
    """Serialized size of every Payload inside ``message`` (inputs, results, headers,
    search attributes, user metadata), found by walking the protobuf."""
    if isinstance(message, Payload):
        return message.ByteSize()
    total = 0
    for descriptor, value in message.ListFields():
        if descriptor.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        entry = descriptor.message_type
        assert entry is not None
        if entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                total += sum(payload_bytes(v) for v in value.values())
        elif descriptor.is_repeated:
            total += sum(payload_bytes(v) for v in value)
        else:
            total += payload_bytes(value)
    return total


def event_name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]


@dataclass
class HistoryMeasure:
    events: int
    payload_bytes: int
    history_bytes: int
    activities: int
    workflow_tasks: int
    timers: int
    child_workflows: int
    upserts: int
    upserts_changing_nothing: int
    upserted_values: int
    upserted_values_changed: int
    event_types: dict[str, int]
    payload_bytes_by_event: dict[str, int]


async def measure_history(handle: WorkflowHandle[Any, Any]) -> HistoryMeasure:
    history = await handle.fetch_history()
    types: Counter[str] = Counter()
    by_event: Counter[str] = Counter()
    attributes: dict[str, bytes] = {}
    idle_upserts = values = changed = 0
    for event in history.events:
        name = event_name(event.event_type)
        types[name] += 1
        by_event[name] += payload_bytes(event)
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            news = {key: fields[key].SerializeToString(deterministic=True) for key in fields}
            delta = sum(1 for key, value in news.items() if attributes.get(key) != value)
            values += len(news)
            changed += delta
            idle_upserts += delta == 0
            attributes.update(news)
    return HistoryMeasure(
        events=len(history.events),
        payload_bytes=sum(by_event.values()),
        history_bytes=sum(e.ByteSize() for e in history.events),
        activities=types["ACTIVITY_TASK_SCHEDULED"],
        workflow_tasks=types["WORKFLOW_TASK_SCHEDULED"],
        timers=types["TIMER_STARTED"],
        child_workflows=types["START_CHILD_WORKFLOW_EXECUTION_INITIATED"],
        upserts=types["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        upserts_changing_nothing=idle_upserts,
        upserted_values=values,
        upserted_values_changed=changed,
        event_types=dict(sorted(types.items())),
        payload_bytes_by_event=dict(sorted(by_event.items())),
    )


async def wait_ready(handle: WorkflowHandle[Any, Any], activities: int) -> None:
    """Until ``activities`` activities have completed and the workflow task after them too."""
    completed = 0
    async for event in handle.fetch_history_events(wait_new_event=True):
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and completed >= activities:
            return
    raise RuntimeError(f"workflow {handle.id} closed before it was ready for updates")


def plan_from_history(history: WorkflowHistory) -> BaselinePlan:
    """Per stage (stage n begins when the n-th update is accepted) the activities and
    upserts; the timers and where the first is cancelled; the children and where."""
    stages: list[int] = [0]
    upserts: list[list[int]] = [[]]
    timers = children = 0
    cancelled_in = children_in = -1
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            stages.append(0)
            upserts.append([])
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            stages[-1] += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            upserts[-1].append(len(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields))
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timers += 1
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED and cancelled_in < 0:
            cancelled_in = len(stages) - 1
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children += 1
            children_in = len(stages) - 1
    return BaselinePlan(
        stages=stages,
        upserts=upserts,
        timers=timers,
        timers_cancelled_in_stage=cancelled_in if cancelled_in >= 0 else len(stages),
        children=children,
        children_in_stage=max(children_in, 0),
    )
