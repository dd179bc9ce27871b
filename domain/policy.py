"""Dated policy versions: which procedure applies is decided by the date received.

Rules change by date (the EU Asylum Procedure Regulation from 12 June 2026; a Dutch bill
that may shorten permits to 3 years).  Each version is one frozen record; code asks
``policy_for(received_at, legal)`` and never branches on dates itself.  A running case keeps
the version it started with: it is recorded in the workflow's state and search attributes.

Each version owns its periods *and* its legal references (the articles a letter cites), so
a letter under the EU regulation never cites Vw 2000 art. 30a/30b/31.

Values that ``docs/legal.md`` marks unconfirmed (the 4-week appeal period, the 1-week
appeal period against a not-processed decision, the V-number's length, the extension
maxima and the EU merits period) are not literals here: they are ``LegalSettings`` with the
current defaults (decision 0004), filled from ``HASA_*`` settings by the starter and carried
in the case's options, so a running case keeps the values it started with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Annotated

from pydantic import Field

from domain.deadlines import AMSTERDAM, Period, Rule, Unit
from domain.identifiers import V_NUMBER_DIGITS, V_NUMBER_MAX_DIGITS, V_NUMBER_MIN_DIGITS
from domain.models import Model
from domain.steps import Outcome

__all__ = [
    "EU_APR",
    "POLICY_VERSIONS",
    "VW2000",
    "DecisionClock",
    "LegalSettings",
    "PolicyVersion",
    "References",
    "policy_by_id",
    "policy_for",
]

_Weeks = Annotated[int, Field(ge=1, le=52)]
_Months = Annotated[int, Field(ge=0, le=24)]


class LegalSettings(Model):
    """The unconfirmed legal values, as settings with their current defaults (decision 0004).

    Each default is the value ``domain.md`` gives and marks unconfirmed, or a value read from
    the statute that no source of this project confirms; ``docs/legal.md`` lists them.
    """

    appeal_weeks: _Weeks = Field(
        default=4, description="appeal period against a rejection other than inadmissible (Awb 6:7; unconfirmed)"
    )
    not_processed_appeal_weeks: _Weeks = Field(
        default=1, description="appeal period against a not-processed decision (art. 30c Vw; unconfirmed)"
    )
    v_number_digits: int = Field(
        default=V_NUMBER_DIGITS,
        ge=V_NUMBER_MIN_DIGITS,
        le=V_NUMBER_MAX_DIGITS,
        description="length of a V-number (no checksum published; unconfirmed)",
    )
    vw2000_max_extension_months: _Months = Field(
        default=9, description="Vw 2000 art. 42(4): the 6-month decision period extendable by at most 9 months (unconfirmed)"
    )
    eu_merits_months: int = Field(
        default=6, ge=1, le=24, description="Regulation 2024/1348 art. 35(3): merits examination (unconfirmed)"
    )
    eu_merits_max_extension_months: _Months = Field(
        default=6, description="Regulation 2024/1348 art. 35(4): merits extension (unconfirmed)"
    )


class DecisionClock(Model):
    """Which statutory decision period an outcome is due within."""

    key: str  # the deadline's key in the case: "admissibility_by" or "decide_by"
    label: str  # for operators and the refusal texts


ADMISSIBILITY = DecisionClock(key="admissibility_by", label="the admissibility decision")
MERITS = DecisionClock(key="decide_by", label="the decision on the merits")


# --- the periods, each with its source -----------------------------------------------------------
# The periods below are the same under both versions: they are ``PolicyVersion``'s defaults,
# and a version names only the periods in which it differs.

_REPAIR = Period(1, Unit.WEEKS, Rule.ATW, "Vw 2000 art. 30c; Vb 2000 art. 3.118b")
_REPAIR_REPEAT = Period(4, Unit.HOURS, Rule.ATW, "Vb 2000 art. 3.118b (earlier repeat applications)")
_RESPOND = Period(1, Unit.DAYS, Rule.ATW, "Vw 2000 art. 39; Vb 2000 art. 3.118b (zienswijze)")
_APPEAL_INADMISSIBLE = Period(1, Unit.WEEKS, Rule.ATW, "Vw 2000 art. 69(2) (inadmissible)")
_EU_MERITS_BASIS = "Regulation (EU) 2024/1348 art. 35(3) (unconfirmed: 6 months)"
_SETTINGS = LegalSettings()


def _appeal_other(legal: LegalSettings) -> Period:
    return Period(legal.appeal_weeks, Unit.WEEKS, Rule.ATW, "Awb art. 6:7; Vw 2000 art. 69 (unconfirmed: 4 weeks)")


def _appeal_not_processed(legal: LegalSettings) -> Period:
    basis = "Vw 2000 art. 30c, 69(2) (not processed; unconfirmed: 1 week)"
    return Period(legal.not_processed_appeal_weeks, Unit.WEEKS, Rule.ATW, basis)


_APPEAL_OTHER = _appeal_other(_SETTINGS)
_APPEAL_NOT_PROCESSED = _appeal_not_processed(_SETTINGS)


@dataclass(frozen=True)
class References:
    """The legal references a letter under one policy version cites, in Dutch."""

    outcome: MappingProxyType[str, str]  # outcome -> the article it rests on
    decide: str  # the statutory decision period
    decide_admissibility: str  # the admissibility period (the same as decide where not separate)
    extension: str  # the article that allows more time
    return_decision: str
    appeal_suspensive: str  # whether an appeal lets the applicant wait for the judgment here
    intended_decision: str  # the intended-decision step, or "" where the version has none

    @property
    def not_processed(self) -> str:
        """The article a case is not processed under (buiten behandeling)."""
        return self.outcome["not_processed"]


@dataclass(frozen=True)
class PolicyVersion:
    id: str
    title: str
    effective_from: date
    intended_decision: bool  # a negative outcome is first an intended decision (voornemen)
    decide_admissibility: Period  # the period for an inadmissibility decision
    decide: Period  # the period for every other outcome (the merits)
    max_extension_admissibility_months: int  # 0: no separate extension
    max_extension_months: int  # of ``decide``
    references: References
    respond: Period = _RESPOND
    repair: Period = _REPAIR
    repair_after_repeat: Period = _REPAIR_REPEAT
    appeal_inadmissible: Period = _APPEAL_INADMISSIBLE
    appeal_other: Period = _APPEAL_OTHER
    appeal_not_processed: Period = _APPEAL_NOT_PROCESSED
    permit_validity_years: int = 5

    @property
    def separate_admissibility(self) -> bool:
        """True when the inadmissibility decision has a deadline of its own."""
        return self.decide_admissibility != self.decide

    def appeal_period(self, outcome: Outcome) -> Period:
        """The appeal period against a final negative decision with ``outcome``."""
        if outcome is Outcome.INADMISSIBLE:
            return self.appeal_inadmissible
        if outcome is Outcome.NOT_PROCESSED:
            return self.appeal_not_processed
        return self.appeal_other

    def repair_period(self, earlier_repeat_applications: int) -> Period:
        return self.repair_after_repeat if earlier_repeat_applications > 0 else self.repair

    def clock(self, outcome: Outcome) -> DecisionClock:
        """The deadline an outcome is due by: inadmissible by the admissibility deadline."""
        return ADMISSIBILITY if outcome is Outcome.INADMISSIBLE else MERITS

    def max_extension(self, clock: DecisionClock) -> int:
        """Months the deadline of ``clock`` may be extended by, in all."""
        if clock == ADMISSIBILITY and self.separate_admissibility:
            return self.max_extension_admissibility_months
        return self.max_extension_months

    def period_of(self, clock: DecisionClock) -> Period:
        return self.decide_admissibility if clock == ADMISSIBILITY else self.decide

    def extended(self, clock: DecisionClock, months: int) -> Period:
        """The decision period of ``clock`` after an extension of ``months`` in all.

        The basis names the article that allows it; ``months`` is checked by the caller
        against ``max_extension``.
        """
        base = self.period_of(clock)
        if base.unit is not Unit.MONTHS:
            msg = f"only a period in months is extended, not {base}"
            raise ValueError(msg)
        if months <= 0:
            return base
        return Period(
            base.amount + months,
            base.unit,
            base.rule,
            f"{base.basis}, extended by {months} month{'s' if months != 1 else ''} ({self.references_extension_en})",
        )

    @property
    def references_extension_en(self) -> str:
        return _EXTENSION_EN[self.id]

    def with_settings(self, legal: LegalSettings) -> PolicyVersion:
        """This version with the unconfirmed values taken from ``legal``."""
        changes: dict[str, object] = {
            "appeal_other": _appeal_other(legal),
            "appeal_not_processed": _appeal_not_processed(legal),
        }
        if self.id == VW2000.id:
            changes["max_extension_months"] = legal.vw2000_max_extension_months
        elif self.id == EU_APR.id:
            changes["decide"] = Period(legal.eu_merits_months, Unit.MONTHS, Rule.EU, _EU_MERITS_BASIS)
            changes["max_extension_months"] = legal.eu_merits_max_extension_months
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# A granted asylum permit is the Dutch one under either version.
_PERMIT_ARTICLE = "artikel 28 van de Vreemdelingenwet 2000"

_EXTENSION_EN = {
    "vw2000": "Vw 2000 art. 42(4)",
    "eu-2024-1348": "Regulation (EU) 2024/1348 art. 35",
}

_VW_REFERENCES = References(
    outcome=MappingProxyType(
        {
            "granted": _PERMIT_ARTICLE,
            "inadmissible": "artikel 30a, eerste lid, onder d, van de Vreemdelingenwet 2000",
            "manifestly_unfounded": "artikel 30b van de Vreemdelingenwet 2000",
            "unfounded": "artikel 31 van de Vreemdelingenwet 2000",
            "not_processed": "artikel 30c van de Vreemdelingenwet 2000",
        }
    ),
    decide="artikel 42, eerste lid, van de Vreemdelingenwet 2000",
    decide_admissibility="artikel 42, eerste lid, van de Vreemdelingenwet 2000",
    extension="artikel 42, vierde lid, van de Vreemdelingenwet 2000",
    return_decision="artikel 45 van de Vreemdelingenwet 2000",
    appeal_suspensive=(
        "Beroep tegen deze beslissing heeft geen schorsende werking: u mag de uitspraak niet vanzelf in Nederland "
        "afwachten (artikel 82 van de Vreemdelingenwet 2000). Uw advocaat kan de rechter vragen om een voorlopige "
        "voorziening; zolang de rechter daarover niet heeft beslist, wordt u niet uitgezet."
    ),
    intended_decision="artikel 39 van de Vreemdelingenwet 2000",
)

_EU_REFERENCES = References(
    outcome=MappingProxyType(
        {
            "granted": _PERMIT_ARTICLE,
            "inadmissible": "artikel 55 van Verordening (EU) 2024/1348 (volgend verzoek zonder nieuwe elementen)",
            "manifestly_unfounded": "artikel 39, derde lid, en artikel 42 van Verordening (EU) 2024/1348",
            "unfounded": "artikel 39, tweede lid, van Verordening (EU) 2024/1348",
            "not_processed": "artikel 41 van Verordening (EU) 2024/1348 (impliciete intrekking)",
        }
    ),
    decide="artikel 35, derde lid, van Verordening (EU) 2024/1348",
    decide_admissibility="artikel 35, eerste lid, van Verordening (EU) 2024/1348",
    extension="artikel 35 van Verordening (EU) 2024/1348",
    return_decision="artikel 37 van Verordening (EU) 2024/1348",
    appeal_suspensive=(
        "Beroep tegen een beslissing op een volgende verzoek heeft geen automatische schorsende werking "
        "(artikel 68 van Verordening (EU) 2024/1348). Uw advocaat kan de rechter vragen u toe te staan de uitspraak "
        "in Nederland af te wachten; zolang de rechter daarover niet heeft beslist, wordt u niet uitgezet."
    ),
    intended_decision="",
)

VW2000 = PolicyVersion(
    id="vw2000",
    title="Vreemdelingenwet 2000, repeat procedure with intended decision",
    effective_from=date(2000, 4, 1),
    intended_decision=True,
    # Vw 2000 has one decision period for every outcome.
    decide_admissibility=Period(6, Unit.MONTHS, Rule.ATW, "Vw 2000 art. 42(1)"),
    decide=Period(6, Unit.MONTHS, Rule.ATW, "Vw 2000 art. 42(1)"),
    max_extension_admissibility_months=0,
    max_extension_months=_SETTINGS.vw2000_max_extension_months,
    references=_VW_REFERENCES,
)

EU_APR = PolicyVersion(
    id="eu-2024-1348",
    title="EU Asylum Procedure Regulation 2024/1348, decision final at once",
    effective_from=date(2026, 6, 12),
    intended_decision=False,
    decide_admissibility=Period(2, Unit.MONTHS, Rule.EU, "Regulation (EU) 2024/1348 art. 35(1)"),
    decide=Period(_SETTINGS.eu_merits_months, Unit.MONTHS, Rule.EU, _EU_MERITS_BASIS),
    max_extension_admissibility_months=2,  # art. 35(1): 2 months, extendable by 2
    max_extension_months=_SETTINGS.eu_merits_max_extension_months,
    references=_EU_REFERENCES,
)

POLICY_VERSIONS: tuple[PolicyVersion, ...] = (VW2000, EU_APR)


def policy_for(received_at: datetime, legal: LegalSettings | None = None) -> PolicyVersion:
    """The version in force on the Dutch date the application was received.

    With ``legal``, the unconfirmed values are the case's settings; without, the defaults.
    """
    day = received_at.astimezone(AMSTERDAM).date()
    chosen = POLICY_VERSIONS[0]
    for version in POLICY_VERSIONS:
        if version.effective_from <= day:
            chosen = version
    return chosen if legal is None else chosen.with_settings(legal)


def policy_by_id(policy_id: str, legal: LegalSettings | None = None) -> PolicyVersion:
    for version in POLICY_VERSIONS:
        if version.id == policy_id:
            return version if legal is None else version.with_settings(legal)
    raise KeyError(policy_id)
