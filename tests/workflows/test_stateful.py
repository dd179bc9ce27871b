"""Property-based, stateful: random event sequences against the application and permit workflows.

A hypothesis ``RuleBasedStateMachine`` drives one case (or one permit) per example on a
time-skipping test server of its own, with the test fakes: every event of the machine's
event table (``domain.steps.APPLICATION_EVENTS``, ``domain.permit.events.PERMIT_EVENT_TABLE``,
so a new row is fuzzed without touching this file), with valid and invalid bodies, in any
order, some sent concurrently, and time jumps across the periods and deadlines.

One loop (``EventSequences``) serves both workflows; each subject says how it starts, what
its state is, how its bodies are drawn and how it is brought to an end.  After every step:

* no workflow task failed (the history has no ``WorkflowTaskFailed``);
* the status query answers, and its phase (status) is one the transition table knows;
* an accepted event was one the state before allowed, and the state after is reachable
  from its edge (by the workflow's own steps); a refused one came with a reason and left
  the state as it was;
* what the subject adds: the application's deadlines fit its phase (a phase that waits on a
  deadline, ``PHASE_DEADLINES``, shows it; a closed case shows none of them); a finished
  permit is in a terminal status.

At the end of each example the case or permit is brought to an end (withdrawn, collected,
decided, or its periods run out); it finishes, and every accepted update completed.  The
numbers of examples, steps, accepted and refused events are printed.
``HYPOTHESIS_PROFILE=stateful-long`` runs many more examples than CI's small budget.
"""

from __future__ import annotations

import asyncio
import enum
import os
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator, Mapping
from concurrent.futures import Future
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from pydantic import BaseModel
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
from domain.permit.transitions import PERMIT_TRANSITIONS, PermitStatus, PermitTrigger
from domain.permit.transitions import TERMINAL as PERMIT_TERMINAL
from domain.permit.view import EventOutcome, PermitView
from domain.steps import APPLICATION_EVENTS, TRANSITIONS, Phase, Trigger
from infra.codec import KeyRing
from tests.support.fakes import FakeWorld, fake_document_number
from tests.support.temporal import worker as new_test_worker
from tests.workflows.conftest import start_environment
from tests.workflows.fake_permit import FakePermitWorkflow
from tests.workflows.test_application import make_application
from workflows.application import ApplicationWorkflow
from workflows.permit import PermitWorkflow

T = TypeVar("T")
S = TypeVar("S", bound=enum.StrEnum)

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

INVALID_BODIES: st.SearchStrategy[Any] = st.sampled_from(
    [{}, {"unexpected": 1}, {"outcome": "maybe", "grounds": " ", "decided_by": ""}, {"held_on": "yesterday"}, []]
)


def reachable_by_itself(
    table: Mapping[S, Mapping[Any, frozenset[S]]], human: frozenset[Any], states: frozenset[S]
) -> frozenset[S]:
    """``states`` and every state the workflow reaches from them by its own triggers (no event)."""
    seen = set(states)
    frontier = list(states)
    while frontier:
        state = frontier.pop()
        for trigger, targets in table[state].items():
            if trigger not in human:
                for target in targets - seen:
                    seen.add(target)
                    frontier.append(target)
    return frozenset(seen)


