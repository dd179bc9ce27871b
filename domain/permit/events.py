"""The permit's events: the bodies of the updates a caseworker or the holder sends.

``PERMIT_EVENT_TABLE`` is the one table of them: update name -> body model and the
statuses that accept it (from the transition table).  The workflow registers an update
handler and validator per row (``workflows/permit.py``, ``@on(PermitTrigger.X)`` on the
method that acts on it); ``starter.py send`` and ``schema`` read the body models from it.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from domain.machine import Event, event_table
from domain.models import JudgmentResult, Model, NonEmpty
from domain.permit.transitions import PERMIT_MACHINE, PermitStatus, PermitTrigger

T = PermitTrigger


class ExtensionApplicationEvent(Model):
    submitted_on: date


class ApplicationDecision(Model):
    """The decision on an extension or a permanent application: granted or not, and why."""

    granted: bool
    grounds: NonEmpty


class ExtensionDecisionEvent(ApplicationDecision):
    pass


class PermanentApplicationEvent(Model):
    submitted_on: date
    civic_integration_met: bool


class PermanentDecisionEvent(ApplicationDecision):
    pass


class ReplacementReason(enum.StrEnum):
    DAMAGED = "damaged"
    LOST = "lost"
    STOLEN = "stolen"
    DETAILS_CHANGED = "details_changed"


class ReplaceDocumentEvent(Model):
    reason: ReplacementReason
    police_report: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Police report reference; required when the card was lost or stolen."
    )

    @model_validator(mode="after")
    def _police_report(self) -> ReplaceDocumentEvent:
        if self.reason in (ReplacementReason.LOST, ReplacementReason.STOLEN) and self.police_report is None:
            raise ValueError(f"a {self.reason.value} card needs a police report (police_report)")
        return self


class ReportChangeEvent(Model):
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="What changed, e.g. address, household, work, marital status."
    )
    occurred_on: date
    reported_on: date
    serious: bool = Field(
        default=False,
        description=(
            "The officer judges the violation serious: a fine may follow at once, up to the full maximum. "
            "A less serious one gets a warning first, and a fine of at most half the maximum after that."
        ),
    )

    @model_validator(mode="after")
    def _order(self) -> ReportChangeEvent:
        if self.reported_on < self.occurred_on:
            raise ValueError("reported_on lies before occurred_on")
        return self


class FineDecisionEvent(Model):
    imposed: bool
    amount_eur: Decimal = Field(ge=0, max_digits=9, decimal_places=2)


class WithdrawalGround(enum.StrEnum):
    FALSE_INFORMATION = "false_information"
    PUBLIC_ORDER = "public_order"
    GROUNDS_LAPSED = "grounds_lapsed"
    RESIDENCE_ABROAD = "residence_abroad"


class WithdrawPermitEvent(Model):
    ground: WithdrawalGround
    explanation: NonEmpty


class DocumentCollectedEvent(Model):
    collected_on: date


class RefusalAppealedEvent(Model):
    """An appeal (or objection) lodged against the refusal of an extension or a permanent permit."""

    lodged_on: date


class AppealDecidedEvent(Model):
    """The outcome of that appeal: ``upheld`` (the refusal stands) or ``annulled`` (decided again)."""

    result: JudgmentResult


PERMIT_EVENT_TABLE: dict[PermitTrigger, Event[PermitStatus, PermitTrigger, Model]] = event_table(
    PERMIT_MACHINE,
    {
        T.EXTENSION_APPLICATION: ExtensionApplicationEvent,
        T.EXTENSION_DECISION: ExtensionDecisionEvent,
        T.PERMANENT_APPLICATION: PermanentApplicationEvent,
        T.PERMANENT_DECISION: PermanentDecisionEvent,
        T.REFUSAL_APPEALED: RefusalAppealedEvent,
        T.APPEAL_DECIDED: AppealDecidedEvent,
        T.REPLACE_DOCUMENT: ReplaceDocumentEvent,
        T.REPORT_CHANGE: ReportChangeEvent,
        T.FINE_DECISION: FineDecisionEvent,
        T.WITHDRAW_PERMIT: WithdrawPermitEvent,
        T.DOCUMENT_COLLECTED: DocumentCollectedEvent,
    },
)

# Update name -> body model, for ``starter.py send`` and ``schema``.
PERMIT_EVENT_MODELS: dict[str, type[Model]] = {event.name: event.body for event in PERMIT_EVENT_TABLE.values()}


class ViolationOutcome(enum.StrEnum):
    NONE = "none"  # reported in time
    WARNING = "warning"
    FINE = "fine"
