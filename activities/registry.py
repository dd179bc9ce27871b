"""Activities against the registry: register, book a slot, record a decision, issue a permit, close.

Each activity is one small transaction that first looks for its own earlier result (the
idempotency key is named in each docstring) and returns it if found, so a retry after a
crash changes nothing.  Unique constraints back every key: if two attempts race past the
check, the loser's transaction fails with an ``IntegrityError``, Temporal retries it, and
the retry finds the winner's row.  Business failures (an unknown case, an impossible
request) are non-retryable ``ApplicationError``s with a ``type`` named beside the check.

Slots live in the registry too.  They are generated lazily and idempotently for the
working days ahead of each request (``domain.deadlines.is_working_day``) at the times,
places and interpreter languages the settings list; a booking then claims the earliest
free one with a compare-and-set update, so two cases never get the same slot.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.letters import LetterOutbox
from activities.registry_db import (
    CASE_CLOSED,
    CASE_OPEN,
    PERMIT_REPLACED,
    PERMIT_VALID,
    ApplicantRow,
    CaseRow,
    DecisionRow,
    PermitRow,
    Registry,
    SlotRow,
    insert_missing,
    model_of,
    new_row,
    record_phase,
    require_case,
    utcnow,
)
from domain.deadlines import AMSTERDAM, is_working_day
from domain.identifiers import DOCUMENT_NUMBER_ALPHABET, document_number_is_valid
from domain.messages import (
    BookSlot,
    CaseClosed,
    CaseRegistered,
    CloseCase,
    DecisionRecorded,
    IssuePermit,
    LetterKind,
    PermitIssued,
    Recipient,
    RecordDecision,
    RegisterCase,
    SendLetter,
    SlotBooking,
    SlotKind,
)
from domain.models import DecisionOutcome
from domain.steps import Outcome, Phase
from infra import metrics
from infra.settings import Settings

# The same application id registered again with different facts: two intake runs disagree,
# and only a person can say which one is right.
REGISTRATION_CONFLICT = "RegistrationConflict"
# An interview needs an interpreter language; a slot kind the registry does not know.
INVALID_SLOT_REQUEST = "InvalidSlotRequest"
# A decision that cannot exist (an intended decision to grant), or a second, different
# decision under the same (sequence, final).
INVALID_DECISION = "InvalidDecision"
DECISION_CONFLICT = "DecisionConflict"
# A permit type other than III/IV, or a validity that ends before it starts.
INVALID_PERMIT = "InvalidPermit"
# close_case with an outcome the service does not know.
INVALID_OUTCOME = "InvalidOutcome"

ENDORSEMENT = "Arbeid vrij toegestaan. TWV niet vereist."
PERMIT_TYPES = frozenset({"III", "IV"})
# 34**8 numbers: a collision is rare, several in a row mean something else is wrong.
DOCUMENT_NUMBER_ATTEMPTS = 10
# How many free slots to try in one booking before giving up to the next retry.
BOOKING_CANDIDATES = 25


def new_document_number(permit_type: str) -> str:
    """``<type>-V`` and 8 characters without 0 and O, drawn from a CSPRNG (RvIG format)."""
    return f"{permit_type}-V" + "".join(secrets.choice(DOCUMENT_NUMBER_ALPHABET) for _ in range(8))


class RegistryActivities:
    """Activities whose system of record is the registry; decisions also send letters."""

    def __init__(self, registry: Registry, outbox: LetterOutbox, settings: Settings) -> None:
        self._registry = registry
        self._outbox = outbox
        self._settings = settings

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.register_case, self.book_slot, self.record_decision, self.issue_permit, self.close_case]

    # --- register_case ------------------------------------------------------------------------

    @activity.defn(name="register_case")
    def register_case(self, request: RegisterCase) -> CaseRegistered:
        """Idempotent on application_id; ``already_registered`` says the row existed before."""
        app = request.application
        log = structlog.get_logger().bind(application_id=app.application_id)
        with self._registry.transaction() as session:
            case = session.scalar(select(CaseRow).where(CaseRow.application_id == app.application_id))
            if case is not None:
                if case.received_at != app.received_at:
                    raise ApplicationError(
                        f"case {app.application_id} is already registered with another receipt time",
                        type=REGISTRATION_CONFLICT,
                        non_retryable=True,
                    )
                log.info("case_already_registered")
                return CaseRegistered(
                    application_id=case.application_id, registered_at=case.registered_at, already_registered=True
                )
            now = utcnow()
            # application_id and received_at from the application; policy_version, decide_by, phase from the request
            case = new_row(CaseRow, app, request, status=CASE_OPEN, outcome=None, registered_at=now, closed_at=None)
            lawyer = app.applicant.lawyer
            session.add(case)
            session.flush()  # the applicant row's foreign key needs the case row first
            session.add(
                new_row(
                    ApplicantRow,
                    app.applicant,
                    application_id=app.application_id,
                    lawyer_name=lawyer.name if lawyer else None,
                    lawyer_email=lawyer.email if lawyer else None,
                )
            )
        log.info("case_registered", policy_version=request.policy_version)
        return CaseRegistered(application_id=app.application_id, registered_at=now)

    # --- book_slot ----------------------------------------------------------------------------

    @activity.defn(name="book_slot")
    def book_slot(self, request: BookSlot) -> SlotBooking:
        """Idempotent on (application_id, purpose); ``booked=False`` when no slot is free."""
        log = structlog.get_logger().bind(application_id=request.application_id)
        languages: tuple[str, ...] = ()
        if request.kind is SlotKind.INTERVIEW:
            if not request.language:
                raise ApplicationError(
                    "an interview slot needs the interpreter language",
                    type=INVALID_SLOT_REQUEST,
                    non_retryable=True,
                )
            # "ar-SY" is served by an "ar" interpreter if there is no closer match.
            languages = tuple(dict.fromkeys((request.language, request.language.split("-", 1)[0])))

        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            existing = _booked(session, request.application_id, request.purpose)
            if existing is not None:
                log.info("slot_already_booked", purpose=request.purpose, slot_id=existing.id)
                return _booking(existing)

        first_day = request.not_before.astimezone(AMSTERDAM).date()
        with self._registry.transaction() as session:
            self._generate_slots(session, request.kind, first_day)

        try:
            with self._registry.transaction() as session:
                case = require_case(session, request.application_id)  # serialises attempts for this case
                # Looked up again inside the claiming transaction: a racing attempt of this
                # same activity may have booked since the first look.
                slot = _booked(session, request.application_id, request.purpose)
                if slot is None:
                    slot = self._claim(session, request, languages)
                    if slot is None:
                        # The language is not logged: with the case id it hints at nationality.
                        log.warning("no_slot_free", kind=request.kind.value, purpose=request.purpose)
                        return SlotBooking(booked=False)
                    if request.phase_if_booked is not None:
                        record_phase(case, request.phase_if_booked)
                    log.info("slot_booked", kind=request.kind.value, purpose=request.purpose, slot_id=slot.id)
                return _booking(slot)
        except IntegrityError:
            # On PostgreSQL the racing attempt's claim surfaces here, through the unique
            # (booked_by, purpose): its booking is the answer.
            with self._registry.transaction() as session:
                slot = _booked(session, request.application_id, request.purpose)
            if slot is None:
                raise
            return _booking(slot)

    def _generate_slots(self, session: Session, kind: SlotKind, first_day: date) -> None:
        """Make sure every slot of ``kind`` exists for the working days of the horizon."""
        s = self._settings
        days = [first_day + timedelta(days=n) for n in range(s.slot_horizon_days)]
        days = [d for d in days if is_working_day(d)]
        places: list[tuple[str, str | None]]
        if kind is SlotKind.INTERVIEW:
            times = s.interview_times
            places = [(loc, lang) for loc in s.interview_locations for lang in s.interpreter_languages]
        else:
            times = s.desk_times
            places = [(desk, None) for desk in s.desks]
        instants = [_instant(day, hhmm) for day in days for hhmm in times]
        if not instants or not places:
            return
        wanted: list[dict[str, Any]] = [
            {"kind": kind.value, "starts_at": at, "location": loc, "interpreter_language": lang}
            for at in instants
            for loc, lang in places
        ]
        start, end = min(instants), max(instants)
        have = session.scalar(
            select(func.count())
            .select_from(SlotRow)
            .where(SlotRow.kind == kind.value, SlotRow.starts_at >= start, SlotRow.starts_at <= end)
        )
        if have is not None and have >= len(wanted):
            return  # the common case: generated by an earlier booking
        insert_missing(session, SlotRow, wanted)

    def _claim(self, session: Session, request: BookSlot, languages: tuple[str, ...]) -> SlotRow | None:
        for language in languages or (None,):
            query = (
                select(SlotRow)
                .where(
                    SlotRow.kind == request.kind.value,
                    SlotRow.booked_by.is_(None),
                    SlotRow.starts_at >= request.not_before,
                )
                .order_by(SlotRow.starts_at, SlotRow.location, SlotRow.id)
                .limit(BOOKING_CANDIDATES)
            )
            if language is not None:
                query = query.where(SlotRow.interpreter_language == language)
            for slot in session.scalars(query).all():
                # Compare-and-set: on PostgreSQL another transaction may claim it first.
                claimed = session.execute(
                    update(SlotRow)
                    .where(SlotRow.id == slot.id, SlotRow.booked_by.is_(None))
                    .values(booked_by=request.application_id, purpose=request.purpose, booked_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                if getattr(claimed, "rowcount", 0) == 1:
                    session.refresh(slot)
                    return slot
        return None

    # --- record_decision ----------------------------------------------------------------------

    @activity.defn(name="record_decision")
    def record_decision(self, request: RecordDecision) -> DecisionRecorded:
        """Idempotent on (application_id, sequence, final); the letters on their own keys."""
        log = structlog.get_logger().bind(application_id=request.application_id)
        if not request.final and request.outcome in (DecisionOutcome.GRANTED, DecisionOutcome.NOT_PROCESSED):
            raise ApplicationError(
                "an intended decision (voornemen) is only taken to reject on the merits",
                type=INVALID_DECISION,
                non_retryable=True,
            )
        if not request.final and request.respond_by is None:
            # Checked before anything is written: the letter could not be sent without it.
            raise ApplicationError(
                "an intended decision needs respond_by, the end of the response period",
                type=INVALID_DECISION,
                non_retryable=True,
            )
        with self._registry.transaction() as session:
            case = require_case(session, request.application_id)
            key = {"application_id": request.application_id, "sequence": request.sequence, "final": request.final}
            row = session.scalar(select(DecisionRow).filter_by(**key))
            if row is None:
                row = new_row(DecisionRow, request, recorded_at=utcnow())
                session.add(row)
                session.flush()
                if request.final:
                    case.outcome = request.outcome.value
                if request.phase_after is not None:
                    record_phase(case, request.phase_after)
                log.info("decision_recorded", sequence=request.sequence, final=request.final)
                metrics.decision_recorded(request.outcome, final=request.final)
            elif row.outcome != request.outcome.value:
                raise ApplicationError(
                    f"decision {request.sequence} of case {request.application_id} was recorded with another outcome",
                    type=DECISION_CONFLICT,
                    non_retryable=True,
                )
            decision_id = row.id

        letters = self._outbox.send(_decision_letter(request))
        return DecisionRecorded(decision_id=decision_id, letters=letters)

    # --- issue_permit -------------------------------------------------------------------------

    @activity.defn(name="issue_permit")
    def issue_permit(self, request: IssuePermit) -> PermitIssued:
        """Idempotent on (application_id, purpose); a new document number only on first issue."""
        log = structlog.get_logger().bind(application_id=request.application_id)
        if request.permit_type not in PERMIT_TYPES or request.valid_until <= request.valid_from:
            raise ApplicationError(
                "a permit is of type III or IV and valid for a positive period", type=INVALID_PERMIT, non_retryable=True
            )
        for _attempt in range(DOCUMENT_NUMBER_ATTEMPTS):
            try:
                with self._registry.transaction() as session:
                    require_case(session, request.application_id)
                    row = session.scalar(
                        select(PermitRow).filter_by(application_id=request.application_id, purpose=request.purpose)
                    )
                    if row is not None:
                        log.info("permit_already_issued", purpose=request.purpose)
                        return _permit(row)
                    number = new_document_number(request.permit_type)
                    if session.scalar(select(PermitRow.id).where(PermitRow.document_number == number)) is not None:
                        continue  # taken: draw again
                    # The earlier card of this case is replaced by the new one (extension,
                    # replacement, permanent permit); a card reported lost stays invalid.
                    session.execute(
                        update(PermitRow)
                        .where(PermitRow.application_id == request.application_id, PermitRow.status == PERMIT_VALID)
                        .values(status=PERMIT_REPLACED)
                        .execution_options(synchronize_session=False)
                    )
                    row = new_row(
                        PermitRow,
                        request,
                        document_number=number,
                        status=PERMIT_VALID,
                        endorsement=ENDORSEMENT,
                        issued_at=utcnow(),
                    )
                    session.add(row)
                    session.flush()
                    log.info("permit_issued", purpose=request.purpose, permit_type=request.permit_type)
                    return _permit(row)
            except IntegrityError:
                # A number drawn at the same moment by another case, or this very permit
                # issued by a concurrent attempt: the next round tells which.
                continue
        raise RuntimeError("no free document number after several draws")  # retryable

    # --- close_case ---------------------------------------------------------------------------

    @activity.defn(name="close_case")
    def close_case(self, request: CloseCase) -> CaseClosed:
        """Idempotent: a closed case stays closed with the outcome it was closed with."""
        log = structlog.get_logger().bind(application_id=request.application_id)
        if request.outcome not in {o.value for o in Outcome}:
            raise ApplicationError(f"unknown outcome {request.outcome!r}", type=INVALID_OUTCOME, non_retryable=True)
        with self._registry.transaction() as session:
            case = require_case(session, request.application_id)
            if case.status == CASE_CLOSED:
                log.info("case_already_closed")
                return CaseClosed(application_id=case.application_id, outcome=case.outcome or request.outcome)
            case.status = CASE_CLOSED
            case.phase = Phase.CLOSED.value
            case.outcome = request.outcome
            case.closed_at = request.closed_at
        log.info("case_closed")  # the outcome is not logged: it is a fact about the person
        return CaseClosed(application_id=request.application_id, outcome=request.outcome)


# --- helpers ----------------------------------------------------------------------------------


def _instant(day: date, hhmm: str) -> datetime:
    """A Dutch wall-clock time on a Dutch date, as the UTC instant it is."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=AMSTERDAM).astimezone(UTC)


