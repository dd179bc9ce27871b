"""Recorded permit histories replay against today's ``PermitWorkflow``.

A permit runs for years, so a worker deployed today replays histories written by code from
years ago.  These histories (recorded by ``record_permit_history.py``) include a
continue-as-new at a renewal: run 1 ends by continuing as new, run 2 starts from the carried
``PermitState``.  A change to the workflow that is not guarded by ``workflow.patched`` fails
here with a non-determinism error, before it reaches a running permit.  They are encrypted
with the checked-in test key and replay with the production converter and codec, which
refuses an unencrypted payload (so a history with one would fail here too).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from domain.permit.state import PermitWorkflowInput
from domain.permit.transitions import PermitStatus
from infra.codec import EncryptionCodec, KeyRing, data_converter
from workflows.permit import PermitWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
RUNS = sorted(HISTORIES.glob("permit_*.json"))
KEYRING = KeyRing.from_file(HISTORIES / "test-codec-key.json", require_private=False)  # in git, which keeps no modes


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json("permit-HASA-2026-000777", path.read_text(encoding="utf-8"))


def test_the_recorded_chain_went_through_continue_as_new() -> None:
    first, second = load(HISTORIES / "permit_renewal_run1.json"), load(HISTORIES / "permit_renewal_run2.json")
    assert first.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    assert second.events[-1].HasField("workflow_execution_completed_event_attributes")
    # The second run starts from the state the first one carried over.
    sealed = second.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    payload = EncryptionCodec(KEYRING).decrypt(sealed)
    carried = data_converter(KEYRING).payload_converter.from_payload(payload, PermitWorkflowInput)
    assert carried.handover is None
    assert carried.state is not None
    assert carried.state.run == 2
    assert carried.state.term == 2
    assert carried.state.status is PermitStatus.ACTIVE


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[PermitWorkflow], data_converter=data_converter(KEYRING))
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=True)
    assert result.replay_failure is None
