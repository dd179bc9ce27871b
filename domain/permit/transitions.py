"""The permit's statuses, triggers and transition table.

``PERMIT_TRANSITIONS`` is the one table that says which trigger (a human event sent
through an update, or one of the workflow's own timers) moves a permit from which status
to which.  ``PERMIT_MACHINE`` (the generic ``domain.machine.StateMachine``) answers the
workflow's questions about it; update validators, the timer loop and the README's Mermaid
diagram all read it.
"""

from __future__ import annotations

import enum

from domain.machine import StateMachine, TransitionError


class PermitType(enum.StrEnum):
    TEMPORARY = "III"
    PERMANENT = "IV"


class PermitStatus(enum.StrEnum):
    ACTIVE = "active"
    EXTENSION_PENDING = "extension_pending"
    PERMANENT_PENDING = "permanent_pending"
    # The validity has ended after a refusal, but residence stays lawful while the refusal
    # can still be appealed or an appeal against it is pending (see rules.refusal_open).
    AWAITING_APPEAL = "awaiting_appeal"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REPLACED_BY_PERMANENT = "replaced_by_permanent"


STATUS_TEXT: dict[PermitStatus, str] = {
    PermitStatus.ACTIVE: "valid",
    PermitStatus.EXTENSION_PENDING: "valid or lawfully continued; an extension application is pending",
    PermitStatus.PERMANENT_PENDING: "valid or lawfully continued; a permanent permit application is pending",
    PermitStatus.AWAITING_APPEAL: (
        "past its last valid day; residence continues lawfully while the refusal can be or is being appealed"
    ),
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
    REFUSAL_APPEALED = "refusal-appealed"
    APPEAL_DECIDED = "appeal-decided"
    REPLACE_DOCUMENT = "replace-document"
    REPORT_CHANGE = "report-change"
    FINE_DECISION = "fine-decision"
    WITHDRAW_PERMIT = "withdraw-permit"
    DOCUMENT_COLLECTED = "document-collected"
    # the workflow's own
    EXTENSION_REMINDER_DUE = "extension reminder due"
    PERMANENT_WINDOW_OPENS = "permanent application window opens"
    EXPIRY_REACHED = "expiry reached"
    APPEAL_PERIOD_ENDED = "appeal period ended"
    DESK_BOOKING_DUE = "desk booking due"


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
        # an appeal against a refusal while the permit is still valid; its outcome
        T.REFUSAL_APPEALED: frozenset({S.ACTIVE}),
        T.APPEAL_DECIDED: frozenset({S.ACTIVE, S.EXTENSION_PENDING, S.PERMANENT_PENDING}),
        T.REPLACE_DOCUMENT: frozenset({S.ACTIVE}),
        T.REPORT_CHANGE: frozenset({S.ACTIVE}),
        T.FINE_DECISION: frozenset({S.ACTIVE}),
        T.WITHDRAW_PERMIT: frozenset({S.WITHDRAWN}),
        T.DOCUMENT_COLLECTED: frozenset({S.ACTIVE}),
        T.DESK_BOOKING_DUE: frozenset({S.ACTIVE}),
        T.EXTENSION_REMINDER_DUE: frozenset({S.ACTIVE}),
        T.PERMANENT_WINDOW_OPENS: frozenset({S.ACTIVE}),
        # expired, or lawfully on while a refusal can be or is being appealed
        T.EXPIRY_REACHED: frozenset({S.EXPIRED, S.AWAITING_APPEAL}),
    },
    S.EXTENSION_PENDING: {
        # granted: a new term (ACTIVE); refused: ACTIVE while still valid, else the
        # refusal's appeal period keeps residence lawful (AWAITING_APPEAL)
        T.EXTENSION_DECISION: frozenset({S.ACTIVE, S.AWAITING_APPEAL}),
        # a timely application keeps the holder lawfully resident past the expiry date
        T.EXPIRY_REACHED: frozenset({S.EXTENSION_PENDING}),
    },
    S.PERMANENT_PENDING: {
        T.PERMANENT_DECISION: frozenset({S.REPLACED_BY_PERMANENT, S.ACTIVE, S.AWAITING_APPEAL}),
        T.EXPIRY_REACHED: frozenset({S.PERMANENT_PENDING}),
    },
    S.AWAITING_APPEAL: {
        T.REFUSAL_APPEALED: frozenset({S.AWAITING_APPEAL}),
        # upheld: the refusal stands and the permit has expired; annulled: decided again
        T.APPEAL_DECIDED: frozenset({S.EXPIRED, S.EXTENSION_PENDING, S.PERMANENT_PENDING}),
        T.APPEAL_PERIOD_ENDED: frozenset({S.EXPIRED}),
        T.FINE_DECISION: frozenset({S.AWAITING_APPEAL}),
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
    T.REFUSAL_APPEALED: "only within the appeal period of a refused extension or permanent permit",
    T.APPEAL_DECIDED: "only while an appeal against a refused extension or permanent permit is pending",
    T.REPLACE_DOCUMENT: "only while the permit is active and no application is pending",
    T.REPORT_CHANGE: "only while the permit is in force",
    T.FINE_DECISION: "only while a fine is proposed",
    T.WITHDRAW_PERMIT: "only while the permit is in force",
    T.DOCUMENT_COLLECTED: "only while a new card waits at the desk",
}

# The human events, in the order the README lists them.
PERMIT_EVENTS: tuple[PermitTrigger, ...] = tuple(EVENT_WHEN)

PERMIT_MACHINE: StateMachine[PermitStatus, PermitTrigger] = StateMachine(
    transitions=PERMIT_TRANSITIONS,
    initial=S.ACTIVE,
    final=TERMINAL,
    subject="the permit",
    state_word="status",
    state_text=STATUS_TEXT,
    event_when=EVENT_WHEN,
    initial_label="permit issued",
    group_edges=True,
)

PermitTransitionError = TransitionError
allowed = PERMIT_MACHINE.allowed
rejection = PERMIT_MACHINE.rejection
move = PERMIT_MACHINE.move
mermaid_lines = PERMIT_MACHINE.mermaid_lines
mermaid = PERMIT_MACHINE.mermaid
