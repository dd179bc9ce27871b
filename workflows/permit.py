"""The residence permit's five-year life as one durable workflow (issue 3).

Why it is shaped this way:

* **Its own workflow, started as an abandoned child.**  The application workflow ends when
  the card is collected; the permit lives on for years.  The application starts this
  workflow as a child with ``ParentClosePolicy.ABANDON`` (not from an activity): the start
  is then an event in the parent's own history, so a replayed or retried parent never
  starts it twice and needs no idempotency of its own, the parent can wait for the start
  to be confirmed before it closes, and the Web UI links parent and child; ABANDON lets
  the child outlive the parent.  Its id is ``permit_workflow_id(application_id)``: a
  business key, no personal data.
* **It only orchestrates.**  State is one model (``domain.permit.state.PermitState``); what
  an event is allowed to do is decided by ``domain.permit.rules`` and what it does to the
  state by the pure functions of ``domain.permit.effects``.  A handler calls the
  activities (idempotent: letters, the registry, a new card) and then applies the new
  state the domain computed, so a failed update leaves the state as it was and can simply
  be sent again.
* **Events from one table.**  ``domain.permit.events.PERMIT_EVENT_TABLE`` maps each update
  name to its body and the statuses that accept it; ``__init__`` registers an update
  handler and validator per row (the Web UI lists them like decorated ones), and
  ``@on(PermitTrigger.X)`` marks the method that acts on event X.  A validator rejects an
  event the table or the rules do not accept before it reaches history.  One lock
  serialises handlers and timers; each handler re-checks its event under the lock,
  because two updates can pass their validators before either handler runs.
* **Timers are instants in the state**, waited on with ``wait_condition(...,
  timeout=instant - now)``; an event that moves ``valid_until`` reschedules them and wakes
  the loop, which recomputes the next one.
* **Long life**: continue-as-new at every renewal and whenever Temporal suggests it,
  carrying the whole state.  After the first release every change to this code goes
  through ``workflow.patched(...)``, and ``tests/replay`` replays recorded histories
  (including one across continue-as-new) so an unpatched change fails in CI, not in a
  permit that has been running for four years.
* **What operators see** (search attributes ``PermitStatus``/``PermitValidUntil``/
  ``FineProposed``, the current details) holds status, type and dates only: no names,
  V-numbers or document numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.letters import LetterActivities
    from activities.permits import PermitActivities
    from activities.registry import RegistryActivities
    from domain import search_attributes as sa
    from domain.deadlines import add_months
    from domain.messages import (
        BookSlot,
        InvalidateDocument,
        IssuePermit,
        Recipient,
        RecordCardCollected,
        RecordFineDecision,
        SendLetter,
        SlotKind,
    )
    from domain.models import Model
    from domain.permit import effects as fx
    from domain.permit import letters
    from domain.permit.events import (
        PERMIT_EVENT_TABLE,
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
    from domain.permit.rules import PermitRuleError, check_event, replacement_refusal, violation_outcome
    from domain.permit.schedule import (
        due_reminder,
        initial_state,
        is_finished,
        local_date,
        new_term,
        next_due,
        permanent_letter_due,
    )
    from domain.permit.state import ApplicationKind, Card, CardStatus, PermitSettings, PermitState, PermitWorkflowInput
    from domain.permit.transitions import PermitStatus, PermitTrigger, PermitType, allowed, rejection
    from domain.permit.view import EventOutcome, PermitView, details_markdown, search_attributes, view
    from domain.refusal import REFUSAL_TYPE
    from workflows.common import EventHandlers, call, register_updates, started_with, upsert_changed
    from workflows.names import PERMIT_WORKFLOW

# Update handlers' failure type when the event is no longer allowed once the handler runs.
EVENT_REJECTED = "PermitEventRejected"

T = PermitTrigger
S = PermitStatus
on = EventHandlers[PermitTrigger, "PermitWorkflow"]()


@workflow.defn(name=PERMIT_WORKFLOW)
class PermitWorkflow:
    """One residence permit from issue to expiry, withdrawal or a permanent permit."""

    @workflow.init
    def __init__(self, input: PermitWorkflowInput) -> None:
        self._settings: PermitSettings = input.settings
        if input.state is not None:
            self._state: PermitState = input.state.model_copy(deep=True)
        else:
            assert input.handover is not None  # the input model guarantees one of the two
            self._state = initial_state(input.handover, input.settings)
        # An imported permit's status row was written by the importer with its holder.
        self._first_run = input.handover is not None
        self._lock = asyncio.Lock()
        self._version = 0
        self._renewed = False
        self._published: dict[str, Any] = started_with(sa.PERMIT)
        self._said: tuple[str, bool] = ("", False)
        register_updates(PERMIT_EVENT_TABLE, EventOutcome)

    # --- the main loop -------------------------------------------------------------------

    @workflow.run
    async def run(self, input: PermitWorkflowInput) -> PermitView:
        self._publish()
        if self._first_run:
            async with self._lock:
                await self._record_status(self._state)
        while not is_finished(self._state):
            info = workflow.info()
            long_run = info.get_current_history_length() >= self._settings.max_history_events
            if self._renewed or long_run or info.is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not is_finished(self._state):
                    self._continue_as_new()
                break
            due = next_due(self._state)
            changed = self._changed_since(self._version)
            if due is None:
                await workflow.wait_condition(changed)
                continue
            delay = due.at - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(changed, timeout=delay, timeout_summary=due.trigger.value)
                    continue  # an event changed the state: recompute the next timer
                except TimeoutError:
                    pass
            async with self._lock:
                await self._fire_due_timers()
            if next_due(self._state) == due and due.at <= workflow.now():
                # next_due and _fire_due_timers disagree: fail the workflow task (it is retried
                # and a fixed worker picks it up) rather than spin until the deadlock detector.
                raise RuntimeError(f"timer {due.trigger.value} at {due.at} was due but nothing handled it")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return view(self._state)

    def _continue_as_new(self) -> None:
        self._state.run += 1
        workflow.logger.info(
            "permit continues as new", extra={"application_id": self._state.application_id, "run": self._state.run}
        )
        workflow.continue_as_new(PermitWorkflowInput(settings=self._settings, state=self._state))

    async def _fire_due_timers(self) -> None:
        """Do whatever is due now.  Expiry first: a permit that expires gets no reminder."""
        now = workflow.now()
        state = self._state
        lapsing = (S.ACTIVE, S.EXTENSION_PENDING, S.PERMANENT_PENDING)
        if now >= state.expires_at and not state.expiry_passed_while_pending and state.status in lapsing:
            after = fx.expiry_reached(state, now)
            await self._commit(after, letter=letters.expired(after))
        refusal = self._state.refusal
        waiting = self._state.status is S.AWAITING_APPEAL and refusal is not None and refusal.appeal_lodged_on is None
        if waiting and refusal is not None and now >= refusal.appeal_by:
            after = fx.appeal_period_ended(self._state, now)
            await self._commit(after, letter=letters.expired(after))
        if self._state.status is S.ACTIVE:
            await self._send_due_letters(now)
        for card in self._state.cards:
            retry_at = card.booking_retry_at
            if card.status is CardStatus.AWAITING_COLLECTION and retry_at is not None and retry_at <= now:
                await self._commit(fx.desk_booked(self._state, await self._book_desk(card)))

    async def _send_due_letters(self, now: datetime) -> None:
        reminder = due_reminder(self._state, now)
        if reminder is not None:
            letter = letters.extension_reminder(self._state, reminder)
            await self._commit(fx.reminder_sent(self._state, reminder.due_at, now), letter=letter)
        letter_at = permanent_letter_due(self._state)
        if letter_at is not None and now >= letter_at:
            letter = letters.permanent_eligible(self._state, letter_at)
            await self._commit(fx.permanent_letter_sent(self._state, now), letter=letter)

    # --- query -----------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> PermitView:
        return view(self._state)

    # --- updates: registered from the event table ---------------------------------------------

    async def accept_event(self, trigger: PermitTrigger, body: Model) -> EventOutcome:
        """Act on one event under the lock, after checking it again: another update may have
        got there first since its validator ran."""
        async with self._lock:
            try:
                self.validate_event(trigger, body)
            except PermitRuleError as err:
                raise ApplicationError(str(err), type=EVENT_REJECTED, non_retryable=True) from err
            self._said = ("", False)
            await on.handlers[trigger](self, body)
            message, refused = self._said
            return EventOutcome(event=trigger.value, refused=refused, message=message, permit=view(self._state))

    def validate_event(self, trigger: PermitTrigger, body: Model) -> None:
        """Reject, with the reason, an event the permit cannot take now; the state is untouched."""
        if not allowed(self._state.status, trigger):  # names only: readable in the Web UI
            raise ApplicationError(rejection(self._state.status, trigger), type=REFUSAL_TYPE, non_retryable=True)
        check_event(self._state, trigger, body, local_date(workflow.now()))

    def _say(self, message: str, *, refused: bool = False) -> None:
        """What the update answers: a sentence for the caller (with the permit's view)."""
        self._said = (message, refused)

    @on(T.EXTENSION_APPLICATION)
    async def _on_extension_application(self, event: ExtensionApplicationEvent) -> None:
        await self._commit(fx.applied(self._state, ApplicationKind.EXTENSION, event.submitted_on, workflow.now()))
        self._say("extension application recorded; waiting for the decision")

    @on(T.PERMANENT_APPLICATION)
    async def _on_permanent_application(self, event: PermanentApplicationEvent) -> None:
        now, civic = workflow.now(), event.civic_integration_met
        await self._commit(fx.applied(self._state, ApplicationKind.PERMANENT, event.submitted_on, now, civic))
        self._say("permanent permit application recorded; waiting for the decision")

    @on(T.EXTENSION_DECISION)
    async def _on_extension_decision(self, event: ExtensionDecisionEvent) -> None:
        state, now = self._state, workflow.now()
        if not event.granted:
            await self._refuse(T.EXTENSION_DECISION, event.grounds)
            return
        valid_from, valid_until = new_term(state.valid_until, self._settings.term_years)
        purpose = f"extension-{state.term + 1}"
        card = await self._issue(purpose, PermitType.TEMPORARY, valid_from, valid_until)
        await self._send(letters.granted(state, T.EXTENSION_DECISION, event.grounds, valid_from, valid_until))
        await self._commit(fx.extension_granted(state, await self._book_desk(card), now, self._settings))
        self._renewed = True  # continue-as-new once this handler has finished
        self._say(f"extension granted until {valid_until}; a new card waits at the desk")

    @on(T.PERMANENT_DECISION)
    async def _on_permanent_decision(self, event: PermanentDecisionEvent) -> None:
        state, now = self._state, workflow.now()
        today = local_date(now)
        if not event.granted:
            await self._refuse(T.PERMANENT_DECISION, event.grounds)
            return
        valid_until = add_months(today, 12 * self._settings.permanent_document_years)
        card = await self._issue("permanent", PermitType.PERMANENT, today, valid_until)
        await self._send(letters.granted(state, T.PERMANENT_DECISION, event.grounds, today, valid_until))
        await self._commit(fx.permanent_granted(state, await self._book_desk(card), now))
        self._say("permanent permit granted; the type IV card waits at the desk")

    async def _refuse(self, trigger: PermitTrigger, grounds: str) -> None:
        """A refused extension or permanent permit: the letter names the appeal period and
        whether the permit is still valid (issue 9 points 8 and 14)."""
        state = self._state
        after = fx.application_refused(state, trigger, workflow.now(), self._settings.refusal_appeal_weeks)
        await self._commit(after, letter=letters.refused(trigger, grounds, state, after))
        what = "extension" if trigger is T.EXTENSION_DECISION else "permanent permit"
        self._say(f"{what} refused; the permit is {after.status.value}")

    @on(T.REFUSAL_APPEALED)
    async def _on_refusal_appealed(self, event: RefusalAppealedEvent) -> None:
        await self._commit(fx.refusal_appealed(self._state, event, workflow.now()))
        self._say("appeal recorded: residence stays lawful until the court decides")

    @on(T.APPEAL_DECIDED)
    async def _on_appeal_decided(self, event: AppealDecidedEvent) -> None:
        after = fx.appeal_decided(self._state, event, workflow.now())
        await self._commit(after, letter=letters.expired(after))
        self._say(f"appeal decided ({event.result.value}); the permit is {after.status.value}")

    @on(T.REPLACE_DOCUMENT)
    async def _on_replace_document(self, event: ReplaceDocumentEvent) -> None:
        state, now = self._state, workflow.now()
        old = next(c for c in state.cards if c.document_number == state.document_number)
        reported = event.reason in (ReplacementReason.LOST, ReplacementReason.STOLEN)
        refusal = replacement_refusal(state.valid_until, local_date(now))
        if refusal is not None:
            if reported:  # a card reported lost or stolen is invalid even without a new one
                await self._invalidate(old, event.reason.value, now)
            letter = letters.replacement_refused(state, event.reason)
            await self._commit(fx.replacement_refused(state, event.reason, now), letter=letter)
            self._say(f"replacement refused: {refusal}", refused=True)
            return
        sequence = state.replacements + 1
        await self._invalidate(old, event.reason.value, now)
        card = await self._issue(f"replacement-{sequence}", state.permit_type, local_date(now), state.valid_until)
        await self._send(letters.replacement(event.reason, old, card, state.valid_until, sequence))
        await self._commit(fx.card_replaced(state, event.reason, await self._book_desk(card), now))
        self._say("old number invalid; a new card waits at the desk")

    @on(T.REPORT_CHANGE)
    async def _on_report_change(self, event: ReportChangeEvent) -> None:
        state, now = self._state, workflow.now()
        outcome = violation_outcome(state, event, self._settings.late_report_weeks)
        after = fx.change_reported(state, event, outcome, now)
        if outcome is ViolationOutcome.NONE:
            await self._commit(after)
            self._say("change reported in time")
            return
        warning = after.warnings[-1] if outcome is ViolationOutcome.WARNING else None
        fine = after.fines[-1] if outcome is ViolationOutcome.FINE else None
        await call(PermitActivities.record_violation, fx.violation_record(after, event, outcome, local_date(now)))
        # A fine proposal gets no letter yet: an officer decides with fine-decision, and the
        # fine letter (templates/fine.txt.j2) is the decision.
        await self._commit(after, letter=letters.warning(event, warning) if warning else None)
        if warning is not None:
            self._say(f"reported late: a warning, valid until {warning.valid_until}")
        elif fine is not None:
            why = "a serious violation" if event.serious else "reported late again within 2 years"
            self._say(f"{why}: a fine of at most EUR {fine.maximum_eur:.2f} is proposed")

    @on(T.FINE_DECISION)
    async def _on_fine_decision(self, event: FineDecisionEvent) -> None:
        state, now = self._state, workflow.now()
        fine = state.open_fine()
        assert fine is not None  # checked by check_event
        amount = fx.fine_amount(event)
        await call(
            PermitActivities.record_fine_decision,
            RecordFineDecision(
                application_id=state.application_id,
                violation_sequence=fine.violation,
                imposed=event.imposed,
                amount_eur=event.amount_eur,
                decided_on=local_date(now),
            ),
        )
        if event.imposed:
            await self._send(letters.fine(fine, amount))
        await self._commit(fx.fine_decided(state, event, now))
        self._say(f"fine imposed: EUR {amount:.2f}" if event.imposed else "fine not imposed")

    @on(T.WITHDRAW_PERMIT)
    async def _on_withdraw_permit(self, event: WithdrawPermitEvent) -> None:
        state, now = self._state, workflow.now()
        for card in state.cards:
            if card.status in (CardStatus.CURRENT, CardStatus.AWAITING_COLLECTION):
                await self._invalidate(card, "withdrawn", now)
        letter = letters.withdrawn(state, event, local_date(now))
        await self._commit(fx.withdrawn(state, event.ground, now), letter=letter, withdrawal_ground=event.ground)
        self._say("permit withdrawn; the holder has been informed")

    @on(T.DOCUMENT_COLLECTED)
    async def _on_document_collected(self, event: DocumentCollectedEvent) -> None:
        state = self._state
        card = state.card_awaiting_collection()
        assert card is not None  # checked by check_event
        await call(
            PermitActivities.record_card_collected,
            RecordCardCollected(
                application_id=state.application_id, document_number=card.document_number, collected_on=event.collected_on
            ),
        )
        await self._commit(fx.card_collected(state, event.collected_on, workflow.now()))
        self._say("card collected")

    # --- effects ---------------------------------------------------------------------------

    async def _commit(
        self, after: PermitState, *, letter: letters.Letter | None = None, withdrawal_ground: WithdrawalGround | None = None
    ) -> None:
        """Apply the state the domain computed, after its letter and its status in the registry."""
        await self._send(letter)
        if after.status_changes != self._state.status_changes:
            await self._record_status(after, withdrawal_ground=withdrawal_ground)
        self._state = after
        self._changed()

    async def _record_status(self, state: PermitState, *, withdrawal_ground: WithdrawalGround | None = None) -> None:
        await call(PermitActivities.record_permit_status, fx.status_record(state, workflow.now(), withdrawal_ground))

    async def _invalidate(self, card: Card, reason: str, now: datetime) -> None:
        await call(
            PermitActivities.invalidate_document,
            InvalidateDocument(
                application_id=self._state.application_id,
                document_number=card.document_number,
                reason=reason,
                invalidated_at=now,
            ),
        )

    async def _issue(self, purpose: str, permit_type: PermitType, valid_from: date, valid_until: date) -> Card:
        issued = await call(
            RegistryActivities.issue_permit,
            IssuePermit(
                application_id=self._state.application_id,
                purpose=purpose,
                permit_type=permit_type.value,
                valid_from=valid_from,
                valid_until=valid_until,
            ),
            summary=f"issue card ({purpose})",
        )
        return fx.new_card(issued, purpose, local_date(workflow.now()))

    async def _book_desk(self, card: Card) -> Card:
        """Book the desk appointment for a new card and invite the holder; with no slot free,
        the card gets a retry instant (a timer in the state, like every other)."""
        now = workflow.now()
        booking = await call(
            RegistryActivities.book_slot,
            BookSlot(
                application_id=self._state.application_id,
                kind=SlotKind.DESK,
                purpose=f"desk-{card.purpose}",
                not_before=now + timedelta(days=self._settings.desk_notice_days),
            ),
            summary="book desk appointment",
        )
        booked = fx.with_booking(card, booking, now, self._settings.desk_booking_retry_hours)
        if booked.appointment_at is not None:
            await self._send(letters.card_invitation(booked))
        return booked

    async def _send(self, letter: letters.Letter | None) -> None:
        """Every permit letter goes through the registry's outbox, keyed so it is written once."""
        if letter is None:
            return
        await call(
            LetterActivities.send_letter,
            SendLetter(
                application_id=self._state.application_id,
                key=f"permit-{letter.key}",
                kind=letter.kind,
                recipients=[Recipient.APPLICANT],
                facts={"letter_date": local_date(workflow.now()).isoformat(), **letter.facts},
            ),
            summary=f"letter: {letter.kind.value.replace('_', ' ')}",
        )

    # --- what operators see ----------------------------------------------------------------

    def _changed_since(self, version: int) -> Callable[[], bool]:
        return lambda: self._version != version

    def _changed(self) -> None:
        """Wake the main loop and show the new state in search attributes and details."""
        self._version += 1
        self._publish()

    def _publish(self) -> None:
        state = self._state
        wanted = search_attributes(state, local_date(workflow.now()))
        self._published = upsert_changed(sa.PERMIT, wanted, self._published)
        workflow.set_current_details(details_markdown(state))
