"""The names a client needs to reach the workflows: workflow types and the task queue.

Kept free of imports so the entry points (``starter.py``, the benchmark, the dev stack) and
the settings can read them without loading workflow code.  The workflow type names are
part of every recorded history: never rename them.
"""

from __future__ import annotations

APPLICATION_WORKFLOW = "RepeatAsylumApplication"
PERMIT_WORKFLOW = "ResidencePermit"
TASK_QUEUE = "hasa"  # the default; HASA_TASK_QUEUE overrides it (infra/settings.py)
