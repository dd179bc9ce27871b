"""Three ``worker.py`` processes on one task queue, the registry on PostgreSQL, one SIGKILLed.

A real dev server (SQLite in a temporary directory), three real worker processes sharing the
task queue, the document store and the letters outbox, the registry in a real PostgreSQL
database (tests/postgres.py).  100 cases on three paths (granted with a permit; withdrawn at
once; an event refused, then withdrawn) are driven through the same calls ``starter.py``
makes.  When a third of them have finished, the worker that has touched most of the cases
then in flight is SIGKILLed (its whole process group) and not restarted.

Then every case must have reached its expected outcome exactly once: the workflow's result,
the registry's case row, one final decision and one permit per grant, one booked desk slot
per grant, and per path the same letters (no letter missing, none twice) with each file on
disk matching its recorded hash.  How we know more than one worker did work: the history of
every case records the identity (``pid@host``) of the worker that completed each workflow
task and started each activity; the three workers' pids are known, and the test counts the
cases each one worked on, and the cases that moved from the killed worker to a survivor.

The survivors' Prometheus endpoints (``HASA_METRICS_ADDRESS``) are scraped at the end: the
SDK's metrics and the service's (cases, events accepted and refused, letters, decisions,
the overdue gauge) are there, and no label carries an application id or a name.  Last, the
survivors get SIGTERM and must drain and exit 0 within the drain time set for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import subprocess
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from activities.document_store import DocumentStore
from domain.case import CaseStatus
from domain.identifiers import application_workflow_id
from domain.models import Application
from infra.client import connect
from infra.codec import KeyRing
from infra.devstack import DevStack, free_port, make_example_documents, wait_for_port
from infra.settings import Settings
from intake.cases import send_event, start_case
from intake.errors import Refused, Unavailable
from tests.conftest import EXAMPLE
from tests.postgres import PostgresForTests

CASES = 100
WORKERS = 3
KILL_AFTER = CASES // 3
CONCURRENCY = 12
DRAIN_SECONDS = 5.0
PATHS = ("granted", "withdrawn", "refused-then-withdrawn")
EXPECTED = {"granted": "granted", "withdrawn": "withdrawn", "refused-then-withdrawn": "withdrawn"}
DECIDE = {"grounds": "the new elements are credible", "decided_by": "officer-17"}
# An activity that was running on the killed worker is retried once its heartbeat timeout
# ends (20 s, decision 0025).  The wait still allows for its start-to-close timeout (2 minutes
# for record_decision and send_letter), the bound should heartbeats not reach the server.
EVENT_WAIT = 200.0


@pytest.fixture(scope="module")
def stack(postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevStack, str]]:
    base = tmp_path_factory.mktemp("three-workers")
    url = postgres.new_database()
    stack = DevStack(
        data_dir=base / "data",
        frontend_port=free_port(),
        ui_port=free_port(),
        codec_port=free_port(),
        with_ui=False,
        logs=base / "logs",
        extra_env={"HASA_DATABASE_URL": url},
        start_worker=False,
    )
    try:
        stack.start()
        yield stack, url
    finally:
        stack.stop()
        postgres.drop_database(url)


def applications(data_dir: Path) -> list[tuple[Application, str]]:
    """100 applications (the example's facts, own ids) with their files in the shared store."""
    files = make_example_documents(data_dir / "example-documents")
    store = DocumentStore(data_dir / "documents")
    template: dict[str, Any] = json.loads(EXAMPLE.read_text())
    for doc in template["documents"]:
        doc["sha256"], doc["size_bytes"] = store.put_file(files / doc["filename"])
    received = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    made = []
    for n in range(CASES):
        raw = json.loads(json.dumps(template))
        raw["application_id"] = f"HASA-2026-{300000 + n:06d}"
        raw["received_at"] = received
        made.append((Application.model_validate(raw), PATHS[n % len(PATHS)]))
    return made


async def wait_phase(client: Client, app_id: str, phase: str) -> CaseStatus:
    handle = client.get_workflow_handle(application_workflow_id(app_id))
    deadline = time.monotonic() + EVENT_WAIT
    while time.monotonic() < deadline:
        status = await handle.query("status", result_type=CaseStatus)
        if status.phase == phase:
            return status
        await asyncio.sleep(0.3)
    raise AssertionError(f"{app_id} did not reach {phase}")


async def drive(client: Client, app_id: str, path: str) -> tuple[int, CaseStatus]:
    """The path's events, as `starter.py send` delivers them; returns (refusals, final status)."""
    try:
        return await _drive(client, app_id, path)
    except (Unavailable, TimeoutError, AssertionError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
        handle = client.get_workflow_handle(application_workflow_id(app_id))
        description = await handle.describe()
        status = await handle.query("status", result_type=CaseStatus) if description.status == 1 else None
        raise AssertionError(
            f"{app_id} ({path}) stuck: {error}; workflow {description.status}, phase {status and status.phase}"
        ) from error


async def _drive(client: Client, app_id: str, path: str) -> tuple[int, CaseStatus]:
    refused = 0
    if path == "withdrawn":
        await send_event(client, app_id, "withdraw", _body("withdraw", {"reason": "returned home"}), wait_seconds=EVENT_WAIT)
    else:
        await wait_phase(client, app_id, "awaiting_interview_decision")
        if path == "refused-then-withdrawn":
            with pytest.raises(Refused):  # a decision before the interview decision: refused, case unchanged
                await send_event(
                    client, app_id, "decision", _body("decision", {"outcome": "granted", **DECIDE}), wait_seconds=EVENT_WAIT
                )
            refused += 1
        no_interview = {"needed": False, "reason": "the file suffices"}
        await send_event(client, app_id, "interview-decision", _body("interview-decision", no_interview), wait_seconds=EVENT_WAIT)
        if path == "granted":
            status = await send_event(
                client, app_id, "decision", _body("decision", {"outcome": "granted", **DECIDE}), wait_seconds=EVENT_WAIT
            )
            issued = CaseStatus.model_validate(status).permit
            assert issued is not None
            assert issued.issued_on is not None
            collected = {"collected_on": issued.issued_on.isoformat()}
            await send_event(client, app_id, "permit-collected", _body("permit-collected", collected), wait_seconds=EVENT_WAIT)
        else:
            await send_event(client, app_id, "withdraw", _body("withdraw", {"reason": "returned home"}), wait_seconds=EVENT_WAIT)
    final = await client.get_workflow_handle(application_workflow_id(app_id), result_type=CaseStatus).result()
    return refused, final


def _body(event: str, raw: dict[str, Any]) -> Any:
    from domain.steps import EVENT_MODELS

    return EVENT_MODELS[event].model_validate(raw)


async def worked_on(client: Client, app_id: str, pids: dict[int, str]) -> set[str]:
    """The workers that completed a workflow task or started an activity of the case, from its history."""
    history = await client.get_workflow_handle(application_workflow_id(app_id)).fetch_history()
    who = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            who.add(event.workflow_task_completed_event_attributes.identity)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            who.add(event.activity_task_started_event_attributes.identity)
    return {pids.get(int(identity.split("@", 1)[0]), identity) for identity in who if identity}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body: bytes = response.read()
    return body.decode()


def samples(scraped: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in Prometheus text format."""
    found: dict[str, float] = {}
    for line in scraped.splitlines():
        match = re.match(rf"^{name}(\{{[^}}]*\}})?\s+(\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


@dataclass
class Run:
    """One run of the test: the processes, the cases, and what happened."""

    devstack: DevStack
    url: str
    client: Client
    settings: Settings
    workers: dict[str, subprocess.Popen[bytes]]
    ports: dict[str, int]
    cases: list[tuple[Application, str]]
    finished: dict[str, CaseStatus] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    refusals: int = 0
    victim: str = ""
    killed_at: int | None = None
    elapsed: float = 0.0

    @property
    def pids(self) -> dict[int, str]:
        return {process.pid: name for name, process in self.workers.items()}

    @property
    def survivors(self) -> list[str]:
        return [name for name in self.workers if name != self.victim]

    @property
    def expected(self) -> dict[str, str]:
        return {app.application_id: EXPECTED[path] for app, path in self.cases}


async def kill_the_busiest(run: Run) -> None:
    """SIGKILL the worker that has touched most of the cases in flight now."""
    busy: Counter[str] = Counter()
    for app_id in list(run.in_flight):
        busy.update(await worked_on(run.client, app_id, run.pids))
    run.victim = max(sorted(run.workers), key=lambda name: busy[name])
    run.killed_at = len(run.finished)
    run.devstack.stop_process(run.victim, signal.SIGKILL)


async def run_cases(run: Run) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(app: Application, path: str) -> None:
        async with gate:
            run.in_flight.add(app.application_id)
            assert await start_case(run.client, run.settings, app) == "started"
            refused, final = await drive(run.client, app.application_id, path)
            run.in_flight.discard(app.application_id)
        run.refusals += refused
        run.finished[app.application_id] = final
        if len(run.finished) == KILL_AFTER and run.killed_at is None:
            await kill_the_busiest(run)

    started = time.monotonic()
    await asyncio.gather(*(one(app, path) for app, path in run.cases))
    run.elapsed = time.monotonic() - started


def check_the_registry(run: Run) -> None:
    """Exactly once in the registry: the case, a grant's decision, permit and desk slot, the letters."""
    expected = run.expected
    engine = create_engine(run.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("select application_id, status, outcome from cases")).all()
            decisions = Counter(
                r[0] for r in conn.execute(text("select application_id from decisions where final and sequence = 1"))
            )
            permits = Counter(r[0] for r in conn.execute(text("select application_id from permits")))
            desks = Counter(
                r[0] for r in conn.execute(text("select booked_by from slots where kind = 'desk' and booked_by is not null"))
            )
            letters = conn.execute(text("select application_id, key, recipient, path, sha256 from letters")).all()
    finally:
        engine.dispose()
    assert {r[0]: (r[1], r[2]) for r in rows} == {k: ("closed", v) for k, v in expected.items()}
    granted = {k for k, v in expected.items() if v == "granted"}
    assert dict(decisions) == dict.fromkeys(granted, 1)
    assert dict(permits) == dict.fromkeys(granted, 1)
    assert dict(desks) == dict.fromkeys(granted, 1)
    per_case: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for app_id, key, recipient, path, sha256 in letters:
        per_case[app_id].add((key, recipient))
        written = run.devstack.data_dir / "letters" / path
        assert hashlib.sha256(written.read_bytes()).hexdigest() == sha256, f"{path} differs from its record"
    assert len(letters) == sum(len(v) for v in per_case.values())  # no letter twice (also a unique key)
    path_of = {app.application_id: path for app, path in run.cases}
    for path in PATHS:
        shapes = {frozenset(per_case[k]) for k in expected if path_of[k] == path}
        assert len(shapes) == 1, f"the {path} cases do not all have the same letters: {shapes}"
        assert next(iter(shapes)), f"the {path} cases sent no letters"


async def check_who_did_the_work(run: Run) -> None:
    """How we know more than one worker did work: the identities in every case's history."""
    cases_by_worker: Counter[str] = Counter()
    moved = 0
    for app_id in run.expected:
        names = await worked_on(run.client, app_id, run.pids)
        cases_by_worker.update(names)
        moved += run.victim in names and len(names) > 1
    print(  # noqa: T201 - the figures the report quotes
        f"\nthree workers: {CASES} cases in {run.elapsed:.0f} s; {run.victim} SIGKILLed after {run.killed_at} finished; "
        f"cases worked on per worker {dict(sorted(cases_by_worker.items()))}; {moved} cases moved from the killed "
        f"worker to a survivor; {run.refusals} events refused"
    )
    assert set(cases_by_worker) == set(run.workers)  # all three did work, the killed one before its end
    assert moved >= 1


def check_the_metrics(run: Run) -> None:
    scraped = [scrape(run.ports[name]) for name in run.survivors]
    everything = "\n".join(scraped)
    for sdk_metric in (
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_sticky_cache_size",
        "temporal_worker_task_slots_available",
    ):
        assert sdk_metric in everything, sdk_metric

    def total(name: str, **labels: str) -> float:
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(v for one in scraped for k, v in samples(one, name).items() if all(w in k for w in wanted))

    assert total("hasa_cases_started", workflow_type="RepeatAsylumApplication") >= 1
    assert total("hasa_cases_finished", result="granted") >= 1
    assert total("hasa_cases_finished", result="withdrawn") >= 1
    assert total("hasa_events_accepted", event="withdraw") >= 1
    assert total("hasa_events_refused", event="decision") >= 1
    assert total("hasa_letters_rendered") >= 1
    assert total("hasa_decisions_recorded", outcome="granted", stage="final") >= 1
    assert samples(everything, "hasa_decision_deadlines_overdue")
    # Counted once across all workers, the killed one included: never more than happened.
    assert total("hasa_events_refused", event="decision") <= run.refusals
    assert total("hasa_decisions_recorded") <= sum(v == "granted" for v in run.expected.values())
    assert "HASA-2026" not in everything
    assert json.loads(EXAMPLE.read_text())["applicant"]["family_name"] not in everything


def check_the_drain(run: Run) -> None:
    """SIGTERM: the survivors drain and exit 0 within the drain time."""
    for name in run.survivors:
        begun = time.monotonic()
        run.devstack.stop_process(name, signal.SIGTERM)
        assert run.workers[name].returncode == 0
        assert time.monotonic() - begun < DRAIN_SECONDS + 5
        assert "worker stopped" in ((run.devstack.logs or Path()) / f"{name}.log").read_text()


async def test_three_workers_one_killed_every_case_once(stack: tuple[DevStack, str]) -> None:
    devstack, url = stack
    ports = {f"worker-{i}": free_port() for i in range(WORKERS)}
    workers = {
        name: devstack.spawn_worker(
            name, {"HASA_METRICS_ADDRESS": f"127.0.0.1:{port}", "HASA_WORKER_DRAIN_SECONDS": str(DRAIN_SECONDS)}
        )
        for name, port in ports.items()
    }
    for port in ports.values():
        wait_for_port(port)
    settings = Settings(temporal_address=devstack.address, data_dir=devstack.data_dir)
    client = await connect(settings, KeyRing.from_file(devstack.key_file))
    run = Run(devstack, url, client, settings, workers, ports, applications(devstack.data_dir))

    await run_cases(run)
    assert run.workers[run.victim].poll() == -signal.SIGKILL
    assert all(run.workers[name].poll() is None for name in run.survivors)
    # Every case reached its expected outcome: the workflow's result ...
    assert {k: (v.closed, v.outcome) for k, v in run.finished.items()} == {k: (True, v) for k, v in run.expected.items()}
    check_the_registry(run)  # ... and the registry, exactly once
    await check_who_did_the_work(run)
    check_the_metrics(run)
    check_the_drain(run)
