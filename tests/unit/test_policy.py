"""The legal values per policy version, each test naming its source (issue 9 points 2-4, 13, 18)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from domain.case import CaseOptions
from domain.case_state import CaseState, DeadlineKind
from domain.deadlines import AMSTERDAM, Rule, Unit, compute
from domain.models import Application, ExtendDecisionPeriodEvent, InterviewReportEvent
from domain.policy import ADMISSIBILITY, EU_APR, MERITS, VW2000, LegalSettings, policy_by_id, policy_for
from domain.requirements import findings
from domain.steps import Outcome
from infra.settings import Settings
from tests.conftest import EXAMPLE

EU_RECEIVED = datetime(2026, 11, 27, 10, 0, tzinfo=AMSTERDAM)  # a Friday
VW_RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=AMSTERDAM)


def test_eu_admissibility_has_two_months_and_merits_their_own_period() -> None:
    """Regulation (EU) 2024/1348 art. 35(1): the admissibility examination takes 2 months;
    the other outcomes are due within the merits period (art. 35(3), 6 months, unconfirmed).
    Both are EU periods, moved only by Regulation 1182/71 art. 3(4)."""
    policy = policy_for(EU_RECEIVED)
    assert policy is EU_APR
    assert policy.separate_admissibility
    assert policy.clock(Outcome.INADMISSIBLE) == ADMISSIBILITY
    for outcome in (Outcome.UNFOUNDED, Outcome.MANIFESTLY_UNFOUNDED, Outcome.GRANTED):
        assert policy.clock(outcome) == MERITS
    admissibility = compute(EU_RECEIVED, policy.decide_admissibility)
    merits = compute(EU_RECEIVED, policy.decide)
    assert admissibility.end_date == date(2027, 1, 27)  # a Wednesday
    assert merits.end_date == date(2027, 5, 27)  # a Thursday
    assert policy.decide_admissibility.rule is Rule.EU
    assert policy.decide.rule is Rule.EU
    assert "art. 35(1)" in admissibility.basis
    assert "art. 35(3)" in merits.basis


def test_vw2000_has_one_decision_period_for_every_outcome() -> None:
    """Vw 2000 art. 42(1): 6 months from receipt, whatever the outcome; not moved by the
    Atw because it is longer than 3 months (Atw art. 4)."""
    policy = policy_for(VW_RECEIVED)
    assert policy is VW2000
    assert not policy.separate_admissibility
    assert compute(VW_RECEIVED, policy.period_of(ADMISSIBILITY)) == compute(VW_RECEIVED, policy.period_of(MERITS))
    assert compute(VW_RECEIVED, policy.decide).end_date == date(2026, 9, 2)


def test_extension_maxima_per_policy_version() -> None:
    """Vw 2000 art. 42(4): 6 months extendable by at most 9 (unconfirmed, a setting);
    Regulation 2024/1348 art. 35(1): the admissibility's 2 months by at most 2; art. 35(4):
    the merits by at most 6 (unconfirmed, a setting)."""
    assert VW2000.max_extension(MERITS) == 9
    assert VW2000.max_extension(ADMISSIBILITY) == 9  # one period: the same maximum
    assert EU_APR.max_extension(ADMISSIBILITY) == 2
    assert EU_APR.max_extension(MERITS) == 6


def test_an_extension_recomputes_the_period_from_receipt_with_its_basis() -> None:
    """Regulation 2024/1348 art. 35(1): 2 months plus 2 is 4 months from lodging; the basis
    names the extension so the case's explanation can be checked by hand."""
    extended = EU_APR.extended(ADMISSIBILITY, 2)
    assert (extended.amount, extended.unit) == (4, Unit.MONTHS)
    deadline = compute(EU_RECEIVED, extended)
    # Sat 27 March 2027, then Easter Sunday and Easter Monday: the next working day is Tue 30 March.
    assert deadline.end_date == date(2027, 3, 30)
    assert "extended by 2 months" in deadline.basis
    assert "Regulation 1182/71 art. 3(4)" in deadline.explanation
    vw = compute(VW_RECEIVED, VW2000.extended(MERITS, 3))
    assert vw.end_date == date(2026, 12, 2)
    assert "Vw 2000 art. 42(4)" in vw.basis


def test_appeal_periods_by_outcome() -> None:
    """Vw 2000 art. 69(2): 1 week against an inadmissible decision; Awb 6:7: 4 weeks
    otherwise (unconfirmed); a not-processed decision (art. 30c) is appealable within 1 week,
    the usual period for a repeat application (domain.md; unconfirmed)."""
    for policy in (VW2000, EU_APR):
        assert (policy.appeal_period(Outcome.INADMISSIBLE).amount, policy.appeal_period(Outcome.INADMISSIBLE).unit) == (
            1,
            Unit.WEEKS,
        )
        assert policy.appeal_period(Outcome.UNFOUNDED).amount == 4
        assert policy.appeal_period(Outcome.MANIFESTLY_UNFOUNDED).amount == 4
        not_processed = policy.appeal_period(Outcome.NOT_PROCESSED)
        assert (not_processed.amount, not_processed.unit) == (1, Unit.WEEKS)
        assert "unconfirmed" in not_processed.basis
        assert "unconfirmed" in policy.appeal_period(Outcome.UNFOUNDED).basis