def body_fields(
    model: type[BaseModel], fields: Mapping[str, st.SearchStrategy[Any]], words: st.SearchStrategy[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Draws for a body of ``model``: its required fields and the optional ones ``fields`` knows.

    A row added to the event table later with fields unknown here: its required fields get words.
    """
    return st.fixed_dictionaries(
        {name: fields.get(name, words) for name, f in model.model_fields.items() if f.is_required() or name in fields}
    )


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
        return new_test_worker(self.env.client, workflows, FakeWorld().activities(), task_queue=self.task_queue)

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


# --- the loop both workflows share ------------------------------------------------------------


class EventSequences(RuleBasedStateMachine):
    """Random events, concurrent events and time jumps against one workflow, with the checks above.

    A subject sets the class attributes and implements the hooks below the rules.
    """

    NAME: ClassVar[str]  # for the printed counts
    TABLE: ClassVar[Mapping[Any, Mapping[Any, frozenset[Any]]]]  # the transition table
    TRIGGER: ClassVar[type[enum.StrEnum]]
    BODIES: ClassVar[Mapping[str, type[Model]]]  # the event table: event name -> body model
    VIEW: ClassVar[type[BaseModel]]  # what the status query and the workflow's result return
    RESULT: ClassVar[type[BaseModel]]  # what an accepted update returns
    JUMP_DAYS: ClassVar[list[int]]
    # derived from the above for each subject
    COUNTS: ClassVar[Counter[str]]
    EVENT_NAMES: ClassVar[list[str]]
    HUMAN: ClassVar[frozenset[Any]]  # the triggers sent as events: those with a body
    SPECS: ClassVar[st.SearchStrategy[dict[str, dict[str, Any]]]]  # a body for every event

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.COUNTS = Counter()
        cls.EVENT_NAMES = sorted(cls.BODIES)
        cls.HUMAN = frozenset(cls.TRIGGER(name) for name in cls.BODIES)
        cls.SPECS = st.fixed_dictionaries({event: cls.spec(event) for event in cls.EVENT_NAMES})

    def __init__(self) -> None:
        super().__init__()
        self.workflow_id = ""
        self.started: WorkflowHandle[Any, Any] | None = None  # its result() follows continue-as-new
        self.last: Any = None
        self.COUNTS["examples"] += 1

    # --- helpers ---------------------------------------------------------------------------

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        # Without a run id: the latest run, also after continue-as-new.
        return rt().client.get_workflow_handle(self.workflow_id)

    def view(self) -> Any:
        current = rt().run(self.handle.query("status", result_type=self.VIEW))
        assert isinstance(current, self.VIEW)
        return current

    def reachable(self, states: frozenset[Any]) -> frozenset[Any]:
        return reachable_by_itself(self.TABLE, self.HUMAN, states)

    def open(self) -> bool:
        return self.last is not None and not self.finished(self.last)

    def send(self, event: str, body: Any) -> Any:
        """The update's result after the event, or the reason (a str) it was refused."""
        try:
            return rt().run(self.handle.execute_update(event, body, result_type=self.RESULT))
        except RPCError as closed:  # a finished workflow takes no update at all
            reason, finished = str(closed), True
        except WorkflowUpdateFailedError as refused:
            cause = refused.cause
            reason, finished = (cause.message if isinstance(cause, ApplicationError) else str(cause)), False
        assert reason.strip(), f"{event} refused without a reason"
        if finished:
            assert "completed" in reason.lower(), reason
        return reason

    def check_accepted(self, event: str, before: Any, result: Any) -> None:
        edges = self.TABLE[before]
        trigger = self.TRIGGER(event)
        assert trigger in edges, f"{event} accepted in {before}"
        after = self.result_state(result)
        assert after in self.reachable(edges[trigger]), f"{before} --{event}--> {after}"

    def build(self, event: str, spec: dict[str, Any], before: Any, today: date) -> Model | dict[str, Any]:
        """The body for ``spec`` with its dates resolved; the raw dict where the model refuses it."""
        raw = {k: self.resolve(v, before, today) for k, v in spec.items()}
        try:
            return self.BODIES[event].model_validate(raw)
        except ValueError:
            return raw  # sent as it is: the worker refuses it

    def count(self, result: Any) -> None:
        self.COUNTS["steps"] += 1
        self.COUNTS["refused" if isinstance(result, str) else "accepted"] += 1

    # --- rules -----------------------------------------------------------------------------

    @initialize()
    def begin(self) -> None:
        self.start()
        self.last = self.settle()

    @rule(valid=st.booleans(), data=st.data())
    def send_an_event(self, valid: bool, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.EVENT_NAMES), label="event")
        spec = data.draw(self.spec(event) if valid else INVALID_BODIES, label="body")
        if not self.open():
            return  # a finished workflow: the rule stays enabled (no flaky precondition) but sends nothing
        before = self.settle()
        result = self.send(event, self.build(event, spec, before, rt().today()) if valid else spec)
        self.count(result)
        if isinstance(result, str):
            now = self.state_of(self.view())
            assert now in self.reachable(frozenset({self.state_of(before)})), f"refused {event} moved it: {result}"
            return
        self.check_accepted(event, self.state_of(before), result)

    @rule(pick=st.integers(min_value=0, max_value=50), data=st.data())
    def send_an_event_the_state_takes(self, pick: int, data: st.DataObject) -> None:
        """Mostly an event the table says the state takes, so that cases get far."""
        specs = data.draw(self.SPECS)  # a body for every event: what is drawn never depends on the state
        if not self.open():
            return
        before = self.settle()
        takes = sorted(t.value for t in self.TABLE[self.state_of(before)] if t in self.HUMAN)
        if not takes:
            return
        event = takes[pick % len(takes)]
        result = self.send(event, self.build(event, specs[event], before, rt().today()))
        self.count(result)
        if not isinstance(result, str):
            self.check_accepted(event, self.state_of(before), result)

    @rule(data=st.data())
    def send_concurrently(self, data: st.DataObject) -> None:
        events = data.draw(st.lists(st.sampled_from(self.EVENT_NAMES), min_size=2, max_size=3), label="events")
        specs = [data.draw(self.spec(event)) for event in events]
        if not self.open():
            return
        before = self.settle()
        today = rt().today()
        bodies = [self.build(e, spec, before, today) for e, spec in zip(events, specs, strict=True)]
        handle, result_type = self.handle, self.RESULT

        async def all_at_once() -> list[Any]:
            return await asyncio.gather(
                *(handle.execute_update(e, b, result_type=result_type) for e, b in zip(events, bodies, strict=True)),
                return_exceptions=True,
            )

        results = rt().run(all_at_once())
        self.COUNTS["steps"] += 1
        edges = self.TABLE[self.state_of(before)]
        for event, result in zip(events, results, strict=True):
            if isinstance(result, self.RESULT):
                self.COUNTS["accepted"] += 1
                assert self.TRIGGER(event) in edges or any(isinstance(r, self.RESULT) and r is not result for r in results), (
                    f"{event} accepted in {self.state_of(before)}"
                )
            else:
                self.COUNTS["refused"] += 1
                assert isinstance(result, WorkflowUpdateFailedError | RPCError), repr(result)

    @rule(data=st.data())
    def time_passes(self, data: st.DataObject) -> None:
        rt().sleep(timedelta(days=data.draw(st.sampled_from(self.JUMP_DAYS), label="days")))
        self.COUNTS["steps"] += 1
        self.COUNTS["time jumps"] += 1

    @invariant()
    def it_is_consistent(self) -> None:
        if self.started is None:
            return
        history = rt().run(self.handle.fetch_history())
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        assert failed == [], "a workflow task failed"
        closed = any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED for e in history.events)
        current = rt().run(self.started.result()) if closed else self.view()
        assert self.state_of(current) in self.TABLE
        self.check(current)
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
            current = self.view()
            if self.finished(current):
                break
            self.step_to_end(current)
        assert self.finished(self.view()), f"it did not end: {self.state_of(self.view())}"
        final = rt().run(self.started.result(), timeout=120)
        assert self.finished(final)
        history = rt().run(self.handle.fetch_history())
        kinds = Counter(e.event_type for e in history.events)
        assert (
            kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
            == kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
        ), "an accepted update never completed"
        assert kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED] == 0

    # --- what each subject says ------------------------------------------------------------

    def start(self) -> None:
        """Start the workflow: set ``workflow_id`` and ``started``."""
        raise NotImplementedError

    def settle(self) -> Any:
        """The view once the workflow has finished the steps it takes on its own."""
        return self.view()

    def state_of(self, view: Any) -> Any:
        raise NotImplementedError

    def result_state(self, result: Any) -> Any:
        raise NotImplementedError

    def finished(self, view: Any) -> bool:
        raise NotImplementedError

    @staticmethod
    def spec(event: str) -> st.SearchStrategy[dict[str, Any]]:
        """Draws for the fields of a body of ``event`` (dates symbolic; see ``resolve``)."""
        raise NotImplementedError

    def resolve(self, value: Any, before: Any, today: date) -> Any:
        """A drawn value as it is sent: a symbolic date made a date (against ``before``)."""
        raise NotImplementedError

    def check(self, view: Any) -> None:
        """What the subject adds to the invariant."""

    def step_to_end(self, view: Any) -> None:
        """One step towards the end: an event that ends it, or time."""
        raise NotImplementedError


