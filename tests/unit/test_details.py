"""The Web UI's current details of a case: plain labels, one deadline per line in Dutch time,
decisions with their dates, the events the case accepts now, missing documents also in Dutch."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.case import CaseStatus, DecisionView, details_markdown


def status(**changes: object) -> CaseStatus:
    base = {
        "application_id": "HASA-2026-000123",
        "workflow_id": "application-HASA-2026-000123",
        "step_number": 6,
        "step": "decision",
        "step_title": "Decision on application",
        "phase": "appeal_window",
        "outcome": "manifestly_unfounded",
        "policy_version": "eu-2024-1348",
        "received_at": datetime(2026, 11, 27, 8, 30, tzinfo=UTC),
        "deadlines": {"appeal_by": datetime(2026, 12, 8, 22, 59, tzinfo=UTC)},
        "deadline_basis": {"appeal_by": "Awb art. 6:7: 1 week from 2026-12-01"},
        "decisions": [
            DecisionView(
                sequence=1, outcome="manifestly_unfounded", final=True, decided_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
            )
        ],
    }
    base.update(changes)
    return CaseStatus.model_validate(base)


def test_plain_labels_dutch_time_and_what_the_case_accepts() -> None:
    text = details_markdown(status(), accepts=["appeal"])
    lines = text.splitlines()
    assert "- Phase: appeal window · outcome: **manifestly unfounded**" in lines
    assert "- Accepts now: `appeal`" in lines
    due = "**Tue\u00a02026-12-08\u00a023:59\u00a0CET**"
    at = lines.index(f"- Appeal window closes: {due} — _Awb art. 6:7: 1 week from 2026-12-01_")
    assert lines[at - 1] == ""  # a blank line before a list, or Markdown runs it into the heading
    assert "- decision 1: manifestly unfounded, Tue\u00a02026-12-01\u00a010:00\u00a0CET" in lines
    assert "|" not in text  # no table cells to run together
    assert "appeal_by" not in text


def test_outstanding_documents_in_english_and_dutch() -> None:
    text = details_markdown(
        status(phase="awaiting_documents", outcome=None, decisions=[], outstanding_documents=["doc-3: no translation of doc-3"]),
        missing_nl=["geen vertaling van doc-3"],
        accepts=["documents", "withdraw"],
    )
    assert "- doc-3: no translation of doc-3 / _geen vertaling van doc-3_" in text.splitlines()
    assert "- Accepts now: `documents`, `withdraw`" in text.splitlines()
