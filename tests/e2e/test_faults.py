"""Faults with real processes: a batch of cases on mixed paths survives a killed worker, a
restarted dev server and a locked registry, with nothing doubled and nothing stuck.

One stack (dev server on a SQLite file, codec server, worker; ``infra/devstack.py``) runs
six cases on three paths (granted and collected; withdrawn; refused after an intended
decision, appealed, judgment upheld).  A driver advances every case by reading its status
and sending the event its phase expects, the way ``starter.py`` does (``intake.cases``);
an event that was refused or timed out is simply re-read and tried again, so an event is
applied once or not at all.  Meanwhile a chaos task SIGKILLs the worker at random moments
(three times) and restarts it, restarts the dev server, and holds the registry's SQLite
database under an exclusive lock for a while.

At the end every case is at its expected outcome; the registry holds one row per case,
one decision per decision round, one permit per grant, and no letter twice (key and
recipient), each with its file; no history has a failed workflow task; the data at rest is
owner-only.  Then ``starter.py send`` with no worker running: it waits the configured
time, exits 1 with a clear message and no traceback, and the event is applied once or not
at all when a worker comes back.  The seed and what happened are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from domain.deadlines import AMSTERDAM
from infra.client import connect
from infra.codec import KeyRing
from infra.devstack import DevStack, free_port, make_example_documents
from infra.settings import Settings
from intake import cases
from intake.errors import Refused, Unavailable
from tests.conftest import EXAMPLE

NO = {"needed": False, "reason": "the file suffices"}
GRANT = {"outcome": "granted", "grounds": "new elements credible", "decided_by": "officer-1"}
UNFOUNDED = {"outcome": "unfounded", "grounds": "new elements not credible", "decided_by": "officer-2"}


def today() -> str:
    return datetime.now(AMSTERDAM).date().isoformat()  # the workflow's "today" is Amsterdam's


# Path name -> (phase -> the event and body the driver sends there), final phase, outcome,
# decision rows, permit rows.
PATHS: dict[str, tuple[dict[str, tuple[str, Any]], str, str, int, int]] = {
    "granted": (
        {
            "awaiting_interview_decision": ("interview-decision", NO),
            "awaiting_decision": ("decision", GRANT),
            "awaiting_collection": ("permit-collected", lambda case: {"collected_on": case["permit"]["issued_on"]}),
        },
        "closed",
        "granted",
        1,
        1,
    ),
    "withdrawn": ({"awaiting_interview_decision": ("withdraw", {"reason": "going home"})}, "closed", "withdrawn", 0, 0),
    "appealed": (
        {
            "awaiting_interview_decision": ("interview-decision", NO),
            "awaiting_decision": ("decision", UNFOUNDED),
            "intended_decision": ("response", lambda case: {"submitted_on": today(), "summary": "the elements are new"}),
            "awaiting_final_decision": ("decision", UNFOUNDED),
            "appeal_window": ("appeal", lambda case: {"lodged_on": today(), "court_case": "AWB 26/12345"}),
            "appeal_lodged": ("judgment", {"result": "upheld"}),
        },
        "closed",
        "unfounded",
        1,  # the registry records the final decision; the intended one is a letter
        0,
    ),
}
CASES = {f"HASA-2026-9{n:05d}": path for n, path in enumerate(["granted", "withdrawn", "appealed"] * 2, start=1)}
EXTRA = "HASA-2026-900099"  # the case for `send` without a worker


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    data = tmp_path_factory.mktemp("faults")
    dev = DevStack(
        data_dir=data, frontend_port=free_port(), ui_port=free_port(), codec_port=free_port(), with_ui=False, logs=data / "logs"
    )
    with dev.running():
        yield dev


def record(app_id: str) -> str:
    raw = json.loads(EXAMPLE.read_text())
    raw["application_id"] = app_id
    return json.dumps(raw)


async def client_for(stack: DevStack) -> Client:
    settings = Settings(temporal_address=stack.address, data_dir=stack.data_dir)
    return await connect(settings, KeyRing.from_file(stack.key_file), environ=stack.env())


async def drive(client: Client, app_id: str, path: str, log: list[str], deadline: float) -> dict[str, Any]:
    script, final, *_ = PATHS[path]
    case: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            case = json.loads((await cases.read_status(client, app_id)).model_dump_json())
        except Exception as err:  # the server or the worker is down: try again
            log.append(f"{app_id}: status unavailable ({type(err).__name__})")
            await asyncio.sleep(1)
            continue
        if case["phase"] == final:
            return case
        step = script.get(case["phase"])
        if step is None:  # a phase the workflow passes through on its own
            await asyncio.sleep(0.5)
            continue
        event, body = step
        payload = cases.event_model(event).model_validate(body(case) if callable(body) else body)
        try:
            await cases.send_event(client, app_id, event, payload, wait_seconds=15)
        except (Refused, Unavailable) as err:
            log.append(f"{app_id}: {event} not applied now ({type(err).__name__}): {str(err)[:80]}")
            await asyncio.sleep(1)
        except Exception as err:
            log.append(f"{app_id}: {event} failed in transit ({type(err).__name__})")
            await asyncio.sleep(1)
    raise AssertionError(f"{app_id} ({path}) never reached {final}: {case.get('phase')}")


def lock_registry(stack: DevStack, seconds: float) -> None:
    db = sqlite3.connect(stack.data_dir / "registry.sqlite3", timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        db.execute("ROLLBACK")
    finally:
        db.close()


async def chaos(stack: DevStack, rng: random.Random, log: list[str], done: asyncio.Event) -> None:
    plan = ["kill", "lock", "kill", "restart-server", "kill"]
    for what in plan:
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        if what == "kill":
            await asyncio.to_thread(stack.stop_process, "worker", signal.SIGKILL)
            down = rng.uniform(0.5, 3.0)
            log.append(f"chaos: worker SIGKILLed, down {down:.1f}s")
            await asyncio.sleep(down)
            stack.restart_worker()
        elif what == "lock":
            held = rng.uniform(4.0, 8.0)
            log.append(f"chaos: registry locked (BEGIN EXCLUSIVE) for {held:.1f}s")
            await asyncio.to_thread(lock_registry, stack, held)
        else:
            log.append("chaos: dev server restarted")
            await asyncio.to_thread(stack.restart_server)
    done.set()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_batch_survives_kills_restarts_and_a_locked_registry(stack: DevStack) -> None:
    seed = int(os.environ.get("HASA_FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    documents = make_example_documents(stack.data_dir / "example-documents")
    batch = "\n".join(record(app_id) for app_id in [*CASES, EXTRA])
    submitted = stack.starter("submit", "-", "--documents", str(documents), stdin=batch)
    assert submitted.returncode == 0, submitted.stderr

    client = await client_for(stack)
    log: list[str] = []
    done = asyncio.Event()
    started = time.monotonic()
    deadline = started + 300
    chaos_task = asyncio.create_task(chaos(stack, rng, log, done))
    finals = await asyncio.gather(*(drive(client, app_id, path, log, deadline) for app_id, path in CASES.items()))
    await chaos_task
    elapsed = time.monotonic() - started
    print(f"\nfault run (HASA_FAULT_SEED={seed}): {len(CASES)} cases in {elapsed:.0f}s")  # noqa: T201
    counted: dict[str, int] = {}
    for line in log:
        counted[line] = counted.get(line, 0) + 1
    print("\n".join(f"{line}" + (f"  (x{n})" if n > 1 else "") for line, n in counted.items()))  # noqa: T201

    for (app_id, path), case in zip(CASES.items(), finals, strict=True):
        _, final, outcome, _, _ = PATHS[path]
        assert (case["phase"], case["outcome"]) == (final, outcome), app_id

    # The registry: one case row, one decision per round, one permit per grant, no letter twice.
    with sqlite3.connect(stack.data_dir / "registry.sqlite3") as db:
        for app_id, path in CASES.items():
            _, _, _, decisions, permits = PATHS[path]
            assert db.execute("select count(*) from cases where application_id = ?", (app_id,)).fetchone() == (1,)
            finals_count = db.execute("select count(*) from decisions where application_id = ? and final", (app_id,)).fetchone()[
                0
            ]
            intended = db.execute("select count(*) from decisions where application_id = ? and not final", (app_id,)).fetchone()[
                0
            ]
            assert finals_count + intended == decisions, (app_id, finals_count, intended)
            assert db.execute("select count(*) from permits where application_id = ?", (app_id,)).fetchone() == (permits,)
        doubled = db.execute(
            "select application_id, key, recipient, count(*) from letters group by 1, 2, 3 having count(*) > 1"
        ).fetchall()
        assert doubled == []
        letters = db.execute("select path from letters").fetchall()
    for (letter,) in letters:
        full = Path(letter) if Path(letter).is_absolute() else stack.data_dir / "letters" / letter
        assert full.read_bytes().startswith(b"%PDF"), letter
        assert mode(full) == 0o600
    assert mode(stack.data_dir / "registry.sqlite3") == 0o600

    # Nothing stuck: no failed workflow task in any history.
    for app_id in CASES:
        history = await client.get_workflow_handle(f"application-{app_id}").fetch_history()
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert failed == [], app_id


async def test_send_without_a_worker_waits_then_exits_1_and_applies_at_most_once(stack: DevStack) -> None:
    client = await client_for(stack)
    deadline = time.monotonic() + 120
    while (await cases.read_status(client, EXTRA)).phase != "awaiting_interview_decision":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    stack.stop_process("worker", signal.SIGKILL)
    env = {**stack.env(), "HASA_SEND_TIMEOUT_SECONDS": "3"}
    began = time.monotonic()
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "starter.py", "send", EXTRA, "interview-decision", json.dumps(NO)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    waited = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert "no worker completed the event within 3 s" in result.stderr
    assert "Traceback" not in result.stderr
    assert waited < 30
    stack.restart_worker()
    # The admitted update is applied once when the worker is back, or not at all.
    deadline = time.monotonic() + 60
    phase = "awaiting_interview_decision"
    while time.monotonic() < deadline:
        phase = (await cases.read_status(client, EXTRA)).phase
        if phase != "awaiting_interview_decision":
            break
        await asyncio.sleep(0.5)
    assert phase in ("awaiting_interview_decision", "awaiting_decision")
    if phase == "awaiting_decision":
        with pytest.raises(Refused, match="not allowed now"):
            await cases.send_event(
                client, EXTRA, "interview-decision", cases.event_model("interview-decision").model_validate(NO), wait_seconds=15
            )
    history = await client.get_workflow_handle(f"application-{EXTRA}").fetch_history()
    accepted = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    assert len(accepted) == (1 if phase == "awaiting_decision" else 0)
