"""Property-based, stateful: random event sequences against the application and permit workflows.

A hypothesis ``RuleBasedStateMachine`` drives one case per example on a time-skipping test
server of its own, with the test fakes: every event of the event table
(``domain.steps.APPLICATION_EVENTS``, so a new row is fuzzed without touching this file),
with valid and invalid bodies, in any order, some sent concurrently, and time jumps across
the repair period, the response period, the appeal window and the decision deadline.

After every step:

* no workflow task failed (the history has no ``WorkflowTaskFailed``);
* the status query answers, and its phase is one the transition table knows;
* an accepted event was one the phase before allowed, and the phase after is reachable
  from its edge (by the workflow's own steps); a refused one came with a reason and left
  the phase as it was;
* the deadlines fit the phase: a phase that waits on a deadline (``PHASE_DEADLINES``) shows
  it, a closed case shows none of them.

At the end of each example the case is brought to an end (withdrawn, collected, or its
periods run out); it finishes, and every accepted update completed.  The numbers of
examples, steps, accepted and refused events are printed.  ``HYPOTHESIS_PROFILE=
stateful-long`` runs many more examples than CI's small budget.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.case import ApplicationInput, CaseOptions, CaseStatus
from domain.case_state import PHASE_DEADLINES, DeadlineKind
from domain.deadlines import AMSTERDAM, add_months
from domain.identifiers import application_workflow_id, permit_workflow_id
from domain.messages import PermitInput
from domain.models import DocumentKind, MediaType, Model
from domain.permit.events import PERMIT_EVENT_MODELS
from domain.permit.schedule import local_date
from domain.permit.state import PermitSettings, PermitWorkflowInput
from domain.permit.transitions import PERMIT_EVENTS, PERMIT_TRANSITIONS, PermitStatus, PermitTrigger
from domain.permit.transitions import TERMINAL as PERMIT_TERMINAL
from domain.permit.view import EventOutcome, PermitView
from domain.steps import APPLICATION_EVENTS, EVENT_WHEN, TRANSITIONS, Phase, Trigger
from infra.codec import KeyRing
from tests.support.fakes import FakeWorld, fake_document_number
from tests.workflows.conftest import start_environment
from tests.workflows.fake_permit import FakePermitWorkflow
from tests.workflows.test_application import make_application
from workflows.application import ApplicationWorkflow
from workflows.permit import PermitWorkflow

T = TypeVar("T")

settings.register_profile(
    "stateful-ci",
    max_examples=8,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "stateful-long",
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = "stateful-long" if os.environ.get("HYPOTHESIS_PROFILE") == "stateful-long" else "stateful-ci"
COUNTS: Counter[str] = Counter()
PERMIT_COUNTS: Counter[str] = Counter()

EVENTS = {event.name: event for event in APPLICATION_EVENTS.values()}
HUMAN = frozenset(EVENT_WHEN)
# Deadlines a phase waits on; a closed case shows none of them.
WAITED_ON = {phase.value: deadline.kind.value for phase, deadline in PHASE_DEADLINES.items()}
PERIODS = {DeadlineKind.REPAIR_BY.value, DeadlineKind.RESPOND_BY.value, DeadlineKind.APPEAL_BY.value}


# Phases the workflow leaves on its own, through activities, without an event or a timer.
TRANSIENT = frozenset({Phase.REGISTERING, Phase.CHECKING_DOCUMENTS, Phase.AWAITING_INTERVIEW_SLOT})


def reachable_by_itself(phases: frozenset[Phase]) -> frozenset[Phase]:
    """``phases`` and every phase the workflow reaches from them by its own triggers (no event)."""
    seen = set(phases)
    frontier = list(phases)
    while frontier:
        phase = frontier.pop()
        for trigger, targets in TRANSITIONS[phase].items():
            if trigger not in HUMAN:
                for target in targets - seen:
                    seen.add(target)
                    frontier.append(target)
    return frozenset(seen)


class Runtime:
    """An event loop of its own (the rules are synchronous) with, per example, a fresh
    time-skipping server and worker: time jumps must not carry over from one case to the next."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.env: WorkflowEnvironment | None = None
        self.worker: Worker | None = None
        self.worker_run: Future[None] | None = None
        self.task_queue = ""

    def begin(self, workflows: list[type]) -> None:
        self.env = self.run(start_environment(self.keyring))
        self.task_queue = f"stateful-{uuid.uuid4()}"
        self.worker = self.run(self._make_worker(workflows))  # a Worker is made inside its event loop
        self.worker_run = asyncio.run_coroutine_threadsafe(self.worker.run(), self.loop)

    def end(self) -> None:
        if self.worker is not None:
            self.run(self.worker.shutdown())
        if self.env is not None:
            self.run(self.env.shutdown())
        self.env = self.worker = self.worker_run = None

    async def _make_worker(self, workflows: list[type]) -> Worker:
        assert self.env is not None
        return Worker(self.env.client, task_queue=self.task_queue, workflows=workflows, activities=FakeWorld().activities())

    @property
    def client(self) -> Client:
        assert self.env is not None
        return self.env.client

    def sleep(self, duration: timedelta) -> None:
        assert self.env is not None
        self.run(self.env.sleep(duration))

    def today(self) -> date:
        assert self.env is not None
        return self.run(self.env.get_current_time()).astimezone(AMSTERDAM).date()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.end()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


