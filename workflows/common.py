"""What both workflows share: one way to call an activity, and the event-handler registry.

Activities are called by method reference (``call(RegistryActivities.book_slot, request)``),
so the activity's name, argument and result types come from its definition in
``activities/`` and mypy checks them.  Every call gets the same retry policy and a timeout
from one table.  Activities are idempotent and retry until they succeed; a business failure
arrives as a non-retryable ``ApplicationError`` raised by the activity itself.

``EventHandlers`` ties the rows of a machine's event table (``domain/machine.py``) to the
workflow methods that act on them: ``@on(Trigger.DOCUMENTS)`` above one method.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from temporalio import activity, workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.machine import Event

A = TypeVar("A")
R = TypeVar("R")
W = TypeVar("W")
K = TypeVar("K")
F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=enum.StrEnum)
E_contra = TypeVar("E_contra", bound=enum.StrEnum, contravariant=True)
R_co = TypeVar("R_co", covariant=True)

# An update accepted but not acted on (the case ended first) fails with this type.
EVENT_NOT_APPLIED = "EventNotApplied"

# Transient failures (a locked database, a full disk) retry for a long time.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
ACTIVITY_TIMEOUT = timedelta(seconds=60)
# How soon the activity of a killed worker is retried elsewhere: the worker heartbeats for
# every running activity (infra/heartbeat.py), so a live one is never cut off by this.
ACTIVITY_HEARTBEAT_TIMEOUT = timedelta(seconds=20)
# Activities that render PDF letters take longer than a registry write.
ACTIVITY_TIMEOUTS: dict[str, timedelta] = {
    "send_letter": timedelta(minutes=2),
    "record_decision": timedelta(minutes=2),
}


def activity_name(method: Callable[..., Any]) -> str:
    """The registered name of an ``@activity.defn`` method."""
    name = activity._Definition.must_from_callable(method).name
    assert name is not None, "a dynamic activity has no name to call it by"
    return name


def timeout_for(name: str) -> timedelta:
    return ACTIVITY_TIMEOUTS.get(name, ACTIVITY_TIMEOUT)


async def call(method: Callable[[Any, A], R], arg: A, *, summary: str | None = None) -> R:
    """Run one activity (a method of a class in ``activities/``) with the shared options.

    ``summary`` is what the Web UI shows on the activity; by default its name in words.
    """
    name = activity_name(method)
    result: R = await workflow.execute_activity_method(
        method,
        arg,
        start_to_close_timeout=timeout_for(name),
        heartbeat_timeout=ACTIVITY_HEARTBEAT_TIMEOUT,
        retry_policy=ACTIVITY_RETRY,
        summary=summary or name.replace("_", " "),
    )
    return result


class EventHandlers(Generic[K, W]):
    """The workflow side of an event table: which method acts on which trigger.

    ``on = EventHandlers[Trigger, MyWorkflow]()`` at module level, then ``@on(Trigger.X)``
    above the method that acts on event X and, when an event needs a check beyond the
    transition table, ``@on.check(Trigger.X)`` above a method that raises ``ValueError``
    with the reason.  ``missing(table)`` names the rows without a handler (a unit test
    keeps it empty).
    """

    def __init__(self) -> None:
        self.handlers: dict[K, Callable[[W, Any], Awaitable[None]]] = {}
        self.checks: dict[K, Callable[[W, Any], None]] = {}

    def __call__(self, trigger: K) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.handlers[trigger] = fn
            return fn

        return register

    def check(self, trigger: K) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.checks[trigger] = fn
            return fn

        return register

    def missing(self, triggers: list[K]) -> list[K]:
        return [t for t in triggers if t not in self.handlers]


@dataclass(frozen=True)
class Timer(Generic[K]):
    """What a state waits for besides an event, and what happens when it fires.

    Once it has fired, the events in ``refuses`` are refused with ``ends`` and the instant
    ("the appeal window ended at ...") and ``after`` (what the case does instead), until
    the state moves (issue 8, defect 1).
    """

    due: datetime
    summary: str
    fire: Callable[[], Awaitable[None]]
    ends: str = ""
    after: str = ""
    refuses: frozenset[K] = frozenset()


class EventDesk(Generic[K]):
    """The update hand-off: at most one accepted event at a time, always answered.

    A validator calls ``refusal`` first; the update handler calls ``accept``, which parks
    the event and waits until the main loop has acted on it (``finish``) or the case could
    not (``answer_parked``, with an error).  The main loop waits with ``next``.
    """

    def __init__(self, local: Callable[[datetime], str]) -> None:
        self._local = local
        self.pending: tuple[K, Any] | None = None
        self.fired: Timer[K] | None = None  # the state's timer, once it has fired
        self._accepted = 0
        self._done = 0
        self._not_applied: dict[int, str] = {}

    def refusal(self, trigger: K) -> str | None:
        """Why an event cannot be accepted now for reasons of timing (None: it may)."""
        name = getattr(trigger, "value", trigger)
        if self.pending is not None:
            busy = getattr(self.pending[0], "value", self.pending[0])
            return f"The event '{name}' is not allowed now: the case is still acting on '{busy}'. Send it again in a moment."
        fired = self.fired
        if fired is not None and trigger in fired.refuses:
            return f"The event '{name}' is not allowed now: {fired.ends} ended at {self._local(fired.due)}; {fired.after}."
        return None

    async def accept(self, trigger: K, body: Any) -> None:
        """Park the event and wait until it is acted on; raise if the case could not."""
        self.pending = (trigger, body)
        self._accepted += 1
        ticket = self._accepted
        await workflow.wait_condition(lambda: self._done >= ticket)
        reason = self._not_applied.pop(ticket, None)
        if reason is not None:
            raise ApplicationError(reason, type=EVENT_NOT_APPLIED, non_retryable=True)

    async def next(self, timer: Timer[K] | None) -> tuple[K, Any] | None:
        """Wait for an accepted event, or until the timer is due (then None, and the timer counts as fired)."""
        if self.pending is None:
            timeout = None if timer is None else timer.due - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                self.fired = timer
                return None
            try:
                await workflow.wait_condition(
                    lambda: self.pending is not None,
                    timeout=timeout,
                    timeout_summary=timer.summary if timer else None,
                )
            except TimeoutError:
                # An event accepted in the same instant still counts: it was validated
                # before the timer fired, so it is acted on.
                if self.pending is None:
                    self.fired = timer
                    return None
        return self.pending

    def moved(self) -> None:
        """The state moved: a fired timer no longer refuses anything."""
        self.fired = None

    def finish(self) -> None:
        if self.pending is not None:
            self.pending = None
            self._done = self._accepted

    def answer_parked(self, reason: str) -> None:
        """The case ended with an event still parked: answer it with an error, never leave it waiting."""
        if self.pending is None:
            return
        self._not_applied[self._accepted] = reason
        self.finish()


class EventSink(Protocol[E_contra, R_co]):
    """What a workflow with an event table implements: its update handlers call these."""

    async def accept_event(self, trigger: E_contra, body: Any) -> R_co: ...

    def validate_event(self, trigger: E_contra, body: Any) -> None: ...


def register_updates(table: Mapping[E, Event[Any, E, Any]], result_type: Any) -> None:
    """One update handler and one validator per row of an event table, under the event's name.

    Call it in ``@workflow.init`` of a workflow that is an ``EventSink``: handlers set there
    exist before the first activation's updates are applied.  The body type travels in the
    handler's annotations, which the SDK reads to decode the payload into the row's model.
    The handler and validator functions are made once per process and shared by every
    run (they find their run with ``workflow.instance()``): a cached case keeps none of its own.
    """
    for trigger, event in table.items():
        body: Any = event.body  # a model class: hashable, the key of the process-wide handlers
        handler, validator = _handlers(trigger, body, result_type)
        workflow.set_update_handler(event.name, handler, validator=validator)


@functools.cache
def _handlers(trigger: enum.StrEnum, body_type: Any, result_type: Any) -> tuple[Callable[..., Any], Callable[..., None]]:
    async def handler(body: Any) -> Any:
        sink: EventSink[Any, Any] = workflow.instance()
        return await sink.accept_event(trigger, body)

    def validator(body: Any) -> None:
        sink: EventSink[Any, Any] = workflow.instance()
        sink.validate_event(trigger, body)

    handler.__annotations__ = {"body": body_type, "return": result_type}
    validator.__annotations__ = {"body": body_type, "return": None}
    return handler, validator


def started_with(keys: Iterable[SearchAttributeKey[Any]]) -> dict[str, Any]:
    """The search attributes the workflow was started with, by name (an upsert of the same value is skipped)."""
    given = workflow.info().typed_search_attributes
    return {key.name: given.get(key) for key in keys if given.get(key) is not None}


def upsert_changed(keys: Iterable[SearchAttributeKey[Any]], wanted: dict[str, Any], published: dict[str, Any]) -> dict[str, Any]:
    """Upsert the search attributes whose value changed (None unsets); returns what is published now.

    A workflow task that moves twice sends one upsert command, one that changes nothing none.
    """
    updates: list[SearchAttributeUpdate[Any]] = [
        key.value_set(wanted[key.name]) if wanted[key.name] is not None else key.value_unset()
        for key in keys
        if key.name not in published or published[key.name] != wanted[key.name]
    ]
    if not updates:
        return published
    workflow.upsert_search_attributes(updates)
    return dict(wanted)
