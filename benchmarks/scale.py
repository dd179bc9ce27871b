"""Scale runs: importing permits, the reminder storm, open cases on a small cache.

* **Import:** ``starter.py import-permits`` (a subprocess, as an operator runs it) on a file
  of N generated permits, into the dev server with one ``worker.py`` and then with three:
  records per second until every permit's workflow has recorded its status, and the peak
  RSS of the starter and of each worker.
* **Reminder storm:** N imported permits whose six-month reminder falls due on the import
  day: the time from the start of the import until every reminder letter is in the outbox
  (the registry's ``letters`` table), against bare Temporal starting N workflows that each
  run one timer and one activity (``benchmarks/bare.py``), on the same server.
* **Open cases:** N applications parked at step 5 on one worker whose cache holds fewer:
  the worker's RSS against the cache, and the latency of an event sent to the first case
  (long evicted: the worker replays its history first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from activities.registry_db import LetterRow, Registry
from benchmarks.common import (
    PATH,
    PeakRss,
    gather_limited,
    process_cpu,
    rss_kb,
    send,
    spawn_worker,
    start_import,
    stored_template,
    template,
    wait_count,
)
from benchmarks.memory import park_applications, stack_client, stack_settings
from domain import search_attributes as sa
from domain.deadlines import add_months
from domain.identifiers import DOCUMENT_NUMBER_ALPHABET, application_workflow_id
from domain.permit.schedule import local_date
from infra.devstack import DevStack

TIMEOUT = 3600.0


def document_number(n: int) -> str:
    chars = []
    for _ in range(8):
        n, r = divmod(n, len(DOCUMENT_NUMBER_ALPHABET))
        chars.append(DOCUMENT_NUMBER_ALPHABET[r])
    return f"III-V{''.join(reversed(chars))}"


def write_records(path: Path, count: int, first: int, valid_until: date) -> Path:
    """``count`` permit records (fictitious holders), streamed to ``path``."""
    with path.open("w") as out:
        for n in range(first, first + count):
            record = {
                "application_id": f"IMP-2021-{n:06d}",
                "document_number": document_number(n + 10_000_000),
                "permit_type": "III",
                "valid_from": str(add_months(valid_until, -60)),
                "valid_until": str(valid_until),
                "collected": True,
                "holder": {
                    "v_number": f"{3_000_000_000 + n}",
                    "family_name": "Voorbeeld",
                    "given_names": f"Persoon {n}",
                    "date_of_birth": "1990-01-01",
                    "nationality": "SYR",
                    "language": "ar",
                },
            }
            out.write(json.dumps(record) + "\n")
    return path


async def run_import(stack: DevStack, path: Path, task_queue: str, worker_pids: list[int], count: int) -> dict[str, Any]:
    """``starter.py import-permits`` until every permit's workflow has published its status."""
    client = await stack_client(stack)
    started = time.perf_counter()
    process = await start_import(stack, path, task_queue, stderr=subprocess.PIPE)
    server_pid = stack.processes["temporal"].pid
    cpu_before = [process_cpu(pid) for pid in (server_pid, *worker_pids)]
    peaks = [PeakRss(pid) for pid in worker_pids]
    starter = PeakRss(process.pid)
    async with starter:
        for peak in peaks:
            await peak.__aenter__()
        starter_cpu = 0.0
        while process.returncode is None:
            starter_cpu = max(starter_cpu, process_cpu(process.pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.5)
        err = await process.stderr.read() if process.stderr else b""
        imported_s = time.perf_counter() - started
        query = f"TaskQueue = '{task_queue}' AND {sa.PERMIT_STATUS.name} = 'active'"
        await wait_count(client, query, count, TIMEOUT, "imported permits active")
        for peak in peaks:
            await peak.__aexit__(None, None, None)
    seconds = time.perf_counter() - started
    cpu = [process_cpu(pid) - before for pid, before in zip((server_pid, *worker_pids), cpu_before, strict=True)]
    summary = err.decode().strip().splitlines()
    return {
        "records": count,
        "workers": len(worker_pids),
        "starter_exit": process.returncode,
        "starter_summary": summary[-1] if summary else "",
        "starter_seconds": imported_s,
        "seconds": seconds,
        "records_per_s": count / seconds,
        "starter_peak_rss_mb": starter.peak_kb / 1024,
        "worker_peak_rss_mb": [p.peak_kb / 1024 for p in peaks],
        "cpu_seconds": {"server": cpu[0], "workers": cpu[1:], "starter": starter_cpu},
    }


async def imports(stack: DevStack, count: int, directory: Path) -> list[dict[str, Any]]:
    today = local_date(datetime.now(UTC))
    valid_until = add_months(today, 30)  # mid-term: no reminder due
    runs = []
    first = 1
    for workers in (1, 3):
        queue = f"bench-import-{workers}"
        pids = [spawn_worker(stack, f"worker-import-{workers}-{n}", queue) for n in range(workers)]
        await asyncio.sleep(3)
        path = write_records(directory / f"permits-{workers}.jsonl", count, first, valid_until)
        print(f"  import: {count} permits, {workers} worker(s) ...", flush=True)
        runs.append(await run_import(stack, path, queue, pids, count))
        print(f"    {runs[-1]['records_per_s']:.1f} permits/s", flush=True)
        first += count
        for n in range(workers):
            stack.stop_process(f"worker-import-{workers}-{n}")
    return runs


def reminder_letters(stack: DevStack) -> int:
    registry = Registry(f"sqlite:///{(stack.data_dir / 'registry.sqlite3').as_posix()}")
    try:
        with registry.transaction() as session:
            query = select(func.count(func.distinct(LetterRow.application_id))).where(LetterRow.kind == "extension_reminder")
            return int(session.scalar(query) or 0)
    finally:
        registry.dispose()


async def storm(stack: DevStack, count: int, directory: Path) -> dict[str, Any]:
    """``count`` permits whose six-month reminder is due on the import day; then bare Temporal."""
    today = local_date(datetime.now(UTC))
    queue = "bench-storm"
    spawn_worker(stack, "worker-storm", queue)
    await asyncio.sleep(3)
    before = reminder_letters(stack)
    path = write_records(directory / "storm.jsonl", count, 500_000, add_months(today, 6))
    print(f"  storm: {count} permits with a reminder due today ...", flush=True)
    started = time.perf_counter()
    process = await start_import(stack, path, queue, stderr=subprocess.PIPE)
    while True:
        letters = await asyncio.to_thread(reminder_letters, stack) - before
        if process.returncode not in (None, 0):
            err = await process.stderr.read() if process.stderr else b""
            raise RuntimeError(f"storm: import-permits exited {process.returncode}: {err.decode()[-2000:]}")
        if letters >= count and process.returncode is not None:
            break
        if time.perf_counter() - started > TIMEOUT:
            raise RuntimeError(f"storm: {letters} of {count} reminders after {TIMEOUT:.0f}s")
        await asyncio.sleep(1)
        if process.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.01)
    service_s = time.perf_counter() - started
    stack.stop_process("worker-storm")

    print(f"  storm: bare Temporal, {count} workflows with one timer and one activity ...", flush=True)
    spawn_worker(stack, "worker-bare-storm", "bench-bare-storm", bare=True)
    client = await stack_client(stack)
    await asyncio.sleep(3)
    started = time.perf_counter()

    async def one(n: int) -> None:
        await client.start_workflow("BareReminder", 1.0, id=f"bare-reminder-{n:06d}", task_queue="bench-bare-storm")

    await gather_limited([lambda n=n: one(n) for n in range(count)], 16)  # type: ignore[misc]
    await wait_count(
        client, "WorkflowType = 'BareReminder' AND ExecutionStatus = 'Completed'", count, TIMEOUT, "bare reminders done"
    )
    bare_s = time.perf_counter() - started
    return {"permits": count, "service_seconds": service_s, "bare_seconds": bare_s, "ratio": service_s / bare_s}


