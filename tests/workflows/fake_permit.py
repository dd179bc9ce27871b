"""A stand-in for the permit's workflow in the application's tests (tests only).

The application's tests check the hand-over (that the child starts with the right input),
not the permit's life, which tests/workflows/test_permit.py walks.  The stand-in ends at
once: a long-lived abandoned child stops the shared time-skipping server from skipping
time for later tests (seen with temporal-test-server 1.40).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.permit.state import PermitWorkflowInput
    from workflows.names import PERMIT_WORKFLOW


@workflow.defn(name=PERMIT_WORKFLOW)
class FakePermitWorkflow:
    @workflow.run
    async def run(self, inp: PermitWorkflowInput) -> str:
        assert inp.handover is not None
        return inp.handover.document_number