def run_machine(machine: type[EventSequences], capsys: pytest.CaptureFixture[str]) -> None:
    counts = machine.COUNTS
    counts.clear()
    run_state_machine_as_test(machine, settings=settings.get_profile(PROFILE))
    with capsys.disabled():
        sys.stdout.write(
            f"\nstateful {machine.NAME} ({PROFILE}): {counts['examples']} examples, {counts['steps']} steps, "
            f"{counts['accepted']} events accepted, {counts['refused']} refused, {counts['time jumps']} time jumps\n"
        )
    assert counts["accepted"] > 0
    assert counts["refused"] > 0


# pyproject's 300 s per test is CI's budget; the long profile runs for many minutes.
LONG = pytest.mark.timeout(3600 if PROFILE == "stateful-long" else 300)


# --- the application --------------------------------------------------------------------------

APPLICATION_BODIES: dict[str, type[Model]] = {event.name: event.body for event in APPLICATION_EVENTS.values()}
# Deadlines a phase waits on; a closed case shows none of them.
WAITED_ON = {phase.value: deadline.kind.value for phase, deadline in PHASE_DEADLINES.items()}
PERIODS = {DeadlineKind.REPAIR_BY.value, DeadlineKind.RESPOND_BY.value, DeadlineKind.APPEAL_BY.value}
# Phases the workflow leaves on its own, through activities, without an event or a timer.
TRANSIENT = frozenset({Phase.REGISTERING, Phase.CHECKING_DOCUMENTS, Phase.AWAITING_INTERVIEW_SLOT})

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
    return body_fields(APPLICATION_BODIES[event], fields, words)