def test_unconfirmed_values_are_settings_a_case_carries() -> None:
    """Decision 0004 and domain.md: the 4-week appeal period, the not-processed appeal
    period and the V-number's length are unconfirmed, so they are settings with defaults."""
    legal = LegalSettings(appeal_weeks=6, not_processed_appeal_weeks=2, vw2000_max_extension_months=3, eu_merits_months=3)
    vw = policy_for(VW_RECEIVED, legal)
    assert vw.id == "vw2000"
    assert vw.appeal_period(Outcome.UNFOUNDED).amount == 6
    assert vw.appeal_period(Outcome.NOT_PROCESSED).amount == 2
    assert vw.appeal_period(Outcome.INADMISSIBLE).amount == 1  # statutory, not a setting
    assert vw.max_extension(MERITS) == 3
    eu = policy_by_id("eu-2024-1348", legal)
    assert eu.decide.amount == 3
    assert eu.decide_admissibility.amount == 2  # art. 35(1), not a setting
    assert policy_for(EU_RECEIVED, LegalSettings()) == EU_APR


def test_legal_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision 0004: unconfirmed values are HASA_* settings; a bad value names its variable."""
    assert Settings.from_env().legal == LegalSettings()
    monkeypatch.setenv("HASA_APPEAL_WEEKS", "6")
    monkeypatch.setenv("HASA_V_NUMBER_DIGITS", "9")
    legal = Settings.from_env().legal
    assert (legal.appeal_weeks, legal.v_number_digits) == (6, 9)
    monkeypatch.setenv("HASA_NOT_PROCESSED_APPEAL_WEEKS", "0")
    with pytest.raises(ValueError, match="HASA_NOT_PROCESSED_APPEAL_WEEKS"):
        Settings.from_env()


def _example() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return raw


def test_v_number_length_is_a_setting_at_intake() -> None:
    """domain.md: a V-number is treated as 10 digits, unconfirmed; intake checks the length
    the setting gives; a case already accepted loads whatever the setting is now."""
    raw = _example()
    raw["applicant"]["v_number"] = "123456789"
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(ValidationError, match="exactly 10 digits"):
        Application.model_validate(raw, context={"now": now})
    assert Application.model_validate(raw, context={"now": now, "v_number_digits": 9})
    assert Application.model_validate(raw)  # no context: a worker loading an accepted case
    raw["applicant"]["v_number"] = "١٢٣٤٥٦٧٨٩٠"  # Arabic-Indic digits are not digits here
    with pytest.raises(ValidationError):
        Application.model_validate(raw)


def test_each_policy_version_owns_its_references() -> None:
    """Issue 9 point 13: letters under Regulation 2024/1348 cite the regulation (art. 35,
    art. 55 for a subsequent application), not Vw 2000 art. 30a/30b/31/42."""
    for outcome, text in EU_APR.references.outcome.items():
        if outcome == "granted":
            continue  # the permit itself is still a Dutch permit under Vw 2000 art. 28
        assert "Vreemdelingenwet" not in text, outcome
        assert "2024/1348" in text
    assert "2024/1348" in EU_APR.references.decide_admissibility
    assert "artikel 30a" in VW2000.references.outcome["inadmissible"]
    assert "artikel 30c" in VW2000.references.not_processed


def test_an_element_without_evidence_is_a_finding_for_the_decision() -> None:
    """Issue 9 point 16 (Awb 4:6): the finding says the element is weighed in the decision."""
    raw = _example()
    raw["new_elements"][0]["evidence"] = []
    app = Application.model_validate(raw)
    [new_elements] = [f for f in findings(app) if f.requirement == "new_elements"]
    assert new_elements.met
    assert "without evidence, to be weighed in the decision" in new_elements.note


def _vw_case() -> CaseState:
    raw = _example()
    raw["received_at"] = "2026-03-02T10:00:00+01:00"
    app = Application.model_validate(raw)
    policy = policy_for(app.received_at)
    return CaseState.open(app, CaseOptions(), policy, findings(app))


def test_vw2000_extension_within_nine_months_before_the_period_ends() -> None:
    """Vw 2000 art. 42(1) and (4): 6 months from receipt, extended (in all at most 9 more,
    unconfirmed) only while the period runs; recomputed from receipt, not moved by the Atw
    (longer than 3 months, art. 4)."""
    state = _vw_case()
    assert state.due(DeadlineKind.DECIDE_BY).date() == date(2026, 9, 2)
    running = datetime(2026, 8, 1, tzinfo=UTC)
    state.check_extension(VW2000, ExtendDecisionPeriodEvent(reason="complex", months=9), running)
    assert state.extend_decision_period(VW2000, DeadlineKind.DECIDE_BY, 4) == 4
    assert state.due(DeadlineKind.DECIDE_BY).date() == date(2027, 1, 2)  # 10 months from 2 March 2026
    with pytest.raises(ValueError, match="at most 9 month"):
        state.check_extension(VW2000, ExtendDecisionPeriodEvent(reason="more", months=6), running)
    with pytest.raises(ValueError, match="extended only before it ends"):
        state.check_extension(VW2000, ExtendDecisionPeriodEvent(reason="late", months=1), datetime(2027, 1, 3, tzinfo=UTC))
    with pytest.raises(ValueError, match="one decision period"):
        state.check_extension(VW2000, ExtendDecisionPeriodEvent(reason="x", months=1, deadline="admissibility_by"), running)


def test_event_dates_against_the_case_and_today() -> None:
    """Issue 8 defect 8: a report before the booked interview or after today is refused."""
    state = _vw_case()
    state.interview = state.interview.model_copy(update={"starts_at": datetime(2026, 4, 10, 9, tzinfo=UTC)})
    now = datetime(2026, 4, 12, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="held_on: 2026-04-09 lies before the booked interview on 2026-04-10"):
        state.check_interview_report(InterviewReportEvent(held_on=date(2026, 4, 9)), now)
    with pytest.raises(ValueError, match="held_on: 2026-04-13 lies in the future"):
        state.check_interview_report(InterviewReportEvent(held_on=date(2026, 4, 13)), now)
    state.check_interview_report(InterviewReportEvent(held_on=date(2026, 4, 10)), now)