RUNTIME: Runtime | None = None


@pytest.fixture(scope="module")
def runtime(keyring: KeyRing) -> Iterator[Runtime]:
    global RUNTIME
    RUNTIME = Runtime(keyring)
    yield RUNTIME
    RUNTIME.close()
    RUNTIME = None


def rt() -> Runtime:
    assert RUNTIME is not None
    return RUNTIME


# Date fields take a symbolic choice, resolved against the case when the body is sent, so
# that what hypothesis draws never depends on the server (shrinking replays the draws).
_DATE_CHOICES = st.sampled_from(["today", "interview", "permit", "yesterday"])


def _resolve(value: Any, status: CaseStatus, today: date) -> Any:
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    if value == "interview":
        starts = status.interview.starts_at
        return starts.astimezone(AMSTERDAM).date() if starts is not None else today
    if value == "permit":
        return status.permit.issued_on if status.permit is not None and status.permit.issued_on else today
    return value


def body_spec(event: str) -> st.SearchStrategy[dict[str, Any]]:
    """The fields of a body the event's model accepts (dates symbolic; see ``_resolve``)."""
    model = EVENTS[event].body
    words = st.sampled_from(["new elements assessed", "the file suffices", "credible", "going home"])
    documents = st.lists(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["doc-7", "doc-8", "doc-9"]),
                "kind": st.just(DocumentKind.EVIDENCE.value),
                "filename": st.just("evidence.pdf"),
                "media_type": st.just(MediaType.PDF.value),
                "language": st.sampled_from(["en", "nl"]),
            }
        ),
        min_size=1,
        max_size=2,
        unique_by=lambda d: d["id"],
    )
    fields: dict[str, st.SearchStrategy[Any]] = {
        "documents": documents,
        "needed": st.booleans(),
        "reason": words,
        "held_on": _DATE_CHOICES,
        "report_document": st.none(),
        "outcome": st.sampled_from(["granted", "inadmissible", "manifestly_unfounded", "unfounded"]),
        "grounds": words,
        "decided_by": st.just("officer-7"),
        "submitted_on": _DATE_CHOICES,
        "summary": words,
        "lodged_on": _DATE_CHOICES,
        "court_case": st.just("AWB 26/4711"),
        "result": st.sampled_from(["annulled", "upheld"]),
        "collected_on": _DATE_CHOICES,
    }
    # A row added to the table later with fields unknown here: its required fields get words.
    return st.fixed_dictionaries(
        {name: fields.get(name, words) for name, f in model.model_fields.items() if f.is_required() or name in fields}
    )


