"""Talking to cases: start one, read its status, send it an event, list cases, register search attributes.

Every function takes a connected ``temporalio.client.Client`` and raises
:class:`intake.errors.Refused` for what the service refused (with the reason) and
:class:`intake.errors.Unavailable` when no worker answered in the time allowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import search_attributes
from domain.case import ApplicationInput, CaseOptions, CaseStatus
from domain.identifiers import application_id_is_valid, application_workflow_id, permit_workflow_id
from domain.models import Application, Model
from domain.permit.events import PERMIT_EVENT_MODELS
from domain.permit.state import PermitSettings
from domain.refusal import BUSY_TYPE
from domain.steps import EVENT_MODELS
from infra.settings import Settings
from intake.errors import Refused, Unavailable, UsageError
from workflows.names import APPLICATION_WORKFLOW, PERMIT_WORKFLOW

WORKFLOW_TYPE = APPLICATION_WORKFLOW
PERMIT_WORKFLOW_TYPE = PERMIT_WORKFLOW

SEARCH_ATTRIBUTES = search_attributes.indexed_types()


def check_application_id(application_id: str) -> None:
    if not application_id_is_valid(application_id):
        raise Refused(f"application id {application_id!r} is malformed: it looks like HASA-2026-000123")


def event_models() -> dict[str, type[Model]]:
    """Every event a case takes, the application's and the permit's, by name."""
    return {**EVENT_MODELS, **PERMIT_EVENT_MODELS}


def event_model(event: str) -> type[Model]:
    models = event_models()
    if event not in models:
        raise UsageError(f"unknown event {event!r}; events: {', '.join(sorted(models))}")
    return models[event]


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the search attributes the workflows set (idempotent); returns those added."""
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
            # the same unconfirmed appeal period as the application's rejections
            refusal_appeal_weeks=settings.legal.appeal_weeks,
        ),
        interview_rebook_limit=settings.interview_rebook_limit,
        slot_tries_before_manual=settings.slot_tries_before_manual,
        legal=settings.legal,
    )


async def start_case(client: Client, settings: Settings, app: Application) -> str:
    """Start the case's workflow: ``"started"``, or ``"already_exists"`` for an id seen before."""
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


async def read_status(client: Client, application_id: str) -> CaseStatus:
    """The case as its workflow holds it (a query while it runs, its result once closed)."""
    check_application_id(application_id)
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
    """The permit workflow's view of the case's permit, or ``None`` when there is none."""
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


async def send_event(client: Client, application_id: str, event: str, body: Model, *, wait_seconds: float) -> Any:
    """Deliver an event as an update and wait for the case after it.

    Permit events go to the permit's workflow.  Raises :class:`Refused` when the case
    refused the event (the case is unchanged), is unknown or closed, and
    :class:`Unavailable` when no worker took the event within ``wait_seconds``: the
    update was then not applied, and if a worker picks it up later it is applied once.
    """
    check_application_id(application_id)
    to_permit = event not in EVENT_MODELS
    workflow_id = permit_workflow_id(application_id) if to_permit else application_workflow_id(application_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        async with asyncio.timeout(wait_seconds):
            return await _deliver(handle, event, body)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise Unavailable(
            f"no worker completed the event within {wait_seconds:g} s (HASA_SEND_TIMEOUT_SECONDS): is a worker running? "
            "The event was not applied now; a worker that starts later applies it at most once. "
            f"See `starter.py status {application_id}` before sending it again."
        ) from None
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise Refused(cause.message if isinstance(cause, ApplicationError) else str(cause)) from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            what = "no permit workflow for" if to_permit else "unknown application id"
            raise Refused(f"{what} {application_id!r}" + ("" if to_permit else ": no such case")) from None
        if "workflow execution already completed" in str(err).lower() or err.status is RPCStatusCode.FAILED_PRECONDITION:
            raise Refused(f"case {application_id} is closed: it takes no more events") from None
        raise


BUSY_RETRY_SECONDS = 0.5


async def _deliver(handle: WorkflowHandle[Any, Any], event: str, body: Model) -> Any:
    """The update; a refusal for timing only (the case is busy, see ``domain.refusal``) is sent again.

    Such a refusal left the case unchanged, so sending the event again cannot apply it twice;
    the caller's timeout bounds the retries, and the last refusal is what the caller sees.
    """
    while True:
        try:
            return await handle.execute_update(event, body)
        except WorkflowUpdateFailedError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == BUSY_TYPE):
                raise
            last = err
        try:
            await asyncio.sleep(BUSY_RETRY_SECONDS)
        except asyncio.CancelledError:
            raise last from None


def list_query(step: str | None, phase: str | None, outcome: str | None, query: str | None) -> str:
    clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    for attribute, value in (
        (search_attributes.APPLICATION_STEP, step),
        (search_attributes.APPLICATION_PHASE, phase),
        (search_attributes.APPLICATION_OUTCOME, outcome),
    ):
        if value is not None:
            if not value.replace("_", "").isalnum() or not value.isascii():
                raise UsageError(f"{attribute.name}: {value!r} is not a valid value")
            clauses.append(f"{attribute.name} = '{value}'")
    if query:
        clauses.append(f"({query})")
    return " AND ".join(clauses)


async def list_cases(client: Client, query: str) -> AsyncIterator[dict[str, Any]]:
    """Cases through visibility: ids, status and the search attributes (no personal data)."""
    async for wf in client.list_workflows(query):
        values = {pair.key.name: pair.value for pair in wf.typed_search_attributes}
        yield {
            "application_id": wf.id.removeprefix("application-"),
            "workflow_id": wf.id,
            "status": wf.status.name.lower() if wf.status else None,
            "step": values.get(search_attributes.APPLICATION_STEP.name),
            "phase": values.get(search_attributes.APPLICATION_PHASE.name),
            "outcome": values.get(search_attributes.APPLICATION_OUTCOME.name),
            "decide_by": values.get(search_attributes.DECISION_DUE_BY.name),
            "policy_version": values.get(search_attributes.POLICY_VERSION.name),
        }
