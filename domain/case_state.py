"""The application's state as one model, and what it shows: the status, the details, the search attributes.

``CaseState`` holds everything the application workflow decides on; the workflow
(``workflows/application.py``) only orchestrates: it waits, calls activities and changes the
state through the methods here.  Everything here is pure and tested without a server.

Strings of the past are enums now: the deadline kinds (``DeadlineKind``; their values are the
keys of ``CaseStatus.deadlines`` and the details table), the decision-deadline alert
(``DecisionAlert``) and the operator warnings (``WarningKind``: one warning per kind, found
by its kind, not by its text).
"""

from __future__ import annotations

__all__ = [
    "NO_SLOT_WARNING",
    "PHASE_DEADLINES",
    "CaseState",
    "DeadlineKind",
    "DecisionAlert",
    "NotProcessed",
    "PhaseDeadline",
    "WarningKind",
    "local",
]

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain import deadlines as dl
from domain.case import CaseOptions, CaseStatus, DeadlineView, DecisionView, InterviewView, PermitView, details_markdown
from domain.case_kinds import (
    NO_SLOT_WARNING,
    PHASE_DEADLINES,
    DeadlineKind,
    DecisionAlert,
    NotProcessed,
    PhaseDeadline,
    WarningKind,
    local,
)
from domain.identifiers import application_workflow_id
from domain.messages import MissingItem, RecordDecision
from domain.models import (
    AppealEvent,
    Application,
    DecisionEvent,
    DecisionOutcome,
    Document,
    ExtendDecisionPeriodEvent,
    InterviewBookedEvent,
    InterviewReportEvent,
    NoShowEvent,
    PermitCollectedEvent,
    ResponseEvent,
    check_document_references,
)
from domain.permit.schedule import first_term
from domain.policy import ADMISSIBILITY, MERITS, PolicyVersion
from domain.requirements import Finding
from domain.search_attributes import (
    APPLICATION_OUTCOME,
    APPLICATION_PHASE,
    APPLICATION_STEP,
    DECISION_DUE_BY,
    INTERVIEW_AT,
    POLICY_VERSION,
)
from domain.steps import APPLICATION_EVENTS, MACHINE, NEGATIVE_OUTCOMES, PHASE_STEP, Outcome, Phase, Step, Trigger, move