def _booked(session: Session, application_id: str, purpose: str) -> SlotRow | None:
    return session.scalar(select(SlotRow).filter_by(booked_by=application_id, purpose=purpose))


def _booking(slot: SlotRow) -> SlotBooking:
    return model_of(SlotBooking, slot, booked=True, slot_id=slot.id)


def _permit(row: PermitRow) -> PermitIssued:
    assert document_number_is_valid(row.document_number)
    return model_of(PermitIssued, row)


def _decision_letter(request: RecordDecision) -> SendLetter:
    """The decision letter: to the applicant and lawyer; a final rejection also to DT&V.

    A not-processed decision (art. 30c Vw) has its own letter and is no return decision, so
    DT&V gets no copy of it.
    """
    not_processed = request.outcome is DecisionOutcome.NOT_PROCESSED
    recipients = [Recipient.APPLICANT, Recipient.LAWYER]
    if request.final and request.outcome is not DecisionOutcome.GRANTED and not not_processed:
        recipients.append(Recipient.RETURN_SERVICE)
    facts = {
        **request.letter_facts,
        "outcome": request.outcome.value,
        "grounds": request.grounds,
        "decided_at": request.decided_at.isoformat(),
        "sequence": str(request.sequence),
        "policy_version": request.policy_version,
    }
    if request.respond_by is not None:
        facts["respond_by"] = request.respond_by.isoformat()
    if request.appeal_by is not None:
        facts["appeal_by"] = request.appeal_by.isoformat()
    kind = LetterKind.DECISION if request.final else LetterKind.INTENDED_DECISION
    if not_processed:
        kind = LetterKind.NOT_PROCESSED
    return SendLetter(
        application_id=request.application_id,
        key=f"decision-{request.sequence}-{'final' if request.final else 'intended'}",
        kind=kind,
        recipients=recipients,
        facts=facts,
        items=list(request.letter_items),
    )