class ApplicationCase(EventSequences):
    NAME = "application"
    TABLE = TRANSITIONS
    TRIGGER = Trigger
    BODIES = APPLICATION_BODIES
    VIEW = CaseStatus
    RESULT = CaseStatus
    JUMP_DAYS: ClassVar[list[int]] = [1, 8, 15, 29, 43, 61, 120]

    def start(self) -> None:
        rt().begin([ApplicationWorkflow, FakePermitWorkflow])
        app = make_application()
        self.workflow_id = application_workflow_id(app.application_id)
        self.started = rt().run(
            rt().client.start_workflow(
                ApplicationWorkflow.run,
                ApplicationInput(application=app, options=CaseOptions()),
                id=self.workflow_id,
                task_queue=rt().task_queue,
            )
        )

    def settle(self) -> CaseStatus:
        current: CaseStatus = self.view()
        for _ in range(100):
            if Phase(current.phase) not in TRANSIENT:
                break
            rt().run(asyncio.sleep(0.05))
            current = self.view()
        return current

    def state_of(self, view: CaseStatus) -> Phase:
        return Phase(view.phase)

    def result_state(self, result: CaseStatus) -> Phase:
        return Phase(result.phase)

    def finished(self, view: CaseStatus) -> bool:
        return view.closed

    spec = staticmethod(body_spec)

    def resolve(self, value: Any, before: CaseStatus, today: date) -> Any:
        return _resolve(value, before, today)

    def check(self, view: CaseStatus) -> None:
        waited = WAITED_ON.get(view.phase)
        if waited is not None:
            assert waited in view.deadlines, f"{view.phase} without {waited}"
        if view.phase == Phase.CLOSED:
            assert not PERIODS & set(view.deadlines), f"closed with {sorted(view.deadlines)}"

    def step_to_end(self, view: CaseStatus) -> None:
        phase = Phase(view.phase)
        if Trigger.WITHDRAW in TRANSITIONS[phase]:
            self.send("withdraw", self.BODIES["withdraw"].model_validate({"reason": "test over"}))
        elif phase is Phase.AWAITING_COLLECTION:
            issued = view.permit.issued_on if view.permit is not None else rt().today()
            self.send("permit-collected", self.BODIES["permit-collected"].model_validate({"collected_on": issued}))
        elif phase is Phase.APPEAL_LODGED:
            self.send("judgment", self.BODIES["judgment"].model_validate({"result": "upheld"}))
        else:
            rt().sleep(timedelta(days=60))


