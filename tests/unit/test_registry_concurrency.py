"""Three workers writing to one PostgreSQL registry at the same instant.

Each "worker" is what ``worker.py`` builds: its own ``Registry`` (engine and connection
pool), its own outbox object on the shared outbox directory, its own ``RegistryActivities``.
A barrier releases the three attempts together, so they race through the check-then-insert
of each activity; several rounds give the race several chances.  The registry must hold,
whatever the interleaving: one letter per (case, key, recipient), one decision per
(case, sequence), one permit per (case, purpose), and one case in the last free interview
slot (the others are told no slot is free).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.letters import LetterOutbox
from activities.registry import RegistryActivities
from activities.registry_db import DecisionRow, LetterRow, PermitRow, Registry, SlotRow
from domain.messages import LetterKind, Recipient, RegisterCase, SendLetter, SlotBooking
from domain.models import Application, DecisionOutcome
from infra.settings import Settings
from tests.unit.test_registry_activities import decision, interview, local, permit

WORKERS = 3
ROUNDS = 4
T = TypeVar("T")


@pytest.fixture
def workers(postgres_database: str, settings: Settings) -> Iterator[list[RegistryActivities]]:
    registries = [Registry(postgres_database) for _ in range(WORKERS)]
    try:
        yield [RegistryActivities(r, LetterOutbox(settings.outbox_dir, r), settings) for r in registries]
    finally:
        for r in registries:
            r.dispose()


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls on their own threads, released together; re-raise the first error."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except BaseException as error:  # reported below, with the others' results
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def count(registry: Registry, query: object) -> int:
    with registry.transaction() as session:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def register(worker: RegistryActivities, application: Application, number: int) -> str:
    app_id = f"HASA-2026-{number:06d}"
    other = application.model_copy(update={"application_id": app_id})
    ActivityEnvironment().run(
        worker.register_case,
        RegisterCase(application=other, policy_version="eu-2024-1348", decide_by=application.received_at + timedelta(days=60)),
    )
    return app_id


def test_three_workers_send_one_letter_per_key(workers: list[RegistryActivities], application: Application) -> None:
    registry = workers[0]._registry
    for n in range(ROUNDS):
        app_id = register(workers[0], application, 500 + n)
        letter = SendLetter(
            application_id=app_id,
            key="acknowledgement",
            kind=LetterKind.ACKNOWLEDGEMENT,
            recipients=[Recipient.APPLICANT, Recipient.LAWYER],
            facts={"decide_by": "2027-05-27", "policy_version": "eu-2024-1348"},
        )
        sent = at_once([lambda w=w, letter=letter: w._outbox.send(letter) for w in workers])
        assert len({tuple(ref.letter_id for ref in refs) for refs in sent}) == 1  # every worker got the same letters
        assert count(registry, select(func.count()).select_from(LetterRow).where(LetterRow.application_id == app_id)) == 2


def test_three_workers_record_one_decision_per_sequence(workers: list[RegistryActivities], application: Application) -> None:
    registry = workers[0]._registry
    for n in range(ROUNDS):
        app_id = register(workers[0], application, 600 + n)
        request = decision(app_id, DecisionOutcome.UNFOUNDED, final=True)
        recorded = at_once([lambda w=w, r=request: ActivityEnvironment().run(w.record_decision, r) for w in workers])
        assert len({r.decision_id for r in recorded}) == 1
        where = (DecisionRow.application_id == app_id, DecisionRow.sequence == 1)
        assert count(registry, select(func.count()).select_from(DecisionRow).where(*where)) == 1
        # The decision letters too: one per recipient, whichever worker wrote them.
        assert count(registry, select(func.count()).select_from(LetterRow).where(LetterRow.application_id == app_id)) == 3


def test_three_workers_issue_one_permit_per_case(workers: list[RegistryActivities], application: Application) -> None:
    registry = workers[0]._registry
    for n in range(ROUNDS):
        app_id = register(workers[0], application, 700 + n)
        issued = at_once([lambda w=w, a=app_id: ActivityEnvironment().run(w.issue_permit, permit(a)) for w in workers])
        assert len({p.document_number for p in issued}) == 1
        assert count(registry, select(func.count()).select_from(PermitRow).where(PermitRow.application_id == app_id)) == 1


def test_three_cases_race_for_the_last_free_interview_slot(
    postgres_database: str, settings: Settings, application: Application
) -> None:
    # One interview slot a day (one time, one place, one interpreter language) on one working day.
    scarce = replace(
        settings, interview_times=("09:00",), interview_locations=("Aanmeldcentrum Ter Apel",), interpreter_languages=("ar",)
    )
    scarce = replace(scarce, slot_horizon_days=1)
    registries = [Registry(postgres_database) for _ in range(WORKERS)]
    try:
        workers = [RegistryActivities(r, LetterOutbox(scarce.outbox_dir, r), scarce) for r in registries]
        monday = local(2026, 12, 7, 8, 0)
        for n in range(ROUNDS):
            day = monday + timedelta(days=n)  # Monday to Thursday: a fresh single slot each round
            cases = [register(workers[0], application, 800 + 10 * n + i) for i in range(WORKERS)]
            bookings: list[SlotBooking] = at_once(
                [
                    lambda w=w, c=c, d=day: ActivityEnvironment().run(w.book_slot, interview(c, d))
                    for w, c in zip(workers, cases, strict=True)
                ]
            )
            assert sorted(b.booked for b in bookings) == [False, False, True]
            holders = count(
                registries[0],
                select(func.count())
                .select_from(SlotRow)
                .where(SlotRow.booked_by.in_(cases), SlotRow.starts_at == local(2026, 12, 7 + n, 9, 0)),
            )
            assert holders == 1
    finally:
        for r in registries:
            r.dispose()
