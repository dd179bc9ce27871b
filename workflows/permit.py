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
* **State is one model** (``domain.permit.state.PermitState``): status, type, dates, every card,
  the timers as absolute instants, warnings, fines and the timeline.  The rules that move
  it live in the ``domain/permit/`` package; this module only orchestrates.
* **Timers are instants in the state**, waited on with ``wait_condition(...,
  timeout=instant - now)``; an event that moves ``valid_until`` reschedules them and wakes
  the loop, which recomputes the next one.
* **Humans speak through updates with validators**: an event the transition table or the
  rules do not accept is rejected before it reaches history.  A handler does its
  side-effects first (idempotent activities) and changes the state only after they
  succeed, so a failed update leaves the state as it was and can simply be sent again.
  One lock serialises handlers and timers; each handler re-checks its event under the lock,
  because two updates can pass their validators before either handler runs.
* **Long life**: continue-as-new at every renewal and whenever Temporal suggests it,
  carrying the whole state.  After the first release every change to this code goes
  through ``workflow.patched(...)``, and ``tests/replay`` replays recorded histories
  (including one across continue-as-new) so an unpatched change fails in CI, not in a
  permit that has been running for four years.
* **What operators see** (search attributes ``PermitStatus``/``PermitValidUntil``, the
  current details) holds status, type and dates only: no names, V-numbers or document
  numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.permits import PermitActivities
    from domain import alerts
    from domain.deadlines import add_months
    from domain.messages import (
        BookSlot,
        InvalidateDocument,
        IssuePermit,
        LetterKind,
        LettersSent,
        PermitIssued,
        Recipient,
        RecordCardCollected,
        RecordFineDecision,
        RecordPermitStatus,
        RecordViolation,
        SendLetter,
        SlotBooking,
        SlotKind,
    )
    from domain.models import Model
    from domain.permit.events import (
        DocumentCollectedEvent,
        ExtensionApplicationEvent,
        ExtensionDecisionEvent,
        FineDecisionEvent,
        PermanentApplicationEvent,
        PermanentDecisionEvent,
        ReplaceDocumentEvent,
        ReplacementReason,
        ReportChangeEvent,
        ViolationOutcome,
        WithdrawalGround,
        WithdrawPermitEvent,
    )
    from domain.permit.rules import (
        PermitRuleError,
        after_refusal,
        check_event,
        new_fine,
        new_warning,
        replacement_refusal,
        violation_outcome,
    )
    from domain.permit.schedule import (
        due_reminder,
        extension_window_opens,
        initial_state,
        is_finished,
        local_date,
        new_term,
        next_due,
        reschedule,
        start_of_day,
    )
    from domain.permit.state import (
        ApplicationKind,
        Card,
        CardStatus,
        FineStatus,
        PendingApplication,
        PermitSettings,
        PermitState,
        PermitWorkflowInput,
        Withdrawal,
    )
    from domain.permit.transitions import PermitStatus, PermitTrigger, PermitType, allowed, move, rejection
    from domain.permit.view import EventOutcome, PermitView, details_markdown, view
    from domain.refusal import REFUSAL_TYPE
    from domain.search_attributes import PERMIT_ALERT

# Search attributes (register them on the namespace: PermitStatus Keyword, PermitValidUntil
# Datetime).  PermitValidUntil is the start of the last valid Dutch day.
PERMIT_STATUS = SearchAttributeKey.for_keyword("PermitStatus")
PERMIT_VALID_UNTIL = SearchAttributeKey.for_datetime("PermitValidUntil")
FINE_PROPOSED = SearchAttributeKey.for_bool("FineProposed")

# Registry activities, called by name (they are written and registered beside the
# application's activities).
SEND_LETTER = "send_letter"
ISSUE_PERMIT = "issue_permit"
BOOK_SLOT = "book_slot"

