"""Dated policy versions: which procedure applies is decided by the date received.

Rules change by date (the EU Asylum Procedure Regulation from 12 June 2026; a Dutch bill
that may shorten permits to 3 years).  Each version is one frozen record; code asks
``policy_for(received_at)`` and never branches on dates itself.  A running case keeps the
version it started with: it is recorded in the workflow's state and search attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain.deadlines import AMSTERDAM, Period, Rule, Unit
from domain.steps import Outcome


@dataclass(frozen=True)
class PolicyVersion:
    id: str
    title: str
    effective_from: date
    intended_decision: bool  # a negative outcome is first an intended decision (voornemen)
    decide: Period
    respond: Period
    repair: Period
    repair_after_repeat: Period
    appeal_inadmissible: Period
    appeal_other: Period
    permit_validity_years: int

    def appeal_period(self, outcome: Outcome) -> Period:
        return self.appeal_inadmissible if outcome is Outcome.INADMISSIBLE else self.appeal_other

    def repair_period(self, earlier_repeat_applications: int) -> Period:
        return self.repair_after_repeat if earlier_repeat_applications > 0 else self.repair


_REPAIR = Period(1, Unit.WEEKS, Rule.ATW, "Vw 2000 art. 30c; Vb 2000 art. 3.118b")
_REPAIR_REPEAT = Period(4, Unit.HOURS, Rule.ATW, "Vb 2000 art. 3.118b (earlier repeat applications)")
_RESPOND = Period(1, Unit.DAYS, Rule.ATW, "Vw 2000 art. 39; Vb 2000 art. 3.118b (zienswijze)")
_APPEAL_INADMISSIBLE = Period(1, Unit.WEEKS, Rule.ATW, "Vw 2000 art. 69(2) (inadmissible)")
_APPEAL_OTHER = Period(4, Unit.WEEKS, Rule.ATW, "Awb art. 6:7; Vw 2000 art. 69 (unconfirmed: 4 weeks)")

VW2000 = PolicyVersion(
    id="vw2000",
    title="Vreemdelingenwet 2000, repeat procedure with intended decision",
    effective_from=date(2000, 4, 1),
    intended_decision=True,
    decide=Period(6, Unit.MONTHS, Rule.ATW, "Vw 2000 art. 42(1)"),
    respond=_RESPOND,
    repair=_REPAIR,
    repair_after_repeat=_REPAIR_REPEAT,
    appeal_inadmissible=_APPEAL_INADMISSIBLE,
    appeal_other=_APPEAL_OTHER,
    permit_validity_years=5,
)

EU_APR = PolicyVersion(
    id="eu-2024-1348",
    title="EU Asylum Procedure Regulation 2024/1348, decision final at once",
    effective_from=date(2026, 6, 12),
    intended_decision=False,
    decide=Period(2, Unit.MONTHS, Rule.EU, "Regulation (EU) 2024/1348 art. 35(1)"),
    respond=_RESPOND,
    repair=_REPAIR,
    repair_after_repeat=_REPAIR_REPEAT,
    appeal_inadmissible=_APPEAL_INADMISSIBLE,
    appeal_other=_APPEAL_OTHER,
    permit_validity_years=5,
)

POLICY_VERSIONS: tuple[PolicyVersion, ...] = (VW2000, EU_APR)


def policy_for(received_at: datetime) -> PolicyVersion:
    """The version in force on the Dutch date the application was received."""
    day = received_at.astimezone(AMSTERDAM).date()
    chosen = POLICY_VERSIONS[0]
    for version in POLICY_VERSIONS:
        if version.effective_from <= day:
            chosen = version
    return chosen


def policy_by_id(policy_id: str) -> PolicyVersion:
    for version in POLICY_VERSIONS:
        if version.id == policy_id:
            return version
    raise KeyError(policy_id)
