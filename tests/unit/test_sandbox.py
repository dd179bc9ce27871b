"""The worker's sandbox: each workflow module is executed anew per run but compiled once
(infra/sandbox.py, decision 0050), and the cache and slot settings are bounded."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from infra import sandbox
from infra.settings import Settings


def fresh_module(name: str) -> ModuleType:
    """Import ``name`` into a new module object, as the sandbox does for every workflow run."""
    sandbox.compile_workflow_modules_once()
    finder = next(f for f in sys.meta_path if isinstance(f, sandbox._WorkflowCodeFinder))
    package = importlib.import_module(name.rpartition(".")[0])
    spec = finder.find_spec(name, package.__path__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = sys.modules.get(name)
    sys.modules[name] = module  # as in the sandbox's own sys.modules while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        if before is None:
            del sys.modules[name]
        else:
            sys.modules[name] = before
    return module


def test_each_run_executes_the_module_anew_on_one_compiled_code() -> None:
    first, second = fresh_module("workflows.common"), fresh_module("workflows.common")
    # A fresh module per run: no state is shared between runs ...
    assert first is not second
    assert first.EventHandlers is not second.EventHandlers
    assert first.call is not second.call
    # ... built from the same immutable code object, compiled once.
    assert first.call.__code__ is second.call.__code__
    assert any(path.endswith("workflows/common.py") for path in sandbox.compiled_modules())


def test_only_the_workflow_packages_are_served_by_the_cache() -> None:
    sandbox.compile_workflow_modules_once()
    sandbox.compile_workflow_modules_once()  # idempotent
    finders = [f for f in sys.meta_path if isinstance(f, sandbox._WorkflowCodeFinder)]
    assert len(finders) == 1
    assert finders[0].find_spec("domain.steps", None) is None
    assert finders[0].find_spec("workflowsx", None) is None


def test_the_runner_keeps_the_default_restrictions() -> None:
    from temporalio.worker.workflow_sandbox import SandboxRestrictions

    assert sandbox.workflow_runner().restrictions == SandboxRestrictions.default


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HASA_MAX_CACHED_WORKFLOWS", "many", "HASA_MAX_CACHED_WORKFLOWS: 'many' is not a whole number"),
        ("HASA_WORKFLOW_TASK_SLOTS", "0", "HASA_WORKFLOW_TASK_SLOTS: 0 is not between 1 and 10000"),
        ("HASA_ACTIVITY_SLOTS", "-3", "HASA_ACTIVITY_SLOTS: -3 is not between 1 and 1000"),
    ],
)
def test_worker_capacity_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()


def test_worker_capacity_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASA_MAX_CACHED_WORKFLOWS", "250")
    monkeypatch.setenv("HASA_WORKFLOW_TASK_SLOTS", "20")
    monkeypatch.setenv("HASA_ACTIVITY_SLOTS", "8")
    settings = Settings.from_env()
    assert (settings.max_cached_workflows, settings.workflow_task_slots, settings.activity_slots) == (250, 20, 8)
