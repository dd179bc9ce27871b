"""The pure rules: the transition table, validation of the intake payload, policy versions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.identifiers import application_workflow_id, bsn_is_valid, document_number_is_valid
from domain.machine import TransitionError
from domain.models import Application
from domain.policy import EU_APR, VW2000, policy_for
from domain.requirements import findings
from domain.steps import (
    APPLICATION_EVENTS,
    EVENT_MODELS,
    EVENTS,
    PHASE_STEP,
    TRANSITIONS,
    Outcome,
    Phase,
    Step,
    Trigger,
    allowed,
    json_schema,
    mermaid,
    move,
    rejection,
)
from scripts.diagram import blocks
from tests.conftest import EXAMPLE, ROOT


def example(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE.read_text())
    raw.update(changes)
    return raw


def errors(raw: dict[str, Any], now: datetime | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        Application.model_validate(raw, context={"now": now or datetime(2026, 11, 28, tzinfo=UTC)})
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


# --- transition table -----------------------------------------------------------------------


def test_every_phase_but_closed_maps_to_a_step_3_to_7() -> None:
    assert set(PHASE_STEP) == set(Phase) - {Phase.CLOSED}
    assert {s.number for s in PHASE_STEP.values()} == {3, 4, 5, 6, 7}
    assert Step.INTERVIEW.title == "Interview or not"


def test_every_phase_is_reachable_and_closed_is_final() -> None:
    reached = {Phase.REGISTERING}
    frontier = [Phase.REGISTERING]
    while frontier:
        phase = frontier.pop()
        for targets in TRANSITIONS[phase].values():
            for target in targets - reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Phase)
    assert TRANSITIONS[Phase.CLOSED] == {}


def test_withdraw_only_before_the_final_decision() -> None:
    assert allowed(Phase.AWAITING_DOCUMENTS, Trigger.WITHDRAW)
    assert allowed(Phase.INTENDED_DECISION, Trigger.WITHDRAW)
    assert allowed(Phase.AWAITING_FINAL_DECISION, Trigger.WITHDRAW)
    assert not allowed(Phase.APPEAL_WINDOW, Trigger.WITHDRAW)
    assert not allowed(Phase.AWAITING_COLLECTION, Trigger.WITHDRAW)


def test_event_rules_from_the_issue() -> None:
    assert [p for p in Phase if allowed(p, Trigger.DOCUMENTS)] == [Phase.AWAITING_DOCUMENTS]
    assert [p for p in Phase if allowed(p, Trigger.INTERVIEW_DECISION)] == [Phase.AWAITING_INTERVIEW_DECISION]
    assert [p for p in Phase if allowed(p, Trigger.DECISION)] == [Phase.AWAITING_DECISION, Phase.AWAITING_FINAL_DECISION]
    assert [p for p in Phase if allowed(p, Trigger.RESPONSE)] == [Phase.INTENDED_DECISION]
    assert [p for p in Phase if allowed(p, Trigger.JUDGMENT)] == [Phase.APPEAL_LODGED]
    assert [p for p in Phase if allowed(p, Trigger.PERMIT_COLLECTED)] == [Phase.AWAITING_COLLECTION]
    assert {e.value for e in EVENTS} == set(EVENT_MODELS)


def test_move_refuses_what_the_table_does_not_hold() -> None:
    assert move(Phase.APPEAL_LODGED, Trigger.JUDGMENT, Phase.AWAITING_DECISION) is Phase.AWAITING_DECISION
    with pytest.raises(TransitionError):
        move(Phase.APPEAL_LODGED, Trigger.JUDGMENT, Phase.AWAITING_COLLECTION)
    with pytest.raises(TransitionError):
        move(Phase.CLOSED, Trigger.DECISION, Phase.APPEAL_WINDOW)


def test_rejection_says_what_the_case_waits_for() -> None:
    text = rejection(Phase.AWAITING_INTERVIEW_DECISION, Trigger.DECISION)
    assert text == (
        "The event 'decision' is not allowed now: the case is waiting for the decision whether to interview "
        "(phase 'awaiting_interview_decision'). 'decision' is accepted only once the documents are complete "
        "and the interview is settled."
    )


def test_readme_state_diagrams_are_generated_from_the_tables() -> None:
    readme = (ROOT / "README.md").read_text()
    application, permit = blocks()
    assert application == mermaid()
    for block in (application, permit):
        assert f"```mermaid\n{block}\n```" in readme, "paste `python -m scripts.diagram` into the README"
    assert "permit issued" in permit


def test_outcomes_are_the_six_of_the_issue() -> None:
    assert {o.value for o in Outcome} == {
        "granted",
        "inadmissible",
        "manifestly_unfounded",
        "unfounded",
        "not_processed",
        "withdrawn",
    }


# --- identifiers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("bsn", "ok"), [("123456782", True), ("123456789", False), ("12345678", False), ("000000000", False)])
def test_bsn_eleven_test(bsn: str, ok: bool) -> None:
    assert bsn_is_valid(bsn) is ok


def test_document_numbers_never_hold_zero_or_letter_o() -> None:
    assert document_number_is_valid("III-V123AL568")
    assert not document_number_is_valid("III-V1230L568")
    assert not document_number_is_valid("III-V123OL568")
    assert not document_number_is_valid("II-V123AL568")


def test_workflow_id_is_the_business_key() -> None:
    assert application_workflow_id("HASA-2026-000123") == "application-HASA-2026-000123"


# --- intake validation ----------------------------------------------------------------------


def test_example_is_valid() -> None:
    app = Application.model_validate(example(), context={"now": datetime(2026, 11, 28, tzinfo=UTC)})
    assert app.applicant.language == "ar"


def test_v_number_must_be_ten_digits() -> None:
    raw = example()
    raw["applicant"]["v_number"] = "12345"
    assert errors(raw) == [("applicant.v_number", "Value error, a V-number is exactly 10 digits")]


def test_bsn_must_pass_the_eleven_test() -> None:
    raw = example()
    raw["applicant"]["bsn"] = "123456789"
    assert errors(raw) == [("applicant.bsn", "Value error, a BSN is 9 digits and must pass the 11-test")]


def test_received_in_the_future_is_refused() -> None:
    assert errors(example(), now=datetime(2026, 11, 1, tzinfo=UTC)) == [
        ("received_at", "Value error, received_at lies in the future")
    ]


def test_unknown_and_mistyped_fields_are_named() -> None:
    raw = example(colour="blue")
    raw["applicant"]["in_netherlands"] = "perhaps"
    found = dict(errors(raw))
    assert found["colour"] == "Extra inputs are not permitted"
    assert "applicant.in_netherlands" in found


def test_evidence_must_name_a_known_document() -> None:
    raw = example()
    raw["new_elements"][0]["evidence"] = ["doc-99"]
    assert errors(raw) == [("", "Value error, new_elements[0].evidence names unknown document 'doc-99'")]


def test_application_id_holds_no_personal_data() -> None:
    assert errors(example(application_id="Haddad-1")) == [
        ("application_id", "Value error, an application id looks like HASA-2026-000123")
    ]


def test_schemas_for_intake_and_every_event() -> None:
    assert "applicant" in json_schema()["properties"]
    for name in EVENT_MODELS:
        assert json_schema(name)["type"] == "object"


# --- policy versions and findings -----------------------------------------------------------


def test_policy_by_received_date_in_amsterdam() -> None:
    assert policy_for(datetime(2026, 6, 11, 21, 59, tzinfo=UTC)) is VW2000  # 23:59 on 11 June in Amsterdam
    assert policy_for(datetime(2026, 6, 11, 22, 0, tzinfo=UTC)) is EU_APR  # 00:00 on 12 June in Amsterdam
    assert VW2000.intended_decision
    assert not EU_APR.intended_decision
    assert EU_APR.effective_from == date(2026, 6, 12)


def test_findings_inform_rather_than_refuse() -> None:
    raw = example(new_elements=[])
    raw["documents"] = [d for d in raw["documents"] if d["kind"] == "application_form"]
    raw["applicant"]["in_netherlands"] = False
    app = Application.model_validate(raw)
    result = {f.requirement: f.met for f in findings(app)}
    assert result == {"in_netherlands": False, "earlier_application": True, "new_elements": False}


def test_every_event_row_has_a_handler_and_a_body() -> None:
    from workflows.application import on

    assert on.missing(list(APPLICATION_EVENTS)) == []
    assert set(on.checks) <= set(APPLICATION_EVENTS)
    assert tuple(APPLICATION_EVENTS) == EVENTS
    for trigger, event in APPLICATION_EVENTS.items():
        assert event.name == trigger.value
        assert event.accepted_in == {p for p in Phase if allowed(p, trigger)}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("slot_retry_interval", "PT0S", "greater than or equal to 1 minute"),
        ("slot_retry_interval", "-PT1H", "greater than or equal to 1 minute"),
        ("slot_retry_interval", "P30D", "less than or equal to 7 days"),
        ("interview_notice", "-P1D", "greater than or equal to 0 seconds"),
        ("desk_notice", "P400D", "less than or equal to 60 days"),
        ("decision_warning_lead", "-P1D", "greater than or equal to 0 seconds"),
    ],
)
def test_case_options_are_bounded(field: str, value: str, words: str) -> None:
    """Issue 8, defect 7: an option out of bounds is refused, naming the field (a zero slot
    retry interval used to book slots in a tight loop)."""
    from domain.case import CaseOptions

    with pytest.raises(ValidationError) as caught:
        CaseOptions.model_validate({field: value})
    [error] = caught.value.errors()
    assert error["loc"] == (field,)
    assert words in error["msg"]
    assert CaseOptions().slot_retry_interval > timedelta(0)
