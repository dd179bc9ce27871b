"""Steps, phases, outcomes and the one transition table the application workflow obeys.

The IND page numbers seven steps; the workflow starts at step 3.  Within a step a case can
wait for different things (documents, a slot, a response), so the state is a finer
``Phase`` that maps onto a ``Step``.  ``TRANSITIONS`` is the only place that says which
trigger (a human event or a timer/activity result) moves a phase where; the workflow's
update validators and its own moves both check it (through the generic ``StateMachine`` of
``domain/machine.py``), and the README's Mermaid diagram is generated from it.
``APPLICATION_EVENTS`` is the one event table: each event's body model and the phases that
accept it.
"""

from __future__ import annotations

import enum
from typing import Any

from domain.machine import Event, StateMachine, event_table
from domain.models import (
    AppealEvent,
    Application,
    DecisionEvent,
    DocumentsEvent,
    ExtendDecisionPeriodEvent,
    InterviewBookedEvent,
    InterviewDecisionEvent,
    InterviewReportEvent,
    JudgmentEvent,
    Model,
    NoShowEvent,
    PermitCollectedEvent,
    ResponseEvent,
    WithdrawEvent,
)


class Step(enum.Enum):
    """The IND page's steps 3-7, with their number and their name on the page."""

    APPLY = (3, "apply", "Apply")
    APPLICATION_CHECK = (4, "application_check", "Application check")
    INTERVIEW = (5, "interview", "Interview or not")
    DECISION = (6, "decision", "Decision on application")
    COLLECT_PERMIT = (7, "collect_permit", "Collect residence permit")

    def __init__(self, number: int, key: str, title: str) -> None:
        self.number = number
        self.key = key
        self.title = title


class Phase(enum.StrEnum):
    REGISTERING = "registering"
    CHECKING_DOCUMENTS = "checking_documents"
    AWAITING_DOCUMENTS = "awaiting_documents"
    AWAITING_INTERVIEW_DECISION = "awaiting_interview_decision"
    AWAITING_INTERVIEW_SLOT = "awaiting_interview_slot"
    INTERVIEW_BOOKED = "interview_booked"
    AWAITING_DECISION = "awaiting_decision"
    INTENDED_DECISION = "intended_decision"
    AWAITING_FINAL_DECISION = "awaiting_final_decision"
    APPEAL_WINDOW = "appeal_window"
    APPEAL_LODGED = "appeal_lodged"
    AWAITING_COLLECTION = "awaiting_collection"
    CLOSED = "closed"


PHASE_STEP: dict[Phase, Step] = {
    Phase.REGISTERING: Step.APPLY,
    Phase.CHECKING_DOCUMENTS: Step.APPLICATION_CHECK,
    Phase.AWAITING_DOCUMENTS: Step.APPLICATION_CHECK,
    Phase.AWAITING_INTERVIEW_DECISION: Step.INTERVIEW,
    Phase.AWAITING_INTERVIEW_SLOT: Step.INTERVIEW,
    Phase.INTERVIEW_BOOKED: Step.INTERVIEW,
    Phase.AWAITING_DECISION: Step.DECISION,
    Phase.INTENDED_DECISION: Step.DECISION,
    Phase.AWAITING_FINAL_DECISION: Step.DECISION,
    Phase.APPEAL_WINDOW: Step.DECISION,
    Phase.APPEAL_LODGED: Step.DECISION,
    Phase.AWAITING_COLLECTION: Step.COLLECT_PERMIT,
    # CLOSED keeps the step the case was in when it closed; see CaseState.step.
}

# Each completes the sentence "the case is ..." (refusals, docs/operators.md).
PHASE_TEXT: dict[Phase, str] = {
    Phase.REGISTERING: "being registered",
    Phase.CHECKING_DOCUMENTS: "having its documents checked",
    Phase.AWAITING_DOCUMENTS: "waiting for missing documents (repair period)",
    Phase.AWAITING_INTERVIEW_DECISION: "waiting for the decision whether to interview",
    Phase.AWAITING_INTERVIEW_SLOT: "waiting for a free interview slot with an interpreter",
    Phase.INTERVIEW_BOOKED: "waiting for the report of its booked interview",
    Phase.AWAITING_DECISION: "waiting for the decision",
    Phase.INTENDED_DECISION: "waiting for the lawyer's response to the intended decision",
    Phase.AWAITING_FINAL_DECISION: "waiting for the final decision",
    Phase.APPEAL_WINDOW: "decided, and the appeal window is open",
    Phase.APPEAL_LODGED: "waiting for the court's judgment on the appeal",
    Phase.AWAITING_COLLECTION: "waiting for the permit to be collected at the desk",
    Phase.CLOSED: "closed",
}


