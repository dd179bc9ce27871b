"""Recorded application histories replay against today's ``ApplicationWorkflow``.

A case can run for months (an appeal takes longer), so a deployed worker replays histories
written by older code.  A change to the workflow that is not behind ``workflow.patched``
fails here with a non-determinism error before it reaches a running case.  The histories
are encrypted with the checked-in test key (fictitious data), so the replayer runs with the
same codec as the workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from domain.messages import LetterKind
from infra.codec import KeyRing, data_converter
from workflows.application import ApplicationWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
RUNS = sorted(HISTORIES.glob("application_*.json"))


def test_histories_are_recorded() -> None:
    assert {p.stem for p in RUNS} >= {
        "application_granted",
        "application_annulled_then_granted",
        "application_no_show_not_processed",
    }


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    keyring = KeyRing.from_file(HISTORIES / "test-codec-key.json", require_private=False)  # in git, which keeps no modes
    replayer = Replayer(workflows=[ApplicationWorkflow], data_converter=data_converter(keyring))
    history = WorkflowHistory.from_json("application-recorded", path.read_text(encoding="utf-8"))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


async def test_an_unpatched_change_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay test can fail: an extra activity before the check is a non-determinism error."""
    original = ApplicationWorkflow._check_documents

    async def changed(self: ApplicationWorkflow) -> None:
        await self._letter("extra", LetterKind.ACKNOWLEDGEMENT)
        await original(self)

    monkeypatch.setattr(ApplicationWorkflow, "_check_documents", changed)
    keyring = KeyRing.from_file(HISTORIES / "test-codec-key.json", require_private=False)  # in git, which keeps no modes
    # unsandboxed, so that the monkeypatched class is the one that replays
    replayer = Replayer(
        workflows=[ApplicationWorkflow], data_converter=data_converter(keyring), workflow_runner=UnsandboxedWorkflowRunner()
    )
    history = WorkflowHistory.from_json("application-recorded", (HISTORIES / "application_granted.json").read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
