"""Whole lives of a residence permit on the time-skipping test server.

Each test starts a permit as the application workflow hands it over, moves the server's
clock to the moments that matter, sends events the way ``starter.py send`` does (updates by
name), and checks what the holder would see: the letters with their kinds and workflow
dates, the cards, and the permit's state.  The activities are the one set of in-memory fakes
(``tests.support.fakes.FakeWorld``, real names and contracts); each life runs in well under
2 seconds of wall time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.letters import REQUIRED_FACTS, LetterOutbox
from activities.registry_db import Registry
from domain.deadlines import add_months
from domain.identifiers import document_number_is_valid, permit_workflow_id
from domain.messages import (
    LetterKind,
    PermitInput,
    Recipient,
)
from domain.models import JudgmentResult, Model
from domain.permit.events import (
    PERMIT_EVENT_MODELS,
    AppealDecidedEvent,
    DocumentCollectedEvent,
    ExtensionApplicationEvent,
    ExtensionDecisionEvent,
    FineDecisionEvent,
    PermanentApplicationEvent,
    PermanentDecisionEvent,
    RefusalAppealedEvent,
    ReplaceDocumentEvent,
    ReplacementReason,
    ReportChangeEvent,
    ViolationOutcome,
    WithdrawalGround,
    WithdrawPermitEvent,
)
from domain.permit.schedule import local_date, start_of_day
from domain.permit.state import PermitSettings, PermitWorkflowInput
from domain.permit.transitions import PermitStatus, PermitType
from domain.permit.view import EventOutcome, PermitView
from domain.refusal import REFUSAL_TYPE
from domain.search_attributes import FINE_PROPOSED, PERMIT_STATUS, PERMIT_VALID_UNTIL
from infra.codec import KeyRing
from tests.support.fakes import FakeWorld, fake_document_number
from tests.workflows.conftest import start_environment
from workflows.permit import PermitWorkflow

LIFE_WALL_SECONDS = 2.0
_ids = itertools.count(1)


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Life:
    """One permit under test: its clock, its handle, and the world it talks to."""

    env: WorkflowEnvironment
    client: Client
    world: FakeWorld
    application_id: str
    issued_on: date
    valid_until: date
    # The handle start_workflow returned: only its result() lets the test server skip time,
    # and it follows the runs continue-as-new starts.
    started_handle: WorkflowHandle[Any, PermitView]
    started: float = field(default_factory=time.monotonic)

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        # Without a run id: the latest run, also after continue-as-new.
        return self.client.get_workflow_handle(permit_workflow_id(self.application_id))

    async def today(self) -> date:
        return local_date(await self.env.get_current_time())

    async def advance_to(self, day: date, hours: int = 1) -> None:
        """Move the clock to ``hours`` after the start of a Dutch day; timers on the way fire."""
        target = start_of_day(day) + timedelta(hours=hours)
        delta = target - await self.env.get_current_time()
        assert delta > timedelta(0), f"{day} lies in the past"
        await self.env.sleep(delta)

    async def send(self, event: str, body: Model | dict[str, Any]) -> EventOutcome:
        outcome: EventOutcome = await self.handle.execute_update(event, body, result_type=EventOutcome)
        return outcome

    async def rejected(self, event: str, body: Model | dict[str, Any]) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await self.handle.execute_update(event, body, result_type=EventOutcome)
        # The whole chain: an argument that fails to decode is "Failed decoding arguments",
        # caused by pydantic's error.
        messages = []
        cause: BaseException | None = info.value.cause
        while cause is not None:
            messages.append(cause.message if isinstance(cause, ApplicationError) else str(cause))
            cause = cause.__cause__
        return " <- ".join(messages)

    async def refused(self, event: str, body: Model | dict[str, Any]) -> ApplicationError:
        """The failure a refused event answers with, as the Web UI's update dialog gets it."""
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await self.handle.execute_update(event, body, result_type=EventOutcome)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError)
        return cause

    async def status(self) -> PermitView:
        view: PermitView = await self.handle.query("status", result_type=PermitView)
        return view

    async def result(self) -> PermitView:
        return await self.started_handle.result()

    def check_wall_time(self) -> None:
        elapsed = time.monotonic() - self.started
        assert elapsed < LIFE_WALL_SECONDS, f"this life took {elapsed:.2f} s of wall time"
        self.check_letters_render()

    def check_letters_render(self) -> None:
        """Every letter the workflow sent renders with the real templates (strict: a fact a
        template needs and the workflow forgot fails here, not in production)."""
        registry = Registry("sqlite://")
        try:
            outbox = LetterOutbox(Path("unused"), registry)
            holder = SimpleNamespace(
                given_names="Test", family_name="Holder", full_name="Test Holder", v_number="0000000000",
                date_of_birth=date(1990, 1, 1), nationality="XXX",
            )  # fmt: skip
            for letter in self.world.letters:
                absent = [f for f in REQUIRED_FACTS.get(letter.kind, ()) if not letter.facts.get(f)]
                assert not absent, f"{letter.kind}: missing {absent}"
                text = outbox.render_text(letter, Recipient.APPLICANT, holder, None, self.issued_on)  # type: ignore[arg-type]
                assert text.strip()
        finally:
            registry.dispose()


