"""The permit's statuses, triggers and transition table.

``PERMIT_TRANSITIONS`` is the one table that says which trigger (a human event sent
through an update, or one of the workflow's own timers) moves a permit from which status
to which; update validators, the timer loop and the README's Mermaid diagram all read it.
"""

from __future__ import annotations

import enum


class PermitType(enum.StrEnum):
    TEMPORARY = "III"
    PERMANENT = "IV"


class PermitStatus(enum.StrEnum):
    ACTIVE = "active"
    EXTENSION_PENDING = "extension_pending"
    PERMANENT_PENDING = "permanent_pending"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REPLACED_BY_PERMANENT = "replaced_by_permanent"


STATUS_TEXT: dict[PermitStatus, str] = {
    PermitStatus.ACTIVE: "valid",
    PermitStatus.EXTENSION_PENDING: "valid or lawfully continued; an extension application is pending",
    PermitStatus.PERMANENT_PENDING: "valid or lawfully continued; a permanent permit application is pending",
    PermitStatus.EXPIRED: "expired",
    PermitStatus.WITHDRAWN: "withdrawn",
    PermitStatus.REPLACED_BY_PERMANENT: "ended: replaced by a permanent permit",
}

TERMINAL = frozenset({PermitStatus.EXPIRED, PermitStatus.WITHDRAWN, PermitStatus.REPLACED_BY_PERMANENT})


class PermitTrigger(enum.StrEnum):
    """What moves a permit: human events (update names) and the workflow's own timers."""

    # human events; the value is the update name and the `starter.py send` event name
    EXTENSION_APPLICATION = "extension-application"
    EXTENSION_DECISION = "extension-decision"
    PERMANENT_APPLICATION = "permanent-application"
    PERMANENT_DECISION = "permanent-decision"
    REPLACE_DOCUMENT = "replace-document"
    REPORT_CHANGE = "report-change"
    FINE_DECISION = "fine-decision"
    WITHDRAW_PERMIT = "withdraw-permit"
    DOCUMENT_COLLECTED = "document-collected"
    # the workflow's own
    EXTENSION_REMINDER_DUE = "extension reminder due"
    FIVE_YEARS_REACHED = "five years reached"
    EXPIRY_REACHED = "expiry reached"
    DESK_BOOKING_DUE = "desk booking due"


PERMIT_EVENTS: tuple[PermitTrigger, ...] = (
    PermitTrigger.EXTENSION_APPLICATION,
    PermitTrigger.EXTENSION_DECISION,
    PermitTrigger.PERMANENT_APPLICATION,
    PermitTrigger.PERMANENT_DECISION,
    PermitTrigger.REPLACE_DOCUMENT,
    PermitTrigger.REPORT_CHANGE,
    PermitTrigger.FINE_DECISION,
    PermitTrigger.WITHDRAW_PERMIT,
    PermitTrigger.DOCUMENT_COLLECTED,
)

S = PermitStatus
T = PermitTrigger

# The duty to inform, fines, withdrawal and card collection do not pause while an
# application is pending: the holder still holds the permit (lawful residence continues
# while a timely extension or permanent application is decided, Vw 2000 art. 8(c)).
_IN_FORCE_EVENTS: dict[PermitTrigger, None] = dict.fromkeys(
    (T.REPORT_CHANGE, T.FINE_DECISION, T.WITHDRAW_PERMIT, T.DOCUMENT_COLLECTED, T.DESK_BOOKING_DUE)
)

