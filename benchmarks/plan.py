"""The baseline's plan: what bare Temporal does per stage to match the service.

A model of its own module, passed through the sandbox by ``benchmarks/baseline.py``: a
pydantic model defined in a workflow module would be rebuilt for every workflow run
(decision 0050), which the baseline must not pay any more than the service does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class BaselinePlan(BaseModel):
    """Per stage (0 = before the first update, n = after the n-th) the activities and the
    search-attribute upserts (values in each); the timers and where they are cancelled;
    the children."""

    stages: list[int]
    upserts: list[list[int]] = []
    timers: int = 0
    timers_cancelled_in_stage: int = 0
    children: int = 0
    children_in_stage: int = 0
    # --diagnose: start the service's own child (type and input as the service sent them)
    # instead of the stand-in, to price what the child costs.
    child_workflow: str | None = None
    child_input: dict[str, Any] | None = None