@pytest.fixture
async def env(keyring: KeyRing) -> AsyncIterator[WorkflowEnvironment]:
    """The permit's lives skip years: each gets a test server of its own, not the session's
    (whose clock the application's tests have moved and may hold; see docs/decisions/0008).
    One per test, not per module: a shared clock would reach years past the Atw holiday
    calendar (2100) after a dozen lives, and a test's dates would depend on the order."""
    environment = await start_environment(keyring)
    yield environment
    await environment.shutdown()


@pytest.fixture
async def life(env: WorkflowEnvironment, client: Client, new_worker: Callable[..., Worker]) -> AsyncIterator[Life]:
    world = FakeWorld()
    worker = new_worker([PermitWorkflow], world.activities())
    async with worker:
        now = await env.get_current_time()
        issued_on = local_date(now)
        valid_until = add_months(issued_on, 60) - timedelta(days=1)
        application_id = f"HASA-2026-{next(_ids) + 900000:06d}"
        handover = PermitInput(
            application_id=application_id,
            document_number=fake_document_number("III", next(_ids)),
            valid_from=issued_on,
            valid_until=valid_until,
            issued_at=now,
        )
        handle = await client.start_workflow(
            PermitWorkflow.run,
            PermitWorkflowInput(
                handover=handover, settings=PermitSettings(extension_reminder_months=(6, 3, 1), late_report_weeks=4)
            ),
            id=permit_workflow_id(application_id),
            task_queue=worker.task_queue,
        )
        yield Life(env, client, world, application_id, issued_on, valid_until, handle)
        # A permit left running (a failed test) would hold the shared server's clock: its
        # timers fire into a task queue no worker polls any more.
        description = await handle.describe()
        if description.status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")


# --- whole lives -----------------------------------------------------------------------------


