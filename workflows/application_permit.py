"""Step 7 of the application: issue the permit, book the desk, invite, and start the permit's life.

Workflow code called from ``workflows/application.py`` when a grant is decided: activities
through ``call``, the permit's own workflow as an abandoned child (docs/decisions/0005).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date
from typing import Any, Protocol

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.registry import RegistryActivities
    from domain import deadlines as dl
    from domain.case import PermitView
    from domain.case_state import CaseState, local
    from domain.identifiers import permit_workflow_id
    from domain.messages import BookSlot, IssuePermit, LetterKind, PermitInput, PermitIssued, SlotKind
    from domain.permit.state import PermitWorkflowInput
    from domain.policy import PolicyVersion
    from workflows.common import call
    from workflows.names import PERMIT_WORKFLOW


class Letter(Protocol):
    """The workflow's letter to the applicant and the lawyer (``ApplicationWorkflow._letter``)."""

    def __call__(self, key: str, kind: LetterKind, items: list[str] | None = None, /, **facts: str) -> Awaitable[Any]: ...


async def issue_permit(state: CaseState, policy: PolicyVersion, effective_from: date | None, letter: Letter) -> None:
    """Issue the card and book the desk (one round trip for both), invite the holder, hand over."""
    valid_from, valid_until = state.permit_term(policy, effective_from)
    app_id = state.application.application_id
    issued, desk = await asyncio.gather(
        call(
            RegistryActivities.issue_permit,
            IssuePermit(
                application_id=app_id, purpose="initial", permit_type="III", valid_from=valid_from, valid_until=valid_until
            ),
        ),
        call(
            RegistryActivities.book_slot,
            BookSlot(
                application_id=app_id,
                kind=SlotKind.DESK,
                purpose="permit-desk",
                not_before=workflow.now() + state.options.desk_notice,
            ),
        ),
    )
    state.permit = PermitView(
        document_number=issued.document_number,
        permit_type=issued.permit_type,
        valid_from=issued.valid_from,
        valid_until=issued.valid_until,
        issued_on=workflow.now().astimezone(dl.AMSTERDAM).date(),
        desk_appointment=desk.starts_at,
    )
    await letter(
        "permit-invitation",
        LetterKind.PERMIT_INVITATION,
        valid_from=issued.valid_from.isoformat(),
        valid_until=issued.valid_until.isoformat(),
        endorsement=issued.endorsement,
        desk_at=local(desk.starts_at) if desk.starts_at else "volgt per brief",
        desk_location=desk.location or "",
    )
    await start_permit_life(state, policy, issued)


async def start_permit_life(state: CaseState, policy: PolicyVersion, issued: PermitIssued) -> None:
    """Hand the permit over to its own workflow, an abandoned child that outlives the application
    (docs/decisions/0005): only the start is awaited, never the result."""
    app_id = state.application.application_id
    settings = state.options.permit_settings.model_copy(update={"term_years": policy.permit_validity_years})
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
                language=state.application.applicant.language,
            ),
            settings=settings,
        ),
        id=permit_workflow_id(app_id),
        parent_close_policy=ParentClosePolicy.ABANDON,
        static_summary=f"Residence permit of application {app_id}",
        static_details=(
            "Verblijfsvergunning asiel (IND). Personal data is in the encrypted input; "
            "see current details for the status, the dates and what is due."
        ),
    )