# Activities retry until they succeed: every one is idempotent, and a business failure
# arrives as a non-retryable ApplicationError.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
REGISTRY_TIMEOUT = timedelta(seconds=30)
LETTER_TIMEOUT = timedelta(minutes=2)  # a letter renders a PDF

# Update handlers' failure type when the event is no longer allowed once the handler runs.
EVENT_REJECTED = "PermitEventRejected"

T = PermitTrigger
S = PermitStatus
ArgT = TypeVar("ArgT", bound=Model)
ResultT = TypeVar("ResultT", bound=Model)


@workflow.defn(name="ResidencePermit")
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
        self._first_run = input.handover is not None
        self._lock = asyncio.Lock()
        self._version = 0
        self._renewed = False
        self._published: tuple[str, date, bool, str] | None = None

    # --- the main loop -------------------------------------------------------------------

    @workflow.run
    async def run(self, input: PermitWorkflowInput) -> PermitView:
        self._publish()
        if self._first_run:
            async with self._lock:
                await self._record_status(self._state.status)
        while not is_finished(self._state):
            if self._renewed or workflow.info().is_continue_as_new_suggested():
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
        state = self._state
        now = workflow.now()
        if now >= state.expires_at and not state.expiry_passed_while_pending:
            if state.status is S.ACTIVE:
                await self._expire(now)
            elif state.status in (S.EXTENSION_PENDING, S.PERMANENT_PENDING):
                move(state.status, T.EXPIRY_REACHED, state.status)
                state.expiry_passed_while_pending = True
                state.note(
                    now,
                    T.EXPIRY_REACHED,
                    f"validity ended on {state.valid_until}; residence continues while the application is decided",
                )
                self._changed()
        if state.status is S.ACTIVE:
            reminder = due_reminder(state, now)
            if reminder is not None:
                await self._send_extension_reminder(reminder.months_before, reminder.due_at)
                reminder.sent_at = now
                state.note(
                    now,
                    T.EXTENSION_REMINDER_DUE,
                    f"extension reminder sent ({reminder.months_before} months before expiry)",
                )
                self._changed()
            if (
                state.permit_type is PermitType.TEMPORARY
                and state.five_years_letter_sent_at is None
                and now >= state.five_years_at
            ):
                await self._send_permanent_eligible()
                state.five_years_letter_sent_at = now
                state.note(now, T.FIVE_YEARS_REACHED, "5 years reached: letter on applying for a permanent permit sent")
                self._changed()
        for card in state.cards:
            retry_at = card.booking_retry_at
            if card.status is CardStatus.AWAITING_COLLECTION and retry_at is not None and retry_at <= now:
                await self._book_desk(card)
                self._changed()

    async def _expire(self, now: datetime) -> None:
        state = self._state
        target = move(state.status, T.EXPIRY_REACHED, S.EXPIRED)
        await self._letter(
            LetterKind.PERMIT_EXPIRED,
            f"expired-{state.term}",
            {"valid_until": state.valid_until.isoformat(), "document_number": state.document_number},
        )
        await self._record_status(target)
        state.status = target
        state.note(now, T.EXPIRY_REACHED, f"permit expired (last valid day {state.valid_until})")
        self._changed()

    # --- query -----------------------------------------------------------------------------

    @workflow.query(name="status")
    def status(self) -> PermitView:
        return view(self._state)

    # --- updates ---------------------------------------------------------------------------

    @workflow.update(name="extension-application")
    async def extension_application(self, event: ExtensionApplicationEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.EXTENSION_APPLICATION, event)
            state = self._state
            target = move(state.status, T.EXTENSION_APPLICATION, S.EXTENSION_PENDING)
            await self._record_status(target)
            state.extension_applications += 1
            state.pending = PendingApplication(
                kind=ApplicationKind.EXTENSION,
                sequence=state.extension_applications,
                submitted_on=event.submitted_on,
                received_at=workflow.now(),
            )
            state.status = target
            state.note(workflow.now(), T.EXTENSION_APPLICATION, f"extension applied for on {event.submitted_on}")
            self._changed()
            return self._outcome(T.EXTENSION_APPLICATION, "extension application recorded; waiting for the decision")

    @extension_application.validator
    def _validate_extension_application(self, event: ExtensionApplicationEvent) -> None:
        self._validate(T.EXTENSION_APPLICATION, event)

    @workflow.update(name="extension-decision")
    async def extension_decision(self, event: ExtensionDecisionEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.EXTENSION_DECISION, event)
            state = self._state
            now = workflow.now()
            sequence = state.pending.sequence if state.pending else state.extension_applications
            if not event.granted:
                target = move(state.status, T.EXTENSION_DECISION, after_refusal(state, local_date(now)))
                await self._letter(
                    LetterKind.EXTENSION_DECISION,
                    f"extension-decision-{sequence}",
                    {"outcome": "refused", "grounds": event.grounds, "valid_until": state.valid_until.isoformat()},
                )
                await self._record_status(target)
                state.pending = None
                state.status = target
                state.note(now, T.EXTENSION_DECISION, f"extension refused; permit {target.value}")
                self._changed()
                return self._outcome(T.EXTENSION_DECISION, f"extension refused; the permit is {target.value}")

            target = move(state.status, T.EXTENSION_DECISION, S.ACTIVE)
            term = state.term + 1
            valid_from, valid_until = new_term(state.valid_until, self._settings.term_years)
            purpose = f"extension-{term}"
            issued = await self._issue(purpose, PermitType.TEMPORARY, valid_from, valid_until)
            card = self._new_card(issued, purpose)
            await self._letter(
                LetterKind.EXTENSION_DECISION,
                f"extension-decision-{sequence}",
                {
                    "outcome": "granted",
                    "grounds": event.grounds,
                    "valid_from": valid_from.isoformat(),
                    "valid_until": valid_until.isoformat(),
                },
            )
            await self._book_desk(card)
            await self._record_status(target, valid_until=valid_until)
            for old in state.cards:
                if old.status in (CardStatus.CURRENT, CardStatus.AWAITING_COLLECTION):
                    old.status = CardStatus.SUPERSEDED
                    old.booking_retry_at = None
            state.cards.append(card)
            state.document_number = card.document_number
            state.valid_from, state.valid_until = valid_from, valid_until
            state.term = term
            state.pending = None
            state.status = target
            reschedule(state, self._settings)
            state.note(now, "renewed", f"extension granted: term {term}, valid {valid_from} to {valid_until}")
            self._renewed = True  # continue-as-new once this handler has finished
            self._changed()
            return self._outcome(T.EXTENSION_DECISION, f"extension granted until {valid_until}; a new card waits at the desk")

    @extension_decision.validator
    def _validate_extension_decision(self, event: ExtensionDecisionEvent) -> None:
        self._validate(T.EXTENSION_DECISION, event)

    @workflow.update(name="permanent-application")
    async def permanent_application(self, event: PermanentApplicationEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.PERMANENT_APPLICATION, event)
            state = self._state
            target = move(state.status, T.PERMANENT_APPLICATION, S.PERMANENT_PENDING)
            await self._record_status(target)
            state.permanent_applications += 1
            state.pending = PendingApplication(
                kind=ApplicationKind.PERMANENT,
                sequence=state.permanent_applications,
                submitted_on=event.submitted_on,
                received_at=workflow.now(),
                civic_integration_met=event.civic_integration_met,
            )
            state.status = target
            state.note(workflow.now(), T.PERMANENT_APPLICATION, f"permanent permit applied for on {event.submitted_on}")
            self._changed()
            return self._outcome(T.PERMANENT_APPLICATION, "permanent permit application recorded; waiting for the decision")

    @permanent_application.validator
    def _validate_permanent_application(self, event: PermanentApplicationEvent) -> None:
        self._validate(T.PERMANENT_APPLICATION, event)

    @workflow.update(name="permanent-decision")
    async def permanent_decision(self, event: PermanentDecisionEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.PERMANENT_DECISION, event)
            state = self._state
            now = workflow.now()
            today = local_date(now)
            sequence = state.pending.sequence if state.pending else state.permanent_applications
            if not event.granted:
                target = move(state.status, T.PERMANENT_DECISION, after_refusal(state, today))
                await self._letter(
                    LetterKind.PERMANENT_DECISION,
                    f"permanent-decision-{sequence}",
                    {"outcome": "refused", "grounds": event.grounds, "valid_until": state.valid_until.isoformat()},
                )
                await self._record_status(target)
                state.pending = None
                state.status = target
                state.note(now, T.PERMANENT_DECISION, f"permanent permit refused; permit {target.value}")
                self._changed()
                return self._outcome(T.PERMANENT_DECISION, f"permanent permit refused; the permit is {target.value}")

            target = move(state.status, T.PERMANENT_DECISION, S.REPLACED_BY_PERMANENT)
            valid_until = add_months(today, 12 * self._settings.permanent_document_years)
            issued = await self._issue("permanent", PermitType.PERMANENT, today, valid_until)
            card = self._new_card(issued, "permanent")
            await self._letter(
                LetterKind.PERMANENT_DECISION,
                f"permanent-decision-{sequence}",
                {
                    "outcome": "granted",
                    "grounds": event.grounds,
                    "valid_from": today.isoformat(),
                    "card_valid_until": valid_until.isoformat(),
                },
            )
            await self._book_desk(card)
            await self._record_status(target, permit_type=PermitType.PERMANENT, valid_until=valid_until)
            for old in state.cards:
                if old.status in (CardStatus.CURRENT, CardStatus.AWAITING_COLLECTION):
                    old.status = CardStatus.SUPERSEDED
                    old.booking_retry_at = None
            state.cards.append(card)
            state.permit_type = PermitType.PERMANENT
            state.document_number = card.document_number
            state.valid_from, state.valid_until = today, valid_until
            state.pending = None
            state.status = target
            state.note(now, T.PERMANENT_DECISION, f"permanent permit granted; type IV card valid until {valid_until}")
            self._changed()
            return self._outcome(T.PERMANENT_DECISION, "permanent permit granted; the type IV card waits at the desk")

    @permanent_decision.validator
    def _validate_permanent_decision(self, event: PermanentDecisionEvent) -> None:
        self._validate(T.PERMANENT_DECISION, event)

    @workflow.update(name="replace-document")
    async def replace_document(self, event: ReplaceDocumentEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.REPLACE_DOCUMENT, event)
            state = self._state
            now = workflow.now()
            move(state.status, T.REPLACE_DOCUMENT, S.ACTIVE)
            old = self._card(state.document_number)
            reported = event.reason in (ReplacementReason.LOST, ReplacementReason.STOLEN)
            refusal = replacement_refusal(state.valid_until, local_date(now))
            if refusal is not None:
                state_sequence = state.replacement_refusals + 1
                if reported:  # a card reported lost or stolen is invalid even without a new one
                    await self._invalidate(old, event.reason.value, now)
                await self._letter(
                    LetterKind.REPLACEMENT_REFUSED,
                    f"replacement-refused-{state_sequence}",
                    {
                        "reason": "expiring",
                        "requested_for": event.reason.value,
                        "valid_until": state.valid_until.isoformat(),
                        "apply_from": extension_window_opens(state.valid_until).isoformat(),
                    },
                )
                if reported:
                    old.status, old.invalid_reason = CardStatus.INVALID, event.reason.value
                    old.booking_retry_at = None
                state.replacement_refusals = state_sequence
                state.note(now, T.REPLACE_DOCUMENT, "replacement refused: apply for extension instead")
                self._changed()
                return self._outcome(T.REPLACE_DOCUMENT, f"replacement refused: {refusal}", refused=True)

            sequence = state.replacements + 1
            purpose = f"replacement-{sequence}"
            await self._invalidate(old, event.reason.value, now)
            issued = await self._issue(purpose, state.permit_type, local_date(now), state.valid_until)
            card = self._new_card(issued, purpose)
            await self._letter(
                LetterKind.REPLACEMENT,
                f"replacement-{sequence}",
                {
                    "reason": event.reason.value,
                    "document_number": card.document_number,
                    "old_document_number": old.document_number,
                    "valid_until": state.valid_until.isoformat(),
                },
            )
            await self._book_desk(card)
            old.status, old.invalid_reason = CardStatus.INVALID, event.reason.value
            old.booking_retry_at = None
            state.cards.append(card)
            state.document_number = card.document_number
            state.replacements = sequence
            state.note(now, T.REPLACE_DOCUMENT, f"card replaced ({event.reason.value}); the old number is invalid")
            self._changed()
            return self._outcome(T.REPLACE_DOCUMENT, "old number invalid; a new card waits at the desk")

    @replace_document.validator
    def _validate_replace_document(self, event: ReplaceDocumentEvent) -> None:
        self._validate(T.REPLACE_DOCUMENT, event)

    @workflow.update(name="report-change")
    async def report_change(self, event: ReportChangeEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.REPORT_CHANGE, event)
            state = self._state
            now = workflow.now()
            today = local_date(now)
            move(state.status, T.REPORT_CHANGE, state.status)
            outcome = violation_outcome(state, event, self._settings.late_report_weeks)
            if outcome is ViolationOutcome.NONE:
                state.note(now, T.REPORT_CHANGE, "change reported in time")
                self._changed()
                return self._outcome(T.REPORT_CHANGE, "change reported in time")
            sequence = state.violations + 1
            if outcome is ViolationOutcome.WARNING:
                warning = new_warning(state, event, today)
                await self._activity(
                    PermitActivities.record_violation,
                    RecordViolation(
                        application_id=state.application_id,
                        sequence=sequence,
                        outcome=outcome,
                        change_kind=event.kind,
                        occurred_on=event.occurred_on,
                        reported_on=event.reported_on,
                        decided_on=today,
                        warning_valid_until=warning.valid_until,
                    ),
                )
                await self._letter(
                    LetterKind.WARNING,
                    f"warning-{warning.sequence}",
                    {
                        "violation": event.kind,
                        "occurred_on": event.occurred_on.isoformat(),
                        "reported_on": event.reported_on.isoformat(),
                        "valid_until": warning.valid_until.isoformat(),
                    },
                )
                state.warnings.append(warning)
                state.violations = sequence
                state.note(now, T.REPORT_CHANGE, f"change reported late: warning, valid until {warning.valid_until}")
                self._changed()
                return self._outcome(T.REPORT_CHANGE, f"reported late: a warning, valid until {warning.valid_until}")

            fine = new_fine(state, event, today)
            await self._activity(
                PermitActivities.record_violation,
                RecordViolation(
                    application_id=state.application_id,
                    sequence=sequence,
                    outcome=outcome,
                    change_kind=event.kind,
                    occurred_on=event.occurred_on,
                    reported_on=event.reported_on,
                    decided_on=today,
                    fine_maximum_eur=fine.maximum_eur,
                ),
            )
            # No letter yet: the fine letter (templates/fine.txt.j2) imposes a fine, and an
            # officer decides whether and how much with the fine-decision event.
            state.fines.append(fine)
            state.violations = sequence
            state.note(now, T.REPORT_CHANGE, "change reported late again within 2 years: fine proposed")
            self._changed()
            return self._outcome(
                T.REPORT_CHANGE, f"reported late again within 2 years: a fine of at most EUR {fine.maximum_eur:.2f} is proposed"
            )

    @report_change.validator
    def _validate_report_change(self, event: ReportChangeEvent) -> None:
        self._validate(T.REPORT_CHANGE, event)

    @workflow.update(name="fine-decision")
    async def fine_decision(self, event: FineDecisionEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.FINE_DECISION, event)
            state = self._state
            now = workflow.now()
            today = local_date(now)
            move(state.status, T.FINE_DECISION, state.status)
            fine = state.open_fine()
            assert fine is not None  # checked by check_event
            amount = event.amount_eur if event.imposed else Decimal(0)
            await self._activity(
                PermitActivities.record_fine_decision,
                RecordFineDecision(
                    application_id=state.application_id,
                    violation_sequence=fine.violation,
                    imposed=event.imposed,
                    amount_eur=event.amount_eur,
                    decided_on=today,
                ),
            )
            if event.imposed:
                await self._letter(
                    LetterKind.FINE,
                    f"fine-{fine.sequence}",
                    {
                        "amount": f"{amount:.2f}",
                        "violation": fine.change_kind,
                        "reduced": "true" if fine.less_serious else "false",
                    },
                )
            fine.status = FineStatus.IMPOSED if event.imposed else FineStatus.NOT_IMPOSED
            fine.amount_eur = event.amount_eur if event.imposed else None
            fine.decided_on = today
            state.note(now, T.FINE_DECISION, "fine imposed" if event.imposed else "fine not imposed")
            self._changed()
            return self._outcome(T.FINE_DECISION, f"fine imposed: EUR {amount:.2f}" if event.imposed else "fine not imposed")

    @fine_decision.validator
    def _validate_fine_decision(self, event: FineDecisionEvent) -> None:
        self._validate(T.FINE_DECISION, event)

    @workflow.update(name="withdraw-permit")
    async def withdraw_permit(self, event: WithdrawPermitEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.WITHDRAW_PERMIT, event)
            state = self._state
            now = workflow.now()
            target = move(state.status, T.WITHDRAW_PERMIT, S.WITHDRAWN)
            live = [c for c in state.cards if c.status in (CardStatus.CURRENT, CardStatus.AWAITING_COLLECTION)]
            for card in live:
                await self._invalidate(card, "withdrawn", now)
            await self._letter(
                LetterKind.PERMIT_WITHDRAWN,
                "withdrawn",
                {
                    "reason": event.ground.value,
                    "grounds": event.explanation,
                    "effective_from": local_date(now).isoformat(),
                    "document_number": state.document_number,
                },
            )
            await self._record_status(target, withdrawal_ground=event.ground)
            for card in live:
                card.status, card.invalid_reason = CardStatus.INVALID, "withdrawn"
                card.booking_retry_at = None
            state.withdrawal = Withdrawal(ground=event.ground, withdrawn_on=local_date(now))
            state.pending = None
            state.status = target
            state.note(now, T.WITHDRAW_PERMIT, "permit withdrawn")
            self._changed()
            return self._outcome(T.WITHDRAW_PERMIT, "permit withdrawn; the holder has been informed")

    @withdraw_permit.validator
    def _validate_withdraw_permit(self, event: WithdrawPermitEvent) -> None:
        self._validate(T.WITHDRAW_PERMIT, event)

    @workflow.update(name="document-collected")
    async def document_collected(self, event: DocumentCollectedEvent) -> EventOutcome:
        async with self._lock:
            self._recheck(T.DOCUMENT_COLLECTED, event)
            state = self._state
            move(state.status, T.DOCUMENT_COLLECTED, state.status)
            card = state.card_awaiting_collection()
            assert card is not None  # checked by check_event
            await self._activity(
                PermitActivities.record_card_collected,
                RecordCardCollected(
                    application_id=state.application_id,
                    document_number=card.document_number,
                    collected_on=event.collected_on,
                ),
            )
            card.status = CardStatus.CURRENT
            card.collected_on = event.collected_on
            card.booking_retry_at = None
            state.note(workflow.now(), T.DOCUMENT_COLLECTED, f"type {card.permit_type.value} card collected")
            self._changed()
            return self._outcome(T.DOCUMENT_COLLECTED, "card collected")

    @document_collected.validator
    def _validate_document_collected(self, event: DocumentCollectedEvent) -> None:
        self._validate(T.DOCUMENT_COLLECTED, event)

    # --- checks ----------------------------------------------------------------------------

    def _validate(self, trigger: PermitTrigger, event: Model) -> None:
        """Validator: reject with a sentence the caller can show; the state is untouched."""
        if not allowed(self._state.status, trigger):  # names only: readable in the Web UI
            raise ApplicationError(rejection(self._state.status, trigger), type=REFUSAL_TYPE, non_retryable=True)
        check_event(self._state, trigger, event, local_date(workflow.now()))

    def _recheck(self, trigger: PermitTrigger, event: Model) -> None:
        """The same check inside the handler, in case another update got there first."""
        try:
            check_event(self._state, trigger, event, local_date(workflow.now()))
        except PermitRuleError as err:
            raise ApplicationError(str(err), type=EVENT_REJECTED, non_retryable=True) from err

    # --- effects ---------------------------------------------------------------------------

    async def _activity(self, method: Callable[[PermitActivities, ArgT], ResultT], arg: ArgT) -> ResultT:
        return await workflow.execute_activity_method(
            method,
            arg,
            start_to_close_timeout=REGISTRY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary=method.__name__.replace("_", " "),  # what the Web UI shows on the activity
        )

    async def _record_status(
        self,
        status: PermitStatus,
        *,
        permit_type: PermitType | None = None,
        valid_until: date | None = None,
        withdrawal_ground: WithdrawalGround | None = None,
    ) -> None:
        state = self._state
        sequence = state.status_changes + 1
        await self._activity(
            PermitActivities.record_permit_status,
            RecordPermitStatus(
                application_id=state.application_id,
                key=f"{status.value}-{sequence}",
                status=status,
                permit_type=permit_type or state.permit_type,
                valid_until=valid_until or state.valid_until,
                changed_at=workflow.now(),
                withdrawal_ground=withdrawal_ground,
            ),
        )
        state.status_changes = sequence

    async def _invalidate(self, card: Card, reason: str, now: datetime) -> None:
        await self._activity(
            PermitActivities.invalidate_document,
            InvalidateDocument(
                application_id=self._state.application_id,
                document_number=card.document_number,
                reason=reason,
                invalidated_at=now,
            ),
        )

    async def _issue(self, purpose: str, permit_type: PermitType, valid_from: date, valid_until: date) -> PermitIssued:
        issued: PermitIssued = await workflow.execute_activity(
            ISSUE_PERMIT,
            IssuePermit(
                application_id=self._state.application_id,
                purpose=purpose,
                permit_type=permit_type.value,
                valid_from=valid_from,
                valid_until=valid_until,
            ),
            result_type=PermitIssued,
            start_to_close_timeout=REGISTRY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary=f"issue card ({purpose})",
        )
        return issued

    def _new_card(self, issued: PermitIssued, purpose: str) -> Card:
        return Card(
            document_number=issued.document_number,
            permit_type=PermitType(issued.permit_type),
            purpose=purpose,
            valid_from=issued.valid_from,
            valid_until=issued.valid_until,
            issued_on=local_date(workflow.now()),
            status=CardStatus.AWAITING_COLLECTION,
        )

    async def _book_desk(self, card: Card) -> None:
        """Book the desk appointment for a new card and invite the holder; with no slot free,
        try again after the retry interval (an instant in the state, like every timer)."""
        now = workflow.now()
        booking = await workflow.execute_activity(
            BOOK_SLOT,
            BookSlot(
                application_id=self._state.application_id,
                kind=SlotKind.DESK,
                purpose=f"desk-{card.purpose}",
                not_before=now + timedelta(days=self._settings.desk_notice_days),
            ),
            result_type=SlotBooking,
            start_to_close_timeout=REGISTRY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary="book desk appointment",
        )
        if not booking.booked or booking.starts_at is None:
            card.booking_retry_at = now + timedelta(hours=self._settings.desk_booking_retry_hours)
            return
        await self._letter(
            LetterKind.CARD_INVITATION,
            f"card-invitation-{card.purpose}",
            {
                "permit_type": card.permit_type.value,
                "desk_at": booking.starts_at.isoformat(),
                "desk_location": booking.location or "",
                "document_number": card.document_number,
                "valid_until": card.valid_until.isoformat(),
            },
        )
        card.appointment_at = booking.starts_at
        card.appointment_location = booking.location
        card.booking_retry_at = None

    async def _letter(self, kind: LetterKind, key: str, facts: dict[str, str], items: list[str] | None = None) -> None:
        """Every permit letter goes through the registry's outbox, keyed so it is written once."""
        await workflow.execute_activity(
            SEND_LETTER,
            SendLetter(
                application_id=self._state.application_id,
                key=f"permit-{key}",
                kind=kind,
                recipients=[Recipient.APPLICANT],
                facts={"letter_date": local_date(workflow.now()).isoformat(), **facts},
                items=items or [],
            ),
            result_type=LettersSent,
            start_to_close_timeout=LETTER_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary=f"letter: {kind.value.replace('_', ' ')}",
        )

    async def _send_extension_reminder(self, months_before: int, due_at: datetime) -> None:
        state = self._state
        await self._letter(
            LetterKind.EXTENSION_REMINDER,
            f"extension-reminder-{local_date(due_at).isoformat()}",
            {
                "months_before": str(months_before),
                "valid_until": state.valid_until.isoformat(),
                "apply_from": extension_window_opens(state.valid_until).isoformat(),
                "document_number": state.document_number,
            },
        )

    async def _send_permanent_eligible(self) -> None:
        """The conditions are in the letter's template (``permanent_eligible.txt.j2``)."""
        state = self._state
        eligible_from = local_date(state.five_years_at)
        await self._letter(
            LetterKind.PERMANENT_ELIGIBLE,
            "permanent-eligible",
            {
                "eligible_from": eligible_from.isoformat(),
                "apply_from": min(eligible_from, extension_window_opens(state.valid_until)).isoformat(),
                "valid_until": state.valid_until.isoformat(),
            },
        )

    # --- bookkeeping -----------------------------------------------------------------------

    def _card(self, document_number: str) -> Card:
        return next(c for c in self._state.cards if c.document_number == document_number)

    def _outcome(self, trigger: PermitTrigger, message: str, *, refused: bool = False) -> EventOutcome:
        return EventOutcome(event=trigger.value, refused=refused, message=message, permit=view(self._state))

    def _changed_since(self, version: int) -> Callable[[], bool]:
        return lambda: self._version != version

    def _changed(self) -> None:
        """Wake the main loop and show the new state in search attributes and details."""
        self._version += 1
        self._publish()

    def _publish(self) -> None:
        state = self._state
        fine_proposed = state.open_fine() is not None
        alert = alerts.permit_alert(
            expired=state.status is PermitStatus.EXPIRED,
            ended=state.status in (PermitStatus.WITHDRAWN, PermitStatus.REPLACED_BY_PERMANENT),
            valid_until=state.valid_until,
            window_opens=extension_window_opens(state.valid_until),
            today=local_date(workflow.now()),
        )
        published = (state.status.value, state.valid_until, fine_proposed, alert.value)
        if published != self._published:
            workflow.upsert_search_attributes(
                [
                    PERMIT_STATUS.value_set(state.status.value),
                    PERMIT_VALID_UNTIL.value_set(start_of_day(state.valid_until)),
                    FINE_PROPOSED.value_set(fine_proposed),
                    PERMIT_ALERT.value_set(alert.value),
                ]
            )
            self._published = published
        workflow.set_current_details(details_markdown(state))