async def test_extension_second_term_and_permanent_permit(life: Life) -> None:
    until = life.valid_until
    # The window opens 6 months before expiry; a reminder goes out at 6 and at 3 months.
    await life.advance_to(add_months(until, -3))
    view = await life.status()
    assert view.next_reminder == add_months(until, -1)
    assert life.world.dates(LetterKind.EXTENSION_REMINDER) == [add_months(until, -6), add_months(until, -3)]

    outcome = await life.send("extension-application", ExtensionApplicationEvent(submitted_on=await life.today()))
    assert outcome.permit.status is PermitStatus.EXTENSION_PENDING
    assert outcome.permit.pending_applications[0].kind == "extension"

    # No 1-month reminder while the extension is pending.
    await life.advance_to(add_months(until, -1), hours=2)
    assert len(life.world.dates(LetterKind.EXTENSION_REMINDER)) == 2

    outcome = await life.send("extension-decision", ExtensionDecisionEvent(granted=True, grounds="asylum grounds still apply"))
    second_until = add_months(until, 60)
    assert outcome.permit.status is PermitStatus.ACTIVE
    assert outcome.permit.valid_from == until + timedelta(days=1)
    assert outcome.permit.valid_until == second_until
    assert outcome.permit.term == 2
    assert outcome.permit.card_awaiting_collection
    assert outcome.permit.desk_appointment is not None

    # The renewal continued the workflow as new; the state came along.
    view = await life.status()
    assert view.term == 2
    assert view.next_reminder == add_months(second_until, -6)
    description = await life.handle.describe()
    assert description.run_id != description.raw_description.workflow_execution_info.first_run_id
    await life.send("document-collected", DocumentCollectedEvent(collected_on=await life.today()))

    # The letter about a permanent permit went out when one could first be applied for: 6
    # months before the first term ended, not on the fifth anniversary (issue 9 point 7).
    five_years = add_months(life.issued_on, 60)
    window = add_months(until, -6)
    assert life.world.dates(LetterKind.PERMANENT_ELIGIBLE) == [window]
    eligible = next(letter for letter in life.world.letters if letter.kind is LetterKind.PERMANENT_ELIGIBLE)
    assert eligible.facts["eligible_from"] == five_years.isoformat()
    assert eligible.facts["apply_from"] == window.isoformat()
    await life.advance_to(five_years)

    outcome = await life.send(
        "permanent-application", PermanentApplicationEvent(submitted_on=await life.today(), civic_integration_met=True)
    )
    assert outcome.permit.status is PermitStatus.PERMANENT_PENDING
    outcome = await life.send("permanent-decision", PermanentDecisionEvent(granted=True, grounds="conditions met"))
    assert outcome.permit.status is PermitStatus.REPLACED_BY_PERMANENT
    assert outcome.permit.permit_type is PermitType.PERMANENT
    assert outcome.permit.document_number.startswith("IV-V")
    await life.send("document-collected", DocumentCollectedEvent(collected_on=await life.today()))

    final = await life.result()
    assert final.status is PermitStatus.REPLACED_BY_PERMANENT
    assert final.permit_type is PermitType.PERMANENT
    assert len(final.document_numbers) == 3
    assert all(document_number_is_valid(n) for n in final.document_numbers)
    assert final.finished
    assert [p.purpose for p in life.world.permits] == ["extension-2", "permanent"]
    assert [p.permit_type for p in life.world.permits] == ["III", "IV"]
    assert life.world.kinds() == [
        LetterKind.EXTENSION_REMINDER,
        LetterKind.PERMANENT_ELIGIBLE,
        LetterKind.EXTENSION_REMINDER,
        LetterKind.EXTENSION_DECISION,
        LetterKind.CARD_INVITATION,
        LetterKind.PERMANENT_DECISION,
        LetterKind.CARD_INVITATION,
    ]
    assert [s.status for s in life.world.statuses] == [
        PermitStatus.ACTIVE,
        PermitStatus.EXTENSION_PENDING,
        PermitStatus.ACTIVE,
        PermitStatus.PERMANENT_PENDING,
        PermitStatus.REPLACED_BY_PERMANENT,
    ]
    assert len(life.world.collected) == 2
    life.check_wall_time()


async def test_lost_card_replaced(life: Life) -> None:
    await life.advance_to(add_months(life.issued_on, 12))
    before = await life.status()
    outcome = await life.send(
        "replace-document", ReplaceDocumentEvent(reason=ReplacementReason.LOST, police_report="PV-2027-0042")
    )
    assert not outcome.refused
    view = outcome.permit
    assert view.document_number != before.document_number
    assert view.invalid_document_numbers == [before.document_number]
    assert view.document_numbers == [before.document_number, view.document_number]
    assert view.valid_until == life.valid_until  # a replacement does not extend
    assert view.card_awaiting_collection
    assert [i.document_number for i in life.world.invalidated] == [before.document_number]
    assert life.world.invalidated[0].reason == "lost"
    assert life.world.permits[0].purpose == "replacement-1"
    assert life.world.bookings[0].purpose == "desk-replacement-1"
    assert life.world.kinds() == [LetterKind.REPLACEMENT, LetterKind.CARD_INVITATION]

    await life.send("document-collected", DocumentCollectedEvent(collected_on=await life.today()))
    assert not (await life.status()).card_awaiting_collection
    message = await life.rejected("document-collected", DocumentCollectedEvent(collected_on=await life.today()))
    assert "no new card waits at the desk" in message

    final = await life.result()  # nothing else happens: the permit runs out
    assert final.status is PermitStatus.EXPIRED
    life.check_wall_time()


