"""The workflow sandbox as the worker runs it: the SDK's sandbox, with each workflow module
compiled once per process instead of once per workflow run.

The SDK's sandbox imports a workflow's module afresh for every workflow run (a new module
object, new classes and functions, every name checked against its restrictions), so that
no state leaks between runs.  Importing it afresh also compiled it afresh: Python's loader
turns the source (or the ``.pyc``) into new code objects each time, and those stay alive
as long as the run is cached: about 80 KB per cached run for ``workflows/application.py``,
a third of the worker's memory per parked case, and ~9 ms of CPU per new run.

Code objects are immutable, so every run can share one set: the finder below serves the
modules under ``workflows`` through a loader that compiles each file once and hands
out the same code object afterwards.  Everything else stays as the sandbox does it: the
module is still executed anew in each run's own namespace under the sandbox's
restrictions.  A side effect: a worker keeps running the workflow code it first loaded,
even when the file changes on disk (the passed-through ``domain/`` modules already did).
Decision 0050 has the measurements.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

WORKFLOW_PACKAGES = ("workflows",)

_codes: dict[str, CodeType] = {}
_lock = threading.Lock()


class _CompiledOnceLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose ``get_code`` compiles a file once per process."""

    def get_code(self, fullname: str) -> CodeType:
        path = str(self.path)
        with _lock:
            code = _codes.get(path)
            if code is None:
                compiled = super().get_code(fullname)
                assert compiled is not None, f"{path} compiled to nothing"
                code = _codes[path] = compiled
        return code


class _WorkflowCodeFinder(importlib.abc.MetaPathFinder):
    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = tuple(packages)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not any(fullname == p or fullname.startswith(p + ".") for p in self.packages):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader or spec.origin is None:
            return spec
        spec.loader = _CompiledOnceLoader(fullname, spec.origin)
        return spec


def compile_workflow_modules_once(packages: Sequence[str] = WORKFLOW_PACKAGES) -> None:
    """Serve ``packages`` through the compile-once loader (idempotent).

    The sandbox looks each module up again for every run, so this only has to happen
    before the worker starts; the worker's own import of the modules is unaffected.
    """
    if not any(isinstance(f, _WorkflowCodeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _WorkflowCodeFinder(packages))


def compiled_modules() -> list[str]:
    """The files compiled through the cache so far (for tests and the benchmark)."""
    with _lock:
        return sorted(_codes)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The SDK's sandbox with its default restrictions (nothing loosened)."""
    compile_workflow_modules_once()
    return SandboxedWorkflowRunner()
