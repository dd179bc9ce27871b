"""``worker.py`` on the SDK's stock sandbox runner: the service as it ran before decision 0050
(each workflow module compiled anew for every run).  For the memory run's before/after row
only: ``python -m benchmarks.stock_worker`` takes the same settings as ``worker.py``."""

from __future__ import annotations

import os
import sys

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import worker


def main() -> int:
    setattr(worker, "workflow_runner", SandboxedWorkflowRunner)  # noqa: B010  (replacing a module's name on purpose)
    return worker.main()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