async def test_replacement_refused_near_expiry(life: Life) -> None:
    await life.advance_to(add_months(life.valid_until, -2))
    before = await life.status()
    outcome = await life.send("replace-document", ReplaceDocumentEvent(reason=ReplacementReason.DAMAGED))
    assert outcome.refused
    assert "apply for extension instead" in outcome.message
    assert outcome.permit.document_number == before.document_number
    assert outcome.permit.invalid_document_numbers == []
    assert life.world.permits == []
    assert life.world.letters[-1].kind is LetterKind.REPLACEMENT_REFUSED

    # A stolen card is refused a replacement too, but its number is invalid for good.
    outcome = await life.send("replace-document", ReplaceDocumentEvent(reason=ReplacementReason.STOLEN, police_report="PV-1"))
    assert outcome.refused
    assert outcome.permit.invalid_document_numbers == [before.document_number]
    assert life.world.permits == []

    final = await life.result()
    assert final.status is PermitStatus.EXPIRED
    assert life.world.kinds().count(LetterKind.REPLACEMENT_REFUSED) == 2
    life.check_wall_time()


async def test_withdrawal_ends_the_permit(life: Life) -> None:
    await life.advance_to(add_months(life.issued_on, 24))
    before = await life.status()
    outcome = await life.send(
        "withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.PUBLIC_ORDER, explanation="conviction for a serious crime")
    )
    assert outcome.permit.status is PermitStatus.WITHDRAWN
    final = await life.result()
    assert final.status is PermitStatus.WITHDRAWN
    assert final.next_reminder is None
    assert final.invalid_document_numbers == [before.document_number]
    assert life.world.kinds() == [LetterKind.PERMIT_WITHDRAWN]
    assert life.world.statuses[-1].withdrawal_ground is WithdrawalGround.PUBLIC_ORDER
    with pytest.raises(RPCError):  # the workflow is closed: it takes no more events
        await life.handle.execute_update(
            "report-change", ReportChangeEvent(kind="address", occurred_on=await life.today(), reported_on=await life.today())
        )
    life.check_wall_time()


async def test_plain_expiry(life: Life) -> None:
    final = await life.result()
    until = life.valid_until
    assert final.status is PermitStatus.EXPIRED
    assert life.world.kinds() == [
        LetterKind.EXTENSION_REMINDER,
        LetterKind.PERMANENT_ELIGIBLE,
        LetterKind.EXTENSION_REMINDER,
        LetterKind.EXTENSION_REMINDER,
        LetterKind.PERMIT_EXPIRED,
    ]
    assert life.world.dates(LetterKind.EXTENSION_REMINDER) == [
        add_months(until, -6),
        add_months(until, -3),
        add_months(until, -1),
    ]
    assert life.world.dates(LetterKind.PERMIT_EXPIRED) == [until + timedelta(days=1)]
    reminders = [letter for letter in life.world.letters if letter.kind is LetterKind.EXTENSION_REMINDER]
    assert [letter.facts["months_before"] for letter in reminders] == ["6", "3", "1"]
    assert life.world.letters[-1].facts["after_refusal"] == "false"
    assert [s.status for s in life.world.statuses] == [PermitStatus.ACTIVE, PermitStatus.EXPIRED]
    assert [item.text for item in final.timeline if item.done][-1].startswith("permit expired")
    life.check_wall_time()


async def test_late_reports_a_warning_then_a_fine(life: Life) -> None:
    await life.advance_to(add_months(life.issued_on, 3))
    today = await life.today()
    outcome = await life.send(
        "report-change", ReportChangeEvent(kind="address", occurred_on=today - timedelta(weeks=6), reported_on=today)
    )
    assert "warning" in outcome.message
    assert outcome.permit.warnings[0].valid_until == add_months(today, 24)
    outcome = await life.send(
        "report-change", ReportChangeEvent(kind="work", occurred_on=today - timedelta(weeks=2), reported_on=today)
    )
    assert outcome.message == "change reported in time"

    await life.advance_to(add_months(life.issued_on, 15))
    today = await life.today()
    outcome = await life.send(
        "report-change", ReportChangeEvent(kind="household", occurred_on=today - timedelta(weeks=5), reported_on=today)
    )
    assert "fine" in outcome.message
    fine = outcome.permit.fines[0]
    assert fine.maximum_eur == Decimal(750)  # a less serious violation: half the maximum
    assert fine.status == "proposed"
    assert (await life.handle.describe()).typed_search_attributes.get(FINE_PROPOSED) is True

    message = await life.rejected("fine-decision", FineDecisionEvent(imposed=True, amount_eur=Decimal(1000)))
    assert "above the legal maximum of EUR 750 for a less serious violation" in message
    assert (await life.status()).fines[0].status == "proposed"  # the rejected event changed nothing

    outcome = await life.send("fine-decision", FineDecisionEvent(imposed=True, amount_eur=Decimal(600)))
    assert outcome.permit.fines[0].status == "imposed"
    assert (await life.handle.describe()).typed_search_attributes.get(FINE_PROPOSED) is False
    assert outcome.permit.fines[0].amount_eur == Decimal(600)
    assert "no fine is proposed" in await life.rejected("fine-decision", FineDecisionEvent(imposed=True, amount_eur=Decimal(10)))

    assert [v.outcome for v in life.world.violations] == [ViolationOutcome.WARNING, ViolationOutcome.FINE]
    assert [v.sequence for v in life.world.violations] == [1, 2]
    assert life.world.fine_decisions[0].violation_sequence == 2
    assert life.world.kinds() == [LetterKind.WARNING, LetterKind.FINE]
    assert life.world.letters[0].facts["valid_until"] == outcome.permit.warnings[0].valid_until.isoformat()
    assert life.world.letters[0].facts["first_warning"] == "true"
    assert life.world.letters[1].facts["amount"] == "600.00"
    assert life.world.letters[1].facts["reduced"] == "true"

    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.RESIDENCE_ABROAD, explanation="moved abroad"))
    assert (await life.result()).status is PermitStatus.WITHDRAWN
    life.check_wall_time()


