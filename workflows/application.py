"""The repeat asylum application as one durable workflow, from step 3 to step 7.

Why it is shaped this way:
- The state is a ``Phase`` (``domain.steps``) and every move goes through ``move()``, which
  checks the one transition table; update validators check the same table, so an event the
  case cannot take is refused before it reaches history and the case is unchanged.
- Human decisions are updates, registered in ``__init__`` from the one event table
  (``domain.steps.APPLICATION_EVENTS``): one handler and one validator per row, under the
  event's name.  The method that acts on an event is marked ``@on(Trigger.X)``; a check
  beyond the table is marked ``@on.check(Trigger.X)``.
- A validator accepts at most one event at a time; the handler parks it in ``_pending`` and
  waits until the main loop has acted on it, so the caller gets the case as it stands after
  the event (and a second identical event is refused rather than applied twice).
- The main loop runs one phase at a time: it waits for an accepted event or for the phase's
  timer (``_timer``: the repair period, a slot retry, the response period, the appeal
  window).  Once a deadline has fired, the events it ends are refused with the instant it
  ended (issue 8, defect 1), so no event is accepted that the case will not act on; an event
  still parked when the case closes is answered with an error.  The workflow never ends with
  an update waiting.
- Deadlines are absolute instants in state (``_deadlines``), waited on with
  ``wait_condition(timeout=due - now)``; an annulment or a new check can move them.
- The statutory decision deadline is watched by a small task of its own that warns
  operators when it approaches and when it passes, whatever the main loop waits for.
- All I/O is in activities, called by method reference through ``workflows.common.call``;
  this module does pure computation only, so replays are deterministic and cheap.
- At step 7 the permit starts its own workflow as a child with ``ParentClosePolicy.ABANDON``:
  see ``_start_permit_life`` for why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.documents import DocumentActivities
    from activities.letters import LetterActivities
    from activities.registry import RegistryActivities
    from domain import deadlines as dl
    from domain import search_attributes as sa
    from domain.case import (
        ApplicationInput,
        CaseOptions,
        CaseStatus,
        DeadlineView,
        DecisionView,
        InterviewView,
        PermitView,
        details_markdown,
    )
    from domain.identifiers import application_workflow_id, permit_workflow_id
    from domain.machine import Event
    from domain.messages import (
        BookSlot,
        CheckDocuments,
        CloseCase,
        IssuePermit,
        LetterKind,
        MissingItem,
        PermitInput,
        PermitIssued,
        Recipient,
        RecordDecision,
        RegisterCase,
        SendLetter,
        SlotKind,
    )
    from domain.models import (
        AppealEvent,
        Application,
        DecisionEvent,
        Document,
        DocumentsEvent,
        InterviewDecisionEvent,
        InterviewReportEvent,
        JudgmentEvent,
        JudgmentResult,
        Model,
        NoShowEvent,
        PermitCollectedEvent,
        ResponseEvent,
        WithdrawEvent,
        check_document_references,
    )
    from domain.permit.schedule import first_term
    from domain.permit.state import PermitWorkflowInput
    from domain.policy import PolicyVersion, policy_for
    from domain.requirements import findings
    from domain.steps import (
        APPLICATION_EVENTS,
        NEGATIVE_OUTCOMES,
        PHASE_STEP,
        Outcome,
        Phase,
        Step,
        Trigger,
        allowed,
        move,
        rejection,
    )
    from workflows.common import EventHandlers, call
    from workflows.names import APPLICATION_WORKFLOW, PERMIT_WORKFLOW

__all__ = ["ApplicationInput", "ApplicationWorkflow", "CaseOptions"]

# An update accepted but not acted on (the case closed first) fails with this type.
EVENT_NOT_APPLIED = "EventNotApplied"


@dataclass(frozen=True)
class Timer:
    """What a phase waits for besides an event, and what happens when it fires.

    ``ends`` names the period in the refusal of the events in ``refuses`` once it has fired
    ("the appeal window ended at ..."); ``after`` says what the case does instead.
    """

    due: datetime
    summary: str
    fire: Callable[[], Awaitable[None]]
    ends: str = ""
    after: str = ""
    refuses: frozenset[Trigger] = frozenset()


on: EventHandlers[Trigger, ApplicationWorkflow] = EventHandlers()


@workflow.defn(name=APPLICATION_WORKFLOW)
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        app = inp.application
        self._app: Application = app
        self._options: CaseOptions = inp.options
        self._policy: PolicyVersion = policy_for(app.received_at)
        self._findings = findings(app)
        self._phase = Phase.REGISTERING
        self._last_step = Step.APPLY
        self._outcome: Outcome | None = None
        self._deadlines: dict[str, DeadlineView] = {}
        self._documents: list[Document] = list(app.documents)
        self._missing: list[MissingItem] = []
        self._check_round = 0
        self._interview = InterviewView()
        self._interview_round = 0
        self._slot_retry_at: datetime | None = None
        self._decisions: list[DecisionView] = []
        self._decision_round_has_intended = False
        self._appeal_lodged = False
        self._permit: PermitView | None = None
        self._warnings: list[str] = []
        self._decide_alert = ""  # "", "approaching" or "overdue" for the current decide_by
        self._published: dict[str, str | datetime | None] = {}  # search attribute values last upserted
        self._details = ""
        # the update hand-off: one accepted event at a time
        self._pending: tuple[Trigger, Model] | None = None
        self._accepted = 0
        self._done = 0
        self._not_applied: dict[int, str] = {}  # ticket -> why the case could not act on it
        self._fired: Timer | None = None  # the phase's timer, once it has fired
        self._set_decision_deadlines(app.received_at)
        for event in APPLICATION_EVENTS.values():
            workflow.set_update_handler(event.name, self._update_handler(event), validator=self._validator(event))

    # --- run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ApplicationInput) -> CaseStatus:
        self._publish()
        await call(
            RegistryActivities.register_case,
            RegisterCase(
                application=self._app,
                policy_version=self._policy.id,
                decide_by=self._deadlines["decide_by"].due,
            ),
        )
        await self._letter(
            "acknowledgement",
            LetterKind.ACKNOWLEDGEMENT,
            [Recipient.APPLICANT, Recipient.LAWYER],
            received_on=self._app.received_at.astimezone(dl.AMSTERDAM).date().isoformat(),
            decide_by=self._deadlines["decide_by"].due.astimezone(dl.AMSTERDAM).date().isoformat(),
            admissibility_by=self._deadlines.get("admissibility_by", self._deadlines["decide_by"])
            .due.astimezone(dl.AMSTERDAM)
            .date()
            .isoformat(),
        )
        self._move(Trigger.REGISTERED, Phase.CHECKING_DOCUMENTS)
        watcher = asyncio.create_task(self._watch_decision_deadline())
        while self._phase is not Phase.CLOSED:
            await self._step()
        watcher.cancel()
        self._answer_parked_event()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status()

    async def _step(self) -> None:
        """One turn of the main loop: act on a parked event, or wait in the phase."""
        if self._pending is not None and self._pending[0] is Trigger.WITHDRAW:
            # a withdrawal can be accepted while the workflow works (checking, booking)
            await self._act(*self._pending)
            return
        if self._phase is Phase.CHECKING_DOCUMENTS:
            await self._check_documents()
            return
        timer = self._timer()
        event = await self._next_event(timer)
        if event is not None:
            await self._act(*event)
            return
        assert timer is not None
        self._fired = timer  # from here on the validators refuse what the timer ended
        await timer.fire()

    def _timer(self) -> Timer | None:
        """The current phase's timer, if it has one."""
        phase = self._phase
        if phase is Phase.AWAITING_DOCUMENTS:
            return Timer(
                self._deadlines["repair_by"].due,
                "repair period ends",
                self._repair_period_ended,
                ends="the repair period",
                after="the case is closed as not processed",
                refuses=frozenset({Trigger.DOCUMENTS, Trigger.WITHDRAW}),
            )
        if phase is Phase.AWAITING_INTERVIEW_SLOT:
            assert self._slot_retry_at is not None
            return Timer(self._slot_retry_at, "try the interview booking again", self._book_interview)
        if phase is Phase.INTENDED_DECISION:
            return Timer(
                self._deadlines["respond_by"].due,
                "response period ends",
                self._response_period_ended,
                ends="the response period",
                after="the case waits for the final decision",
                refuses=frozenset({Trigger.RESPONSE}),
            )
        if phase is Phase.APPEAL_WINDOW:
            return Timer(
                self._deadlines["appeal_by"].due,
                "appeal window ends",
                self._appeal_window_ended,
                ends="the appeal window",
                after="the decision is final and the case is closed",
                refuses=frozenset({Trigger.APPEAL}),
            )
        return None

    async def _act(self, trigger: Trigger, body: Model) -> None:
        await on.handlers[trigger](self, body)
        self._finish_event()

    # --- the workflow's own steps ----------------------------------------------------------

    async def _check_documents(self) -> None:
        self._check_round += 1
        result = await call(
            DocumentActivities.check_documents,
            CheckDocuments(
                application_id=self._app.application_id,
                documents=self._documents,
                new_elements=list(self._app.new_elements),
                round=self._check_round,
            ),
        )
        self._missing = list(result.missing)
        if result.complete:
            self._deadlines.pop("repair_by", None)
            self._move(Trigger.DOCUMENTS_COMPLETE, Phase.AWAITING_INTERVIEW_DECISION)
            return
        if "repair_by" not in self._deadlines:
            period = self._policy.repair_period(self._app.applicant.earlier_repeat_applications)
            self._set_deadline("repair_by", period, workflow.now())
        repair_by = self._deadlines["repair_by"]
        await self._letter(
            f"documents-missing-{self._check_round}",
            LetterKind.DOCUMENTS_MISSING,
            [Recipient.APPLICANT, Recipient.LAWYER],
            items=[m.message_nl or m.message for m in self._missing],
            repair_by=dl_local(repair_by.due),
            repair_basis=repair_by.explanation,
        )
        self._move(Trigger.DOCUMENTS_INCOMPLETE, Phase.AWAITING_DOCUMENTS)

    async def _repair_period_ended(self) -> None:
        self._deadlines.pop("repair_by", None)
        await self._letter("not-processed", LetterKind.NOT_PROCESSED, [Recipient.APPLICANT, Recipient.LAWYER])
        await self._close(Trigger.REPAIR_PERIOD_ENDED, Outcome.NOT_PROCESSED)

    async def _response_period_ended(self) -> None:
        self._deadlines.pop("respond_by", None)
        self._move(Trigger.RESPONSE_PERIOD_ENDED, Phase.AWAITING_FINAL_DECISION)

    async def _appeal_window_ended(self) -> None:
        self._deadlines.pop("appeal_by", None)
        assert self._outcome is not None
        await self._close(Trigger.APPEAL_WINDOW_ENDED, self._outcome)

    async def _book_interview(self) -> None:
        self._interview_round += 1
        booking = await call(
            RegistryActivities.book_slot,
            BookSlot(
                application_id=self._app.application_id,
                kind=SlotKind.INTERVIEW,
                purpose="interview",
                not_before=workflow.now() + self._options.interview_notice,
                language=self._app.applicant.language,
            ),
        )
        if not booking.booked or booking.starts_at is None:
            warning = "no interview slot with a suitable interpreter is free; trying again later"
            if warning not in self._warnings:
                self._warnings.append(warning)
            workflow.logger.warning("no interview slot free", extra={"application_id": self._app.application_id})
            self._slot_retry_at = workflow.now() + self._options.slot_retry_interval
            self._move(Trigger.NO_SLOT_FREE, Phase.AWAITING_INTERVIEW_SLOT)
            return
        self._warnings = [w for w in self._warnings if "interview slot" not in w]
        self._interview = self._interview.model_copy(update={"starts_at": booking.starts_at, "location": booking.location})
        await self._letter(
            "interview-invitation",
            LetterKind.INTERVIEW_INVITATION,
            [Recipient.APPLICANT, Recipient.LAWYER],
            interview_at=dl_local(booking.starts_at),
            location=booking.location or "",
        )
        self._move(Trigger.SLOT_BOOKED, Phase.INTERVIEW_BOOKED)

    # --- events: one method per row of APPLICATION_EVENTS ----------------------------------

    @on(Trigger.DOCUMENTS)
    async def _on_documents(self, body: DocumentsEvent) -> None:
        self._documents = self._merge_documents(body.documents)
        self._move(Trigger.DOCUMENTS, Phase.CHECKING_DOCUMENTS)
        await self._check_documents()

    @on.check(Trigger.DOCUMENTS)
    def _check_documents_event(self, body: DocumentsEvent) -> None:
        known = {d.id for d in self._documents}
        for doc in body.documents:
            if doc.id in known:
                raise ValueError(f"document id {doc.id!r} is already part of the case")
        try:
            check_document_references(self._documents + list(body.documents), list(self._app.new_elements))
        except ValueError as err:
            raise ValueError(f"documents: {err}") from None

    @on(Trigger.INTERVIEW_DECISION)
    async def _on_interview_decision(self, body: InterviewDecisionEvent) -> None:
        self._interview = self._interview.model_copy(update={"needed": body.needed})
        if body.needed:
            self._move(Trigger.INTERVIEW_DECISION, Phase.AWAITING_INTERVIEW_SLOT)
            await self._book_interview()
        else:
            self._move(Trigger.INTERVIEW_DECISION, Phase.AWAITING_DECISION)

    @on(Trigger.INTERVIEW_REPORT)
    async def _on_interview_report(self, body: InterviewReportEvent) -> None:
        self._interview = self._interview.model_copy(update={"held_on": body.held_on})
        if body.report_document is not None:
            self._documents = self._merge_documents([body.report_document])
        self._move(Trigger.INTERVIEW_REPORT, Phase.AWAITING_DECISION)

    @on.check(Trigger.INTERVIEW_REPORT)
    def _check_interview_report(self, body: InterviewReportEvent) -> None:
        if body.report_document is not None and body.report_document.id in {d.id for d in self._documents}:
            raise ValueError(f"report_document: id {body.report_document.id!r} is already part of the case")

    @on(Trigger.NO_SHOW)
    async def _on_no_show(self, body: NoShowEvent) -> None:
        self._interview = self._interview.model_copy(update={"no_show": True})
        self._move(Trigger.NO_SHOW, Phase.AWAITING_DECISION)

    @on(Trigger.DECISION)
    async def _on_decision(self, body: DecisionEvent) -> None:
        outcome = Outcome(body.outcome.value)
        intended = (
            outcome in NEGATIVE_OUTCOMES
            and self._policy.intended_decision
            and self._phase is Phase.AWAITING_DECISION
            and not self._decision_round_has_intended
        )
        now = workflow.now()
        sequence = len(self._decisions) + 1
        if intended:
            self._decision_round_has_intended = True
            self._set_deadline("respond_by", self._policy.respond, now)
            await self._record_decision(body, sequence, final=False)
            self._move(Trigger.DECISION, Phase.INTENDED_DECISION)
        elif outcome is Outcome.GRANTED:
            self._pop_decision_deadlines()
            await self._record_decision(body, sequence, final=True)
            self._outcome = Outcome.GRANTED
            await self._issue_permit(body.effective_from)
            self._move(Trigger.DECISION, Phase.AWAITING_COLLECTION)
        else:
            self._pop_decision_deadlines()
            self._set_deadline("appeal_by", self._policy.appeal_period(outcome), now)
            await self._record_decision(body, sequence, final=True)
            self._outcome = outcome
            self._move(Trigger.DECISION, Phase.APPEAL_WINDOW)

    @on.check(Trigger.DECISION)
    def _check_decision(self, body: DecisionEvent) -> None:
        if body.effective_from is not None:  # a later start only, never before receipt
            first_term(self._app.received_at.astimezone(dl.AMSTERDAM).date(), 1, body.effective_from)

    @on(Trigger.RESPONSE)
    async def _on_response(self, body: ResponseEvent) -> None:
        self._deadlines.pop("respond_by", None)
        self._move(Trigger.RESPONSE, Phase.AWAITING_FINAL_DECISION)

    @on(Trigger.APPEAL)
    async def _on_appeal(self, body: AppealEvent) -> None:
        self._deadlines.pop("appeal_by", None)
        self._appeal_lodged = True
        self._move(Trigger.APPEAL, Phase.APPEAL_LODGED)

    @on(Trigger.JUDGMENT)
    async def _on_judgment(self, body: JudgmentEvent) -> None:
        if body.result is JudgmentResult.ANNULLED:
            # The court sends the case back: a new decision round with a new decision period.
            self._outcome = None
            self._appeal_lodged = False
            self._decision_round_has_intended = False
            self._alert_reset()
            self._set_decision_deadlines(workflow.now())
            self._move(Trigger.JUDGMENT, Phase.AWAITING_DECISION)
            return
        assert self._outcome is not None
        await self._close(Trigger.JUDGMENT, self._outcome)

    @on(Trigger.WITHDRAW)
    async def _on_withdraw(self, body: WithdrawEvent) -> None:
        for key in ("repair_by", "respond_by", "admissibility_by", "decide_by"):
            self._deadlines.pop(key, None)
        await self._letter("withdrawal", LetterKind.WITHDRAWAL, [Recipient.APPLICANT, Recipient.LAWYER])
        await self._close(Trigger.WITHDRAW, Outcome.WITHDRAWN)

    @on(Trigger.PERMIT_COLLECTED)
    async def _on_permit_collected(self, body: PermitCollectedEvent) -> None:
        assert self._permit is not None
        self._permit = self._permit.model_copy(update={"collected": True, "collected_on": body.collected_on})
        await self._close(Trigger.PERMIT_COLLECTED, Outcome.GRANTED)

    @on.check(Trigger.PERMIT_COLLECTED)
    def _check_permit_collected(self, body: PermitCollectedEvent) -> None:
        issued_on = self._permit.issued_on or self._permit.valid_from if self._permit is not None else None
        if issued_on is not None and body.collected_on < issued_on:
            raise ValueError(f"collected_on lies before the permit was issued ({issued_on})")

    # --- step 6 and 7 work -----------------------------------------------------------------

    async def _record_decision(self, body: DecisionEvent, sequence: int, *, final: bool) -> None:
        now = workflow.now()
        respond_by = self._deadlines.get("respond_by")
        appeal_by = self._deadlines.get("appeal_by")
        await call(
            RegistryActivities.record_decision,
            RecordDecision(
                application_id=self._app.application_id,
                sequence=sequence,
                outcome=body.outcome,
                final=final,
                grounds=body.grounds,
                decided_by=body.decided_by,
                decided_at=now,
                policy_version=self._policy.id,
                respond_by=respond_by.due if respond_by and not final else None,
                appeal_by=appeal_by.due if appeal_by and final else None,
            ),
        )
        self._decisions.append(DecisionView(sequence=sequence, outcome=body.outcome.value, final=final, decided_at=now))

    async def _issue_permit(self, effective_from: date | None) -> None:
        # From the day of receipt, not the decision date (domain/permit/schedule.first_term).
        received_on = self._app.received_at.astimezone(dl.AMSTERDAM).date()
        valid_from, valid_until = first_term(received_on, self._policy.permit_validity_years, effective_from)
        # The card and the desk appointment do not depend on each other: one round trip for both.
        issued, desk = await asyncio.gather(
            call(
                RegistryActivities.issue_permit,
                IssuePermit(
                    application_id=self._app.application_id,
                    purpose="initial",
                    permit_type="III",
                    valid_from=valid_from,
                    valid_until=valid_until,
                ),
            ),
            call(
                RegistryActivities.book_slot,
                BookSlot(
                    application_id=self._app.application_id,
                    kind=SlotKind.DESK,
                    purpose="permit-desk",
                    not_before=workflow.now() + self._options.desk_notice,
                ),
            ),
        )
        self._permit = PermitView(
            document_number=issued.document_number,
            permit_type=issued.permit_type,
            valid_from=issued.valid_from,
            valid_until=issued.valid_until,
            issued_on=workflow.now().astimezone(dl.AMSTERDAM).date(),
            desk_appointment=desk.starts_at,
        )
        await self._letter(
            "permit-invitation",
            LetterKind.PERMIT_INVITATION,
            [Recipient.APPLICANT, Recipient.LAWYER],
            valid_from=issued.valid_from.isoformat(),
            valid_until=issued.valid_until.isoformat(),
            endorsement=issued.endorsement,
            desk_at=dl_local(desk.starts_at) if desk.starts_at else "volgt per brief",
            desk_location=desk.location or "",
        )
        await self._start_permit_life(issued)

    async def _start_permit_life(self, issued: PermitIssued) -> None:
        """Hand the permit over to its own workflow, which outlives this one.

        A child workflow with ``ParentClosePolicy.ABANDON`` rather than a start from an
        activity: the start is a command in this workflow's history, so it happens exactly
        once even when a worker dies around it (an activity would need its own
        "already started" handling), the parent/child link is visible in the Web UI, and
        ABANDON lets the permit run on for years after the application closes.  Only the
        start is awaited, never the result.
        """
        app_id = self._app.application_id
        settings = self._options.permit_settings.model_copy(update={"term_years": self._policy.permit_validity_years})
        await workflow.start_child_workflow(
            PERMIT_WORKFLOW,
            PermitWorkflowInput(
                handover=PermitInput(
                    application_id=app_id,
                    document_number=issued.document_number,
                    permit_type=issued.permit_type,
                    valid_from=issued.valid_from,
                    valid_until=issued.valid_until,
                    issued_at=workflow.now(),
                    language=self._app.applicant.language,
                ),
                settings=settings,
            ),
            id=permit_workflow_id(app_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Residence permit of application {app_id}",
        )

    # --- the deadline watcher --------------------------------------------------------------

    async def _watch_decision_deadline(self) -> None:
        while self._phase is not Phase.CLOSED:
            due = self._decision_due()
            if due is None:
                await workflow.wait_condition(lambda: self._decision_due() is not None or self._phase is Phase.CLOSED)
                continue
            warn_at = due.due - self._options.decision_warning_lead
            if self._decide_alert == "":
                target, level = warn_at, "approaching"
            elif self._decide_alert == "approaching":
                target, level = due.due, "overdue"
            else:
                await workflow.wait_condition(lambda: self._decide_alert == "" or self._phase is Phase.CLOSED)
                continue
            current = due
            try:
                if target <= workflow.now():
                    raise TimeoutError  # already due: warn now
                await workflow.wait_condition(
                    lambda current=current: (
                        self._decision_due() != current  # type: ignore[misc]
                        or self._is_closed()
                    ),
                    timeout=target - workflow.now(),
                    timeout_summary=f"decision deadline {level}",
                )
                continue  # the deadline moved or the case closed: look again
            except TimeoutError:
                pass
            self._decide_alert = level
            text = (
                f"decision due by {dl_local(due.due)}"
                if level == "approaching"
                else f"decision deadline passed at {dl_local(due.due)}"
            )
            self._warnings = [w for w in self._warnings if not w.startswith("decision ")] + [text]
            workflow.logger.warning("decision deadline %s", level, extra={"application_id": self._app.application_id})
            self._publish()

    def _is_closed(self) -> bool:
        return self._phase is Phase.CLOSED

    def _alert_reset(self) -> None:
        self._decide_alert = ""
        self._warnings = [w for w in self._warnings if not w.startswith("decision ")]

    # --- updates ---------------------------------------------------------------------------

    def _update_handler(self, event: Event[Phase, Trigger, Model]) -> Callable[[Model], Awaitable[CaseStatus]]:
        async def handler(body: Model) -> CaseStatus:
            return await self._accept(event.trigger, body)

        # The SDK reads the body's type from the annotations to decode the payload.
        handler.__annotations__ = {"body": event.body, "return": CaseStatus}
        return handler

    def _validator(self, event: Event[Phase, Trigger, Model]) -> Callable[[Model], None]:
        def validator(body: Model) -> None:
            self._validate(event.trigger, body)

        validator.__annotations__ = {"body": event.body, "return": None}
        return validator

    def _validate(self, trigger: Trigger, body: Model) -> None:
        """Refuse, with the reason, an event the case cannot act on now; the case is unchanged."""
        if self._pending is not None:
            raise ValueError(
                f"The event '{trigger.value}' is not allowed now: the case is still acting on "
                f"'{self._pending[0].value}'. Send it again in a moment."
            )
        fired = self._fired
        if fired is not None and trigger in fired.refuses:
            raise ValueError(
                f"The event '{trigger.value}' is not allowed now: {fired.ends} ended at {dl_local(fired.due)}; {fired.after}."
            )
        if not allowed(self._phase, trigger):
            raise ValueError(rejection(self._phase, trigger))
        check = on.checks.get(trigger)
        if check is not None:
            check(self, body)

    async def _accept(self, trigger: Trigger, body: Model) -> CaseStatus:
        self._pending = (trigger, body)
        self._accepted += 1
        ticket = self._accepted
        self._publish()
        await workflow.wait_condition(lambda: self._done >= ticket)
        reason = self._not_applied.pop(ticket, None)
        if reason is not None:
            raise ApplicationError(reason, type=EVENT_NOT_APPLIED, non_retryable=True)
        return self._status()

    def _answer_parked_event(self) -> None:
        """The case closed with an event still parked: answer it with an error, never leave it waiting.

        The validators make this unreachable today (an event is refused once a deadline
        has fired, and only one is parked at a time); it stays as the last guard.
        """
        if self._pending is None:
            return
        trigger = self._pending[0]
        self._not_applied[self._accepted] = (
            f"The event '{trigger.value}' was not applied: the case closed "
            f"({self._outcome or 'closed'}) before it could act on it."
        )
        self._pending = None
        self._done = self._accepted

    @workflow.query(name="status")
    def status(self) -> CaseStatus:
        return self._status()

    # --- helpers ---------------------------------------------------------------------------

    async def _next_event(self, timer: Timer | None) -> tuple[Trigger, Model] | None:
        """Wait for an accepted event, or until the timer is due (then None)."""
        if self._pending is None:
            timeout = None if timer is None else timer.due - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return None
            try:
                await workflow.wait_condition(
                    lambda: self._pending is not None,
                    timeout=timeout,
                    timeout_summary=timer.summary if timer else None,
                )
            except TimeoutError:
                # An event accepted in the same instant still counts: it was validated
                # against this phase before the timer fired, so it is acted on here.
                if self._pending is None:
                    return None
        return self._pending

    def _finish_event(self) -> None:
        if self._pending is not None:
            self._pending = None
            self._done = self._accepted
        self._publish()

    def _merge_documents(self, added: list[Document]) -> list[Document]:
        known = {d.id for d in self._documents}
        return self._documents + [d for d in added if d.id not in known]

    def _set_decision_deadlines(self, start: datetime) -> None:
        """The merits deadline, and under a policy that separates them the admissibility one."""
        if self._policy.separate_admissibility:
            self._set_deadline("admissibility_by", self._policy.decide_admissibility, start)
        self._set_deadline("decide_by", self._policy.decide, start)

    def _decision_due(self) -> DeadlineView | None:
        """The earliest decision deadline that applies (the admissibility one under the EU policy)."""
        return min(
            (self._deadlines[k] for k in ("admissibility_by", "decide_by") if k in self._deadlines),
            key=lambda d: d.due,
            default=None,
        )

    def _pop_decision_deadlines(self) -> None:
        self._deadlines.pop("admissibility_by", None)
        self._deadlines.pop("decide_by", None)

    def _set_deadline(self, key: str, period: dl.Period, start: datetime) -> None:
        computed = dl.compute(start, period)
        self._deadlines[key] = DeadlineView(due=computed.due, basis=computed.basis, explanation=computed.explanation)

    def _move(self, trigger: Trigger, target: Phase) -> None:
        self._phase = move(self._phase, trigger, target)
        self._fired = None
        if target in PHASE_STEP:
            self._last_step = PHASE_STEP[target]
        self._publish()

    async def _close(self, trigger: Trigger, outcome: Outcome) -> None:
        self._outcome = outcome
        for key in ("repair_by", "respond_by", "admissibility_by", "decide_by", "appeal_by"):
            self._deadlines.pop(key, None)
        await call(
            RegistryActivities.close_case,
            CloseCase(application_id=self._app.application_id, outcome=outcome.value, closed_at=workflow.now()),
        )
        self._move(trigger, Phase.CLOSED)

    async def _letter(
        self,
        key: str,
        kind: LetterKind,
        recipients: list[Recipient],
        *,
        items: list[str] | None = None,
        **facts: str,
    ) -> None:
        await call(
            LetterActivities.send_letter,
            SendLetter(
                application_id=self._app.application_id,
                key=key,
                kind=kind,
                recipients=recipients,
                # Every letter cites the articles of the case's own policy version.
                facts={"policy_version": self._policy.id, **facts},
                items=items or [],
            ),
        )

    def _status(self) -> CaseStatus:
        step = PHASE_STEP.get(self._phase, self._last_step)
        return CaseStatus(
            application_id=self._app.application_id,
            workflow_id=application_workflow_id(self._app.application_id),
            step_number=step.number,
            step=step.key,
            step_title=step.title,
            phase=self._phase.value,
            outcome=self._outcome.value if self._outcome else None,
            policy_version=self._policy.id,
            received_at=self._app.received_at,
            findings=self._findings,
            deadlines={k: v.due for k, v in self._deadlines.items()},
            deadline_basis={k: f"{v.basis}: {v.explanation}" for k, v in self._deadlines.items()},
            outstanding_documents=[self._outstanding_text(m) for m in self._missing]
            if self._phase in (Phase.AWAITING_DOCUMENTS, Phase.CHECKING_DOCUMENTS)
            else [],
            interview=self._interview,
            decisions=self._decisions,
            appeal_court_case_lodged=self._appeal_lodged,
            permit=self._permit,
            warnings=self._warnings,
            closed=self._phase is Phase.CLOSED,
        )

    @staticmethod
    def _outstanding_text(item: MissingItem) -> str:
        return f"{item.document_id}: {item.message}" if item.document_id else item.message

    def _publish(self) -> None:
        """Search attributes and current details: what operators see, without personal data.

        Only attributes whose value changed are upserted, so a workflow task that moves the
        phase twice sends one upsert command, and a task that changes nothing sends none.
        """
        step = PHASE_STEP.get(self._phase, self._last_step)
        decide_by = self._decision_due()
        interview_at = self._interview.starts_at if self._phase is Phase.INTERVIEW_BOOKED else None
        wanted: dict[str, str | datetime | None] = {
            sa.APPLICATION_STEP.name: step.key,
            sa.APPLICATION_PHASE.name: self._phase.value,
            sa.POLICY_VERSION.name: self._policy.id,
            sa.APPLICATION_OUTCOME.name: self._outcome.value if self._outcome else None,
            sa.DECISION_DUE_BY.name: decide_by.due if decide_by else None,
            sa.INTERVIEW_AT.name: interview_at,
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in (sa.APPLICATION_STEP, sa.APPLICATION_PHASE, sa.POLICY_VERSION, sa.APPLICATION_OUTCOME):
            value = wanted[key.name]
            if key.name not in self._published or self._published[key.name] != value:
                updates.append(key.value_set(value) if isinstance(value, str) else key.value_unset())
        for dt_key in (sa.DECISION_DUE_BY, sa.INTERVIEW_AT):
            value = wanted[dt_key.name]
            if dt_key.name not in self._published or self._published[dt_key.name] != value:
                updates.append(dt_key.value_set(value) if isinstance(value, datetime) else dt_key.value_unset())
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published = wanted
        details = details_markdown(self._status())
        if details != self._details:
            workflow.set_current_details(details)
            self._details = details


def dl_local(instant: datetime) -> str:
    return instant.astimezone(dl.AMSTERDAM).strftime("%d-%m-%Y %H:%M")
