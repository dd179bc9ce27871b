"""The application's state and its rules, without a server (domain/case_state.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from domain.case import CaseOptions
from domain.case_state import PHASE_DEADLINES, CaseState, DeadlineKind, DecisionAlert, WarningKind
from domain.models import Application
from domain.policy import EU_APR, VW2000, policy_for
from domain.requirements import findings
from domain.steps import Outcome, Phase, Trigger, allowed
from tests.conftest import EXAMPLE

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def opened(received_at: str = "2026-11-27T09:30:00+01:00") -> CaseState:
    raw = json.loads(EXAMPLE.read_text())
    raw["received_at"] = received_at
    app = Application.model_validate(raw)
    return CaseState.open(app, CaseOptions(), policy_for(app.received_at), findings(app))


def test_a_new_case_has_only_the_decision_deadlines() -> None:
    """Vw 2000 art. 42(1): one decision period; Regulation (EU) 2024/1348 art. 35(1): the
    admissibility deadline comes first, and DecisionDueBy follows the earlier one."""
    old = opened("2026-05-04T10:00:00+02:00")
    assert list(old.deadlines) == [DeadlineKind.DECIDE_BY]
    new = opened()
    assert list(new.deadlines) == [DeadlineKind.ADMISSIBILITY_BY, DeadlineKind.DECIDE_BY]
    assert new.status().deadlines.keys() == {"admissibility_by", "decide_by"}
    assert new.search_attributes()["DecisionDueBy"] == new.due(DeadlineKind.ADMISSIBILITY_BY)
    assert new.search_attributes()["ApplicationPhase"] == "registering"


def test_old_policy_negative_decision_is_first_intended_then_final() -> None:
    """Vw 2000 art. 39; Vb 2000 art. 3.118b: before 12 June 2026 a rejection is first an intended decision."""
    state = opened("2026-05-04T10:00:00+02:00")
    state.phase = Phase.AWAITING_DECISION
    assert state.take_decision(Outcome.UNFOUNDED, VW2000, NOW) == (False, Phase.INTENDED_DECISION)
    assert DeadlineKind.RESPOND_BY in state.deadlines
    state.phase = Phase.AWAITING_FINAL_DECISION
    assert state.take_decision(Outcome.UNFOUNDED, VW2000, NOW) == (True, Phase.APPEAL_WINDOW)
    assert DeadlineKind.DECIDE_BY not in state.deadlines
    assert DeadlineKind.APPEAL_BY in state.deadlines


def test_new_policy_rejection_is_final_at_once_and_a_grant_opens_no_window() -> None:
    """Regulation (EU) 2024/1348: no intended-decision step from 12 June 2026."""
    state = opened()
    state.phase = Phase.AWAITING_DECISION
    assert state.take_decision(Outcome.INADMISSIBLE, EU_APR, NOW) == (True, Phase.APPEAL_WINDOW)
    granted = opened()
    granted.phase = Phase.AWAITING_DECISION
    assert granted.take_decision(Outcome.GRANTED, EU_APR, NOW) == (True, Phase.AWAITING_COLLECTION)
    assert granted.deadlines == {}


def test_warnings_are_found_by_kind_not_by_text() -> None:
    state = opened()
    state.warnings.setdefault(WarningKind.NO_INTERVIEW_SLOT, "no slot")
    state.raise_decision_alert(DecisionAlert.APPROACHING)
    state.raise_decision_alert(DecisionAlert.OVERDUE)
    assert [w.split(" ")[0] for w in state.status().warnings] == ["no", "decision"]
    assert state.status().warnings[1].startswith("decision deadline passed at")
    state.reopen(EU_APR, NOW)
    assert state.decide_alert is DecisionAlert.NONE
    assert state.status().warnings == ["no slot"]


def test_each_phase_deadline_ends_only_events_its_phase_takes() -> None:
    for phase, deadline in PHASE_DEADLINES.items():
        assert allowed(phase, deadline.fires)
        assert all(allowed(phase, t) for t in deadline.refuses)
        assert deadline.fires not in deadline.refuses
    assert Trigger.WITHDRAW in PHASE_DEADLINES[Phase.AWAITING_DOCUMENTS].refuses