def build_body(event: str, spec: dict[str, Any], status: CaseStatus, today: date) -> Model | dict[str, Any]:
    """The model for ``spec`` with its dates resolved; the raw dict where the model refuses it."""
    raw = {k: _resolve(v, status, today) for k, v in spec.items()}
    try:
        return EVENTS[event].body.model_validate(raw)
    except ValueError:
        return raw  # sent as it is: the worker refuses it


ALL_SPECS = st.fixed_dictionaries({event: body_spec(event) for event in sorted(EVENTS)})

INVALID_BODIES: st.SearchStrategy[Any] = st.sampled_from(
    [{}, {"unexpected": 1}, {"outcome": "maybe", "grounds": " ", "decided_by": ""}, {"held_on": "yesterday"}, []]
)


class ApplicationCase(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.handle: WorkflowHandle[Any, CaseStatus] | None = None
        self.last: CaseStatus | None = None
        COUNTS["examples"] += 1

    # --- helpers ---------------------------------------------------------------------------

    def status(self) -> CaseStatus:
        assert self.handle is not None
        current = rt().run(self.handle.query(ApplicationWorkflow.status, result_type=CaseStatus))
        assert isinstance(current, CaseStatus)
        return current

    def today(self) -> date:
        return rt().today()

    def settle(self) -> CaseStatus:
        """The status once the case has finished the steps it takes on its own (activities)."""
        current = self.status()
        for _ in range(100):
            if Phase(current.phase) not in TRANSIENT:
                break
            rt().run(asyncio.sleep(0.05))
            current = self.status()
        return current

    def open(self) -> bool:
        return self.last is not None and not self.last.closed

    def send(self, event: str, body: Any) -> CaseStatus | str:
        """The case after the event, or the reason it was refused."""
        assert self.handle is not None
        try:
            return rt().run(self.handle.execute_update(event, body, result_type=CaseStatus))
        except RPCError as closed:  # a finished workflow takes no update at all
            reason, finished = str(closed), True
        except WorkflowUpdateFailedError as refused:
            cause = refused.cause
            reason, finished = (cause.message if isinstance(cause, ApplicationError) else str(cause)), False
        assert reason.strip(), f"{event} refused without a reason"
        if finished:
            assert "completed" in reason.lower(), reason
        return reason

    # --- rules -----------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        rt().begin([ApplicationWorkflow, FakePermitWorkflow])
        app = make_application()
        self.handle = rt().run(
            rt().client.start_workflow(
                ApplicationWorkflow.run,
                ApplicationInput(application=app, options=CaseOptions()),
                id=application_workflow_id(app.application_id),
                task_queue=rt().task_queue,
            )
        )
        self.last = self.settle()

    @rule(event=st.sampled_from(sorted(EVENTS)), valid=st.booleans(), data=st.data())
    def send_an_event(self, event: str, valid: bool, data: st.DataObject) -> None:
        spec = data.draw(body_spec(event) if valid else INVALID_BODIES)
        if not self.open():
            return  # a finished case: the rule stays enabled (no flaky precondition) but sends nothing
        before = self.settle()
        body = build_body(event, spec, before, self.today()) if valid else spec
        after = self.send(event, body)
        COUNTS["steps"] += 1
        if isinstance(after, str):
            COUNTS["refused"] += 1
            now = Phase(self.status().phase)
            assert now in reachable_by_itself(frozenset({Phase(before.phase)})), f"refused {event} moved the case: {after}"
            return
        COUNTS["accepted"] += 1
        trigger = Trigger(event)
        edges = TRANSITIONS[Phase(before.phase)]
        assert trigger in edges, f"{event} accepted in {before.phase}"
        assert Phase(after.phase) in reachable_by_itself(edges[trigger]), f"{before.phase} --{event}--> {after.phase}"

    @rule(pick=st.integers(min_value=0, max_value=50), data=st.data())
    def send_an_event_the_phase_takes(self, pick: int, data: st.DataObject) -> None:
        """Mostly an event the table says the phase takes, so that cases get far."""
        specs = data.draw(ALL_SPECS)  # a body for every event: what is drawn never depends on the phase
        if not self.open():
            return
        before = self.settle()
        takes = sorted(t.value for t in TRANSITIONS[Phase(before.phase)] if t in HUMAN)
        if not takes:
            return
        event = takes[pick % len(takes)]
        after = self.send(event, build_body(event, specs[event], before, self.today()))
        COUNTS["steps"] += 1
        if isinstance(after, str):
            COUNTS["refused"] += 1
            return
        COUNTS["accepted"] += 1
        edges = TRANSITIONS[Phase(before.phase)]
        assert Phase(after.phase) in reachable_by_itself(edges[Trigger(event)]), f"{before.phase} --{event}--> {after.phase}"

    @rule(events=st.lists(st.sampled_from(sorted(EVENTS)), min_size=2, max_size=3), data=st.data())
    def send_concurrently(self, events: list[str], data: st.DataObject) -> None:
        assert self.handle is not None
        specs = [data.draw(body_spec(event)) for event in events]
        if not self.open():
            return
        before = self.settle()
        today = self.today()
        bodies = [build_body(e, spec, before, today) for e, spec in zip(events, specs, strict=True)]
        handle = self.handle

        async def all_at_once() -> list[Any]:
            return await asyncio.gather(
                *(handle.execute_update(e, b, result_type=CaseStatus) for e, b in zip(events, bodies, strict=True)),
                return_exceptions=True,
            )

        results = rt().run(all_at_once())
        COUNTS["steps"] += 1
        for event, result in zip(events, results, strict=True):
            if isinstance(result, CaseStatus):
                COUNTS["accepted"] += 1
                assert Trigger(event) in TRANSITIONS[Phase(before.phase)] or any(
                    isinstance(r, CaseStatus) and r is not result for r in results
                ), f"{event} accepted in {before.phase}"
            else:
                COUNTS["refused"] += 1
                assert isinstance(result, WorkflowUpdateFailedError | RPCError), repr(result)

    @rule(days=st.sampled_from([1, 8, 15, 29, 43, 61, 120]))
    def time_passes(self, days: int) -> None:
        rt().sleep(timedelta(days=days))
        COUNTS["steps"] += 1
        COUNTS["time jumps"] += 1

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_case_is_consistent(self) -> None:
        if self.handle is None:
            return
        history = rt().run(self.handle.fetch_history())
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert failed == [], "a workflow task failed"
        closed = any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED for e in history.events)
        current = rt().run(self.handle.result()) if closed else self.status()
        assert Phase(current.phase) in TRANSITIONS
        waited = WAITED_ON.get(current.phase)
        if waited is not None:
            assert waited in current.deadlines, f"{current.phase} without {waited}"
        if current.phase == Phase.CLOSED:
            assert not PERIODS & set(current.deadlines), f"closed with {sorted(current.deadlines)}"
        self.last = current

    def teardown(self) -> None:
        try:
            self._finish()
        finally:
            rt().end()

    def _finish(self) -> None:
        if self.handle is None:
            return
        for _ in range(20):
            current = self.last if self.last is not None and self.last.closed else self.status()
            if current.closed:
                break
            phase = Phase(current.phase)
            today = self.today()
            if Trigger.WITHDRAW in TRANSITIONS[phase]:
                self.send("withdraw", EVENTS["withdraw"].body.model_validate({"reason": "test over"}))
            elif phase is Phase.AWAITING_COLLECTION:
                issued = current.permit.issued_on if current.permit is not None else today
                self.send("permit-collected", EVENTS["permit-collected"].body.model_validate({"collected_on": issued}))
            elif phase is Phase.APPEAL_LODGED:
                self.send("judgment", EVENTS["judgment"].body.model_validate({"result": "upheld"}))
            else:
                rt().sleep(timedelta(days=60))
            self.last = None
        assert self.status().closed, f"the case did not end: {self.status().phase}"
        final = rt().run(self.handle.result(), timeout=120)
        assert final.closed
        history = rt().run(self.handle.fetch_history())
        kinds = Counter(e.event_type for e in history.events)
        assert (
            kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
            == kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
        ), "an accepted update never completed"
        assert kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED] == 0


