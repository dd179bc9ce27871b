"""The repeat asylum application as one durable workflow, from step 3 to step 7.

Why it is shaped this way:
- The state is one model, ``CaseState`` (``domain/case_state.py``), with the pure rules that
  change and show it; every move goes through the one transition table (``domain/steps.py``).
  This module only orchestrates: it waits, calls activities and applies their results, and
  tells each activity which phase follows it (the registry notes it).
- Human decisions are updates, registered in ``__init__`` from the one event table
  (``APPLICATION_EVENTS``); the method that acts on an event is marked ``@on(Trigger.X)``,
  a check beyond the table ``@on.check(Trigger.X)`` (README, "Adding an event").
- The ``EventDesk`` (``workflows/common.py``) accepts one event at a time and answers each:
  the caller gets the case as it stands after the event; a second one is refused.
- The main loop waits in each phase for an event or the phase's timer (``PHASE_DEADLINES``,
  the slot retry).  Once a deadline has fired, the events it ends are refused with the
  instant it ended (issue 8, defect 1); the workflow never ends with an update waiting.
- Deadlines are absolute instants in the state; a task of its own warns operators when the
  statutory decision deadline approaches and when it passes.
- At step 7 the permit starts its own workflow as an abandoned child (``_start_permit_life``).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.documents import DocumentActivities
    from activities.letters import LetterActivities
    from activities.registry import RegistryActivities
    from domain import case_requests as requests
    from domain import models
    from domain import search_attributes as sa
    from domain.case import ApplicationInput, CaseOptions, CaseStatus
    from domain.case_state import PHASE_DEADLINES, CaseState, DeadlineKind, NotProcessed, local
    from domain.messages import (
        BookSlot,
        CloseCase,
        LetterKind,
        LettersSent,
        Recipient,
        RegisterCase,
        SendLetter,
        SlotKind,
    )
    from domain.policy import PolicyVersion, policy_for
    from domain.refusal import BUSY_TYPE, REFUSAL_TYPE
    from domain.requirements import findings
    from domain.steps import APPLICATION_EVENTS, WORKING_PHASES, Outcome, Phase, Trigger, allowed, rejection
    from workflows.application_permit import issue_permit
    from workflows.application_watch import DeadlineWatch
    from workflows.common import EventDesk, EventHandlers, Timer, call, register_updates, upsert_changed
    from workflows.names import APPLICATION_WORKFLOW

__all__ = ["ApplicationInput", "ApplicationWorkflow", "CaseOptions"]

BOTH = [Recipient.APPLICANT, Recipient.LAWYER]
D = DeadlineKind

on: EventHandlers[Trigger, ApplicationWorkflow] = EventHandlers()


@workflow.defn(name=APPLICATION_WORKFLOW)
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        # The unconfirmed legal values come with the case (decision 0004): it keeps them for life.
        self._policy: PolicyVersion = policy_for(inp.application.received_at, inp.options.legal)
        self._state = CaseState.open(inp.application, inp.options, self._policy, findings(inp.application))
        self._desk: EventDesk[Trigger] = EventDesk(local)
        self._published: dict[str, Any] = {}  # search attribute values last upserted
        self._details = ""
        self._watch = DeadlineWatch(self._state, self._publish)
        register_updates(APPLICATION_EVENTS, CaseStatus)

    @property
    def _app_id(self) -> str:
        return self._state.application.application_id

    # --- run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ApplicationInput) -> CaseStatus:
        state = self._state
        self._publish()
        await call(
            RegistryActivities.register_case,
            RegisterCase(
                application=state.application,
                policy_version=self._policy.id,
                decide_by=state.due(D.DECIDE_BY),
                phase=Phase.CHECKING_DOCUMENTS,
            ),
        )
        await self._letter("acknowledgement", LetterKind.ACKNOWLEDGEMENT, **state.acknowledgement_facts())
        self._move(Trigger.REGISTERED, Phase.CHECKING_DOCUMENTS)
        watcher = asyncio.create_task(self._watch.decision_deadline())
        period_watcher = asyncio.create_task(self._watch.period_alerts())
        while not state.closed:
            await self._step()
        watcher.cancel()
        period_watcher.cancel()
        self._desk.answer_parked(f"The event was not applied: the case closed ({state.outcome}) before it could act on it.")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state.status()

    async def _step(self) -> None:
        """One turn of the main loop: act on a parked event, or wait in the phase."""
        pending = self._desk.pending
        if pending is not None and pending[0] is Trigger.WITHDRAW:
            # a withdrawal can be accepted while the workflow works (checking, booking)
            await self._act(*pending)
            return
        if self._state.phase is Phase.CHECKING_DOCUMENTS:
            await self._check_documents()
            return
        timer = self._timer()
        event = await self._desk.next(timer)
        if event is not None:
            await self._act(*event)
            return
        assert timer is not None
        await timer.fire()

    def _timer(self) -> Timer[Trigger] | None:
        """The current phase's timer, if it has one (PHASE_DEADLINES, or the slot retry)."""
        state = self._state
        if state.phase is Phase.AWAITING_INTERVIEW_SLOT:
            assert state.slot_retry_at is not None
            return Timer(state.slot_retry_at, "try the interview booking again", self._book_interview)
        deadline = PHASE_DEADLINES.get(state.phase)
        if deadline is None:
            return None
        fire = on.handlers[deadline.fires]
        return Timer(
            state.due(deadline.kind),
            deadline.summary,
            lambda: fire(self, None),
            ends=deadline.ends,
            after=deadline.after,
            refuses=deadline.refuses,
        )

    async def _act(self, trigger: Trigger, body: models.Model) -> None:
        await on.handlers[trigger](self, body)
        self._desk.finish()
        self._publish()

    # --- the workflow's own steps ----------------------------------------------------------

    async def _check_documents(self) -> None:
        state = self._state
        state.check_round += 1
        result = await call(DocumentActivities.check_documents, requests.check_documents(state))
        state.missing = list(result.missing)
        if result.complete:
            state.drop_deadlines(D.REPAIR_BY)
            self._move(Trigger.DOCUMENTS_COMPLETE, Phase.AWAITING_INTERVIEW_DECISION)
            return
        items = [m.message_nl or m.message for m in state.missing]
        key = f"documents-missing-{state.check_round}"
        if D.REPAIR_BY in state.deadlines:
            # a later round: the period already runs and the letter repeats its end
            await self._letter(key, LetterKind.DOCUMENTS_MISSING, items, repair_by=local(state.due(D.REPAIR_BY)))
        else:
            # The repair period starts when the applicant is told (issue 9 point 15): the letter
            # activity records the hand-over and writes the end it computes from it; the same
            # pure computation here, from the returned instant, gives the same end.
            sent = await self._send(requests.documents_missing_first(state, self._policy, key, items))
            period = self._policy.repair_period(state.application.applicant.earlier_repeat_applications)
            state.set_deadline(D.REPAIR_BY, period, max(sent.handed_over_at or workflow.now(), workflow.now()))
        self._move(Trigger.DOCUMENTS_INCOMPLETE, Phase.AWAITING_DOCUMENTS)

    @on(Trigger.REPAIR_PERIOD_ENDED)
    async def _repair_period_ended(self, _: None) -> None:
        """Not repaired in time: buiten behandeling (Vw 2000 art. 30c), a decision with an appeal window."""
        state = self._state
        repair_by = state.deadlines.pop(D.REPAIR_BY)
        request = state.not_processed(
            self._policy,
            workflow.now(),
            NotProcessed(
                grounds="De aanvraag is niet binnen de hersteltermijn aangevuld.",
                decided_by="system:repair-period",
                letter_facts={"reason": "repair", "repair_by": repair_by.due.isoformat()},
                letter_items=tuple(m.message_nl or m.message for m in state.missing),
            ),
        )
        await call(RegistryActivities.record_decision, request)
        self._move(Trigger.REPAIR_PERIOD_ENDED, Phase.APPEAL_WINDOW)

    @on(Trigger.RESPONSE_PERIOD_ENDED)
    async def _response_period_ended(self, _: None) -> None:
        self._to_final_decision(Trigger.RESPONSE_PERIOD_ENDED)

    def _to_final_decision(self, trigger: Trigger) -> None:
        """The lawyer responded to the intended decision, or the response period ended unused."""
        self._state.drop_deadlines(D.RESPOND_BY)
        self._move(trigger, Phase.AWAITING_FINAL_DECISION)

    @on(Trigger.APPEAL_WINDOW_ENDED)
    async def _appeal_window_ended(self, _: None) -> None:
        appeal_by = self._state.deadlines.pop(D.APPEAL_BY, None)
        assert self._state.outcome is not None
        await self._hand_over_return("appeal_window_ended", appeal_by.due.isoformat() if appeal_by else "")
        await self._close(Trigger.APPEAL_WINDOW_ENDED, self._state.outcome)

    async def _hand_over_return(self, ground: str, appeal_by: str = "") -> None:
        letter = requests.return_handover(self._state, self._policy, ground, appeal_by)
        if letter is not None:
            await self._send(letter)

    async def _book_interview(self) -> None:
        state = self._state
        state.interview_round += 1
        rebooked = state.interview.rebooked
        booking = await call(
            RegistryActivities.book_slot,
            BookSlot(
                application_id=self._app_id,
                kind=SlotKind.INTERVIEW,
                purpose="interview" if rebooked == 0 else f"interview-{rebooked + 1}",
                not_before=workflow.now() + state.options.interview_notice,
                language=state.application.applicant.language,
                phase_if_booked=Phase.INTERVIEW_BOOKED,
            ),
        )
        if not booking.booked or booking.starts_at is None:
            state.booking_failed()
            workflow.logger.warning("no interview slot free", extra={"application_id": self._app_id})
            state.slot_retry_at = workflow.now() + state.options.slot_retry_interval
            self._move(Trigger.NO_SLOT_FREE, Phase.AWAITING_INTERVIEW_SLOT)
            return
        await self._interview_booked(Trigger.SLOT_BOOKED, booking.starts_at, booking.location or "", by_hand=False)

    async def _interview_booked(self, trigger: Trigger, starts_at: datetime, location: str, *, by_hand: bool) -> None:
        state = self._state
        state.interview_booked(starts_at, location, by_hand=by_hand)
        rebooked = state.interview.rebooked
        await self._letter(
            "interview-invitation" if rebooked == 0 else f"interview-invitation-{rebooked + 1}",
            LetterKind.INTERVIEW_INVITATION,
            interview_at=local(starts_at),
            location=location,
        )
        self._move(trigger, Phase.INTERVIEW_BOOKED)

    # --- events: one method per row of APPLICATION_EVENTS ----------------------------------

    @on(Trigger.DOCUMENTS)
    async def _on_documents(self, body: models.DocumentsEvent) -> None:
        self._state.merge_documents(body.documents)
        self._move(Trigger.DOCUMENTS, Phase.CHECKING_DOCUMENTS)
        await self._check_documents()

    @on.check(Trigger.DOCUMENTS)
    def _check_documents_event(self, body: models.DocumentsEvent) -> None:
        self._state.check_documents_event(body.documents)

    @on(Trigger.INTERVIEW_DECISION)
    async def _on_interview_decision(self, body: models.InterviewDecisionEvent) -> None:
        self._state.interview = self._state.interview.model_copy(update={"needed": body.needed})
        if body.needed:
            self._move(Trigger.INTERVIEW_DECISION, Phase.AWAITING_INTERVIEW_SLOT)
            await self._book_interview()
        else:
            self._move(Trigger.INTERVIEW_DECISION, Phase.AWAITING_DECISION)

    @on(Trigger.INTERVIEW_REPORT)
    async def _on_interview_report(self, body: models.InterviewReportEvent) -> None:
        self._state.interview = self._state.interview.model_copy(update={"held_on": body.held_on})
        if body.report_document is not None:
            self._state.merge_documents([body.report_document])
        self._move(Trigger.INTERVIEW_REPORT, Phase.AWAITING_DECISION)

    @on.check(Trigger.INTERVIEW_REPORT)
    def _check_interview_report(self, body: models.InterviewReportEvent) -> None:
        if body.report_document is not None and body.report_document.id in {d.id for d in self._state.documents}:
            raise ValueError(f"report_document: id {body.report_document.id!r} is already part of the case")
        self._state.check_interview_report(body, workflow.now())

    @on(Trigger.NO_SHOW)
    async def _on_no_show(self, body: models.NoShowEvent) -> None:
        """Issue 9 point 1 (Vw 2000 art. 30c; ECLI:NL:RBDHA:2025:19553, ECLI:NL:RBDHA:2025:17421).

        Excused: a new interview, up to the rebooking limit (beyond it the decision on the
        file, never buiten behandeling).  Not excused: the caseworker decides, on the file or
        `not_processed`.
        """
        if self._state.no_show(body):
            self._move(Trigger.NO_SHOW, Phase.AWAITING_INTERVIEW_SLOT)
            await self._book_interview()
            return
        self._move(Trigger.NO_SHOW, Phase.AWAITING_DECISION)

    @on(Trigger.INTERVIEW_BOOKED)
    async def _on_interview_booked(self, body: models.InterviewBookedEvent) -> None:
        await self._interview_booked(Trigger.INTERVIEW_BOOKED, body.starts_at, body.location, by_hand=True)

    @on.check(Trigger.INTERVIEW_BOOKED)
    def _check_interview_booked(self, body: models.InterviewBookedEvent) -> None:
        self._state.check_interview_booked(body, workflow.now())

    @on(Trigger.EXTEND_DECISION_PERIOD)
    async def _on_extend_decision_period(self, body: models.ExtendDecisionPeriodEvent) -> None:
        """More time to decide (issue 9 point 3; Vw 2000 art. 42(4), Regulation 2024/1348 art. 35)."""
        state = self._state
        kind = DeadlineKind(body.deadline)
        previous = state.due(kind)
        total = state.extend_decision_period(self._policy, kind, body.months)
        await self._letter(
            f"decision-period-extended-{kind.value.replace('_', '-')}-{total}",
            LetterKind.DECISION_PERIOD_EXTENDED,
            decide_by=state.due(kind).isoformat(),
            previous_due=previous.isoformat(),
            months=str(body.months),
            reason=body.reason,
            deadline=kind.value,
        )
        self._move(Trigger.EXTEND_DECISION_PERIOD, state.phase)

    @on.check(Trigger.EXTEND_DECISION_PERIOD)
    def _check_extend_decision_period(self, body: models.ExtendDecisionPeriodEvent) -> None:
        self._state.check_extension(self._policy, body, workflow.now())

    @on(Trigger.DECISION)
    async def _on_decision(self, body: models.DecisionEvent) -> None:
        state = self._state
        if body.outcome is models.DecisionOutcome.NOT_PROCESSED:
            # buiten behandeling after an unexcused no-show (art. 30c Vw), with an appeal window
            interview_at = state.interview.starts_at
            facts = {"reason": "no_show", **({"interview_at": interview_at.isoformat()} if interview_at else {})}
            request = state.not_processed(self._policy, workflow.now(), NotProcessed(body.grounds, body.decided_by, facts))
            await call(RegistryActivities.record_decision, request)
            self._move(Trigger.DECISION, Phase.APPEAL_WINDOW)
            return
        outcome = Outcome(body.outcome.value)
        final, then = self._state.take_decision(outcome, self._policy, workflow.now())
        await self._record_decision(body, final=final, then=then)
        if final:
            self._state.outcome = outcome
        if then is Phase.AWAITING_COLLECTION:
            await self._issue_permit(body.effective_from)
        self._move(Trigger.DECISION, then)

    @on.check(Trigger.DECISION)
    def _check_decision(self, body: models.DecisionEvent) -> None:
        self._state.check_decision(body)

    @on.check(Trigger.RESPONSE)
    def _check_response(self, body: models.ResponseEvent) -> None:
        self._state.check_response(body, workflow.now())

    @on.check(Trigger.APPEAL)
    def _check_appeal(self, body: models.AppealEvent) -> None:
        self._state.check_appeal(body, workflow.now())

    @on(Trigger.RESPONSE)
    async def _on_response(self, body: models.ResponseEvent) -> None:
        self._to_final_decision(Trigger.RESPONSE)

    @on(Trigger.APPEAL)
    async def _on_appeal(self, body: models.AppealEvent) -> None:
        self._state.drop_deadlines(D.APPEAL_BY)
        self._state.appeal_lodged = True
        self._move(Trigger.APPEAL, Phase.APPEAL_LODGED)

    @on(Trigger.JUDGMENT)
    async def _on_judgment(self, body: models.JudgmentEvent) -> None:
        state = self._state
        if body.result is models.JudgmentResult.ANNULLED:
            state.reopen(self._policy, workflow.now())
            self._move(Trigger.JUDGMENT, Phase.AWAITING_DECISION)
            return
        assert state.outcome is not None
        await self._hand_over_return("appeal_rejected")
        await self._close(Trigger.JUDGMENT, state.outcome)

    @on(Trigger.WITHDRAW)
    async def _on_withdraw(self, body: models.WithdrawEvent) -> None:
        self._state.drop_deadlines(D.REPAIR_BY, D.RESPOND_BY, D.ADMISSIBILITY_BY, D.DECIDE_BY)
        await self._letter("withdrawal", LetterKind.WITHDRAWAL)
        await self._close(Trigger.WITHDRAW, Outcome.WITHDRAWN)

    @on(Trigger.PERMIT_COLLECTED)
    async def _on_permit_collected(self, body: models.PermitCollectedEvent) -> None:
        assert self._state.permit is not None
        self._state.permit = self._state.permit.model_copy(update={"collected": True, "collected_on": body.collected_on})
        await self._close(Trigger.PERMIT_COLLECTED, Outcome.GRANTED)

    @on.check(Trigger.PERMIT_COLLECTED)
    def _check_permit_collected(self, body: models.PermitCollectedEvent) -> None:
        self._state.check_permit_collected(body)
        self._state.check_not_after_today("collected_on", body.collected_on, workflow.now())

    # --- step 6 and 7 work -----------------------------------------------------------------

    async def _record_decision(self, body: models.DecisionEvent, *, final: bool, then: Phase) -> None:
        request = self._state.record_decision(body, final=final, then=then, now=workflow.now())
        await call(RegistryActivities.record_decision, request)

    async def _issue_permit(self, effective_from: date | None) -> None:
        await issue_permit(self._state, self._policy, effective_from, self._letter)

    # --- updates ---------------------------------------------------------------------------

    def validate_event(self, trigger: Trigger, body: models.Model) -> None:
        """Refuse, with the reason, an event the case cannot act on now; the case is unchanged."""
        refusal = self._desk.refusal(trigger)
        if refusal is not None:
            busy = self._desk.pending is not None
            raise ApplicationError(refusal, type=BUSY_TYPE if busy else REFUSAL_TYPE, non_retryable=True)  # readable in the UI
        if not allowed(self._state.phase, trigger):
            # In a working phase the case moves on by itself (an activity result may even be in
            # this very workflow task, applied after the validators run): a refusal for now only.
            busy = self._state.phase in WORKING_PHASES
            raise ApplicationError(
                rejection(self._state.phase, trigger), type=BUSY_TYPE if busy else REFUSAL_TYPE, non_retryable=True
            )
        check = on.checks.get(trigger)
        if check is not None:
            check(self, body)

    async def accept_event(self, trigger: Trigger, body: models.Model) -> CaseStatus:
        accepted = self._desk.accept(trigger, body)
        self._publish()
        await accepted
        return self._state.status()

    @workflow.query(name="status")
    def status(self) -> CaseStatus:
        return self._state.status()

    # --- helpers ---------------------------------------------------------------------------

    def _move(self, trigger: Trigger, target: Phase) -> None:
        self._state.move(trigger, target)
        self._desk.moved()
        self._publish()

    async def _close(self, trigger: Trigger, outcome: Outcome) -> None:
        self._state.outcome = outcome
        self._state.drop_deadlines(*DeadlineKind)
        await call(
            RegistryActivities.close_case,
            CloseCase(application_id=self._app_id, outcome=outcome.value, closed_at=workflow.now()),
        )
        self._move(trigger, Phase.CLOSED)

    async def _letter(self, key: str, kind: LetterKind, items: list[str] | None = None, /, **facts: str) -> LettersSent:
        """A letter to the applicant and the lawyer, written once per key."""
        return await self._send(
            SendLetter(
                application_id=self._app_id,
                key=key,
                kind=kind,
                recipients=BOTH,
                # Every letter cites the articles of the case's own policy version.
                facts={"policy_version": self._policy.id, **facts},
                items=items or [],
            )
        )

    async def _send(self, letter: SendLetter) -> LettersSent:
        return await call(LetterActivities.send_letter, letter, summary=f"letter: {letter.kind.value.replace('_', ' ')}")

    def _publish(self) -> None:
        """Search attributes and current details: what operators see, without personal data.

        Only attributes whose value changed are upserted, so a workflow task that moves the
        phase twice sends one upsert command, and a task that changes nothing sends none.
        """
        wanted = {**self._state.search_attributes(), **self._watch.alerts()}
        self._published = upsert_changed(sa.APPLICATION, wanted, self._published)
        details = self._state.details()
        if details != self._details:
            workflow.set_current_details(details)
            self._details = details
