"""The case file (dossier): the whole chronology of a case and its permit, for a lawyer or a court.

Built from three records, each authoritative for its part:

* the **workflow histories** of ``application-<id>`` and ``permit-<id>`` (every run, also
  after continue-as-new and after the workflow closed), decrypted with the key: every
  accepted event with its body, every activity, every timer that fired, every phase;
* the **registry** (``activities/registry_db.py``): the applicant, the documents on file
  with their sha256, decisions with grounds and who took them, cards, warnings, fines;
* the **letters outbox** (the registry's ``letters`` table): every letter with its file.

Deadlines come from the case's own statements (``CaseStatus.deadlines`` and
``deadline_basis``, returned by every accepted event and by the closed workflow), so each
carries the legal basis the workflow computed it with; whether it was met is read from
when it disappeared from the case: before its due time means the act that ends it came in
time.  The JSON the command prints is the model in ``reports.casefile_model``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain import search_attributes as sa
from domain.identifiers import application_workflow_id, permit_workflow_id
from infra.codec import EncryptionCodec, KeyRing
from reports import labels
from reports.casefile_model import (
    Appeal,
    Applicant,
    Card,
    CaseFile,
    CaseSummary,
    Deadline,
    Decision,
    DocumentOnFile,
    Entry,
    Interview,
    Letter,
    PermitLife,
    Run,
    StatusChange,
    Violation,
)
from reports.history import Fact, PayloadReader, RunHistory, facts_of, fetch_runs

_M = TypeVar("_M", bound=BaseModel)


class CaseNotFound(LookupError):
    pass


# --- from the histories -------------------------------------------------------------------


def _workflow(fact: Fact) -> Literal["application", "permit"]:
    return "permit" if fact.workflow_id.startswith("permit-") else "application"


def entry(fact: Fact) -> Entry | None:  # noqa: C901  # one branch per kind of fact in the chronology
    """A fact as a line of the chronology; None for facts that say nothing to a reader."""
    data: Any = None
    actor: str | None = None
    detail = ""
    refused = fact.failure
    title: str
    match fact.kind:
        case "started":
            title = labels.started(fact.name, fact.input)
        case "event":
            body = fact.input if isinstance(fact.input, dict) else {}
            title = labels.EVENTS.get(fact.name, f"Gebeurtenis '{fact.name}'")
            actor = body.get("decided_by") if isinstance(body.get("decided_by"), str) else labels.EVENT_ACTORS.get(fact.name)
            detail = labels.describe(body)
            data = body
            result = fact.result if isinstance(fact.result, dict) else {}
            if result.get("refused"):
                refused = str(result.get("message", ""))
        case "activity":
            title = labels.activity(fact.name, fact.input, fact.result)
            detail = labels.activity_detail(fact.name, fact.input, fact.result)
            data = {"input": fact.input, "result": fact.result}
        case "timer":
            title = f"Termijn of wachttijd verstreken: {labels.timer(fact.summary or fact.name)}"
        case "attribute":
            if fact.name == sa.APPLICATION_OUTCOME.name and fact.result is None:
                return None
            title = labels.attribute(fact.name, fact.result)
        case "child":
            title = "Verblijfsvergunning gaat over naar een eigen procedure (workflow)"
            detail = str(fact.result)
        case "continued":
            title = "Procedure voortgezet in een nieuwe run (continue-as-new)"
        case "completed":
            title = "Procedure van de vergunning afgesloten" if fact.workflow_id.startswith("permit-") else "Zaak afgesloten"
        case _:
            title = f"Procedure beëindigd ({fact.kind})"
    return Entry(
        at=fact.at,
        workflow=_workflow(fact),
        kind=fact.kind,
        name=fact.name,
        title=title,
        actor=actor,
        detail=detail,
        refused=refused,
        data=data,
    )


def snapshots(facts: Sequence[Fact]) -> list[tuple[datetime, dict[str, Any]]]:
    """The case as it stated itself after each accepted event and at its end."""
    out: list[tuple[datetime, dict[str, Any]]] = []
    for fact in facts:
        if fact.workflow_id.startswith("permit-"):
            continue
        if fact.kind in ("event", "completed") and isinstance(fact.result, dict) and "deadlines" in fact.result:
            out.append((fact.at, fact.result))
    return out


def deadlines(states: Sequence[tuple[datetime, dict[str, Any]]], timers: Sequence[Fact]) -> list[Deadline]:
    """Every deadline the case had, with its basis, and whether it was met."""
    found: list[Deadline] = []
    active: dict[str, int] = {}

    def close(key: str, at: datetime) -> None:
        index = active.pop(key)
        current = found[index]
        # A period that ended by its own timer ended at the timer, not at the next record.
        fired = [t.at for t in timers if current.first_recorded_at <= t.at <= at and t.at >= current.due]
        ended = min(fired) if fired else at
        found[index] = current.model_copy(update={"closed_at": ended, "met": ended <= current.due})

    for at, state in states:
        due_map = state.get("deadlines") or {}
        basis = state.get("deadline_basis") or {}
        for key in list(active):
            if key not in due_map:
                close(key, at)
        for key, raw in due_map.items():
            due = datetime.fromisoformat(raw)
            if key in active and found[active[key]].due == due:
                continue
            if key in active:
                close(key, at)
            found.append(
                Deadline(
                    key=key,
                    title=labels.DEADLINES.get(key, key),
                    due=due,
                    basis=str(basis.get(key, "")),
                    first_recorded_at=at,
                    closed_at=None,
                    met=None,
                )
            )
            active[key] = len(found) - 1
    return found


def _with(model: _M, **update: Any) -> _M:
    """``model`` with ``update`` validated (``model_copy`` would take the values unchecked)."""
    return model.model_validate({**model.model_dump(), **update})


def interviews(facts: Sequence[Fact]) -> list[Interview]:
    out: list[Interview] = []
    for fact in facts:
        body = fact.input if isinstance(fact.input, dict) else {}
        if fact.kind == "event" and fact.name == "interview-decision" and fact.failure is None:
            out.append(Interview(decided_at=fact.at, needed=bool(body.get("needed")), reason=str(body.get("reason", ""))))
        elif not out:
            continue
        elif fact.kind == "activity" and fact.name == "book_slot" and body.get("kind") == "interview":
            result = fact.result if isinstance(fact.result, dict) else {}
            if result.get("booked"):
                out[-1] = _with(out[-1], starts_at=result.get("starts_at"), location=result.get("location"))
        elif fact.kind == "event" and fact.name == "interview-report" and fact.failure is None:
            out[-1] = _with(out[-1], held_on=body.get("held_on"))
        elif fact.kind == "event" and fact.name == "no-show" and fact.failure is None:
            out[-1] = _with(out[-1], no_show=True)
    return out


def appeals(facts: Sequence[Fact]) -> list[Appeal]:
    out: list[Appeal] = []
    for fact in facts:
        if fact.kind != "event" or fact.failure is not None or not isinstance(fact.input, dict):
            continue
        if fact.name == "appeal":
            out.append(
                Appeal(lodged_on=fact.input["lodged_on"], court_case=str(fact.input.get("court_case", "")), recorded_at=fact.at)
            )
        elif fact.name == "judgment" and out:
            out[-1] = _with(out[-1], judgment=fact.input.get("result"), judged_at=fact.at)
    return out


# --- from the registry --------------------------------------------------------------------


class RegistryRecords(BaseModel):
    """What the registry holds about a case; ``permit`` without the permit workflow's own view."""

    applicant: Applicant | None = None
    case: CaseSummary | None = None
    decisions: list[Decision] = Field(default_factory=list)
    letters: list[Letter] = Field(default_factory=list)
    documents: list[DocumentOnFile] = Field(default_factory=list)
    permit: PermitLife = Field(default_factory=PermitLife)


