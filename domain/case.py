"""What a case looks like from outside: the status view and the operator's details text.

``CaseStatus`` is what ``starter.py status`` prints and what the workflow returns when it
ends, so a closed case is read from its result without replaying it.  ``details_markdown``
renders the Web UI's current details; it takes only non-personal facts (step, phase,
deadlines, document ids, counts), because details are visible to every operator.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, Field

from domain.deadlines import AMSTERDAM
from domain.models import Model
from domain.requirements import Finding


class DeadlineView(Model):
    due: AwareDatetime
    basis: str
    explanation: str


class InterviewView(Model):
    needed: bool | None = None
    starts_at: AwareDatetime | None = None
    location: str | None = None
    held_on: date | None = None
    no_show: bool = False


class DecisionView(Model):
    sequence: int
    outcome: str
    final: bool
    decided_at: AwareDatetime


class PermitView(Model):
    document_number: str
    permit_type: str = "III"
    valid_from: date
    valid_until: date
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


def details_markdown(status: CaseStatus) -> str:
    lines = [f"**Step {status.step_number} of 7: {status.step_title}**", ""]
    lines.append(f"Phase: `{status.phase}`" + (f" · outcome: **{status.outcome}**" if status.outcome else ""))
    lines.append(f"Policy: `{status.policy_version}`")
    if status.deadlines:
        lines += ["", "| deadline | due | basis |", "|---|---|---|"]
        for key, due in status.deadlines.items():
            lines.append(f"| {key} | {local(due)} | {status.deadline_basis.get(key, '')} |")
    if status.outstanding_documents:
        lines += ["", f"Outstanding ({len(status.outstanding_documents)}):"]
        lines += [f"- {item}" for item in status.outstanding_documents]
    if status.interview.starts_at is not None and status.phase == "interview_booked":
        lines += ["", f"Interview: {local(status.interview.starts_at)}"]
    if status.permit is not None:
        state = "collected" if status.permit.collected else "waiting at the desk"
        lines += ["", f"Permit: type {status.permit.permit_type}, valid until {status.permit.valid_until}, {state}"]
    if status.warnings:
        lines += ["", "Warnings:"] + [f"- ⚠ {w}" for w in status.warnings]
    return "\n".join(lines)