# Phases the case leaves by itself once the work it runs there (an activity) is done: an
# event refused in one of them is refused for now only (domain.refusal.BUSY_TYPE).
WORKING_PHASES = frozenset({Phase.REGISTERING, Phase.CHECKING_DOCUMENTS})


class Outcome(enum.StrEnum):
    GRANTED = "granted"
    INADMISSIBLE = "inadmissible"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    UNFOUNDED = "unfounded"
    NOT_PROCESSED = "not_processed"
    WITHDRAWN = "withdrawn"


NEGATIVE_OUTCOMES = frozenset({Outcome.INADMISSIBLE, Outcome.MANIFESTLY_UNFOUNDED, Outcome.UNFOUNDED})


class Trigger(enum.StrEnum):
    """What moves a case: human events (sent through updates) and the workflow's own results."""

    # human events; the value is the event name used by `starter.py send`
    DOCUMENTS = "documents"
    INTERVIEW_DECISION = "interview-decision"
    INTERVIEW_REPORT = "interview-report"
    NO_SHOW = "no-show"
    DECISION = "decision"
    RESPONSE = "response"
    APPEAL = "appeal"
    JUDGMENT = "judgment"
    WITHDRAW = "withdraw"
    PERMIT_COLLECTED = "permit-collected"
    EXTEND_DECISION_PERIOD = "extend-decision-period"
    INTERVIEW_BOOKED = "interview-booked"
    # the workflow's own
    REGISTERED = "registered"
    DOCUMENTS_COMPLETE = "documents complete"
    DOCUMENTS_INCOMPLETE = "documents incomplete"
    REPAIR_PERIOD_ENDED = "repair period ended"
    SLOT_BOOKED = "slot booked"
    NO_SLOT_FREE = "no slot free"
    RESPONSE_PERIOD_ENDED = "response period ended"
    APPEAL_WINDOW_ENDED = "appeal window ended"
    PERMIT_ISSUED = "permit issued"


_BEFORE_FINAL_DECISION = (
    Phase.REGISTERING,
    Phase.CHECKING_DOCUMENTS,
    Phase.AWAITING_DOCUMENTS,
    Phase.AWAITING_INTERVIEW_DECISION,
    Phase.AWAITING_INTERVIEW_SLOT,
    Phase.INTERVIEW_BOOKED,
    Phase.AWAITING_DECISION,
    Phase.INTENDED_DECISION,
    Phase.AWAITING_FINAL_DECISION,
)

# Where the case waits with a decision pending: an extension of the decision period is
# accepted there (not while the workflow itself works: registering, checking).
_DECISION_PENDING = tuple(phase for phase in _BEFORE_FINAL_DECISION if phase not in WORKING_PHASES)

T = Trigger
P = Phase

TRANSITIONS: dict[Phase, dict[Trigger, frozenset[Phase]]] = {
    P.REGISTERING: {T.REGISTERED: frozenset({P.CHECKING_DOCUMENTS})},
    P.CHECKING_DOCUMENTS: {
        T.DOCUMENTS_COMPLETE: frozenset({P.AWAITING_INTERVIEW_DECISION}),
        T.DOCUMENTS_INCOMPLETE: frozenset({P.AWAITING_DOCUMENTS}),
    },
    P.AWAITING_DOCUMENTS: {
        T.DOCUMENTS: frozenset({P.CHECKING_DOCUMENTS}),
        # not processed (art. 30c Vw) is a decision that can be appealed (issue 9 point 2)
        T.REPAIR_PERIOD_ENDED: frozenset({P.APPEAL_WINDOW}),
    },
    P.AWAITING_INTERVIEW_DECISION: {
        T.INTERVIEW_DECISION: frozenset({P.AWAITING_INTERVIEW_SLOT, P.AWAITING_DECISION}),
    },
    P.AWAITING_INTERVIEW_SLOT: {
        T.SLOT_BOOKED: frozenset({P.INTERVIEW_BOOKED}),
        T.NO_SLOT_FREE: frozenset({P.AWAITING_INTERVIEW_SLOT}),
        T.INTERVIEW_BOOKED: frozenset({P.INTERVIEW_BOOKED}),
    },
    P.INTERVIEW_BOOKED: {
        T.INTERVIEW_REPORT: frozenset({P.AWAITING_DECISION}),
        # excused: a new interview is booked; not excused: a decision (issue 9 point 1)
        T.NO_SHOW: frozenset({P.AWAITING_DECISION, P.AWAITING_INTERVIEW_SLOT}),
    },
    P.AWAITING_DECISION: {
        T.DECISION: frozenset({P.INTENDED_DECISION, P.APPEAL_WINDOW, P.AWAITING_COLLECTION}),
    },
    P.INTENDED_DECISION: {
        T.RESPONSE: frozenset({P.AWAITING_FINAL_DECISION}),
        T.RESPONSE_PERIOD_ENDED: frozenset({P.AWAITING_FINAL_DECISION}),
    },
    P.AWAITING_FINAL_DECISION: {
        T.DECISION: frozenset({P.APPEAL_WINDOW, P.AWAITING_COLLECTION}),
    },
    P.APPEAL_WINDOW: {
        T.APPEAL: frozenset({P.APPEAL_LODGED}),
        T.APPEAL_WINDOW_ENDED: frozenset({P.CLOSED}),
    },
    P.APPEAL_LODGED: {
        T.JUDGMENT: frozenset({P.AWAITING_DECISION, P.CLOSED}),
    },
    P.AWAITING_COLLECTION: {
        T.PERMIT_COLLECTED: frozenset({P.CLOSED}),
    },
    P.CLOSED: {},
}
for _phase in _BEFORE_FINAL_DECISION:
    TRANSITIONS[_phase][T.WITHDRAW] = frozenset({P.CLOSED})