def read_registry(url: str, application_id: str) -> RegistryRecords:
    # Imported here: only the case file needs the registry's tables in this process.
    from activities.permits import CardCollectionRow, InvalidDocumentRow, PermitStatusChangeRow, PermitViolationRow
    from activities.registry_db import (
        ApplicantRow,
        CaseRow,
        DecisionRow,
        DocumentRow,
        LetterRow,
        PermitRow,
        Registry,
        model_of,
    )

    registry = Registry(url)
    try:
        with Session(registry.engine) as db:

            def rows(model: Any, *order: Any) -> list[Any]:
                query = select(model).where(model.application_id == application_id)
                return list(db.scalars(query.order_by(*order) if order else query))

            case = rows(CaseRow)
            if not case:
                return RegistryRecords()
            applicant = rows(ApplicantRow)
            collected = {row.document_number: row.collected_on for row in rows(CardCollectionRow, CardCollectionRow.id)}
            invalid = {row.document_number: row.reason for row in rows(InvalidDocumentRow, InvalidDocumentRow.id)}
            letters = [
                model_of(Letter, row, title=labels.LETTERS.get(row.kind, row.kind), file=row.path)
                for row in rows(LetterRow, LetterRow.created_at, LetterRow.id)
            ]
            permit = PermitLife(
                cards=[
                    model_of(
                        Card,
                        row,
                        collected_on=collected.get(row.document_number),
                        invalid_reason=invalid.get(row.document_number),
                    )
                    for row in rows(PermitRow, PermitRow.issued_at, PermitRow.id)
                ],
                status_changes=[
                    model_of(StatusChange, row)
                    for row in rows(PermitStatusChangeRow, PermitStatusChangeRow.changed_at, PermitStatusChangeRow.id)
                ],
                reminders=[letter for letter in letters if letter.kind == "extension_reminder"],
                violations=[model_of(Violation, row) for row in rows(PermitViolationRow, PermitViolationRow.sequence)],
            )
            return RegistryRecords(
                case=model_of(CaseSummary, case[0]),
                applicant=model_of(Applicant, applicant[0]) if applicant else None,
                decisions=[model_of(Decision, row) for row in rows(DecisionRow, DecisionRow.decided_at, DecisionRow.sequence)],
                letters=letters,
                documents=[model_of(DocumentOnFile, row) for row in rows(DocumentRow, DocumentRow.recorded_at, DocumentRow.id)],
                permit=permit,
            )
    finally:
        registry.dispose()


