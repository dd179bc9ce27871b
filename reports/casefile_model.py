"""The case file's JSON: the model the command prints and validates against.

Built by ``reports.casefile``, rendered by ``reports.pdf``; its JSON Schema is
``starter.py schema case-file``.  Times are aware; the registry gives them back so
(``activities.registry_db.UTCDateTime``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.case import InterviewFacts
from domain.models import AppealEvent, InterviewDecisionEvent, JudgmentResult
from domain.permit.state import FineStatus
from domain.records import DecisionFacts, PermitStatusFacts, PermitValidity, ViolationFacts

FORMAT: Literal["hasa-case-file/1"] = "hasa-case-file/1"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Applicant(_Out):
    v_number: str
    family_name: str
    given_names: str
    date_of_birth: date
    nationality: str
    language: str
    lawyer_name: str | None = None


class CaseSummary(_Out):
    application_id: str
    policy_version: str | None = None
    received_at: datetime | None = None
    registered_at: datetime | None = None
    phase: str | None = None
    outcome: str | None = None
    closed_at: datetime | None = None


class Run(_Out):
    workflow_id: str
    run_id: str
    workflow_type: str
    started_at: datetime
    closed_at: datetime | None
    status: str = Field(description="running, completed, continued (continue-as-new), failed, terminated, canceled, timed_out")


class Entry(_Out):
    at: datetime
    workflow: Literal["application", "permit"]
    kind: str = Field(description="started, event, activity, timer, attribute, child, continued, completed, failed, ...")
    name: str = Field(description="the event, activity or attribute name as Temporal records it")
    title: str = Field(description="what happened, in Dutch")
    actor: str | None = Field(default=None, description="who acted: decided_by of a decision, else the sender's role")
    detail: str = Field(default="", description="the facts of the entry, in Dutch")
    refused: str | None = Field(default=None, description="why an accepted event failed or a request was refused")
    data: Any = Field(default=None, description="the decrypted body of an event, or an activity's input and result")


class Decision(DecisionFacts):
    """A decision as the registry holds it (``DecisionRow``)."""


class Deadline(_Out):
    key: str = Field(description="decide_by, repair_by, respond_by, appeal_by")
    title: str
    due: datetime
    basis: str = Field(description="legal basis and computation, as the workflow computed it")
    first_recorded_at: datetime
    closed_at: datetime | None = Field(description="when the period ended: the act that ended it, or the timer")
    met: bool | None = Field(description="true: ended by an act in time; false: passed; null: still running")


class Letter(_Out):
    key: str
    kind: str
    title: str
    recipient: str
    file: str
    sha256: str
    created_at: datetime


class DocumentOnFile(_Out):
    doc_id: str
    kind: str
    filename: str
    media_type: str
    language: str
    translation_of: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    recorded_at: datetime


class Interview(InterviewDecisionEvent, InterviewFacts):
    """An interview decision (the event's body) and the interview it led to."""

    decided_at: datetime


class Appeal(AppealEvent):
    """An appeal as it was lodged (the event's body), and the court's judgment."""

    recorded_at: datetime
    judgment: JudgmentResult | None = None
    judged_at: datetime | None = None


class Card(PermitValidity):
    """A residence document the registry issued (``PermitRow``), with its collection and invalidity."""

    document_number: str
    purpose: str
    status: str = Field(description="valid, replaced or invalid")
    issued_at: datetime
    collected_on: date | None = None
    invalid_reason: str | None = None


class StatusChange(PermitStatusFacts):
    """A status the permit workflow reported to the registry (``PermitStatusChangeRow``)."""


class Violation(ViolationFacts):
    """A late report as the registry holds it (``PermitViolationRow``), with the fine's decision."""

    fine_status: FineStatus | None = None
    fine_amount_eur: Decimal | None = None
    fine_decided_on: date | None = None


class PermitLife(_Out):
    status: str | None = None
    permit_type: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    cards: list[Card] = Field(default_factory=list)
    status_changes: list[StatusChange] = Field(default_factory=list)
    reminders: list[Letter] = Field(default_factory=list, description="extension reminders sent")
    violations: list[Violation] = Field(default_factory=list, description="warnings and fines")
    timeline: list[dict[str, Any]] = Field(default_factory=list, description="the permit workflow's own timeline")


class CaseFile(_Out):
    """The case file of one repeat asylum application and its permit."""

    model_config = ConfigDict(extra="forbid", title="CaseFile")

    format: Literal["hasa-case-file/1"] = FORMAT
    application_id: str
    generated_at: datetime
    applicant: Applicant | None = None
    case: CaseSummary
    runs: list[Run]
    chronology: list[Entry]
    decisions: list[Decision]
    deadlines: list[Deadline]
    letters: list[Letter]
    documents: list[DocumentOnFile]
    interviews: list[Interview]
    appeals: list[Appeal]
    permit: PermitLife | None = None


def schema() -> dict[str, Any]:
    return CaseFile.model_json_schema(mode="serialization")