# More time to decide, while a decision is pending and the case waits (issue 9 point 3).
for _phase in _DECISION_PENDING:
    TRANSITIONS[_phase][T.EXTEND_DECISION_PERIOD] = frozenset({_phase})

# When an event arrives in a phase that does not take it, say what the case waits for.
EVENT_WHEN: dict[Trigger, str] = {
    T.DOCUMENTS: "only while the repair period is open",
    T.INTERVIEW_DECISION: "only once the documents are complete and before the interview is decided",
    T.INTERVIEW_REPORT: "only while an interview is booked",
    T.NO_SHOW: "only while an interview is booked",
    T.DECISION: "only once the documents are complete and the interview is settled",
    T.RESPONSE: "only while an intended decision is open",
    T.APPEAL: "only while the appeal window is open",
    T.JUDGMENT: "only once an appeal is lodged",
    T.WITHDRAW: "only before the final decision",
    T.PERMIT_COLLECTED: "only once a permit is issued and not yet collected",
    T.EXTEND_DECISION_PERIOD: "only while a decision is pending and the case waits",
    T.INTERVIEW_BOOKED: "only while the case waits for an interview slot, after the automatic booking has failed",
}


MACHINE: StateMachine[Phase, Trigger] = StateMachine(
    transitions=TRANSITIONS,
    initial=Phase.REGISTERING,
    final=frozenset({Phase.CLOSED}),
    subject="the case",
    state_word="phase",
    state_text=PHASE_TEXT,
    event_when=EVENT_WHEN,
)

# The one event table: update name -> body model and the phases that accept it.  The
# workflow registers an update handler and validator per row (workflows/application.py,
# `@on(Trigger.X)` for the method that acts on it); `starter.py schema` and `send` read the
# body models from it.  A new event: a Trigger, its edges in TRANSITIONS, an EVENT_WHEN
# line, a row here and one handler.
APPLICATION_EVENTS: dict[Trigger, Event[Phase, Trigger, Model]] = event_table(
    MACHINE,
    {
        T.DOCUMENTS: DocumentsEvent,
        T.INTERVIEW_DECISION: InterviewDecisionEvent,
        T.INTERVIEW_REPORT: InterviewReportEvent,
        T.NO_SHOW: NoShowEvent,
        T.DECISION: DecisionEvent,
        T.RESPONSE: ResponseEvent,
        T.APPEAL: AppealEvent,
        T.JUDGMENT: JudgmentEvent,
        T.WITHDRAW: WithdrawEvent,
        T.PERMIT_COLLECTED: PermitCollectedEvent,
        T.EXTEND_DECISION_PERIOD: ExtendDecisionPeriodEvent,
        T.INTERVIEW_BOOKED: InterviewBookedEvent,
    },
)
EVENTS: tuple[Trigger, ...] = tuple(APPLICATION_EVENTS)
EVENT_MODELS: dict[str, type[Model]] = {event.name: event.body for event in APPLICATION_EVENTS.values()}


def json_schema(name: str | None = None) -> dict[str, Any]:
    """JSON Schema of the intake payload (``application``) or of one event."""
    if name is None or name == "application":
        return Application.model_json_schema()
    return EVENT_MODELS[name].model_json_schema()


allowed = MACHINE.allowed
rejection = MACHINE.rejection
move = MACHINE.move
mermaid = MACHINE.mermaid