# --- validators, concurrency, timers and what operators see ----------------------------------


async def test_validators_reject_without_changing_the_state(life: Life) -> None:
    before = await life.status()
    today = await life.today()
    message = await life.rejected("extension-application", ExtensionApplicationEvent(submitted_on=today))
    assert "may be applied for from" in message
    # The transition table's refusal has the type the codec leaves readable (domain/refusal.py):
    # an operator sees the reason in the Web UI, not "Encoded failure".
    refusal = await life.refused("extension-decision", ExtensionDecisionEvent(granted=True, grounds="x"))
    assert (refusal.type, refusal.non_retryable) == (REFUSAL_TYPE, True)
    assert refusal.message.startswith("The event 'extension-decision' is not allowed now")
    message = await life.rejected(
        "permanent-application", PermanentApplicationEvent(submitted_on=today, civic_integration_met=True)
    )
    assert "5 consecutive years" in message
    message = await life.rejected("replace-document", {"reason": "lost"})  # what a caller skipping validation sends
    assert "police report" in message
    assert await life.status() == before
    history = await life.handle.fetch_history()
    assert not [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="country safe"))
    await life.result()
    life.check_wall_time()


async def test_two_decisions_at_once_grant_one_extension(life: Life) -> None:
    await life.advance_to(add_months(life.valid_until, -4))
    await life.send("extension-application", ExtensionApplicationEvent(submitted_on=await life.today()))
    decision = ExtensionDecisionEvent(granted=True, grounds="grounds apply")
    both = asyncio.gather(
        life.handle.execute_update("extension-decision", decision, result_type=EventOutcome),
        life.handle.execute_update("extension-decision", decision, result_type=EventOutcome),
        return_exceptions=True,
    )
    results = await asyncio.wait_for(both, 30)  # both answer: neither is left waiting behind a failed task
    assert sum(isinstance(r, EventOutcome) for r in results) == 1
    assert sum(isinstance(r, WorkflowUpdateFailedError) for r in results) == 1
    assert [p.purpose for p in life.world.permits] == ["extension-2"]
    view = await life.status()
    assert view.valid_until == add_months(life.valid_until, 60)
    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="-"))
    await life.result()
    life.check_wall_time()


async def test_desk_booking_is_retried_when_no_slot_is_free(life: Life) -> None:
    await life.advance_to(add_months(life.issued_on, 6))
    life.world.slots_free = False
    outcome = await life.send("replace-document", ReplaceDocumentEvent(reason=ReplacementReason.DAMAGED))
    assert outcome.permit.card_awaiting_collection
    assert outcome.permit.desk_appointment is None
    assert LetterKind.CARD_INVITATION not in life.world.kinds()
    life.world.slots_free = True
    await life.advance_to(await life.today() + timedelta(days=2))
    view = await life.status()
    assert view.desk_appointment is not None
    assert life.world.kinds() == [LetterKind.REPLACEMENT, LetterKind.CARD_INVITATION]
    assert len(life.world.bookings) == 2
    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="-"))
    await life.result()
    life.check_wall_time()


