"""A batch of intake records (``submit``, ``import-permits``): each record started as its workflow.

One JSON line per record, in input order: ``{"application_id", "workflow_id", "result":
"started" | "already_exists" | "invalid", "errors": [{"field", "message"}]}``, and the
record's first ``line`` when it is invalid.  Records are read, started and printed a window
at a time, so a batch of any size streams in flat memory; a progress bar on a terminal.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from intake.cli import emit
from intake.errors import FieldError
from intake.records import Record, peek_application_id

Outcome = dict[str, Any]


def outcome(application_id: str, workflow_id: Callable[[str], str], result: str) -> Outcome:
    """A record whose workflow was started (or existed already)."""
    return {"application_id": application_id, "workflow_id": workflow_id(application_id), "result": result, "errors": []}


def invalid(
    record: Record, errors: Sequence[FieldError], workflow_id: Callable[[str], str], application_id: str | None = None
) -> Outcome:
    """A record refused with its errors; the application id read from its text when not given."""
    app_id = application_id or peek_application_id(record.text)
    return {
        "application_id": app_id,
        "workflow_id": workflow_id(app_id) if app_id else None,
        "result": "invalid",
        "errors": [e.as_dict() for e in errors],
        "line": record.line,
    }


async def run(
    records: Iterable[Record], one: Callable[[Record], Awaitable[Outcome]], *, concurrency: int, unit: str
) -> dict[str, int]:
    """``one`` over every record, at most ``concurrency`` at a time; prints each outcome; the counts."""
    from tqdm import tqdm

    counts = {"started": 0, "already_exists": 0, "invalid": 0}
    gate = asyncio.Semaphore(concurrency)

    async def gated(record: Record) -> Outcome:
        async with gate:
            return await one(record)

    stream = iter(records)
    bar = tqdm(unit=unit, disable=not sys.stderr.isatty(), file=sys.stderr)
    try:
        while chunk := list(itertools.islice(stream, concurrency * 4)):
            for done in await asyncio.gather(*(gated(record) for record in chunk)):
                counts[done["result"]] += 1
                emit(done)
                bar.update(1)
    finally:
        bar.close()
    return counts
