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

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

A = TypeVar("A")
R = TypeVar("R")
W = TypeVar("W")
K = TypeVar("K")
F = TypeVar("F", bound=Callable[..., Any])

# Transient failures (a locked database, a full disk) retry for a long time.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
ACTIVITY_TIMEOUT = timedelta(seconds=60)
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
