"""A finite state machine over a transition table: the one copy both workflows use.

A ``StateMachine`` is generic over its states and triggers (both ``StrEnum``s: the value of
a human trigger is the update name).  It answers the four questions a workflow asks of its
table: may this trigger be taken now (``allowed``), why not (``rejection``, a sentence a
caller can show), check one move (``move``) and draw the table (``mermaid``).  The tables
themselves stay with their domain (``domain/steps.py`` for the application, the permit
package for the permit); a new machine is one table and one ``StateMachine(...)``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.StrEnum)
T = TypeVar("T", bound=enum.StrEnum)


class TransitionError(Exception):
    """A move the transition table does not hold: a bug in the workflow, not a user error."""


@dataclass(frozen=True)
class StateMachine(Generic[S, T]):
    """One transition table with the words to explain it.

    ``transitions[state][trigger]`` is the set of states the trigger may lead to from
    ``state``; a trigger absent from a state is not allowed there.  ``subject`` and
    ``state_word`` name what moves ("the case", "phase"); ``state_text`` says in words what
    a state waits for, ``event_when`` when an event is accepted.
    """

    transitions: Mapping[S, Mapping[T, frozenset[S]]]
    initial: S
    final: frozenset[S]
    subject: str
    state_word: str
    state_text: Mapping[S, str]
    event_when: Mapping[T, str] = field(default_factory=dict)
    initial_label: str = ""
    group_edges: bool = False

    @property
    def states(self) -> list[S]:
        """Every state, in the order of the table (the order of the enum)."""
        return list(self.transitions)

    def allowed(self, state: S, trigger: T) -> bool:
        return trigger in self.transitions[state]

    def accepting(self, trigger: T) -> frozenset[S]:
        """The states in which ``trigger`` is allowed."""
        return frozenset(state for state, edges in self.transitions.items() if trigger in edges)

    def triggers(self) -> list[T]:
        """Every trigger that appears in the table, in the order first met."""
        seen: dict[T, None] = {}
        for edges in self.transitions.values():
            seen.update(dict.fromkeys(edges))
        return list(seen)

    def rejection(self, state: S, trigger: T) -> str:
        """Two sentences a caller can show when ``trigger`` is not allowed in ``state``."""
        when = self.event_when.get(trigger, "never")
        return (
            f"The event '{trigger.value}' is not allowed now: {self.subject} is {self.state_text[state]} "
            f"({self.state_word} '{state.value}'). '{trigger.value}' is accepted {when}."
        )

    def move(self, state: S, trigger: T, target: S) -> S:
        """Check one move against the table and return the new state."""
        targets = self.transitions[state].get(trigger)
        if targets is None or target not in targets:
            raise TransitionError(f"{state.value} --{trigger.value}--> {target.value} is not in the table")
        return target

    def mermaid_lines(self, indent: str = "    ") -> list[str]:
        """The states and edges, to embed in a larger diagram (e.g. a composite state)."""
        order = self.states
        label = f": {self.initial_label}" if self.initial_label else ""
        lines = [f"{indent}[*] --> {self.initial.value}{label}"]
        for source, edges in self.transitions.items():
            if self.group_edges:
                lines += self._grouped(indent, source, edges, order)
                continue
            for trigger, targets in edges.items():
                for target in sorted(targets, key=order.index):
                    lines.append(f"{indent}{source.value} --> {target.value}: {trigger.value}")
        lines.extend(f"{indent}{state.value} --> [*]" for state in order if state in self.final)
        return lines

    @staticmethod
    def _grouped(indent: str, source: S, edges: Mapping[T, Iterable[S]], order: list[S]) -> list[str]:
        by_target: dict[S, list[str]] = {}
        for trigger, targets in edges.items():
            for target in targets:
                by_target.setdefault(target, []).append(trigger.value)
        return [
            f"{indent}{source.value} --> {target.value}: {', '.join(by_target[target])}"
            for target in sorted(by_target, key=order.index)
        ]

    def mermaid(self) -> str:
        """The state diagram, generated from the table (the README embeds this text)."""
        return "\n".join(["stateDiagram-v2", *self.mermaid_lines()])


B = TypeVar("B")


@dataclass(frozen=True)
class Event(Generic[S, T, B]):
    """One row of a machine's event table: the update name, its body model and where it is taken."""

    trigger: T
    body: type[B]
    accepted_in: frozenset[S]

    @property
    def name(self) -> str:
        """The update name (the Web UI lists it) and the ``starter.py send`` event name."""
        return str(self.trigger.value)


def event_table(machine: StateMachine[S, T], bodies: Mapping[T, type[B]]) -> dict[T, Event[S, T, B]]:
    """The events of ``machine``: each body model with the states that accept it (from the table).

    Every trigger with a body must appear in the table, and every trigger in ``event_when``
    (the human events) must have a body: a row missing on either side fails at import.
    """
    known = set(machine.triggers())
    unknown = [t.value for t in bodies if t not in known]
    without_body = [t.value for t in machine.event_when if t not in bodies]
    if unknown or without_body:
        raise TransitionError(f"event table and transition table disagree: {unknown=} {without_body=}")
    return {trigger: Event(trigger, body, machine.accepting(trigger)) for trigger, body in bodies.items()}
