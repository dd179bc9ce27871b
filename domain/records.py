"""The facts the registry records, each declared once.

The activity message that records a fact (``domain.messages``) extends its model here with
what only the activity needs (the case, an idempotency key, the phase that follows), and
the case file (``reports.casefile_model``) reports the registry's rows in the same models.
So a recorded fact has one set of field definitions, and the case file's JSON Schema names
the domain's enums where the registry keeps their values.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, Field

from domain.models import DecisionOutcome, Model
from domain.permit.events import ViolationOutcome, WithdrawalGround
from domain.permit.transitions import PermitStatus, PermitType


class DecisionTaken(Model):
    """Which decision (besluit) or intended decision (voornemen) was taken, and when."""

    sequence: int = Field(ge=1, description="1 for the first decision, +1 for each later one")
    outcome: DecisionOutcome
    final: bool = Field(description="False for an intended decision (voornemen)")
    decided_at: AwareDatetime


class DecisionFacts(DecisionTaken):
    """A decision as it is recorded: who took it, on what grounds, under which policy."""

    grounds: str
    decided_by: str
    policy_version: str
    respond_by: AwareDatetime | None = None
    appeal_by: AwareDatetime | None = None


class PermitValidity(Model):
    """A residence permit's type and the days its card is valid, both inclusive."""

    permit_type: PermitType
    valid_from: date
    valid_until: date


class PermitStatusFacts(Model):
    """A status the permit took, with the type and the end of validity it had then."""

    status: PermitStatus
    permit_type: PermitType
    valid_until: date
    changed_at: AwareDatetime
    withdrawal_ground: WithdrawalGround | None = None


class ViolationFacts(Model):
    """A change reported late, and what it led to: a warning, or a fine proposal."""

    sequence: int = Field(ge=1, description="1 for the first violation, +1 for each later one")
    outcome: ViolationOutcome
    change_kind: str
    occurred_on: date
    reported_on: date
    decided_on: date
    warning_valid_until: date | None = None
    fine_maximum_eur: Decimal | None = None
