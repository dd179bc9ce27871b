"""The intake side's command line: a thin layer over the ``intake`` package.

Commands (see ``python starter.py --help``)::

    setup                                   register the search attributes (idempotent)
    submit FILE [--documents DIR]           start one workflow per application (JSON or JSON Lines, - for stdin)
    check FILE [--documents DIR]            steps 1-2 at the desk: findings and missing documents, starts nothing
    status APPLICATION_ID                   the case as the workflow holds it (JSON)
    send APPLICATION_ID EVENT [JSON|@FILE]  deliver an event as a Temporal update
    schema [NAME]                           JSON Schema of the intake payload or of an event
    list [--step S] [--phase P] [--outcome O]  cases, through visibility queries
    case-file APPLICATION_ID [--format json|pdf] [--out FILE]  the dossier of a case and its permit (needs the key)

Every command prints JSON on stdout and exits 0 on success, 1 when something was refused
or invalid, 2 on a usage error.  The process leaves through ``os._exit`` after flushing:
the SDK's Rust threads can otherwise abort the interpreter at shutdown (sdk-python#300),
and an intake system must be able to trust the exit code.

Adding a command: write ``def cmd_x(args, settings) -> int`` (or ``async def``) and, if it
takes arguments, ``def x_arguments(parser)``; then add ``Command("x", "help", cmd_x,
x_arguments)`` to ``COMMANDS`` below (or to a ``COMMANDS`` list of your own package that
is spliced in there).  Raise ``intake.errors.Refused`` for a refusal (exit 1, printed as
JSON), ``UsageError`` for a bad command line (exit 2).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from activities.document_store import DocumentStore
from domain import checklist
from domain.identifiers import application_workflow_id
from domain.requirements import findings
from domain.steps import EVENT_MODELS, json_schema
from infra.client import connect
from infra.codec import KeyConfigError
from infra.logconfig import configure_logging
from infra.settings import Settings, restrict_umask
from intake import batch, cases, permit_import, records
from intake.cli import Command, emit, run_command
from intake.errors import Refused, Unavailable, UsageError
from reports import cli as reports_cli

# Kept here for the modules that import it from the CLI; the definition is in intake.cases.
SEARCH_ATTRIBUTES = cases.SEARCH_ATTRIBUTES
SUBMIT_CONCURRENCY = 32


async def _connect(settings: Settings) -> Client:
    try:
        return await connect(settings)
    except KeyConfigError:
        raise
    except RuntimeError as err:  # the SDK's "Failed client connect"
        raise Unavailable(f"cannot reach Temporal at {settings.temporal_address}: {err}", delivered=False) from None


def _files(settings: Settings, documents: str | None) -> records.DocumentFiles:
    return records.DocumentFiles(
        DocumentStore(settings.document_store), Path(documents) if documents else None, settings.max_document_bytes
    )


# --- commands -------------------------------------------------------------------------------


async def cmd_setup(args: Any, settings: Settings) -> int:
    client = await _connect(settings)
    added = await cases.register_search_attributes(client, settings.temporal_namespace)
    emit({"namespace": settings.temporal_namespace, "search_attributes": sorted(SEARCH_ATTRIBUTES), "added": added})
    return 0


def _file_arguments(parser: Any) -> None:
    parser.add_argument("file", help="JSON or JSON Lines; - for standard input")
    parser.add_argument("--documents", metavar="DIR", help="the folder the records' file names are read from")


async def cmd_submit(args: Any, settings: Settings) -> int:
    stream = iter(records.read_records(args.file))
    first = next(stream, None)
    if first is None:
        raise UsageError(f"{args.file}: no application records")
    client = await _connect(settings)

    async def one(record: records.Record) -> batch.Outcome:
        app, errors = records.parse_record(
            record, _files(settings, args.documents), ingest=True, v_number_digits=settings.legal.v_number_digits
        )
        if app is None:
            return batch.invalid(record, errors, application_workflow_id)
        result = await cases.start_case(client, settings, app)
        return batch.outcome(app.application_id, application_workflow_id, result)

    counts = await batch.run(itertools.chain([first], stream), one, concurrency=SUBMIT_CONCURRENCY, unit="case")
    sys.stdout.flush()
    total = sum(counts.values())
    sys.stderr.write(
        f"submitted {total} record(s): {counts['started']} started, "
        f"{counts['already_exists']} already existed, {counts['invalid']} invalid\n"
    )
    return 0 if counts["invalid"] == 0 else 1


def cmd_check(args: Any, settings: Settings) -> int:
    """Steps 1 and 2 at the desk: what is met and what to bring, without starting anything."""
    status = 0
    for record in records.read_records(args.file):
        files = _files(settings, args.documents)
        app, errors = records.parse_record(record, files, ingest=False, v_number_digits=settings.legal.v_number_digits)
        if app is None:
            emit(
                {
                    "application_id": records.peek_application_id(record.text),
                    "line": record.line,
                    "valid": False,
                    "errors": [e.as_dict() for e in errors],
                }
            )
            status = 1
            continue
        stored = {d.id: files.inspected.get(d.sha256) if d.sha256 else None for d in app.documents}
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


def _id_argument(parser: Any) -> None:
    parser.add_argument("application_id")


async def cmd_status(args: Any, settings: Settings) -> int:
    cases.check_application_id(args.application_id)
    client = await _connect(settings)
    emit(await cases.read_status(client, args.application_id))
    return 0


def _send_arguments(parser: Any) -> None:
    parser.add_argument("application_id")
    parser.add_argument("event")
    parser.add_argument("body", nargs="?", help="JSON, or @FILE (@- for standard input)")
    parser.add_argument("--documents", metavar="DIR")


async def cmd_send(args: Any, settings: Settings) -> int:
    model = cases.event_model(args.event)
    cases.check_application_id(args.application_id)
    files = _files(settings, args.documents)
    payload = records.parse_event_body(args.event, model, records.read_body(args.body), files, ingest=True)
    try:
        client = await _connect(settings)
        result = await cases.send_event(
            client, args.application_id, args.event, payload, wait_seconds=settings.send_timeout_seconds
        )
    except (Refused, Unavailable) as err:
        if isinstance(err, Refused) or err.delivered is False:
            # Refused, or never delivered: the files stored for the event go back out.  After a
            # timeout they stay, because a worker that starts later may still apply the event.
            files.take_back()
        raise
    emit({"application_id": args.application_id, "event": args.event, "accepted": True, "case": result})
    return 0


def _schema_arguments(parser: Any) -> None:
    parser.add_argument("name", nargs="?")


def cmd_schema(args: Any, settings: Settings) -> int:
    name = args.name
    models = cases.event_models()
    if name == "case-file":
        emit(reports_cli.case_file_schema())
        return 0
    if name is not None and name != "application" and name not in models:
        raise UsageError(f"unknown schema {name!r}; names: application, case-file, {', '.join(sorted(models))}")
    if name is None or name == "application" or name in EVENT_MODELS:
        emit(json_schema(name))
    else:
        emit(models[name].model_json_schema())
    return 0


def _list_arguments(parser: Any) -> None:
    parser.add_argument("--step")
    parser.add_argument("--phase")
    parser.add_argument("--outcome")
    parser.add_argument("--query", help="an extra visibility query clause")


async def cmd_list(args: Any, settings: Settings) -> int:
    query = cases.list_query(args.step, args.phase, args.outcome, args.query)
    client = await _connect(settings)
    async for case in cases.list_cases(client, query):
        emit(case)
    return 0


COMMANDS: list[Command] = [
    Command("setup", "register the search attributes on the configured cluster", cmd_setup),
    Command("submit", "start a workflow per application", cmd_submit, _file_arguments),
    Command("check", "validate and list findings and missing documents; starts nothing", cmd_check, _file_arguments),
    Command("status", "the case as JSON", cmd_status, _id_argument),
    Command("send", "deliver an event", cmd_send, _send_arguments),
    Command("schema", "JSON Schema of the intake payload or of an event", cmd_schema, _schema_arguments),
    Command("list", "cases, through visibility", cmd_list, _list_arguments),
    *reports_cli.COMMANDS,
    *permit_import.COMMANDS,
]


def _setup() -> None:
    restrict_umask()
    configure_logging("starter")


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(
        "starter.py",
        "Intake and case commands for repeat asylum applications.",
        COMMANDS,
        argv,
        setup=_setup,
        errors=(RPCError, WorkflowFailureError),
    )


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