# --- assembling -----------------------------------------------------------------------------


async def _current_permit(client: Client, application_id: str, runs: Sequence[RunHistory]) -> dict[str, Any] | None:
    if not runs:
        return None
    last = runs[-1]
    if last.status == "completed":
        result = next((f.result for f in reversed(last.facts) if f.kind == "completed"), None)
        return result if isinstance(result, dict) else None
    if last.status != "running":
        return None
    handle = client.get_workflow_handle(permit_workflow_id(application_id))
    description = await handle.describe()
    if description.status is not WorkflowExecutionStatus.RUNNING:
        return None
    view = await handle.query("status")
    return view if isinstance(view, dict) else None


async def _current_case(client: Client, application_id: str, runs: Sequence[RunHistory]) -> dict[str, Any] | None:
    if not runs or runs[-1].status != "running":
        return None
    view = await client.get_workflow_handle(application_workflow_id(application_id)).query("status")
    return view if isinstance(view, dict) else None


async def build(client: Client, keyring: KeyRing, registry_url: str, application_id: str) -> CaseFile:
    reader = PayloadReader(EncryptionCodec(keyring))
    try:
        case_runs = await fetch_runs(client, application_workflow_id(application_id), reader)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(application_id) from None
        raise
    try:
        permit_runs = await fetch_runs(client, permit_workflow_id(application_id), reader)
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        permit_runs = []
    now = datetime.now(UTC)
    current = await _current_case(client, application_id, case_runs)
    permit_view = await _current_permit(client, application_id, permit_runs)
    return assemble(
        application_id, case_runs, permit_runs, read_registry(registry_url, application_id), current, permit_view, now
    )


def assemble(  # noqa: PLR0913, PLR0917  # the case file from its four sources, named
    application_id: str,
    case_runs: Sequence[RunHistory],
    permit_runs: Sequence[RunHistory],
    records: RegistryRecords,
    current: dict[str, Any] | None,
    permit_view: dict[str, Any] | None,
    now: datetime,
) -> CaseFile:
    """The case file from histories, registry records and the running workflows' own view."""
    facts = facts_of([*case_runs, *permit_runs])
    states = snapshots(facts)
    if current is not None:
        states.append((now, current))
    timers = [f for f in facts if f.kind == "timer" and not f.workflow_id.startswith("permit-")]
    summary = records.case or CaseSummary(application_id=application_id)
    last_state = states[-1][1] if states else {}
    summary = CaseSummary.model_validate(
        {
            **summary.model_dump(),
            "phase": last_state.get("phase", summary.phase),
            "outcome": last_state.get("outcome", summary.outcome),
            "policy_version": summary.policy_version or last_state.get("policy_version"),
            "received_at": summary.received_at or last_state.get("received_at"),
        }
    )
    permit: PermitLife | None = None
    if permit_runs or records.permit.cards:
        # The registry's records of the permit, and what its workflow says of itself.
        view = permit_view or {}
        stated = {name: view.get(name) for name in ("status", "permit_type", "valid_from", "valid_until")}
        permit = PermitLife.model_validate({**dict(records.permit), **stated, "timeline": list(view.get("timeline") or [])})
    return CaseFile(
        application_id=application_id,
        generated_at=now,
        applicant=records.applicant,
        case=summary,
        runs=[Run.model_validate(r, from_attributes=True) for r in [*case_runs, *permit_runs]],
        chronology=[e for e in (entry(f) for f in facts) if e is not None],
        decisions=records.decisions,
        deadlines=deadlines(states, timers),
        letters=records.letters,
        documents=records.documents,
        interviews=interviews(facts),
        appeals=appeals(facts),
        permit=permit,
    )