async def open_cases(stack: DevStack, count: int, cache: int) -> dict[str, Any]:
    queue = "bench-open"
    pid = spawn_worker(stack, "worker-open", queue, max_cached_workflows=cache)
    settings = stack_settings(stack, queue)
    client = await stack_client(stack)
    raw = stored_template(template(), stack.data_dir)
    print(f"  open cases: {count} applications at step 5, cache {cache} ...", flush=True)
    peak = PeakRss(pid)
    samples: list[tuple[int, float]] = []
    ids: list[str] = []
    async with peak:
        step = max(cache, count // 5)
        parked = 0
        while parked < count:
            batch = min(step, count - parked)
            ids += await park_applications(client, settings, raw, batch, parked + batch)
            parked += batch
            samples.append((parked, rss_kb(pid) / 1024))
            print(f"    {parked} parked, worker RSS {samples[-1][1]:.0f} MB", flush=True)
    handle = client.get_workflow_handle(application_workflow_id(ids[0]))
    started = time.perf_counter()
    status = await send(handle, *PATH[0])  # interview-decision
    latency_ms = (time.perf_counter() - started) * 1000
    return {
        "cases": count,
        "cache": cache,
        "rss_mb_by_parked": samples,
        "peak_rss_mb": peak.peak_kb / 1024,
        "evicted_case_event_ms": latency_ms,
        "evicted_case_phase_after": status.phase,
    }


async def scale(stack: DevStack, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result["import"] = await imports(stack, args.import_permits, directory)
    result["storm"] = await storm(stack, args.storm, directory)
    result["open_cases"] = await open_cases(stack, args.open_cases, args.open_cache)
    result["markdown"] = markdown(result)
    return result


def _cpu(run: dict[str, Any]) -> str:
    cpu = run.get("cpu_seconds")
    if not cpu:
        return "-"
    return f"{cpu['server']:.0f} / {' + '.join(f'{w:.0f}' for w in cpu['workers'])} / {cpu['starter']:.0f}"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| import | workers | seconds | permits/s | starter peak RSS MB | worker peak RSS MB "
        "| CPU s: server / workers / starter |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for run in result["import"]:
        workers = ", ".join(f"{mb:.0f}" for mb in run["worker_peak_rss_mb"])
        lines.append(
            f"| {run['records']} permits | {run['workers']} | {run['seconds']:.0f} | {run['records_per_s']:.1f} "
            f"| {run['starter_peak_rss_mb']:.0f} | {workers} | {_cpu(run)} |"
        )
    s = result["storm"]
    lines += [
        "",
        f"Reminder storm: {s['permits']} permits, every reminder letter in the outbox after {s['service_seconds']:.0f} s "
        f"(from the start of the import); bare Temporal, one timer + one activity each: {s['bare_seconds']:.0f} s; "
        f"ratio {s['ratio']:.2f}x.",
    ]
    o = result["open_cases"]
    rss = ", ".join(f"{n}: {mb:.0f} MB" for n, mb in o["rss_mb_by_parked"])
    lines += [
        "",
        f"Open cases: {o['cases']} applications at step 5 on one worker with a cache of {o['cache']}: RSS by parked ({rss}); "
        f"peak {o['peak_rss_mb']:.0f} MB. An event to the first (evicted) case answered in {o['evicted_case_event_ms']:.0f} ms "
        f"(now {o['evicted_case_phase_after']}).",
    ]
    return "\n".join(lines)
