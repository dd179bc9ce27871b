"""The kinds and tables the application's state is built from: deadline kinds, warnings,
the deadlines that end a phase, and how a not-processed decision is described.

Split from ``domain/case_state.py`` so the tables read on their own; ``case_state``
re-exports every name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain import deadlines as dl
from domain.alerts import Alert
from domain.steps import Phase, Trigger


class DeadlineKind(enum.StrEnum):
    """The deadlines a case can run against; the value is the key operators and the CLI see."""

    REPAIR_BY = "repair_by"  # repair period for missing documents
    RESPOND_BY = "respond_by"  # the lawyer's response to an intended decision
    ADMISSIBILITY_BY = "admissibility_by"  # the admissibility decision, where the policy separates it
    DECIDE_BY = "decide_by"  # the statutory decision period (on the merits)
    APPEAL_BY = "appeal_by"  # the appeal window after a final negative decision


# How far the operators have been warned about the current decision deadline: the same
# levels as every deadline alert (domain/alerts.py), published as DecisionAlert.
DecisionAlert = Alert


class WarningKind(enum.StrEnum):
    NO_INTERVIEW_SLOT = "no_interview_slot"
    DECISION_DEADLINE = "decision_deadline"
    REBOOK_LIMIT = "rebook_limit"


@dataclass(frozen=True)
class PhaseDeadline:
    """A deadline a phase waits on: what fires when it passes, and which events it ends.

    Once it has fired, the events in ``refuses`` are refused with ``ends`` and the instant,
    and ``after`` (issue 8, defect 1).  The periods' sources are in domain/policy.py.
    """

    kind: DeadlineKind
    fires: Trigger
    summary: str
    ends: str
    after: str
    refuses: frozenset[Trigger]


PHASE_DEADLINES: dict[Phase, PhaseDeadline] = {
    Phase.AWAITING_DOCUMENTS: PhaseDeadline(
        DeadlineKind.REPAIR_BY,
        Trigger.REPAIR_PERIOD_ENDED,
        "repair period ends",
        "the repair period",
        "the application is not processed (a decision that can be appealed)",
        frozenset({Trigger.DOCUMENTS, Trigger.WITHDRAW}),
    ),
    Phase.INTENDED_DECISION: PhaseDeadline(
        DeadlineKind.RESPOND_BY,
        Trigger.RESPONSE_PERIOD_ENDED,
        "response period ends",
        "the response period",
        "the case waits for the final decision",
        frozenset({Trigger.RESPONSE}),
    ),
    Phase.APPEAL_WINDOW: PhaseDeadline(
        DeadlineKind.APPEAL_BY,
        Trigger.APPEAL_WINDOW_ENDED,
        "appeal window ends",
        "the appeal window",
        "the decision is final and the case is closed",
        frozenset({Trigger.APPEAL}),
    ),
}


@dataclass(frozen=True)
class NotProcessed:
    """Why and by whom an application is put buiten behandeling, and what its letter says."""

    grounds: str
    decided_by: str
    letter_facts: dict[str, str]
    letter_items: tuple[str, ...] = ()


NO_SLOT_WARNING = "no interview slot with a suitable interpreter is free; trying again later"


def local(instant: datetime) -> str:
    """An instant as letters and refusals write it: Dutch local time, day first."""
    return instant.astimezone(dl.AMSTERDAM).strftime("%d-%m-%Y %H:%M")