PERMIT_TRANSITIONS: dict[PermitStatus, dict[PermitTrigger, frozenset[PermitStatus]]] = {
    S.ACTIVE: {
        T.EXTENSION_APPLICATION: frozenset({S.EXTENSION_PENDING}),
        T.PERMANENT_APPLICATION: frozenset({S.PERMANENT_PENDING}),
        T.REPLACE_DOCUMENT: frozenset({S.ACTIVE}),
        T.REPORT_CHANGE: frozenset({S.ACTIVE}),
        T.FINE_DECISION: frozenset({S.ACTIVE}),
        T.WITHDRAW_PERMIT: frozenset({S.WITHDRAWN}),
        T.DOCUMENT_COLLECTED: frozenset({S.ACTIVE}),
        T.DESK_BOOKING_DUE: frozenset({S.ACTIVE}),
        T.EXTENSION_REMINDER_DUE: frozenset({S.ACTIVE}),
        T.FIVE_YEARS_REACHED: frozenset({S.ACTIVE}),
        T.EXPIRY_REACHED: frozenset({S.EXPIRED}),
    },
    S.EXTENSION_PENDING: {
        # granted: a new term (ACTIVE); refused: ACTIVE while still valid, else EXPIRED
        T.EXTENSION_DECISION: frozenset({S.ACTIVE, S.EXPIRED}),
        # a timely application keeps the holder lawfully resident past the expiry date
        T.EXPIRY_REACHED: frozenset({S.EXTENSION_PENDING}),
    },
    S.PERMANENT_PENDING: {
        T.PERMANENT_DECISION: frozenset({S.REPLACED_BY_PERMANENT, S.ACTIVE, S.EXPIRED}),
        T.EXPIRY_REACHED: frozenset({S.PERMANENT_PENDING}),
    },
    S.EXPIRED: {
        # a fine proposed before the end is still decided
        T.FINE_DECISION: frozenset({S.EXPIRED}),
    },
    S.WITHDRAWN: {
        T.FINE_DECISION: frozenset({S.WITHDRAWN}),
    },
    S.REPLACED_BY_PERMANENT: {
        T.DOCUMENT_COLLECTED: frozenset({S.REPLACED_BY_PERMANENT}),
        T.DESK_BOOKING_DUE: frozenset({S.REPLACED_BY_PERMANENT}),
        T.FINE_DECISION: frozenset({S.REPLACED_BY_PERMANENT}),
    },
}
for _status in (S.EXTENSION_PENDING, S.PERMANENT_PENDING):
    for _trigger in _IN_FORCE_EVENTS:
        PERMIT_TRANSITIONS[_status][_trigger] = frozenset({S.WITHDRAWN if _trigger is T.WITHDRAW_PERMIT else _status})

EVENT_WHEN: dict[PermitTrigger, str] = {
    T.EXTENSION_APPLICATION: "only while the permit is active, from 6 months before expiry until the expiry date",
    T.EXTENSION_DECISION: "only while an extension application is pending",
    T.PERMANENT_APPLICATION: "only while the permit is active, once 5 years are reached or within 6 months of expiry",
    T.PERMANENT_DECISION: "only while a permanent permit application is pending",
    T.REPLACE_DOCUMENT: "only while the permit is active and no application is pending",
    T.REPORT_CHANGE: "only while the permit is in force",
    T.FINE_DECISION: "only while a fine is proposed",
    T.WITHDRAW_PERMIT: "only while the permit is in force",
    T.DOCUMENT_COLLECTED: "only while a new card waits at the desk",
}


class PermitTransitionError(Exception):
    """A move the transition table does not allow: a bug in the workflow, not a user error."""


def allowed(status: PermitStatus, trigger: PermitTrigger) -> bool:
    return trigger in PERMIT_TRANSITIONS[status]


def rejection(status: PermitStatus, trigger: PermitTrigger) -> str:
    """A sentence a caller can show when an event is not accepted in this status."""
    return (
        f"event '{trigger.value}' is not allowed now: the permit is {STATUS_TEXT[status]} "
        f"(status '{status.value}'); '{trigger.value}' is accepted {EVENT_WHEN.get(trigger, 'never')}"
    )


def move(status: PermitStatus, trigger: PermitTrigger, target: PermitStatus) -> PermitStatus:
    """Check one transition against the table and return the new status."""
    targets = PERMIT_TRANSITIONS[status].get(trigger)
    if targets is None or target not in targets:
        raise PermitTransitionError(f"{status.value} --{trigger.value}--> {target.value} is not in the table")
    return target


def mermaid_lines(indent: str = "    ") -> list[str]:
    """The permit's states and edges, to embed in a larger diagram (e.g. a composite state)."""
    order = list(PermitStatus)
    lines = [f"{indent}[*] --> {S.ACTIVE.value}: permit issued"]
    for source, edges in PERMIT_TRANSITIONS.items():
        by_target: dict[PermitStatus, list[str]] = {}
        for trigger, targets in edges.items():
            for target in targets:
                by_target.setdefault(target, []).append(trigger.value)
        for target in sorted(by_target, key=order.index):
            lines.append(f"{indent}{source.value} --> {target.value}: {', '.join(by_target[target])}")
    lines.extend(f"{indent}{status.value} --> [*]" for status in order if status in TERMINAL)
    return lines


def mermaid() -> str:
    """The permit's state diagram, generated from the table (the README embeds this text)."""
    return "\n".join(["stateDiagram-v2", *mermaid_lines()])
