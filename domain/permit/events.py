"""The permit's events: the bodies of the updates a caseworker or the holder sends."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from domain.models import Model, NonEmpty
from domain.permit.transitions import PermitTrigger

T = PermitTrigger


class ExtensionApplicationEvent(Model):
    submitted_on: date


class ExtensionDecisionEvent(Model):
    granted: bool
    grounds: NonEmpty


class PermanentApplicationEvent(Model):
    submitted_on: date
    civic_integration_met: bool


class PermanentDecisionEvent(Model):
    granted: bool
    grounds: NonEmpty


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
    less_serious: bool = Field(
        default=False, description="The officer judges a late report less serious: a fine is then at most half."
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


PERMIT_EVENT_MODELS: dict[str, type[Model]] = {
    T.EXTENSION_APPLICATION.value: ExtensionApplicationEvent,
    T.EXTENSION_DECISION.value: ExtensionDecisionEvent,
    T.PERMANENT_APPLICATION.value: PermanentApplicationEvent,
    T.PERMANENT_DECISION.value: PermanentDecisionEvent,
    T.REPLACE_DOCUMENT.value: ReplaceDocumentEvent,
    T.REPORT_CHANGE.value: ReportChangeEvent,
    T.FINE_DECISION.value: FineDecisionEvent,
    T.WITHDRAW_PERMIT.value: WithdrawPermitEvent,
    T.DOCUMENT_COLLECTED.value: DocumentCollectedEvent,
}


class ViolationOutcome(enum.StrEnum):
    NONE = "none"  # reported in time
    WARNING = "warning"
    FINE = "fine"