async def test_search_attributes_and_details_hold_no_personal_data(life: Life) -> None:
    view = await life.status()
    description = await life.handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(PERMIT_STATUS) == "active"
    valid_until = attributes.get(PERMIT_VALID_UNTIL)
    assert valid_until is not None
    assert valid_until == start_of_day(life.valid_until)
    metadata = await life.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert "type III, status **active**" in details
    assert f"- {add_months(life.valid_until, -6)}: extension reminder (6 months before expiry) due" in details.splitlines()
    assert view.document_number not in details
    assert life.application_id not in details
    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="-"))
    await life.result()
    attributes = (await life.handle.describe()).typed_search_attributes
    assert attributes.get(PERMIT_STATUS) == "withdrawn"
    life.check_wall_time()


# --- refusals and appeals (issue 9 point 8), serious violations (point 9) ---------------------


async def test_a_refusal_after_expiry_waits_for_the_appeal_before_the_permit_expires(life: Life) -> None:
    """Vw 2000 art. 8(h) with art. 82(1) (unconfirmed reading; docs/legal.md, "Permit"):
    residence stays lawful while the appeal against the refused extension runs, so the
    permit does not expire at the refusal but when the court upholds it."""
    until = life.valid_until
    await life.advance_to(add_months(until, -2))
    await life.send("extension-application", ExtensionApplicationEvent(submitted_on=await life.today()))
    await life.advance_to(until + timedelta(days=10))
    assert (await life.status()).status is PermitStatus.EXTENSION_PENDING

    outcome = await life.send("extension-decision", ExtensionDecisionEvent(granted=False, grounds="grounds lapsed"))
    assert outcome.permit.status is PermitStatus.AWAITING_APPEAL
    appeal_by = outcome.permit.appeal_by
    assert appeal_by is not None
    assert local_date(appeal_by) >= await life.today() + timedelta(weeks=4)
    refusal = life.world.letters[-1]
    assert (refusal.kind, refusal.facts["still_valid"]) == (LetterKind.EXTENSION_DECISION, "false")
    assert refusal.facts["appeal_by"] == appeal_by.isoformat()
    assert (await life.handle.describe()).typed_search_attributes.get(PERMIT_STATUS) == "awaiting_appeal"
    message = await life.rejected("appeal-decided", AppealDecidedEvent(result=JudgmentResult.UPHELD))
    assert message == "no appeal against a refused extension or permanent permit is pending"

    await life.send("refusal-appealed", RefusalAppealedEvent(lodged_on=await life.today()))
    await life.advance_to(local_date(appeal_by) + timedelta(days=60))
    view = await life.status()
    assert view.status is PermitStatus.AWAITING_APPEAL  # the pending appeal keeps residence lawful
    assert view.appeal_lodged_on is not None
    assert LetterKind.PERMIT_EXPIRED not in life.world.kinds()

    outcome = await life.send("appeal-decided", AppealDecidedEvent(result=JudgmentResult.UPHELD))
    assert outcome.permit.status is PermitStatus.EXPIRED
    final = await life.result()
    assert final.status is PermitStatus.EXPIRED
    assert [s.status for s in life.world.statuses] == [
        PermitStatus.ACTIVE,
        PermitStatus.EXTENSION_PENDING,
        PermitStatus.AWAITING_APPEAL,
        PermitStatus.EXPIRED,
    ]
    expired = life.world.letters[-1]
    assert expired.kind is LetterKind.PERMIT_EXPIRED
    assert (expired.facts["after_refusal"], expired.facts["appeal_lodged"]) == ("true", "true")
    assert (await life.handle.describe()).typed_search_attributes.get(PERMIT_STATUS) == "expired"
    life.check_wall_time()


async def test_a_refusal_not_appealed_ends_the_permit_when_the_appeal_period_ends(life: Life) -> None:
    """A refusal a week before expiry leaves the permit valid to its last day (the letter
    says so); residence then continues until the appeal period ends unused (Vw 2000
    art. 82(1), unconfirmed), and only then does the permit expire."""
    until = life.valid_until
    await life.advance_to(add_months(until, -2))
    await life.send("extension-application", ExtensionApplicationEvent(submitted_on=await life.today()))
    await life.advance_to(until - timedelta(days=7))
    outcome = await life.send("extension-decision", ExtensionDecisionEvent(granted=False, grounds="grounds lapsed"))
    assert outcome.permit.status is PermitStatus.ACTIVE
    assert life.world.letters[-1].facts["still_valid"] == "true"
    appeal_by = outcome.permit.appeal_by
    assert appeal_by is not None
    await life.advance_to(until + timedelta(days=1))
    assert (await life.status()).status is PermitStatus.AWAITING_APPEAL

    final = await life.result()
    assert final.status is PermitStatus.EXPIRED
    assert life.world.dates(LetterKind.PERMIT_EXPIRED) == [local_date(appeal_by)]
    assert life.world.letters[-1].facts["appeal_lodged"] == "false"
    assert [s.status for s in life.world.statuses][-2:] == [PermitStatus.AWAITING_APPEAL, PermitStatus.EXPIRED]
    life.check_wall_time()