class CaseState(BaseModel):
    """Everything the application workflow knows about one case (never persisted on its own:
    the workflow's history rebuilds it on replay)."""

    model_config = ConfigDict(extra="forbid")

    application: Application
    options: CaseOptions
    policy_id: str
    findings: list[Finding] = Field(default_factory=list)
    phase: Phase = Phase.REGISTERING
    last_step: Step = Step.APPLY
    outcome: Outcome | None = None
    deadlines: dict[DeadlineKind, DeadlineView] = Field(default_factory=dict)
    documents: list[Document] = Field(default_factory=list)
    missing: list[MissingItem] = Field(default_factory=list)
    check_round: int = 0
    interview: InterviewView = Field(default_factory=InterviewView)
    interview_round: int = 0
    slot_retry_at: datetime | None = None
    decisions: list[DecisionView] = Field(default_factory=list)
    decision_round_has_intended: bool = False
    appeal_lodged: bool = False
    permit: PermitView | None = None
    warnings: dict[WarningKind, str] = Field(default_factory=dict)
    decide_alert: DecisionAlert = DecisionAlert.NONE
    failed_bookings: int = 0  # in a row; after options.slot_tries_before_manual one may be booked by hand
    unexcused_no_show: bool = False  # since the last interview was booked: allows `not_processed`
    decision_start: datetime | None = None  # the decision periods run from here (None: receipt)
    extended: dict[DeadlineKind, int] = Field(default_factory=dict)  # months each decision period was extended by

    @classmethod
    def open(cls, application: Application, options: CaseOptions, policy: PolicyVersion, findings: list[Finding]) -> CaseState:
        state = cls(
            application=application,
            options=options,
            policy_id=policy.id,
            findings=findings,
            documents=list(application.documents),
        )
        state.set_decision_deadlines(policy, application.received_at)
        return state

    # --- changes ---------------------------------------------------------------------------

    def move(self, trigger: Trigger, target: Phase) -> None:
        """One move, checked against the transition table."""
        self.phase = move(self.phase, trigger, target)
        if target in PHASE_STEP:
            self.last_step = PHASE_STEP[target]

    def set_deadline(self, kind: DeadlineKind, period: dl.Period, start: datetime) -> None:
        computed = dl.compute(start, period)
        self.deadlines[kind] = DeadlineView(due=computed.due, basis=computed.basis, explanation=computed.explanation)

    def set_decision_deadlines(self, policy: PolicyVersion, start: datetime) -> None:
        """The merits deadline, and under a policy that separates them the admissibility one."""
        if policy.separate_admissibility:
            self.set_deadline(DeadlineKind.ADMISSIBILITY_BY, policy.decide_admissibility, start)
        self.set_deadline(DeadlineKind.DECIDE_BY, policy.decide, start)

    def decision_due(self) -> DeadlineView | None:
        """The earliest decision deadline that applies (the admissibility one under the EU policy)."""
        kinds = (DeadlineKind.ADMISSIBILITY_BY, DeadlineKind.DECIDE_BY)
        return min((self.deadlines[k] for k in kinds if k in self.deadlines), key=lambda d: d.due, default=None)

    def drop_deadlines(self, *kinds: DeadlineKind) -> None:
        for kind in kinds:
            self.deadlines.pop(kind, None)

    def due(self, kind: DeadlineKind) -> datetime:
        return self.deadlines[kind].due

    def warn(self, kind: WarningKind, text: str) -> None:
        """Raise (or replace) the warning of this kind; a replaced one moves to the end."""
        self.warnings.pop(kind, None)
        self.warnings[kind] = text

    def clear_warning(self, kind: WarningKind) -> None:
        self.warnings.pop(kind, None)

    def check_documents_event(self, added: list[Document]) -> None:
        """New documents: ids not yet in the case, references to documents of the case."""
        self.check_new_documents(added)
        try:
            check_document_references(self.documents + list(added), list(self.application.new_elements))
        except ValueError as err:
            raise ValueError(f"documents: {err}") from None

    def check_decision(self, body: DecisionEvent) -> None:
        """A grant may name a later start of the permit, never one before receipt; not processed
        only after an unexcused no-show (Vw 2000 art. 30c; issue 9 point 1)."""
        if body.outcome is DecisionOutcome.NOT_PROCESSED and not (
            self.unexcused_no_show and self.phase is Phase.AWAITING_DECISION
        ):
            raise ValueError(
                "outcome: 'not_processed' (art. 30c Vw) is allowed only after an unexcused no-show at the interview; "
                "an unrepaired application is not processed when its repair period ends"
            )
        if body.effective_from is not None:
            first_term(self.received_on, 1, body.effective_from)

    def check_permit_collected(self, body: PermitCollectedEvent) -> None:
        permit = self.permit
        issued_on = permit.issued_on or permit.valid_from if permit is not None else None
        if issued_on is not None and body.collected_on < issued_on:
            raise ValueError(f"collected_on lies before the permit was issued ({issued_on})")

    def permit_term(self, policy: PolicyVersion, effective_from: date | None) -> tuple[date, date]:
        """The first permit's term: from the day of receipt, not the decision date (domain/permit/schedule.first_term)."""
        return first_term(self.received_on, policy.permit_validity_years, effective_from)

    @property
    def received_on(self) -> date:
        return self.application.received_at.astimezone(dl.AMSTERDAM).date()

    def acknowledgement_facts(self) -> dict[str, str]:
        """What the acknowledgement letter says about the dates: receipt and the decision deadlines."""
        decide_by = self.due(DeadlineKind.DECIDE_BY)
        admissibility_by = self.deadlines.get(DeadlineKind.ADMISSIBILITY_BY)
        return {
            "received_on": self.received_on.isoformat(),
            "decide_by": decide_by.astimezone(dl.AMSTERDAM).date().isoformat(),
            "admissibility_by": (admissibility_by.due if admissibility_by else decide_by)
            .astimezone(dl.AMSTERDAM)
            .date()
            .isoformat(),
        }

    def merge_documents(self, added: list[Document]) -> None:
        known = {d.id for d in self.documents}
        self.documents = self.documents + [d for d in added if d.id not in known]

    def check_new_documents(self, added: list[Document]) -> None:
        """A document id already in the case is refused, naming it."""
        known = {d.id for d in self.documents}
        for doc in added:
            if doc.id in known:
                raise ValueError(f"document id {doc.id!r} is already part of the case")

    def decision_alert_due(self) -> tuple[datetime, DecisionAlert] | None:
        """The next decision-deadline alert: when, and which level; None when there is none to wait for."""
        due = self.decision_due()
        if due is None or self.decide_alert is DecisionAlert.OVERDUE:
            return None
        if self.decide_alert is DecisionAlert.NONE:
            return due.due - self.options.decision_warning_lead, DecisionAlert.APPROACHING
        return due.due, DecisionAlert.OVERDUE

    def raise_decision_alert(self, level: DecisionAlert) -> None:
        view = self.decision_due()
        assert view is not None
        due = view.due
        self.decide_alert = level
        if level is DecisionAlert.APPROACHING:
            self.warn(WarningKind.DECISION_DEADLINE, f"decision due by {local(due)}")
        else:
            self.warn(WarningKind.DECISION_DEADLINE, f"decision deadline passed at {local(due)}")

    def reset_decision_alert(self) -> None:
        self.decide_alert = DecisionAlert.NONE
        self.clear_warning(WarningKind.DECISION_DEADLINE)

    def take_decision(self, outcome: Outcome, policy: PolicyVersion, now: datetime) -> tuple[bool, Phase]:
        """A decision's rules, applied before it is recorded: returns (final, the phase it leads to).

        A negative decision is first an intended decision (voornemen) where the policy has
        one and this decision round has had none (Vw 2000 art. 39; Vb 2000 art. 3.118b; the
        IND page's procedure before 12 June 2026): the response period starts.  A final
        decision ends the decision period; a negative one opens the appeal window
        (domain/policy.py names the periods' sources).
        """
        intended = (
            outcome in NEGATIVE_OUTCOMES
            and policy.intended_decision
            and self.phase is Phase.AWAITING_DECISION
            and not self.decision_round_has_intended
        )
        if intended:
            self.decision_round_has_intended = True
            self.set_deadline(DeadlineKind.RESPOND_BY, policy.respond, now)
            return False, Phase.INTENDED_DECISION
        self.drop_deadlines(DeadlineKind.ADMISSIBILITY_BY, DeadlineKind.DECIDE_BY)
        if outcome is Outcome.GRANTED:
            return True, Phase.AWAITING_COLLECTION
        self.set_deadline(DeadlineKind.APPEAL_BY, policy.appeal_period(outcome), now)
        return True, Phase.APPEAL_WINDOW

    def record_decision(self, body: DecisionEvent, *, final: bool, then: Phase, now: datetime) -> RecordDecision:
        """Note a decision in the state and return the request that records it in the registry."""
        respond_by = self.deadlines.get(DeadlineKind.RESPOND_BY)
        appeal_by = self.deadlines.get(DeadlineKind.APPEAL_BY)
        return self._decided(
            body.outcome,
            final=final,
            then=then,
            now=now,
            grounds=body.grounds,
            decided_by=body.decided_by,
            respond_by=respond_by.due if respond_by and not final else None,
            appeal_by=appeal_by.due if appeal_by and final else None,
        )

    def _decided(self, outcome: DecisionOutcome, *, final: bool, then: Phase, now: datetime, **request: Any) -> RecordDecision:
        """Add the decision to the case's list and build the request that records it."""
        sequence = len(self.decisions) + 1
        self.decisions.append(DecisionView(sequence=sequence, outcome=outcome.value, final=final, decided_at=now))
        return RecordDecision(
            application_id=self.application.application_id,
            sequence=sequence,
            outcome=outcome,
            final=final,
            decided_at=now,
            policy_version=self.policy_id,
            phase_after=then,
            **request,
        )

    def reopen(self, policy: PolicyVersion, now: datetime) -> None:
        """The court annulled the decision: a new decision round with a new decision period."""
        self.outcome = None
        self.appeal_lodged = False
        self.decision_round_has_intended = False
        self.unexcused_no_show = False
        self.extended = {}
        self.decision_start = now
        self.reset_decision_alert()
        self.set_decision_deadlines(policy, now)

    # --- issue 9: not processed, a missed interview, more time, manual booking ----------------

    def not_processed(self, policy: PolicyVersion, now: datetime, why: NotProcessed) -> RecordDecision:
        """Buiten behandeling (Vw 2000 art. 30c) is a decision that can be appealed (issue 9
        point 2): the decision periods end, the appeal window opens (domain/policy.py: 1 week,
        unconfirmed), and the request to record it carries the letter's facts."""
        self.drop_deadlines(DeadlineKind.ADMISSIBILITY_BY, DeadlineKind.DECIDE_BY)
        self.set_deadline(DeadlineKind.APPEAL_BY, policy.appeal_period(Outcome.NOT_PROCESSED), now)
        self.outcome = Outcome.NOT_PROCESSED
        return self._decided(
            DecisionOutcome.NOT_PROCESSED,
            final=True,
            then=Phase.APPEAL_WINDOW,
            now=now,
            grounds=why.grounds,
            decided_by=why.decided_by,
            appeal_by=self.due(DeadlineKind.APPEAL_BY),
            letter_facts=why.letter_facts,
            letter_items=list(why.letter_items),
        )

    def no_show(self, body: NoShowEvent) -> bool:
        """Note a missed interview; True when a new interview is to be booked (excused, within the limit)."""
        rebook = body.excused and self.interview.rebooked < self.options.interview_rebook_limit
        update: dict[str, Any] = {"no_show": True, "no_show_excused": body.excused}
        if rebook:
            update["rebooked"] = self.interview.rebooked + 1
        self.interview = self.interview.model_copy(update=update)
        if body.excused and not rebook:
            self.warn(
                WarningKind.REBOOK_LIMIT,
                f"excused no-show after {self.interview.rebooked} rebooked interview(s), the limit: decide on the file",
            )
        self.unexcused_no_show = not body.excused
        return rebook

    def booking_failed(self) -> None:
        """No slot free: after ``slot_tries_before_manual`` tries operators are told to book by hand (issue 9 point 17)."""
        self.failed_bookings += 1
        if self.failed_bookings < self.options.slot_tries_before_manual:
            self.warn(WarningKind.NO_INTERVIEW_SLOT, NO_SLOT_WARNING)
        else:
            self.warn(
                WarningKind.NO_INTERVIEW_SLOT,
                f"no interview slot with a suitable interpreter after {self.failed_bookings} tries: "
                "book one by hand and send 'interview-booked'",
            )

    def interview_booked(self, starts_at: datetime, location: str, *, by_hand: bool) -> None:
        self.failed_bookings = 0
        self.unexcused_no_show = False
        self.clear_warning(WarningKind.NO_INTERVIEW_SLOT)
        self.interview = self.interview.model_copy(
            update={"starts_at": starts_at, "location": location, "no_show": False, "booked_by_hand": by_hand}
        )

    def check_interview_booked(self, body: InterviewBookedEvent, now: datetime) -> None:
        tries = self.options.slot_tries_before_manual
        if self.failed_bookings < tries:
            raise ValueError(
                f"interview-booked: an interview is booked by hand only after {tries} failed automatic bookings "
                f"(so far {self.failed_bookings})"
            )
        if body.starts_at <= now:
            raise ValueError(f"starts_at: {local(body.starts_at)} is not in the future")
        if body.interpreter_language.split("-", 1)[0] != self.application.applicant.language.split("-", 1)[0]:
            raise ValueError("interpreter_language: not the language the applicant asked an interpreter for")

    def check_extension(self, policy: PolicyVersion, body: ExtendDecisionPeriodEvent, now: datetime) -> None:
        """More time only while the period runs and within the policy's maximum (Vw 2000
        art. 42(4); Regulation 2024/1348 art. 35)."""
        kind = DeadlineKind(body.deadline)
        if kind is DeadlineKind.ADMISSIBILITY_BY and not policy.separate_admissibility:
            raise ValueError(f"deadline: policy {policy.id} has one decision period; extend decide_by")
        current = self.deadlines.get(kind)
        if current is None:
            raise ValueError(f"deadline: {kind.value} no longer applies to this case")
        if current.due < now:
            raise ValueError(f"deadline: {kind.value} ended at {local(current.due)}; a period is extended only before it ends")
        maximum = policy.max_extension(ADMISSIBILITY if kind is DeadlineKind.ADMISSIBILITY_BY else MERITS)
        used = self.extended.get(kind, 0)
        if used + body.months > maximum:
            raise ValueError(
                f"months: {kind.value} may be extended by at most {maximum} month(s) under {policy.id} "
                f"({policy.references_extension_en}); {used} already used"
            )

    def extend_decision_period(self, policy: PolicyVersion, kind: DeadlineKind, months: int) -> int:
        """Recompute the decision period from its start with the extension; returns the months in all."""
        total = self.extended.get(kind, 0) + months
        self.extended[kind] = total
        clock = ADMISSIBILITY if kind is DeadlineKind.ADMISSIBILITY_BY else MERITS
        self.set_deadline(kind, policy.extended(clock, total), self.decision_start or self.application.received_at)
        self.reset_decision_alert()
        return total

    # --- issue 8 defect 8: dates an event reports --------------------------------------------

    def check_not_after_today(self, name: str, day: date, now: datetime) -> None:
        today = now.astimezone(dl.AMSTERDAM).date()
        if day > today:
            raise ValueError(f"{name}: {day} lies in the future (today is {today})")

    def check_interview_report(self, body: InterviewReportEvent, now: datetime) -> None:
        """Not before the booked interview's day, not after today."""
        booked = self.interview.starts_at
        if booked is not None:
            booked_on = booked.astimezone(dl.AMSTERDAM).date()
            if body.held_on < booked_on:
                raise ValueError(f"held_on: {body.held_on} lies before the booked interview on {booked_on}")
        self.check_not_after_today("held_on", body.held_on, now)

    def check_response(self, body: ResponseEvent, now: datetime) -> None:
        intended = next((d for d in reversed(self.decisions) if not d.final), None)
        if intended is not None:
            on = intended.decided_at.astimezone(dl.AMSTERDAM).date()
            if body.submitted_on < on:
                raise ValueError(f"submitted_on: {body.submitted_on} lies before the intended decision of {on}")
        self.check_not_after_today("submitted_on", body.submitted_on, now)

    def check_appeal(self, body: AppealEvent, now: datetime) -> None:
        final = next((d for d in reversed(self.decisions) if d.final), None)
        if final is not None:
            on = final.decided_at.astimezone(dl.AMSTERDAM).date()
            if body.lodged_on < on:
                raise ValueError(f"lodged_on: {body.lodged_on} lies before the decision of {on}")
        self.check_not_after_today("lodged_on", body.lodged_on, now)

    # --- views -----------------------------------------------------------------------------

    @property
    def step(self) -> Step:
        """The step of the phase; a closed case keeps the step it closed in."""
        return PHASE_STEP.get(self.phase, self.last_step)

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    def status(self) -> CaseStatus:
        step = self.step
        app = self.application
        return CaseStatus(
            application_id=app.application_id,
            workflow_id=application_workflow_id(app.application_id),
            step_number=step.number,
            step=step.key,
            step_title=step.title,
            phase=self.phase.value,
            outcome=self.outcome.value if self.outcome else None,
            policy_version=self.policy_id,
            received_at=app.received_at,
            findings=self.findings,
            deadlines={k.value: v.due for k, v in self.deadlines.items()},
            deadline_basis={k.value: f"{v.basis}: {v.explanation}" for k, v in self.deadlines.items()},
            outstanding_documents=[_outstanding(m) for m in self.missing]
            if self.phase in (Phase.AWAITING_DOCUMENTS, Phase.CHECKING_DOCUMENTS)
            else [],
            interview=self.interview,
            decisions=self.decisions,
            appeal_court_case_lodged=self.appeal_lodged,
            permit=self.permit,
            warnings=list(self.warnings.values()),
            closed=self.closed,
        )

    def details(self) -> str:
        """The Web UI's current details (no personal data)."""
        status = self.status()
        missing_nl = [m.message_nl for m in self.missing] if status.outstanding_documents else []
        accepts = [t.value for t in APPLICATION_EVENTS if MACHINE.allowed(self.phase, t)]
        return details_markdown(status, missing_nl=missing_nl, accepts=accepts)

    def search_attributes(self) -> dict[str, Any]:
        """The value of each application search attribute now (None: unset)."""
        decide_by = self.decision_due()
        return {
            APPLICATION_STEP.name: self.step.key,
            APPLICATION_PHASE.name: self.phase.value,
            POLICY_VERSION.name: self.policy_id,
            APPLICATION_OUTCOME.name: self.outcome.value if self.outcome else None,
            DECISION_DUE_BY.name: decide_by.due if decide_by else None,
            INTERVIEW_AT.name: self.interview.starts_at if self.phase is Phase.INTERVIEW_BOOKED else None,
        }


def _outstanding(item: MissingItem) -> str:
    return f"{item.document_id}: {item.message}" if item.document_id else item.message
