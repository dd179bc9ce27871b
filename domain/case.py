"""What a case looks like from outside: the status view and the operator's details text.

``CaseStatus`` is what ``starter.py status`` prints and what the workflow returns when it
ends, so a closed case is read from its result without replaying it.  ``details_markdown``
renders the Web UI's current details; it takes only non-personal facts (step, phase,
deadlines, document ids, counts), because details are visible to every operator.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, Field

from domain.deadlines import AMSTERDAM
from domain.models import Application, Model
from domain.permit.state import PermitSettings
from domain.permit.transitions import PermitType
from domain.policy import LegalSettings
from domain.records import DecisionTaken, PermitValidity
from domain.requirements import Finding

DECISION_WARNING_LEAD = timedelta(days=14)


class CaseOptions(Model):
    """Knobs of a case that are not law; filled by the starter from its settings.

    Every option is bounded (issue 8, defect 7): a slot retry interval of zero would book
    slots in a tight loop, a negative notice would invite for a past date.  A value out of
    bounds is refused with the field's name before anything starts.
    """

    slot_retry_interval: timedelta = Field(
        default=timedelta(hours=4),
        ge=timedelta(minutes=1),
        le=timedelta(days=7),
        description="How long to wait before asking again for an interview slot when none is free.",
    )
    interview_notice: timedelta = Field(
        default=timedelta(days=2),
        ge=timedelta(0),
        le=timedelta(days=60),
        description="The earliest interview slot lies this far after the booking.",
    )
    desk_notice: timedelta = Field(
        default=timedelta(days=7),
        ge=timedelta(0),
        le=timedelta(days=60),
        description="The earliest desk appointment to collect the permit lies this far after the grant.",
    )
    decision_warning_lead: timedelta = Field(
        default=DECISION_WARNING_LEAD,
        ge=timedelta(0),
        le=timedelta(days=180),
        description="Operators are warned this long before the decision deadline.",
    )
    permit_settings: PermitSettings = Field(default_factory=PermitSettings)
    interview_rebook_limit: int = Field(
        default=2,
        ge=0,
        le=10,
        description="How many times an interview is booked again after an excused no-show.",
    )
    slot_tries_before_manual: int = Field(
        default=12,
        ge=1,
        le=1000,
        description="After this many failed interview bookings operators are warned and may book one by hand.",
    )
    legal: LegalSettings = Field(
        default_factory=LegalSettings,
        description="The unconfirmed legal values (docs/legal.md), kept with the case for its whole life.",
    )


class ApplicationInput(Model):
    """The application workflow's input: the intake payload and the case's options."""

    application: Application
    options: CaseOptions = Field(default_factory=CaseOptions)


class DeadlineView(Model):
    due: AwareDatetime
    basis: str
    explanation: str


class InterviewFacts(Model):
    """An interview as it was booked and as it went; the case states it, the case file reports it."""

    starts_at: AwareDatetime | None = None
    location: str | None = None
    held_on: date | None = None
    no_show: bool = False


class InterviewView(InterviewFacts):
    needed: bool | None = None
    no_show_excused: bool | None = None
    rebooked: int = Field(default=0, description="interviews booked again after an excused no-show")
    booked_by_hand: bool = False


class DecisionView(DecisionTaken):
    """A decision as the case lists it; the registry keeps its grounds (``domain.records.DecisionFacts``)."""


class PermitView(PermitValidity):
    """The card issued at step 7, valid from the day the application was received or a later
    date the decision names."""

    permit_type: PermitType = PermitType.TEMPORARY
    document_number: str
    issued_on: date | None = Field(default=None, description="the decision date: the card exists from then")
    collected: bool = False
    collected_on: date | None = None
    desk_appointment: AwareDatetime | None = None


class CaseStatus(Model):
    application_id: str
    workflow_id: str
    step_number: int
    step: str
    step_title: str
    phase: str
    outcome: str | None
    policy_version: str
    received_at: AwareDatetime
    findings: list[Finding] = Field(default_factory=list, description="step 4: one per requirement; they inform the decision")
    deadlines: dict[str, AwareDatetime] = Field(default_factory=dict)
    deadline_basis: dict[str, str] = Field(default_factory=dict)
    outstanding_documents: list[str] = Field(default_factory=list)
    interview: InterviewView = Field(default_factory=InterviewView)
    decisions: list[DecisionView] = Field(default_factory=list)
    appeal_court_case_lodged: bool = False
    permit: PermitView | None = None
    warnings: list[str] = Field(default_factory=list)
    closed: bool = False
    # Filled by starter.py from the permit's own workflow (issue 3); the application
    # workflow never sets it.
    permit_life: dict[str, Any] | None = None


def local(instant: datetime) -> str:
    """An instant as operators read it: Dutch local time with its zone name."""
    return instant.astimezone(AMSTERDAM).strftime("%a %Y-%m-%d %H:%M %Z")


# Plain labels for the details (the keys stay in `starter.py status` and the search attributes).
DEADLINE_LABELS: dict[str, str] = {
    "repair_by": "Repair period ends",
    "respond_by": "Response to the intended decision due",
    "admissibility_by": "Admissibility decision due",
    "decide_by": "Decision due",
    "appeal_by": "Appeal window closes",
}
OUTCOME_LABELS: dict[str, str] = {
    "granted": "granted",
    "inadmissible": "inadmissible",
    "manifestly_unfounded": "manifestly unfounded",
    "unfounded": "unfounded",
    "not_processed": "not processed",
    "withdrawn": "withdrawn",
}


def _when(instant: datetime) -> str:
    # Non-breaking spaces keep a date on one line in the Web UI's narrow details pane.
    return local(instant).replace(" ", "\u00a0")


def details_markdown(status: CaseStatus, *, missing_nl: list[str] | None = None, accepts: list[str] | None = None) -> str:  # noqa: C901  # one branch per optional section of the details; split, the layout scatters
    """The Web UI's current details: plain labels, one fact per line, times in Dutch time.

    ``missing_nl`` are the outstanding documents in Dutch (the same items, as the letter
    says them); ``accepts`` the events the case takes now (from the transition table).
    """
    outcome = OUTCOME_LABELS.get(status.outcome or "", status.outcome or "")
    lines = [f"**Step {status.step_number} of 7: {status.step_title}**", ""]
    lines.append(f"- Phase: {status.phase.replace('_', ' ')}" + (f" · outcome: **{outcome}**" if outcome else ""))
    lines.append(f"- Policy: {status.policy_version}")
    if accepts is not None:
        lines.append("- Accepts now: " + (", ".join(f"`{name}`" for name in accepts) if accepts else "no events"))
    if status.deadlines:
        lines += ["", "**Deadlines** (Dutch time)", ""]
        for key, due in status.deadlines.items():
            basis = status.deadline_basis.get(key, "")
            lines.append(f"- {DEADLINE_LABELS.get(key, key)}: **{_when(due)}**" + (f" — _{basis}_" if basis else ""))
    if status.decisions:
        lines += ["", "**Decisions**", ""]
        for d in status.decisions:
            kind = "decision" if d.final else "intended decision"
            lines.append(f"- {kind} {d.sequence}: {OUTCOME_LABELS.get(d.outcome, d.outcome)}, {_when(d.decided_at)}")
        if status.appeal_court_case_lodged:
            lines.append("- appeal lodged; waiting for the judgment")
    if status.outstanding_documents:
        lines += ["", f"**Outstanding documents** ({len(status.outstanding_documents)})", ""]
        dutch = missing_nl or []
        for n, item in enumerate(status.outstanding_documents):
            nl = dutch[n] if n < len(dutch) and dutch[n] else ""
            lines.append(f"- {item}" + (f" / _{nl}_" if nl else ""))
    if status.interview.starts_at is not None and status.phase == "interview_booked":
        lines += ["", f"**Interview**: {_when(status.interview.starts_at)}"]
    if status.permit is not None:
        p = status.permit
        state = f"collected {p.collected_on}" if p.collected else "waiting at the desk"
        if not p.collected and p.desk_appointment is not None:
            state += f" (appointment {_when(p.desk_appointment)})"
        lines += ["", f"**Permit**: type {p.permit_type}, valid {p.valid_from} to {p.valid_until}, {state}"]
    if status.warnings:
        lines += ["", "**Warnings**", ""] + [f"- ⚠ {w}" for w in status.warnings]
    return "\n".join(lines)
