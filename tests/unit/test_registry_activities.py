"""The registry's activities, run through ActivityEnvironment against a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.registry as registry_module
from activities.letters import LetterOutbox
from activities.registry import INVALID_DECISION, REGISTRATION_CONFLICT, RegistryActivities
from activities.registry_db import (
    CASE_NOT_FOUND,
    ApplicantRow,
    CaseRow,
    DecisionRow,
    LetterRow,
    PermitRow,
    Registry,
    SlotRow,
)
from domain.deadlines import AMSTERDAM
from domain.messages import (
    BookSlot,
    CloseCase,
    DecisionRecorded,
    IssuePermit,
    PermitIssued,
    RecordDecision,
    RegisterCase,
    SlotBooking,
    SlotKind,
)
from domain.models import Application, DecisionOutcome
from domain.steps import Phase
from infra.settings import Settings

PERMIT_NUMBER = re.compile(r"^(III|IV)-V[1-9A-NP-Z]{8}$")


def count(registry: Registry, model: type, **where: object) -> int:
    with registry.transaction() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(session.scalar(query) or 0)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=AMSTERDAM)


def register_another(
    env: ActivityEnvironment, acts: RegistryActivities, application: Application, number: int, *, lawyer: bool = True
) -> str:
    app_id = f"HASA-2026-{number:06d}"
    applicant = application.applicant if lawyer else application.applicant.model_copy(update={"lawyer": None})
    other = application.model_copy(update={"application_id": app_id, "applicant": applicant})
    env.run(
        acts.register_case,
        RegisterCase(application=other, policy_version="eu-2024-1348", decide_by=application.received_at + timedelta(days=60)),
    )
    return app_id


# --- register_case ----------------------------------------------------------------------------


def test_register_twice_writes_one_case(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registry: Registry, registration: RegisterCase
) -> None:
    first = env.run(registry_activities.register_case, registration)
    second = env.run(registry_activities.register_case, registration)
    assert not first.already_registered
    assert second.already_registered
    assert second.registered_at == first.registered_at
    assert count(registry, CaseRow) == 1
    assert count(registry, ApplicantRow) == 1
    with registry.transaction() as session:
        case = session.scalars(select(CaseRow)).one()
        applicant = session.scalars(select(ApplicantRow)).one()
    assert case.status == "open"
    assert case.received_at == registration.application.received_at
    assert applicant.lawyer_email == "devries@example.nl"


def test_register_same_id_with_other_receipt_time_is_a_conflict(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registration: RegisterCase
) -> None:
    env.run(registry_activities.register_case, registration)
    other = registration.model_copy(
        update={"application": registration.application.model_copy(update={"received_at": datetime(2026, 11, 28, tzinfo=UTC)})}
    )
    with pytest.raises(ApplicationError) as raised:
        env.run(registry_activities.register_case, other)
    assert raised.value.type == REGISTRATION_CONFLICT
    assert raised.value.non_retryable


def test_unknown_case_is_a_non_retryable_error(env: ActivityEnvironment, registry_activities: RegistryActivities) -> None:
    with pytest.raises(ApplicationError) as raised:
        env.run(
            registry_activities.close_case,
            CloseCase(application_id="HASA-2026-999999", outcome="withdrawn", closed_at=datetime.now(UTC)),
        )
    assert raised.value.type == CASE_NOT_FOUND
    assert raised.value.non_retryable


# --- book_slot --------------------------------------------------------------------------------


def interview(app_id: str, not_before: datetime, language: str | None = "ar", purpose: str = "interview") -> BookSlot:
    return BookSlot(application_id=app_id, kind=SlotKind.INTERVIEW, purpose=purpose, not_before=not_before, language=language)


def test_interviews_are_booked_earliest_first_in_the_requested_language(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application
) -> None:
    monday = local(2026, 12, 7, 8, 0)
    a = env.run(registry_activities.book_slot, interview(registered.application_id, monday))
    b_id = register_another(env, registry_activities, registered, 124)
    b = env.run(registry_activities.book_slot, interview(b_id, monday))
    c_id = register_another(env, registry_activities, registered, 125)
    c = env.run(registry_activities.book_slot, interview(c_id, monday, language="ti"))

    assert a.booked
    assert b.booked
    assert c.booked
    assert a.starts_at == local(2026, 12, 7, 9, 0)
    assert a.interpreter_language == "ar"
    assert a.location == "Aanmeldcentrum Ter Apel"
    assert b.starts_at == local(2026, 12, 7, 14, 0)  # 09:00 with Arabic is taken
    assert c.starts_at == local(2026, 12, 7, 9, 0)  # the Tigrinya interpreter at 09:00 is free
    assert c.interpreter_language == "ti"
    assert a.starts_at is not None
    assert a.starts_at.tzinfo is not None


def test_slots_skip_weekends_and_holidays(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application
) -> None:
    # After the last slot on Thursday 24 December; 25-27 December are Christmas and a weekend.
    booking = env.run(registry_activities.book_slot, interview(registered.application_id, local(2026, 12, 24, 15, 0)))
    assert booking.starts_at == local(2026, 12, 28, 9, 0)


def test_same_purpose_returns_the_same_slot(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    request = interview(registered.application_id, local(2026, 12, 7, 8, 0))
    first = env.run(registry_activities.book_slot, request)
    again = env.run(registry_activities.book_slot, request.model_copy(update={"not_before": local(2026, 12, 9)}))
    assert again == first
    assert count(registry, SlotRow, booked_by=registered.application_id) == 1


def test_slot_generation_is_idempotent(
    env: ActivityEnvironment,
    registry_activities: RegistryActivities,
    registered: Application,
    registry: Registry,
    settings: Settings,
) -> None:
    env.run(registry_activities.book_slot, interview(registered.application_id, local(2026, 12, 7, 8, 0)))
    generated = count(registry, SlotRow)
    # 14 days from Monday 7 December hold 10 working days: 2 times x 2 languages x 1 place.
    assert generated == 10 * 2 * 2
    env.run(registry_activities.book_slot, interview(registered.application_id, local(2026, 12, 7, 8, 0), purpose="interview-2"))
    assert count(registry, SlotRow) == generated


def test_desk_slots_have_no_interpreter(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application
) -> None:
    desk = env.run(
        registry_activities.book_slot,
        BookSlot(
            application_id=registered.application_id,
            kind=SlotKind.DESK,
            purpose="permit-desk",
            not_before=local(2026, 12, 7, 10, 0),
        ),
    )
    assert desk.booked
    assert desk.starts_at == local(2026, 12, 7, 13, 30)
    assert desk.location == "IND-loket Den Haag"
    assert desk.interpreter_language is None


def test_none_free_is_not_an_error(
    env: ActivityEnvironment, registry: Registry, outbox: LetterOutbox, settings: Settings, registered: Application
) -> None:
    tight = RegistryActivities(registry, outbox, replace(settings, slot_horizon_days=1, interview_times=("09:00",)))
    monday = local(2026, 12, 7, 8, 0)
    first = env.run(tight.book_slot, interview(registered.application_id, monday))
    other = register_another(env, tight, registered, 124)
    second = env.run(tight.book_slot, interview(other, monday))
    assert first.booked
    assert not second.booked
    assert second.slot_id is None
    unknown_language = env.run(tight.book_slot, interview(other, monday, language="xx", purpose="interview-xx"))
    assert not unknown_language.booked


def test_interview_without_language_is_refused(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application
) -> None:
    with pytest.raises(ApplicationError) as raised:
        env.run(registry_activities.book_slot, interview(registered.application_id, local(2026, 12, 7), language=None))
    assert raised.value.non_retryable


# --- record_decision --------------------------------------------------------------------------


def decision(app_id: str, outcome: DecisionOutcome, *, final: bool, sequence: int = 1) -> RecordDecision:
    decided = local(2026, 12, 14, 10, 0)
    return RecordDecision(
        application_id=app_id,
        sequence=sequence,
        outcome=outcome,
        final=final,
        grounds="The new elements do not change the earlier assessment.",
        decided_by="IND officer 4711",
        decided_at=decided,
        policy_version="vw2000",
        respond_by=None if final else decided + timedelta(days=1),
        appeal_by=decided + timedelta(weeks=1) if final else None,
        # the workflow says which phase follows (a final rejection here: the appeal window)
        phase_after=Phase.APPEAL_WINDOW if final else Phase.INTENDED_DECISION,
    )


def test_intended_decision_is_recorded_once_with_letters(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    request = decision(registered.application_id, DecisionOutcome.INADMISSIBLE, final=False)
    first = env.run(registry_activities.record_decision, request)
    second = env.run(registry_activities.record_decision, request)
    assert second == first
    assert {ref.recipient for ref in first.letters} == {"applicant", "lawyer"}
    assert {ref.kind for ref in first.letters} == {"intended_decision"}
    assert count(registry, DecisionRow) == 1
    assert count(registry, LetterRow) == 2
    for ref in first.letters:
        assert Path(ref.path).read_bytes().startswith(b"%PDF")
    with registry.transaction() as session:
        assert session.scalars(select(CaseRow)).one().phase == "intended_decision"


def test_final_rejection_also_goes_to_the_return_service(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    recorded = env.run(
        registry_activities.record_decision, decision(registered.application_id, DecisionOutcome.UNFOUNDED, final=True)
    )
    assert [ref.recipient for ref in recorded.letters] == ["applicant", "lawyer", "return_service"]
    assert {ref.kind for ref in recorded.letters} == {"decision"}
    with registry.transaction() as session:
        case = session.scalars(select(CaseRow)).one()
    assert case.outcome == "unfounded"
    assert case.phase == "appeal_window"


def test_grant_goes_to_applicant_only_without_lawyer(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application
) -> None:
    app_id = register_another(env, registry_activities, registered, 126, lawyer=False)
    recorded = env.run(registry_activities.record_decision, decision(app_id, DecisionOutcome.GRANTED, final=True))
    assert [ref.recipient for ref in recorded.letters] == ["applicant"]


def test_a_later_decision_gets_its_own_row(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    env.run(registry_activities.record_decision, decision(registered.application_id, DecisionOutcome.UNFOUNDED, final=True))
    env.run(
        registry_activities.record_decision, decision(registered.application_id, DecisionOutcome.GRANTED, final=True, sequence=2)
    )
    assert count(registry, DecisionRow) == 2


def test_intended_decision_without_response_period_writes_nothing(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    request = decision(registered.application_id, DecisionOutcome.UNFOUNDED, final=False).model_copy(update={"respond_by": None})
    with pytest.raises(ApplicationError) as raised:
        env.run(registry_activities.record_decision, request)
    assert raised.value.type == INVALID_DECISION
    assert count(registry, DecisionRow) == 0


def test_intended_grant_does_not_exist(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application
) -> None:
    with pytest.raises(ApplicationError) as raised:
        env.run(registry_activities.record_decision, decision(registered.application_id, DecisionOutcome.GRANTED, final=False))
    assert raised.value.type == INVALID_DECISION


# --- issue_permit -----------------------------------------------------------------------------


def permit(app_id: str, purpose: str = "initial", permit_type: str = "III") -> IssuePermit:
    return IssuePermit(
        application_id=app_id,
        purpose=purpose,
        permit_type=permit_type,
        valid_from=date(2026, 12, 14),
        valid_until=date(2031, 12, 14),
    )


def test_permit_number_format_and_idempotency(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    first = env.run(registry_activities.issue_permit, permit(registered.application_id))
    again = env.run(registry_activities.issue_permit, permit(registered.application_id))
    assert PERMIT_NUMBER.match(first.document_number)
    assert first.document_number.startswith("III-V")
    assert again == first
    assert first.endorsement == "Arbeid vrij toegestaan. TWV niet vereist."
    assert count(registry, PermitRow) == 1


def test_a_new_card_replaces_the_old_one(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    first = env.run(registry_activities.issue_permit, permit(registered.application_id))
    permanent = env.run(registry_activities.issue_permit, permit(registered.application_id, "permanent", "IV"))
    assert PERMIT_NUMBER.match(permanent.document_number)
    assert permanent.document_number.startswith("IV-V")
    assert permanent.document_number != first.document_number
    with registry.transaction() as session:
        statuses = {row.purpose: row.status for row in session.execute(select(PermitRow.purpose, PermitRow.status))}
    assert statuses == {"initial": "replaced", "permanent": "valid"}


def test_a_taken_document_number_is_drawn_again(
    env: ActivityEnvironment,
    registry_activities: RegistryActivities,
    registered: Application,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = env.run(registry_activities.issue_permit, permit(registered.application_id))
    other = register_another(env, registry_activities, registered, 127)
    draws = iter([first.document_number, "III-V23456789"])
    monkeypatch.setattr(registry_module, "new_document_number", lambda _type: next(draws))
    second = env.run(registry_activities.issue_permit, permit(other))
    assert second.document_number == "III-V23456789"


def test_document_numbers_avoid_zero_and_letter_o() -> None:
    numbers = {registry_module.new_document_number("III") for _ in range(500)}
    assert all(PERMIT_NUMBER.match(n) for n in numbers)
    assert len(numbers) == 500


# --- close_case -------------------------------------------------------------------------------


def test_close_twice_keeps_the_first_close(
    env: ActivityEnvironment, registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    closed_at = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    request = CloseCase(application_id=registered.application_id, outcome="withdrawn", closed_at=closed_at)
    first = env.run(registry_activities.close_case, request)
    again = env.run(registry_activities.close_case, request.model_copy(update={"closed_at": closed_at + timedelta(hours=1)}))
    assert first == again
    with registry.transaction() as session:
        case = session.scalars(select(CaseRow)).one()
    assert (case.status, case.phase, case.outcome, case.closed_at) == ("closed", "closed", "withdrawn", closed_at)


# --- concurrency: the worker runs activities in a thread pool ----------------------------------


def test_concurrent_bookings_get_distinct_slots(
    registry_activities: RegistryActivities, registered: Application, registry: Registry, env: ActivityEnvironment
) -> None:
    ids = [register_another(env, registry_activities, registered, 300 + n) for n in range(8)]
    monday = local(2026, 12, 7, 8, 0)

    def book(app_id: str) -> SlotBooking:
        # Every id books twice at once, as a retried attempt racing the first one would.
        result: SlotBooking = ActivityEnvironment().run(registry_activities.book_slot, interview(app_id, monday))
        return result

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(book, ids + ids))
    assert all(r.booked for r in results)
    by_case = dict(zip(ids + ids, results, strict=True))
    assert all(results[i] == results[i + len(ids)] for i in range(len(ids)))
    assert len({r.slot_id for r in by_case.values()}) == len(ids)
    assert count(registry, SlotRow) == 10 * 2 * 2


def test_concurrent_attempts_issue_one_permit_and_one_decision(
    registry_activities: RegistryActivities, registered: Application, registry: Registry
) -> None:
    def issue(_: int) -> str:
        issued: PermitIssued = ActivityEnvironment().run(registry_activities.issue_permit, permit(registered.application_id))
        return issued.document_number

    def decide(_: int) -> int:
        recorded: DecisionRecorded = ActivityEnvironment().run(
            registry_activities.record_decision, decision(registered.application_id, DecisionOutcome.UNFOUNDED, final=True)
        )
        return recorded.decision_id

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = set(pool.map(issue, range(6)))
        decisions = set(pool.map(decide, range(6)))
    assert len(numbers) == 1
    assert len(decisions) == 1
    assert count(registry, PermitRow) == 1
    assert count(registry, DecisionRow) == 1
    assert count(registry, LetterRow) == 3


def test_logs_bind_the_application_id_and_no_personal_data(
    env: ActivityEnvironment, registry_activities: RegistryActivities, application: Application, registration: RegisterCase
) -> None:
    with capture_logs() as logs:
        env.run(registry_activities.register_case, registration)
        env.run(registry_activities.book_slot, interview(application.application_id, local(2026, 12, 7, 8, 0)))
        env.run(registry_activities.record_decision, decision(application.application_id, DecisionOutcome.UNFOUNDED, final=True))
        env.run(registry_activities.issue_permit, permit(application.application_id))
        env.run(
            registry_activities.close_case,
            CloseCase(application_id=application.application_id, outcome="unfounded", closed_at=datetime.now(UTC)),
        )
    assert logs
    assert all(entry["application_id"] == application.application_id for entry in logs)
    person = application.applicant
    secrets_ = [person.family_name, person.given_names, person.v_number, str(person.bsn), person.nationality, "1991-04-17"]
    for entry in logs:
        text = repr(entry)
        assert not [s for s in secrets_ if s in text], entry
