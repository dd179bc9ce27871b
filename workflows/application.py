"""The repeat asylum application as one durable workflow, from step 3 to step 7.

Why it is shaped this way:
- The state is a ``Phase`` (``domain.steps``) and every move goes through ``move()``, which
  checks the one transition table; update validators check the same table, so an event the
  case cannot take is rejected before it reaches history and the case is unchanged.
- Human decisions are updates.  A validator accepts at most one event at a time; the
  handler parks it in ``_pending`` and waits until the main loop has acted on it, so the
  caller gets the case as it stands after the event (and a second identical event is
  rejected rather than applied twice).
- Deadlines are absolute instants in state (``_deadlines``), waited on with
  ``wait_condition(timeout=due - now)``; an annulment or a new check can move them.
- The statutory decision deadline is watched by a small task of its own that warns
  operators when it approaches and when it passes, whatever the main loop waits for.
- All I/O is in activities; this module does pure computation only (deadlines through the
  domain package), so replays are deterministic and cheap.
- At step 7 the permit starts its own workflow as a child with ``ParentClosePolicy.ABANDON``:
  see ``_start_permit_life`` for why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from domain import deadlines as dl
    from domain.case import (
        CaseStatus,
        DeadlineView,
        DecisionView,
        InterviewView,
        PermitView,
        details_markdown,
    )
    from domain.identifiers import application_workflow_id, permit_workflow_id
    from domain.messages import (
        BookSlot,
        CaseClosed,
        CaseRegistered,
        CheckDocuments,
        CloseCase,
        DecisionRecorded,
        DocumentCheckResult,
        IssuePermit,
        LetterKind,
        LettersSent,
        MissingItem,
        PermitInput,
        PermitIssued,
        Recipient,
        RecordDecision,
        RegisterCase,
        SendLetter,
        SlotBooking,
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
    from domain.permit.state import PermitSettings, PermitWorkflowInput
    from domain.policy import PolicyVersion, policy_for
    from domain.requirements import findings
    from domain.steps import (
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

# Search attributes (registered by `starter.py setup`).  Values carry no personal data.
APPLICATION_STEP = SearchAttributeKey.for_keyword("ApplicationStep")
APPLICATION_PHASE = SearchAttributeKey.for_keyword("ApplicationPhase")
APPLICATION_OUTCOME = SearchAttributeKey.for_keyword("ApplicationOutcome")
DECISION_DUE_BY = SearchAttributeKey.for_datetime("DecisionDueBy")
POLICY_VERSION = SearchAttributeKey.for_keyword("PolicyVersion")
INTERVIEW_AT = SearchAttributeKey.for_datetime("InterviewAt")

ACTIVITY_TIMEOUT = timedelta(seconds=60)
# Transient failures (a locked database, a full disk) retry for a long time; business
# failures are non-retryable ApplicationErrors raised by the activities themselves.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
DECISION_WARNING_LEAD = timedelta(days=14)

R = TypeVar("R")


class CaseOptions(Model):
    """Knobs of a case that are not law; filled by the starter from its settings."""

    slot_retry_interval: timedelta = Field(default=timedelta(hours=4))
    interview_notice: timedelta = Field(default=timedelta(days=2))
    desk_notice: timedelta = Field(default=timedelta(days=7))
    decision_warning_lead: timedelta = Field(default=DECISION_WARNING_LEAD)
    permit_settings: PermitSettings = Field(default_factory=PermitSettings)


class ApplicationInput(Model):
    application: Application
    options: CaseOptions = Field(default_factory=CaseOptions)


@workflow.defn(name="RepeatAsylumApplication")
class ApplicationWorkflow:
    @workflow.init
    def __init__(self, inp: ApplicationInput) -> None:
        app = inp.application
        self._app: Application = app
        self._options = inp.options
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
        self._set_deadline("decide_by", self._policy.decide, app.received_at)

    # --- run -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ApplicationInput) -> CaseStatus:
        self._publish()
        await self._activity(
            "register_case",
            RegisterCase(
                application=self._app,
                policy_version=self._policy.id,
                decide_by=self._deadlines["decide_by"].due,
            ),
            CaseRegistered,
        )
        await self._letter(
            "acknowledgement",
            LetterKind.ACKNOWLEDGEMENT,
            [Recipient.APPLICANT, Recipient.LAWYER],
            received_on=self._app.received_at.astimezone(dl.AMSTERDAM).date().isoformat(),
            decide_by=self._deadlines["decide_by"].due.astimezone(dl.AMSTERDAM).date().isoformat(),
        )
        self._move(Trigger.REGISTERED, Phase.CHECKING_DOCUMENTS)
        watcher = asyncio.create_task(self._watch_decision_deadline())
        handlers: dict[Phase, Callable[[], Awaitable[None]]] = {
            Phase.CHECKING_DOCUMENTS: self._check_documents,
            Phase.AWAITING_DOCUMENTS: self._await_documents,
            Phase.AWAITING_INTERVIEW_DECISION: self._await_interview_decision,
            Phase.AWAITING_INTERVIEW_SLOT: self._await_interview_slot,
            Phase.INTERVIEW_BOOKED: self._await_interview,
            Phase.AWAITING_DECISION: self._await_decision,
            Phase.INTENDED_DECISION: self._await_response,
            Phase.AWAITING_FINAL_DECISION: self._await_decision,
            Phase.APPEAL_WINDOW: self._await_appeal,
            Phase.APPEAL_LODGED: self._await_judgment,
            Phase.AWAITING_COLLECTION: self._await_collection,
        }
        while self._phase is not Phase.CLOSED:
            if self._pending is not None and self._pending[0] is Trigger.WITHDRAW:
                await self._withdraw(self._take())
                continue
            await handlers[self._phase]()
        watcher.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status()

    # --- phases ----------------------------------------------------------------------------

    async def _check_documents(self) -> None:
        self._check_round += 1
        result = await self._activity(
            "check_documents",
            CheckDocuments(
                application_id=self._app.application_id,
                documents=self._documents,
                new_elements=list(self._app.new_elements),
                round=self._check_round,
            ),
            DocumentCheckResult,
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

    async def _await_documents(self) -> None:
        event = await self._next_event(self._deadlines["repair_by"].due, "repair period ends")
        if event is None:
            self._deadlines.pop("repair_by", None)
            await self._letter("not-processed", LetterKind.NOT_PROCESSED, [Recipient.APPLICANT, Recipient.LAWYER])
            await self._close(Trigger.REPAIR_PERIOD_ENDED, Outcome.NOT_PROCESSED)
            return
        trigger, body = event
        if trigger is Trigger.WITHDRAW:
            await self._withdraw(event)
            return
        assert isinstance(body, DocumentsEvent)
        self._documents = self._merge_documents(body.documents)
        self._move(Trigger.DOCUMENTS, Phase.CHECKING_DOCUMENTS)
        await self._check_documents()
        self._finish_event()

    async def _await_interview_decision(self) -> None:
        event = await self._next_event(None)
        assert event is not None
        trigger, body = event
        if trigger is Trigger.WITHDRAW:
            await self._withdraw(event)
            return
        assert isinstance(body, InterviewDecisionEvent)
        self._interview = self._interview.model_copy(update={"needed": body.needed})
        if body.needed:
            self._move(Trigger.INTERVIEW_DECISION, Phase.AWAITING_INTERVIEW_SLOT)
            await self._book_interview()
        else:
            self._move(Trigger.INTERVIEW_DECISION, Phase.AWAITING_DECISION)
        self._finish_event()

    async def _await_interview_slot(self) -> None:
        retry_at = workflow.now() + self._options.slot_retry_interval
        event = await self._next_event(retry_at, "try the interview booking again")
        if event is not None:  # only a withdrawal is allowed while waiting for a slot
            await self._withdraw(event)
            return
        await self._book_interview()

    async def _book_interview(self) -> None:
        self._interview_round += 1
        booking = await self._activity(
            "book_slot",
            BookSlot(
                application_id=self._app.application_id,
                kind=SlotKind.INTERVIEW,
                purpose="interview",
                not_before=workflow.now() + self._options.interview_notice,
                language=self._app.applicant.language,
            ),
            SlotBooking,
        )
        if not booking.booked or booking.starts_at is None:
            warning = "no interview slot with a suitable interpreter is free; trying again later"
            if warning not in self._warnings:
                self._warnings.append(warning)
            workflow.logger.warning("no interview slot free", extra={"application_id": self._app.application_id})
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

    async def _await_interview(self) -> None:
        event = await self._next_event(None)
        assert event is not None
        trigger, body = event
        if trigger is Trigger.WITHDRAW:
            await self._withdraw(event)
            return
        if isinstance(body, InterviewReportEvent):
            self._interview = self._interview.model_copy(update={"held_on": body.held_on})
            if body.report_document is not None:
                self._documents = self._merge_documents([body.report_document])
            self._move(Trigger.INTERVIEW_REPORT, Phase.AWAITING_DECISION)
        else:
            assert isinstance(body, NoShowEvent)
            self._interview = self._interview.model_copy(update={"no_show": True})
            self._move(Trigger.NO_SHOW, Phase.AWAITING_DECISION)
        self._finish_event()

    async def _await_decision(self) -> None:
        event = await self._next_event(None)
        assert event is not None
        trigger, body = event
        if trigger is Trigger.WITHDRAW:
            await self._withdraw(event)
            return
        assert isinstance(body, DecisionEvent)
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
            self._deadlines.pop("decide_by", None)
            await self._record_decision(body, sequence, final=True)
            self._outcome = Outcome.GRANTED
            await self._issue_permit()
            self._move(Trigger.DECISION, Phase.AWAITING_COLLECTION)
        else:
            self._deadlines.pop("decide_by", None)
            self._set_deadline("appeal_by", self._policy.appeal_period(outcome), now)
            await self._record_decision(body, sequence, final=True)
            self._outcome = outcome
            self._move(Trigger.DECISION, Phase.APPEAL_WINDOW)
        self._finish_event()

    async def _await_response(self) -> None:
        event = await self._next_event(self._deadlines["respond_by"].due, "response period ends")
        self._deadlines.pop("respond_by", None)
        if event is None:
            self._move(Trigger.RESPONSE_PERIOD_ENDED, Phase.AWAITING_FINAL_DECISION)
            return
        trigger, body = event
        if trigger is Trigger.WITHDRAW:
            await self._withdraw(event)
            return
        assert isinstance(body, ResponseEvent)
        self._move(Trigger.RESPONSE, Phase.AWAITING_FINAL_DECISION)
        self._finish_event()

    async def _await_appeal(self) -> None:
        event = await self._next_event(self._deadlines["appeal_by"].due, "appeal window ends")
        self._deadlines.pop("appeal_by", None)
        if event is None:
            assert self._outcome is not None
            await self._close(Trigger.APPEAL_WINDOW_ENDED, self._outcome)
            return
        _, body = event
        assert isinstance(body, AppealEvent)
        self._appeal_lodged = True
        self._move(Trigger.APPEAL, Phase.APPEAL_LODGED)
        self._finish_event()

    async def _await_judgment(self) -> None:
        event = await self._next_event(None)
        assert event is not None
        _, body = event
        assert isinstance(body, JudgmentEvent)
        if body.result is JudgmentResult.ANNULLED:
            # The court sends the case back: a new decision round with a new decision period.
            self._outcome = None
            self._appeal_lodged = False
            self._decision_round_has_intended = False
            self._alert_reset()
            self._set_deadline("decide_by", self._policy.decide, workflow.now())
            self._move(Trigger.JUDGMENT, Phase.AWAITING_DECISION)
            self._finish_event()
            return
        assert self._outcome is not None
        await self._close(Trigger.JUDGMENT, self._outcome)
        self._finish_event()

    async def _await_collection(self) -> None:
        event = await self._next_event(None)
        assert event is not None
        _, body = event
        assert isinstance(body, PermitCollectedEvent)
        assert self._permit is not None
        self._permit = self._permit.model_copy(update={"collected": True, "collected_on": body.collected_on})
        await self._close(Trigger.PERMIT_COLLECTED, Outcome.GRANTED)
        self._finish_event()

    async def _withdraw(self, event: tuple[Trigger, Model]) -> None:
        for key in ("repair_by", "respond_by", "decide_by"):
            self._deadlines.pop(key, None)
        await self._letter("withdrawal", LetterKind.WITHDRAWAL, [Recipient.APPLICANT, Recipient.LAWYER])
        await self._close(Trigger.WITHDRAW, Outcome.WITHDRAWN)
        self._finish_event()

    # --- step 6 and 7 work -----------------------------------------------------------------

    async def _record_decision(self, body: DecisionEvent, sequence: int, *, final: bool) -> None:
        now = workflow.now()
        respond_by = self._deadlines.get("respond_by")
        appeal_by = self._deadlines.get("appeal_by")
        await self._activity(
            "record_decision",
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
            DecisionRecorded,
        )
        self._decisions.append(DecisionView(sequence=sequence, outcome=body.outcome.value, final=final, decided_at=now))

    async def _issue_permit(self) -> None:
        today = workflow.now().astimezone(dl.AMSTERDAM).date()
        # The card and the desk appointment do not depend on each other: one round trip for both.
        issued, desk = await asyncio.gather(
            self._activity(
                "issue_permit",
                IssuePermit(
                    application_id=self._app.application_id,
                    purpose="initial",
                    permit_type="III",
                    valid_from=today,
                    valid_until=dl.add_months(today, 12 * self._policy.permit_validity_years),
                ),
                PermitIssued,
            ),
            self._activity(
                "book_slot",
                BookSlot(
                    application_id=self._app.application_id,
                    kind=SlotKind.DESK,
                    purpose="permit-desk",
                    not_before=workflow.now() + self._options.desk_notice,
                ),
                SlotBooking,
            ),
        )
        self._permit = PermitView(
            document_number=issued.document_number,
            permit_type=issued.permit_type,
            valid_from=issued.valid_from,
            valid_until=issued.valid_until,
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
            "ResidencePermit",
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
            due = self._deadlines.get("decide_by")
            if due is None:
                await workflow.wait_condition(lambda: "decide_by" in self._deadlines or self._phase is Phase.CLOSED)
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
                        self._deadlines.get("decide_by") != current  # type: ignore[misc]
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

    def _validate(self, trigger: Trigger) -> None:
        if self._pending is not None:
            raise ValueError(
                f"event '{trigger.value}' is not allowed now: the case is still acting on "
                f"'{self._pending[0].value}'; send it again in a moment"
            )
        if not allowed(self._phase, trigger):
            raise ValueError(rejection(self._phase, trigger))

    async def _accept(self, trigger: Trigger, body: Model) -> CaseStatus:
        self._pending = (trigger, body)
        self._accepted += 1
        ticket = self._accepted
        self._publish()
        await workflow.wait_condition(lambda: self._done >= ticket)
        return self._status()

    @workflow.update(name="documents")
    async def documents(self, body: DocumentsEvent) -> CaseStatus:
        return await self._accept(Trigger.DOCUMENTS, body)

    @documents.validator
    def _v_documents(self, body: DocumentsEvent) -> None:
        self._validate(Trigger.DOCUMENTS)
        known = {d.id for d in self._documents}
        for doc in body.documents:
            if doc.id in known:
                raise ValueError(f"document id {doc.id!r} is already part of the case")
        try:
            check_document_references(self._documents + list(body.documents), list(self._app.new_elements))
        except ValueError as err:
            raise ValueError(f"documents: {err}") from None

    @workflow.update(name="interview-decision")
    async def interview_decision(self, body: InterviewDecisionEvent) -> CaseStatus:
        return await self._accept(Trigger.INTERVIEW_DECISION, body)

    @interview_decision.validator
    def _v_interview_decision(self, body: InterviewDecisionEvent) -> None:
        self._validate(Trigger.INTERVIEW_DECISION)

    @workflow.update(name="interview-report")
    async def interview_report(self, body: InterviewReportEvent) -> CaseStatus:
        return await self._accept(Trigger.INTERVIEW_REPORT, body)

    @interview_report.validator
    def _v_interview_report(self, body: InterviewReportEvent) -> None:
        self._validate(Trigger.INTERVIEW_REPORT)
        if body.report_document is not None and body.report_document.id in {d.id for d in self._documents}:
            raise ValueError(f"report_document: id {body.report_document.id!r} is already part of the case")

    @workflow.update(name="no-show")
    async def no_show(self, body: NoShowEvent) -> CaseStatus:
        return await self._accept(Trigger.NO_SHOW, body)

    @no_show.validator
    def _v_no_show(self, body: NoShowEvent) -> None:
        self._validate(Trigger.NO_SHOW)

    @workflow.update(name="decision")
    async def decision(self, body: DecisionEvent) -> CaseStatus:
        return await self._accept(Trigger.DECISION, body)

    @decision.validator
    def _v_decision(self, body: DecisionEvent) -> None:
        self._validate(Trigger.DECISION)

    @workflow.update(name="response")
    async def response(self, body: ResponseEvent) -> CaseStatus:
        return await self._accept(Trigger.RESPONSE, body)

    @response.validator
    def _v_response(self, body: ResponseEvent) -> None:
        self._validate(Trigger.RESPONSE)

    @workflow.update(name="appeal")
    async def appeal(self, body: AppealEvent) -> CaseStatus:
        return await self._accept(Trigger.APPEAL, body)

    @appeal.validator
    def _v_appeal(self, body: AppealEvent) -> None:
        self._validate(Trigger.APPEAL)

    @workflow.update(name="judgment")
    async def judgment(self, body: JudgmentEvent) -> CaseStatus:
        return await self._accept(Trigger.JUDGMENT, body)

    @judgment.validator
    def _v_judgment(self, body: JudgmentEvent) -> None:
        self._validate(Trigger.JUDGMENT)

    @workflow.update(name="withdraw")
    async def withdraw(self, body: WithdrawEvent) -> CaseStatus:
        return await self._accept(Trigger.WITHDRAW, body)

    @withdraw.validator
    def _v_withdraw(self, body: WithdrawEvent) -> None:
        self._validate(Trigger.WITHDRAW)

    @workflow.update(name="permit-collected")
    async def permit_collected(self, body: PermitCollectedEvent) -> CaseStatus:
        return await self._accept(Trigger.PERMIT_COLLECTED, body)

    @permit_collected.validator
    def _v_permit_collected(self, body: PermitCollectedEvent) -> None:
        self._validate(Trigger.PERMIT_COLLECTED)
        if self._permit is not None and body.collected_on < self._permit.valid_from:
            raise ValueError("collected_on lies before the permit was issued")

    @workflow.query(name="status")
    def status(self) -> CaseStatus:
        return self._status()

    # --- helpers ---------------------------------------------------------------------------

    async def _next_event(self, until: datetime | None, summary: str | None = None) -> tuple[Trigger, Model] | None:
        """Wait for an accepted event, or until the instant passes (then None)."""
        if self._pending is None:
            timeout = None if until is None else until - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return None
            try:
                await workflow.wait_condition(lambda: self._pending is not None, timeout=timeout, timeout_summary=summary)
            except TimeoutError:
                # An event accepted in the same instant still counts: it was validated
                # against this phase, so it must be acted on here.
                if self._pending is None:
                    return None
        return self._take()

    def _take(self) -> tuple[Trigger, Model]:
        assert self._pending is not None
        return self._pending

    def _finish_event(self) -> None:
        if self._pending is not None:
            self._pending = None
            self._done = self._accepted
        self._publish()

    def _merge_documents(self, added: list[Document]) -> list[Document]:
        known = {d.id for d in self._documents}
        return self._documents + [d for d in added if d.id not in known]

    def _set_deadline(self, key: str, period: dl.Period, start: datetime) -> None:
        computed = dl.compute(start, period)
        self._deadlines[key] = DeadlineView(due=computed.due, basis=computed.basis, explanation=computed.explanation)

    def _move(self, trigger: Trigger, target: Phase) -> None:
        self._phase = move(self._phase, trigger, target)
        if target in PHASE_STEP:
            self._last_step = PHASE_STEP[target]
        self._publish()

    async def _close(self, trigger: Trigger, outcome: Outcome) -> None:
        self._outcome = outcome
        for key in ("repair_by", "respond_by", "decide_by", "appeal_by"):
            self._deadlines.pop(key, None)
        await self._activity(
            "close_case",
            CloseCase(application_id=self._app.application_id, outcome=outcome.value, closed_at=workflow.now()),
            CaseClosed,
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
        await self._activity(
            "send_letter",
            SendLetter(
                application_id=self._app.application_id,
                key=key,
                kind=kind,
                recipients=recipients,
                facts=facts,
                items=items or [],
            ),
            LettersSent,
        )

    async def _activity(self, name: str, arg: Model, result_type: type[R]) -> R:
        result: R = await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary=name.replace("_", " "),
        )
        return result

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
        decide_by = self._deadlines.get("decide_by")
        interview_at = self._interview.starts_at if self._phase is Phase.INTERVIEW_BOOKED else None
        wanted: dict[str, str | datetime | None] = {
            APPLICATION_STEP.name: step.key,
            APPLICATION_PHASE.name: self._phase.value,
            POLICY_VERSION.name: self._policy.id,
            APPLICATION_OUTCOME.name: self._outcome.value if self._outcome else None,
            DECISION_DUE_BY.name: decide_by.due if decide_by else None,
            INTERVIEW_AT.name: interview_at,
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in (APPLICATION_STEP, APPLICATION_PHASE, POLICY_VERSION, APPLICATION_OUTCOME):
            value = wanted[key.name]
            if key.name not in self._published or self._published[key.name] != value:
                updates.append(key.value_set(value) if isinstance(value, str) else key.value_unset())
        for dt_key in (DECISION_DUE_BY, INTERVIEW_AT):
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
