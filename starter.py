"""The intake side: submit applications, send events, read cases.

Commands (see ``python starter.py --help``)::

    setup                                   register the search attributes (idempotent)
    submit FILE [--documents DIR]           start one workflow per application (JSON or JSON Lines, - for stdin)
    check FILE [--documents DIR]            steps 1-2 at the desk: findings and missing documents, starts nothing
    status APPLICATION_ID                   the case as the workflow holds it (JSON)
    send APPLICATION_ID EVENT [JSON|@FILE]  deliver an event as a Temporal update
    schema [NAME]                           JSON Schema of the intake payload or of an event
    list [--step S] [--phase P] [--outcome O]  cases, through visibility queries

Every command prints JSON on stdout and exits 0 on success, 1 when something was refused
or invalid, 2 on a usage error.  The process leaves through ``os._exit`` after flushing:
the SDK's Rust threads can otherwise abort the interpreter at shutdown (sdk-python#300),
and an intake system must be able to trust the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import filetype
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.document_store import DocumentStore
from domain import checklist
from domain.case import CaseStatus
from domain.identifiers import APPLICATION_ID_PATTERN, application_workflow_id, permit_workflow_id
from domain.models import EVENT_MODELS, Application, Document, Model, json_schema
from domain.permit.events import PERMIT_EVENT_MODELS
from domain.permit.state import PermitSettings
from domain.requirements import findings
from infra.client import connect
from infra.logconfig import configure_logging
from infra.settings import Settings
from workflows.application import ApplicationInput, CaseOptions

WORKFLOW_TYPE = "RepeatAsylumApplication"
PERMIT_WORKFLOW_TYPE = "ResidencePermit"

SEARCH_ATTRIBUTES: dict[str, IndexedValueType.ValueType] = {
    "ApplicationStep": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "ApplicationPhase": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "ApplicationOutcome": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "DecisionDueBy": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "PolicyVersion": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "InterviewAt": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "PermitStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "PermitValidUntil": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "FineProposed": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}

SUBMIT_CONCURRENCY = 32


class UsageError(Exception):
    """A command line that cannot be carried out (exit 2)."""


class Refused(Exception):
    """A request the service refused; the message says why (exit 1)."""


# --- output ---------------------------------------------------------------------------------


def emit(obj: Any) -> None:
    text = obj.model_dump_json() if isinstance(obj, BaseModel) else json.dumps(obj, ensure_ascii=False, default=str)
    sys.stdout.write(text + "\n")


def errors_of(err: ValidationError) -> list[dict[str, str]]:
    out = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"] if p not in ("function-after", "function-before"))
        out.append({"field": loc or "(record)", "message": e["msg"].removeprefix("Value error, ")})
    return out


# --- reading records and documents ----------------------------------------------------------


def read_records(source: str) -> Iterator[tuple[int, str]]:
    """One application (a JSON document) or many (JSON Lines); yields (line number, text)."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    stripped = text.strip()
    if not stripped:
        return
    try:
        json.loads(stripped)
    except json.JSONDecodeError:
        pass
    else:
        yield 1, stripped
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


@dataclass
class Intake:
    """Documents named by a record, resolved against --documents and the store."""

    store: DocumentStore
    directory: Path | None
    errors: list[dict[str, str]] = field(default_factory=list)

    def resolve(self, docs: list[dict[str, Any]], prefix: str, *, ingest: bool) -> None:
        for n, doc in enumerate(docs):
            if not isinstance(doc, dict):
                continue
            where = f"{prefix}.{n}"
            if doc.get("sha256") is not None:
                self._check_stored(doc, where)
                continue
            name = doc.get("filename")
            if not isinstance(name, str):
                continue  # the model's own validation names it
            if self.directory is None:
                self.errors.append(
                    {"field": f"{where}.filename", "message": "no --documents DIR given and no sha256/size_bytes recorded"}
                )
                continue
            path = self.directory / name
            if not path.is_file() or Path(name).name != name:
                self.errors.append({"field": f"{where}.filename", "message": f"file {name!r} is missing from {self.directory}"})
                continue
            if ingest:  # a dry run (ingest=False) only checks that the file is there
                doc["sha256"], doc["size_bytes"] = self.store.put_file(path)

    def _check_stored(self, doc: dict[str, Any], where: str) -> None:
        sha = doc.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64:
            return  # the model names a malformed hash
        if not self.store.exists(sha):
            self.errors.append({"field": f"{where}.sha256", "message": "no file with this sha256 in the document store"})
        elif doc.get("size_bytes") != self.store.size(sha):
            self.errors.append(
                {"field": f"{where}.size_bytes", "message": "differs from the size of the stored file with this sha256"}
            )