@LONG
def test_random_event_sequences_keep_the_case_consistent(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    run_machine(ApplicationCase, capsys)


# --- the permit -------------------------------------------------------------------------------

_PERMIT_DATES = st.sampled_from(["today", "yesterday", "last month"])
_SHIFT = {"today": 0, "yesterday": 1, "last month": 30}


def permit_body_spec(event: str) -> st.SearchStrategy[dict[str, Any]]:
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
    return body_fields(PERMIT_EVENT_MODELS[event], fields, words)


class PermitLife(EventSequences):
    NAME = "permit"
    TABLE = PERMIT_TRANSITIONS
    TRIGGER = PermitTrigger
    BODIES = PERMIT_EVENT_MODELS
    VIEW = PermitView
    RESULT = EventOutcome
    JUMP_DAYS: ClassVar[list[int]] = [1, 30, 95, 183, 400, 900]

    def start(self) -> None:
        rt().begin([PermitWorkflow])
        env = rt().env
        assert env is not None
        now = rt().run(env.get_current_time())
        issued_on = local_date(now)
        application_id = f"HASA-2026-{uuid.uuid4().int % 1_000_000:06d}"
        handover = PermitInput(
            application_id=application_id,
            document_number=fake_document_number("III", uuid.uuid4().int % 10_000),
            valid_from=issued_on,
            valid_until=add_months(issued_on, 60) - timedelta(days=1),
            issued_at=now,
        )
        self.workflow_id = permit_workflow_id(application_id)
        self.started = rt().run(
            rt().client.start_workflow(
                PermitWorkflow.run,
                PermitWorkflowInput(handover=handover, settings=PermitSettings(extension_reminder_months=(6, 3, 1))),
                id=self.workflow_id,
                task_queue=rt().task_queue,
            )
        )

    def state_of(self, view: PermitView) -> PermitStatus:
        return view.status

    def result_state(self, result: EventOutcome) -> PermitStatus:
        return result.permit.status

    def finished(self, view: PermitView) -> bool:
        return view.finished

    spec = staticmethod(permit_body_spec)

    def resolve(self, value: Any, before: PermitView, today: date) -> Any:
        return today - timedelta(days=_SHIFT[value]) if isinstance(value, str) and value in _SHIFT else value

    def check(self, view: PermitView) -> None:
        if view.finished:
            assert view.status in PERMIT_TERMINAL, f"finished while {view.status}"

    def step_to_end(self, view: PermitView) -> None:
        takes = PERMIT_TRANSITIONS[view.status]
        if PermitTrigger.WITHDRAW_PERMIT in takes:
            body: dict[str, Any] = {"ground": "grounds_lapsed", "explanation": "test over"}
            self.send("withdraw-permit", self.BODIES["withdraw-permit"].model_validate(body))
        elif PermitTrigger.APPEAL_DECIDED in takes and view.appeal_lodged_on is not None:
            body = {"result": "upheld"}  # a pending appeal waits for the court, not a timer
            self.send("appeal-decided", self.BODIES["appeal-decided"].model_validate(body))
        elif PermitTrigger.FINE_DECISION in takes and view.fines:
            body = {"imposed": False, "amount_eur": 0}
            self.send("fine-decision", self.BODIES["fine-decision"].model_validate(body))
        else:
            rt().sleep(timedelta(days=400))


@LONG
def test_random_event_sequences_keep_the_permit_consistent(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    run_machine(PermitLife, capsys)
