"""End to end: `starter.py import-permits` against a real dev server, worker and registry.

A reminder due on the import day goes out once (also when the batch is run again), one
already past is not sent, a bad record is refused by field while the batch goes on, and
the holder is in the registry, not in the workflow id.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.deadlines import add_months
from domain.permit.schedule import local_date
from infra.devstack import DevStack, free_port

TODAY = local_date(datetime.now(UTC))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    data = tmp_path_factory.mktemp("import")
    dev = DevStack(
        data_dir=data,
        frontend_port=free_port(),
        ui_port=free_port(),
        codec_port=free_port(),
        with_ui=False,
        logs=data / "logs",
    )
    with dev.running():
        yield dev


def permit(app_id: str, number: str, valid_until: str) -> dict[str, Any]:
    return {
        "application_id": app_id,
        "document_number": number,
        "permit_type": "III",
        "valid_from": str(add_months(TODAY, -50)),
        "valid_until": valid_until,
        "collected": True,
        "holder": {
            "v_number": "2345678901",
            "family_name": "Voorbeeldig",
            "given_names": "Noor",
            "date_of_birth": "1988-02-03",
            "nationality": "ERI",
            "language": "ti",
        },
    }


def reminders(stack: DevStack, app_id: str) -> int:
    with sqlite3.connect(stack.data_dir / "registry.sqlite3") as db:
        row = db.execute(
            "SELECT count(*) FROM letters WHERE application_id = ? AND kind = 'extension_reminder'", (app_id,)
        ).fetchone()
    return int(row[0])


def test_import_starts_each_permit_in_its_state_once(stack: DevStack, tmp_path: Path) -> None:
    due_today = permit("IMP-2021-000001", "III-VAB12CD34", str(add_months(TODAY, 6)))
    # 4 months left: the 6-month reminder passed before the import and is not sent.
    mid = permit("IMP-2021-000002", "III-VAB12CD35", str(add_months(TODAY, 4)))
    bad = permit("IMP-2021-000003", "III-V??", str(add_months(TODAY, 20)))
    source = tmp_path / "permits.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in (due_today, bad, mid)))

    first = stack.starter("import-permits", str(source))
    outcomes = [json.loads(line) for line in first.stdout.splitlines()]
    assert first.returncode == 1, first.stderr  # one record was refused
    assert [o["result"] for o in outcomes] == ["started", "invalid", "started"]
    assert [e["field"] for e in outcomes[1]["errors"]] == ["document_number"]
    assert outcomes[0]["workflow_id"] == "permit-IMP-2021-000001"
    assert "Voorbeeldig" not in first.stdout + first.stderr
    assert "imported 3 record(s)" in first.stderr

    again = stack.starter("import-permits", str(source))
    assert [json.loads(line)["result"] for line in again.stdout.splitlines()] == ["already_exists", "invalid", "already_exists"]

    deadline = time.monotonic() + 90
    while reminders(stack, "IMP-2021-000001") < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)  # a second letter, if one were sent, would come right after
    assert reminders(stack, "IMP-2021-000001") == 1
    assert reminders(stack, "IMP-2021-000002") == 0
    with sqlite3.connect(stack.data_dir / "registry.sqlite3") as db:
        holders = db.execute("SELECT application_id, family_name FROM applicants ORDER BY application_id").fetchall()
    assert holders == [("IMP-2021-000001", "Voorbeeldig"), ("IMP-2021-000002", "Voorbeeldig")]


async def test_an_imported_permit_costs_one_workflow_task_and_is_listed_at_once(stack: DevStack, tmp_path: Path) -> None:
    """Decision 0054: the import writes the status row with the holder and starts the workflow
    with its search attributes, so a permit with nothing due runs one workflow task (its timer)
    and no activity, and the operators' views list it as soon as it is started."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client

    record = permit("IMP-2021-000004", "III-VAB12CD36", str(add_months(TODAY, 20)))
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(record) + "\n")
    assert stack.starter("import-permits", str(source)).returncode == 0
    client = await Client.connect(stack.address)  # event types and search attributes only: no key needed
    listed = [w.id async for w in client.list_workflows("WorkflowId = 'permit-IMP-2021-000004' AND PermitStatus = 'active'")]
    assert listed == ["permit-IMP-2021-000004"]
    handle = client.get_workflow_handle("permit-IMP-2021-000004")
    deadline = time.monotonic() + 30
    kinds: list[str] = []
    while time.monotonic() < deadline:
        kinds = [EventType.Name(e.event_type) async for e in handle.fetch_history_events()]
        if "EVENT_TYPE_TIMER_STARTED" in kinds:
            break
        await asyncio.sleep(0.2)
    assert kinds == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_TIMER_STARTED",
    ]
    with sqlite3.connect(stack.data_dir / "registry.sqlite3") as db:
        rows = db.execute("SELECT status FROM permit_status_changes WHERE application_id = 'IMP-2021-000004'").fetchall()
    assert rows == [("active",)]