# pyproject's 300 s per test is CI's budget; the long profile runs for many minutes.
LONG = pytest.mark.timeout(3600 if PROFILE == "stateful-long" else 300)


@LONG
def test_random_event_sequences_keep_the_case_consistent(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    COUNTS.clear()
    run_state_machine_as_test(ApplicationCase, settings=settings.get_profile(PROFILE))
    with capsys.disabled():
        sys.stdout.write(
            f"\nstateful application ({PROFILE}): {COUNTS['examples']} examples, {COUNTS['steps']} steps, "
            f"{COUNTS['accepted']} events accepted, {COUNTS['refused']} refused, {COUNTS['time jumps']} time jumps\n"
        )
    assert COUNTS["accepted"] > 0
    assert COUNTS["refused"] > 0


# --- the permit -------------------------------------------------------------------------------

PERMIT_HUMAN = frozenset(PERMIT_EVENTS)


def permit_reachable_by_itself(statuses: frozenset[PermitStatus]) -> frozenset[PermitStatus]:
    seen = set(statuses)
    frontier = list(statuses)
    while frontier:
        status = frontier.pop()
        for trigger, targets in PERMIT_TRANSITIONS[status].items():
            if trigger not in PERMIT_HUMAN:
                for target in targets - seen:
                    seen.add(target)
                    frontier.append(target)
    return frozenset(seen)


_PERMIT_DATES = st.sampled_from(["today", "yesterday", "last month"])


def permit_body_spec(event: str) -> st.SearchStrategy[dict[str, Any]]:
    model = PERMIT_EVENT_MODELS[event]
    words = st.sampled_from(["grounds still apply", "moved house", "false statements", "lost on the train"])
    fields: dict[str, st.SearchStrategy[Any]] = {
        "submitted_on": _PERMIT_DATES,
        "granted": st.booleans(),
        "grounds": words,
        "civic_integration_met": st.booleans(),
        "reason": st.sampled_from(["damaged", "lost", "stolen", "details_changed"]),
        "police_report": st.sampled_from([None, "PV-2026-1"]),
        "kind": st.sampled_from(["address", "family", "work"]),
        "occurred_on": _PERMIT_DATES,
        "reported_on": _PERMIT_DATES,
        "imposed": st.booleans(),
        "amount_eur": st.sampled_from([0, 150, 750]),
        "ground": st.sampled_from(["false_information", "public_order", "grounds_lapsed", "residence_abroad"]),
        "explanation": words,
        "collected_on": _PERMIT_DATES,
        "serious": st.booleans(),
        "lodged_on": _PERMIT_DATES,
        "result": st.sampled_from(["upheld", "annulled"]),
    }
    return st.fixed_dictionaries(
        {name: fields.get(name, words) for name, f in model.model_fields.items() if f.is_required() or name in fields}
    )


def build_permit_body(event: str, spec: dict[str, Any], today: date) -> Model | dict[str, Any]:
    shift = {"today": 0, "yesterday": 1, "last month": 30}
    raw = {k: today - timedelta(days=shift[v]) if isinstance(v, str) and v in shift else v for k, v in spec.items()}
    try:
        return PERMIT_EVENT_MODELS[event].model_validate(raw)
    except ValueError:
        return raw


ALL_PERMIT_SPECS = st.fixed_dictionaries({event: permit_body_spec(event) for event in sorted(PERMIT_EVENT_MODELS)})


class PermitLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.application_id = ""
        self.started: WorkflowHandle[Any, PermitView] | None = None
        self.last: PermitView | None = None
        PERMIT_COUNTS["examples"] += 1

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        # The latest run: continue-as-new starts a new one at a renewal.
        return rt().client.get_workflow_handle(permit_workflow_id(self.application_id))

    def status(self) -> PermitView:
        view = rt().run(self.handle.query("status", result_type=PermitView))
        assert isinstance(view, PermitView)
        return view

    def send(self, event: str, body: Any) -> EventOutcome | str:
        try:
            return rt().run(self.handle.execute_update(event, body, result_type=EventOutcome))
        except RPCError as closed:  # a finished workflow takes no update at all
            reason, finished = str(closed), True
        except WorkflowUpdateFailedError as refused:
            cause = refused.cause
            reason, finished = (cause.message if isinstance(cause, ApplicationError) else str(cause)), False
        assert reason.strip(), f"{event} refused without a reason"
        if finished:
            assert "completed" in reason.lower(), reason
        return reason

    def open(self) -> bool:
        return self.last is not None and not self.last.finished

    @initialize()
    def issue(self) -> None:
        rt().begin([PermitWorkflow])
        assert rt().env is not None
        now = rt().run(rt().env.get_current_time())
        issued_on = local_date(now)
        self.application_id = f"HASA-2026-{uuid.uuid4().int % 1_000_000:06d}"
        handover = PermitInput(
            application_id=self.application_id,
            document_number=fake_document_number("III", uuid.uuid4().int % 10_000),
            valid_from=issued_on,
            valid_until=add_months(issued_on, 60) - timedelta(days=1),
            issued_at=now,
        )
        self.started = rt().run(
            rt().client.start_workflow(
                PermitWorkflow.run,
                PermitWorkflowInput(handover=handover, settings=PermitSettings(extension_reminder_months=(6, 3, 1))),
                id=permit_workflow_id(self.application_id),
                task_queue=rt().task_queue,
            )
        )
        self.last = self.status()

    def _check_accepted(self, event: str, before: PermitView, outcome: EventOutcome) -> None:
        edges = PERMIT_TRANSITIONS[before.status]
        trigger = PermitTrigger(event)
        assert trigger in edges, f"{event} accepted while {before.status}"
        assert outcome.permit.status in permit_reachable_by_itself(edges[trigger]), (
            f"{before.status} --{event}--> {outcome.permit.status}"
        )

    @rule(event=st.sampled_from(sorted(PERMIT_EVENT_MODELS)), valid=st.booleans(), data=st.data())
    def send_an_event(self, event: str, valid: bool, data: st.DataObject) -> None:
        spec = data.draw(permit_body_spec(event) if valid else INVALID_BODIES)
        if not self.open():
            return  # a finished permit: the rule stays enabled but sends nothing
        before = self.status()
        after = self.send(event, build_permit_body(event, spec, rt().today()) if valid else spec)
        PERMIT_COUNTS["steps"] += 1
        if isinstance(after, str):
            PERMIT_COUNTS["refused"] += 1
            assert self.status().status in permit_reachable_by_itself(frozenset({before.status}))
            return
        PERMIT_COUNTS["accepted"] += 1
        self._check_accepted(event, before, after)

    @rule(pick=st.integers(min_value=0, max_value=50), data=st.data())
    def send_an_event_the_status_takes(self, pick: int, data: st.DataObject) -> None:
        specs = data.draw(ALL_PERMIT_SPECS)  # a body for every event: what is drawn never depends on the status
        if not self.open():
            return
        before = self.status()
        takes = sorted(t.value for t in PERMIT_TRANSITIONS[before.status] if t in PERMIT_HUMAN)
        if not takes:
            return
        event = takes[pick % len(takes)]
        after = self.send(event, build_permit_body(event, specs[event], rt().today()))
        PERMIT_COUNTS["steps"] += 1
        if isinstance(after, str):
            PERMIT_COUNTS["refused"] += 1
            return
        PERMIT_COUNTS["accepted"] += 1
        self._check_accepted(event, before, after)

    @rule(events=st.lists(st.sampled_from(sorted(PERMIT_EVENT_MODELS)), min_size=2, max_size=3), data=st.data())
    def send_concurrently(self, events: list[str], data: st.DataObject) -> None:
        specs = [data.draw(permit_body_spec(event)) for event in events]
        if not self.open():
            return
        today = rt().today()
        handle = self.handle
        bodies = [build_permit_body(e, spec, today) for e, spec in zip(events, specs, strict=True)]

        async def all_at_once() -> list[Any]:
            return await asyncio.gather(
                *(handle.execute_update(e, b, result_type=EventOutcome) for e, b in zip(events, bodies, strict=True)),
                return_exceptions=True,
            )

        PERMIT_COUNTS["steps"] += 1
        for result in rt().run(all_at_once()):
            PERMIT_COUNTS["accepted" if isinstance(result, EventOutcome) else "refused"] += 1
            assert isinstance(result, EventOutcome | WorkflowUpdateFailedError | RPCError), repr(result)

    @rule(days=st.sampled_from([1, 30, 95, 183, 400, 900]))
    def time_passes(self, days: int) -> None:
        rt().sleep(timedelta(days=days))
        PERMIT_COUNTS["steps"] += 1
        PERMIT_COUNTS["time jumps"] += 1

    @invariant()
    def the_permit_is_consistent(self) -> None:
        if self.started is None:
            return
        history = rt().run(self.handle.fetch_history())
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert failed == [], "a workflow task failed"
        current = self.status()
        assert current.status in PERMIT_TRANSITIONS
        if current.finished:
            assert current.status in PERMIT_TERMINAL, f"finished while {current.status}"
        self.last = current

    def teardown(self) -> None:
        try:
            self._finish()
        finally:
            rt().end()

    def _finish(self) -> None:
        if self.started is None:
            return
        for _ in range(30):
            current = self.status()
            if current.finished:
                break
            takes = PERMIT_TRANSITIONS[current.status]
            if PermitTrigger.WITHDRAW_PERMIT in takes:
                body = {"ground": "grounds_lapsed", "explanation": "test over"}
                self.send("withdraw-permit", PERMIT_EVENT_MODELS["withdraw-permit"].model_validate(body))
            elif PermitTrigger.APPEAL_DECIDED in takes and current.appeal_lodged_on is not None:
                body = {"result": "upheld"}  # a pending appeal waits for the court, not a timer
                self.send("appeal-decided", PERMIT_EVENT_MODELS["appeal-decided"].model_validate(body))
            elif PermitTrigger.FINE_DECISION in takes and any(f for f in current.fines):
                self.send(
                    "fine-decision", PERMIT_EVENT_MODELS["fine-decision"].model_validate({"imposed": False, "amount_eur": 0})
                )
            else:
                rt().sleep(timedelta(days=400))
        assert self.status().finished, f"the permit did not end: {self.status().status}"
        final = rt().run(self.started.result(), timeout=120)
        assert final.finished
        history = rt().run(self.handle.fetch_history())
        kinds = Counter(e.event_type for e in history.events)
        assert (
            kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
            == kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
        ), "an accepted update never completed"


@LONG
def test_random_event_sequences_keep_the_permit_consistent(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    PERMIT_COUNTS.clear()
    run_state_machine_as_test(PermitLife, settings=settings.get_profile(PROFILE))
    with capsys.disabled():
        sys.stdout.write(
            f"\nstateful permit ({PROFILE}): {PERMIT_COUNTS['examples']} examples, {PERMIT_COUNTS['steps']} steps, "
            f"{PERMIT_COUNTS['accepted']} events accepted, {PERMIT_COUNTS['refused']} refused, "
            f"{PERMIT_COUNTS['time jumps']} time jumps\n"
        )
    assert PERMIT_COUNTS["accepted"] > 0
    assert PERMIT_COUNTS["refused"] > 0