async def test_a_first_serious_violation_may_be_fined_at_once(life: Life) -> None:
    """domain.md, "Obligation to provide information" (IND page on administrative fines): a
    serious violation may be fined at once, up to EUR 1,500, without a warning first."""
    await life.advance_to(add_months(life.issued_on, 3))
    today = await life.today()
    outcome = await life.send(
        "report-change",
        ReportChangeEvent(kind="household", occurred_on=today - timedelta(weeks=10), reported_on=today, serious=True),
    )
    assert outcome.message == "a serious violation: a fine of at most EUR 1500.00 is proposed"
    assert outcome.permit.warnings == []
    assert [(f.maximum_eur, f.status) for f in outcome.permit.fines] == [(Decimal(1500), "proposed")]
    assert life.world.letters == []  # the proposal is not a decision yet: no letter
    outcome = await life.send("fine-decision", FineDecisionEvent(imposed=True, amount_eur=Decimal(1500)))
    assert life.world.letters[-1].facts["serious"] == "true"
    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="-"))
    await life.result()
    life.check_wall_time()


async def test_the_web_ui_lists_every_permit_event_as_an_update(life: Life) -> None:
    """The handlers are registered from the event table in __init__; the Web UI reads their
    names from the metadata query, as it did for the decorated handlers."""
    metadata = await life.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert {u.name for u in metadata.definition.update_definitions} == set(PERMIT_EVENT_MODELS)
    await life.send("withdraw-permit", WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="-"))
    await life.result()


async def test_an_imported_permit_starts_in_a_later_term(
    env: WorkflowEnvironment, client: Client, new_worker: Callable[..., Worker]
) -> None:
    """A permit issued before this service (``starter.py import-permits``) starts in its
    second term; its five consecutive years count from the first term's start (ABRvS
    4 March 2024, 202107377/1/V1), so a permanent permit may be applied for at once and
    the letter about it goes out on the first run."""
    world = FakeWorld()
    async with new_worker([PermitWorkflow], world.activities()) as worker:
        now = await env.get_current_time()
        today = local_date(now)
        valid_from = add_months(today, -1)
        application_id = f"HASA-2021-{next(_ids) + 900000:06d}"
        handover = PermitInput(
            application_id=application_id,
            document_number=fake_document_number("III", next(_ids)),
            valid_from=valid_from,
            valid_until=add_months(valid_from, 60) - timedelta(days=1),
            issued_at=now,
            first_valid_from=add_months(valid_from, -60),
            term=2,
        )
        started = await client.start_workflow(
            PermitWorkflow.run,
            PermitWorkflowInput(handover=handover),
            id=permit_workflow_id(application_id),
            task_queue=worker.task_queue,
        )
        handle = client.get_workflow_handle(permit_workflow_id(application_id))
        await env.sleep(timedelta(hours=1))
        view = await handle.query("status", result_type=PermitView)
        assert (view.term, view.first_valid_from, view.five_years_on) == (2, add_months(valid_from, -60), valid_from)
        assert world.kinds() == [LetterKind.PERMANENT_ELIGIBLE]
        assert [(s.status, s.key) for s in world.statuses] == [(PermitStatus.ACTIVE, "active-1")]
        body = PermanentApplicationEvent(submitted_on=today, civic_integration_met=True)
        outcome: EventOutcome = await handle.execute_update("permanent-application", body, result_type=EventOutcome)
        assert outcome.permit.status is PermitStatus.PERMANENT_PENDING
        withdraw = WithdrawPermitEvent(ground=WithdrawalGround.GROUNDS_LAPSED, explanation="-")
        await handle.execute_update("withdraw-permit", withdraw, result_type=EventOutcome)
        assert (await started.result()).status is PermitStatus.WITHDRAWN