def _hash_in_place(doc: Any, directory: Path | None) -> None:
    """For `check`: record hash and size of a file in DIR without storing it."""
    if not isinstance(doc, dict) or doc.get("sha256") is not None or directory is None:
        return
    path = directory / str(doc.get("filename"))
    if path.is_file():
        doc["sha256"], doc["size_bytes"] = sha256_file(path), path.stat().st_size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_application(text: str, intake: Intake, *, ingest: bool) -> tuple[Application | None, list[dict[str, str]]]:
    """Validate one record; files it names are ingested only when the whole record is valid."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        return None, [{"field": "(json)", "message": f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}"}]
    if not isinstance(raw, dict):
        return None, [{"field": "(record)", "message": "an application is a JSON object"}]
    now = datetime.now(UTC)
    # First validate as given (without hashes), so that nothing is stored for a bad record.
    try:
        Application.model_validate(raw, context={"now": now})
    except ValidationError as err:
        return None, errors_of(err)
    intake.errors = []
    docs = raw.get("documents")
    intake.resolve(docs if isinstance(docs, list) else [], "documents", ingest=False)
    if intake.errors:
        return None, intake.errors
    if ingest:
        intake.resolve(docs if isinstance(docs, list) else [], "documents", ingest=True)
    else:
        for doc in docs if isinstance(docs, list) else []:
            _hash_in_place(doc, intake.directory)
    if intake.errors:
        return None, intake.errors
    try:
        return Application.model_validate(raw, context={"now": now}), []
    except ValidationError as err:
        return None, errors_of(err)


# --- commands -------------------------------------------------------------------------------


async def cmd_setup(settings: Settings) -> int:
    client = await connect(settings)
    added = await register_search_attributes(client, settings.temporal_namespace)
    emit({"namespace": settings.temporal_namespace, "search_attributes": sorted(SEARCH_ATTRIBUTES), "added": added})
    return 0


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    existing = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = {k: v for k, v in SEARCH_ATTRIBUTES.items() if k not in existing.custom_attributes}
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
        except RPCError as err:
            if err.status is not RPCStatusCode.ALREADY_EXISTS:
                raise
    return sorted(missing)


def case_options(settings: Settings) -> CaseOptions:
    return CaseOptions(
        permit_settings=PermitSettings(
            extension_reminder_months=settings.extension_reminder_months,
            late_report_weeks=settings.late_report_weeks,
        )
    )


async def start_case(client: Client, settings: Settings, app: Application) -> str:
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            ApplicationInput(application=app, options=case_options(settings)),
            id=application_workflow_id(app.application_id),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"Repeat asylum application {app.application_id}",
            static_details=(
                "Herhaalde asielaanvraag (IND). Personal data is in the encrypted input; "
                "see current details for the step, deadlines and what is outstanding."
            ),
        )
    except WorkflowAlreadyStartedError:
        return "already_exists"
    return "started"


async def cmd_submit(settings: Settings, source: str, documents: str | None) -> int:
    from tqdm import tqdm

    records = list(read_records(source))
    if not records:
        raise UsageError(f"{source}: no application records")
    store = DocumentStore(settings.document_store)
    directory = Path(documents) if documents else None
    client = await connect(settings)
    counts = {"started": 0, "already_exists": 0, "invalid": 0}
    bar = tqdm(total=len(records), unit="case", disable=not sys.stderr.isatty() or len(records) < 2, file=sys.stderr)
    semaphore = asyncio.Semaphore(SUBMIT_CONCURRENCY)

    async def one(line: int, text: str) -> dict[str, Any]:
        async with semaphore:
            intake = Intake(store, directory)
            app, errors = parse_application(text, intake, ingest=True)
            if app is None:
                app_id = _peek_id(text)
                return {
                    "application_id": app_id,
                    "workflow_id": application_workflow_id(app_id) if app_id else None,
                    "result": "invalid",
                    "errors": errors,
                    "line": line,
                }
            result = await start_case(client, settings, app)
            return {
                "application_id": app.application_id,
                "workflow_id": application_workflow_id(app.application_id),
                "result": result,
                "errors": [],
            }

    # Results are printed in input order, in windows, so a batch of thousands streams.
    window = SUBMIT_CONCURRENCY * 4
    for start in range(0, len(records), window):
        chunk = records[start : start + window]
        for outcome in await asyncio.gather(*(one(line, text) for line, text in chunk)):
            counts[outcome["result"]] += 1
            if outcome["result"] != "invalid":
                outcome.pop("line", None)
            emit(outcome)
            bar.update(1)
    bar.close()
    sys.stdout.flush()
    print_summary(counts)
    return 0 if counts["invalid"] == 0 else 1


def print_summary(counts: dict[str, int]) -> None:
    total = sum(counts.values())
    sys.stderr.write(
        f"submitted {total} record(s): {counts['started']} started, "
        f"{counts['already_exists']} already existed, {counts['invalid']} invalid\n"
    )


def _peek_id(text: str) -> str | None:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        return None
    value = raw.get("application_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and re.fullmatch(APPLICATION_ID_PATTERN, value) else None


def cmd_check(settings: Settings, source: str, documents: str | None) -> int:
    """Steps 1 and 2 at the desk: what is met and what to bring, without starting anything."""
    status = 0
    for line, text in read_records(source):
        intake = Intake(DocumentStore(settings.document_store), Path(documents) if documents else None)
        app, errors = parse_application(text, intake, ingest=False)
        if app is None:
            emit({"application_id": _peek_id(text), "line": line, "valid": False, "errors": errors})
            status = 1
            continue
        stored = {d.id: _stored_file_for(d, intake) for d in app.documents}
        missing = checklist.check(app.documents, app.new_elements, stored, settings.max_document_bytes)
        emit(
            {
                "application_id": app.application_id,
                "valid": True,
                "requirements": [f.model_dump() for f in findings(app)],
                "complete": not missing,
                "missing_documents": [m.model_dump() for m in missing],
            }
        )
    return status


def _stored_file_for(doc: Document, intake: Intake) -> checklist.StoredFile | None:
    if doc.sha256 is None or doc.size_bytes is None:
        return None
    if intake.store.exists(doc.sha256):
        head = intake.store.head(doc.sha256)
        return checklist.StoredFile(doc.sha256, intake.store.size(doc.sha256), filetype.guess_mime(head))
    if intake.directory is not None and (intake.directory / doc.filename).is_file():
        path = intake.directory / doc.filename
        with path.open("rb") as fh:
            head = fh.read(8192)
        return checklist.StoredFile(sha256_file(path), path.stat().st_size, filetype.guess_mime(head))
    return None


def _check_id(application_id: str) -> None:
    if not re.fullmatch(APPLICATION_ID_PATTERN, application_id):
        raise Refused(f"application id {application_id!r} is malformed: it looks like HASA-2026-000123")


async def cmd_status(settings: Settings, application_id: str) -> int:
    _check_id(application_id)
    client = await connect(settings)
    status = await read_status(client, application_id)
    emit(status)
    return 0


async def read_status(client: Client, application_id: str) -> CaseStatus:
    handle = client.get_workflow_handle(application_workflow_id(application_id), result_type=CaseStatus)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise Refused(f"unknown application id {application_id!r}: no such case") from None
        raise
    status: CaseStatus
    if description.status is WorkflowExecutionStatus.RUNNING:
        status = await handle.query("status", result_type=CaseStatus)
    elif description.status is WorkflowExecutionStatus.COMPLETED:
        status = cast(CaseStatus, await handle.result())
    else:
        raise Refused(f"case {application_id} ended abnormally ({description.status.name if description.status else 'unknown'})")
    permit = await read_permit(client, application_id)
    if permit is not None:
        status = status.model_copy(update={"permit_life": permit})
    return status


async def read_permit(client: Client, application_id: str) -> dict[str, Any] | None:
    handle = client.get_workflow_handle(permit_workflow_id(application_id))
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.status is WorkflowExecutionStatus.RUNNING:
        view = await handle.query("status")
    elif description.status is WorkflowExecutionStatus.COMPLETED:
        view = await handle.result()
    else:
        return {"status": description.status.name.lower() if description.status else "unknown"}
    return view if isinstance(view, dict) else {"value": view}


def event_models() -> dict[str, type[Model]]:
    return {**EVENT_MODELS, **PERMIT_EVENT_MODELS}


def parse_event_body(event: str, body: str | None, settings: Settings, documents: str | None) -> Model:
    models = event_models()
    if event not in models:
        raise UsageError(f"unknown event {event!r}; events: {', '.join(sorted(models))}")
    text = body if body is not None else "{}"
    if text.startswith("@"):
        source = text[1:]
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise Refused(json.dumps({"errors": [{"field": "(json)", "message": f"malformed JSON: {err.msg}"}]})) from None
    intake = Intake(DocumentStore(settings.document_store), Path(documents) if documents else None)
    if isinstance(raw, dict):
        if event == "documents" and isinstance(raw.get("documents"), list):
            intake.resolve(raw["documents"], "documents", ingest=False)
            if not intake.errors:
                intake.resolve(raw["documents"], "documents", ingest=True)
        if event == "interview-report" and isinstance(raw.get("report_document"), dict):
            intake.resolve([raw["report_document"]], "report_document", ingest=False)
            if not intake.errors:
                intake.resolve([raw["report_document"]], "report_document", ingest=True)
            for e in intake.errors:
                e["field"] = e["field"].replace("report_document.0", "report_document")
    if intake.errors:
        raise Refused(json.dumps({"errors": intake.errors}))
    try:
        return models[event].model_validate(raw)
    except ValidationError as err:
        raise Refused(json.dumps({"errors": errors_of(err)})) from None


async def cmd_send(settings: Settings, application_id: str, event: str, body: str | None, documents: str | None) -> int:
    _check_id(application_id)
    payload = parse_event_body(event, body, settings, documents)
    client = await connect(settings)
    to_permit = event not in EVENT_MODELS
    workflow_id = permit_workflow_id(application_id) if to_permit else application_workflow_id(application_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        result = await handle.execute_update(event, payload)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise Refused(message) from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            what = "no permit workflow for" if to_permit else "unknown application id"
            raise Refused(f"{what} {application_id!r}" + ("" if to_permit else ": no such case")) from None
        if "workflow execution already completed" in str(err).lower() or err.status is RPCStatusCode.FAILED_PRECONDITION:
            raise Refused(f"case {application_id} is closed: it takes no more events") from None
        raise
    emit({"application_id": application_id, "event": event, "accepted": True, "case": result})
    return 0


def cmd_schema(name: str | None) -> int:
    if name is not None and name != "application" and name not in event_models():
        raise UsageError(f"unknown schema {name!r}; names: application, {', '.join(sorted(event_models()))}")
    if name is None or name == "application" or name in EVENT_MODELS:
        emit(json_schema(name))
    else:
        emit(event_models()[name].model_json_schema())
    return 0


async def cmd_list(settings: Settings, step: str | None, phase: str | None, outcome: str | None, query: str | None) -> int:
    clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    for attribute, value in (("ApplicationStep", step), ("ApplicationPhase", phase), ("ApplicationOutcome", outcome)):
        if value is not None:
            if not value.replace("_", "").isalnum():
                raise UsageError(f"{attribute}: {value!r} is not a valid value")
            clauses.append(f"{attribute} = '{value}'")
    if query:
        clauses.append(f"({query})")
    client = await connect(settings)
    async for wf in client.list_workflows(" AND ".join(clauses)):
        attrs = wf.typed_search_attributes
        values = {pair.key.name: pair.value for pair in attrs}
        emit(
            {
                "application_id": wf.id.removeprefix("application-"),
                "workflow_id": wf.id,
                "status": wf.status.name.lower() if wf.status else None,
                "step": values.get("ApplicationStep"),
                "phase": values.get("ApplicationPhase"),
                "outcome": values.get("ApplicationOutcome"),
                "decide_by": values.get("DecisionDueBy"),
                "policy_version": values.get("PolicyVersion"),
            }
        )
    return 0


# --- entry ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starter.py", description="Intake and case commands for repeat asylum applications.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="register the search attributes on the configured cluster")
    p = sub.add_parser("submit", help="start a workflow per application")
    p.add_argument("file", help="JSON or JSON Lines; - for standard input")
    p.add_argument("--documents", metavar="DIR")
    p = sub.add_parser("check", help="validate and list findings and missing documents; starts nothing")
    p.add_argument("file")
    p.add_argument("--documents", metavar="DIR")
    p = sub.add_parser("status", help="the case as JSON")
    p.add_argument("application_id")
    p = sub.add_parser("send", help="deliver an event")
    p.add_argument("application_id")
    p.add_argument("event")
    p.add_argument("body", nargs="?", help="JSON, or @FILE")
    p.add_argument("--documents", metavar="DIR")
    p = sub.add_parser("schema", help="JSON Schema of the intake payload or of an event")
    p.add_argument("name", nargs="?")
    p = sub.add_parser("list", help="cases, through visibility")
    p.add_argument("--step")
    p.add_argument("--phase")
    p.add_argument("--outcome")
    p.add_argument("--query", help="an extra visibility query clause")
    return parser


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    match args.command:
        case "setup":
            return await cmd_setup(settings)
        case "submit":
            return await cmd_submit(settings, args.file, args.documents)
        case "check":
            return cmd_check(settings, args.file, args.documents)
        case "status":
            return await cmd_status(settings, args.application_id)
        case "send":
            return await cmd_send(settings, args.application_id, args.event, args.body, args.documents)
        case "schema":
            return cmd_schema(args.name)
        case "list":
            return await cmd_list(settings, args.step, args.phase, args.outcome, args.query)
    raise UsageError(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("starter")
    settings = Settings.from_env()
    try:
        return asyncio.run(dispatch(args, settings))
    except UsageError as err:
        sys.stderr.write(f"starter.py: {err}\n")
        return 2
    except Refused as err:
        text = str(err)
        if text.startswith("{"):
            sys.stdout.write(text + "\n")
        else:
            emit({"error": text})
        sys.stderr.write(f"starter.py: refused: {_first_message(text)}\n")
        return 1
    except FileNotFoundError as err:
        sys.stderr.write(f"starter.py: {err.filename}: no such file\n")
        return 2
    except (RPCError, WorkflowFailureError, RuntimeError) as err:
        sys.stderr.write(f"starter.py: cannot reach Temporal or the case: {err}\n")
        return 1


def _first_message(text: str) -> str:
    if text.startswith("{"):
        errors = json.loads(text).get("errors", [])
        return "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return text


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
