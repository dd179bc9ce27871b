"""Benchmark: the service against bare Temporal, and at the IND's scale.

``make bench`` runs ``python -m benchmarks.bench``: it starts its own headless Temporal dev
server (``infra/devstack.py``, SQLite in a temporary directory, free ports) and runs the
parts named by ``--only`` (default: all):

* ``overhead`` (``benchmarks/overhead.py``): per case, the service's CPU, wall time,
  events and payload bytes against bare Temporal doing the same activities and updates;
* ``memory`` (``benchmarks/memory.py``): worker memory per parked case (application at
  step 5, permit), as the slope of RSS between N/3 and N parked, against a bare sandboxed
  workflow parked on a signal, in one run;
* ``replay`` (``benchmarks/memory.py``): the cost to rebuild a case from its history at
  each phase;
* ``scale`` (``benchmarks/scale.py``): importing permits (one and three workers), the
  reminder storm against bare Temporal, open cases on a small cache.

``--quick`` shrinks every size for a look in a few minutes.  The results go to
``--json`` (default ``docs/benchmark-results.json``) and the plot ``docs/benchmark.png``
is drawn from that file (``benchmarks/plot.py``).  docs/benchmark.md has the figures and
what they mean.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, bench_stack
from infra.logconfig import configure_logging

PARTS = ("overhead", "memory", "replay", "scale")
DEFAULT_JSON = ROOT / "docs" / "benchmark-results.json"


# The sizes, by option group: (option, default, what it sizes); --quick's small sizes beside.
SIZES: dict[str, list[tuple[str, int, str]]] = {
    "overhead": [
        ("--cases", 200, "cases per run on the fakes"),
        ("--real-cases", 30, "cases on the real activities, 0 skips"),
        ("--concurrency", 20, "cases in flight at once"),
        ("--rounds", 4, "interleaved rounds the cases are split into"),
        ("--warmup", 5, "untimed cases per run before measuring"),
    ],
    "memory": [("--parked", 600, "cases parked per kind; measured at N/3 and N")],
    "scale": [
        ("--import-permits", 50_000, "permits imported"),
        ("--storm", 5_000, "permits whose reminder falls due at once"),
        ("--open-cases", 10_000, "applications parked at step 5"),
        ("--open-cache", 1_000, "the worker's cache in the open-cases run"),
    ],
}
QUICK = {
    "cases": 20,
    "real_cases": 5,
    "rounds": 2,
    "warmup": 2,
    "parked": 90,
    "import_permits": 600,
    "storm": 200,
    "open_cases": 300,
    "open_cache": 100,
}
FLAGS = {
    "overhead": [("--diagnose", "also the baseline with the service's upserts and permit child")],
    "memory": [
        ("--no-permits", "park applications only (the permits take longest)"),
        ("--stock", "also the service on the stock sandbox (before decision 0050)"),
    ],
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)} (default all)")
    parser.add_argument("--quick", action="store_true", help="small sizes everywhere (a look, not a measurement)")
    for group_name, sizes in SIZES.items():
        group = parser.add_argument_group(group_name)
        for option, default, what in sizes:
            group.add_argument(option, type=int, default=default, help=f"{what} (default {default})")
        for flag, what in FLAGS.get(group_name, []):
            group.add_argument(flag, action="store_true", help=what)
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON.relative_to(ROOT)})"
    )
    parser.add_argument("--no-plot", action="store_true", help="do not redraw docs/benchmark.png")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if args.quick:
        for name, size in QUICK.items():
            setattr(args, name, size)
    if args.cases < 1 or args.concurrency < 1 or args.rounds < 1 or args.warmup < 0 or args.real_cases < 0:
        parser.error("--cases, --concurrency and --rounds must be at least 1; --warmup and --real-cases not negative")
    if args.parked < 3:
        parser.error("--parked must be at least 3")
    return args


async def run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    from benchmarks import memory, overhead

    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM cancels the run like Ctrl-C does, so every process is stopped on the way out.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
    }
    started = time.perf_counter()
    with bench_stack(directory) as stack:
        print(f"Temporal dev server at {stack.address}", flush=True)

        def save() -> None:  # after each part: a later failure keeps what was measured
            args.json.write_text(json.dumps(merge(args.json, dict(report)), indent=2, default=str) + "\n")

        async def measure(part: str, title: str, work: Callable[[], Awaitable[Any]]) -> None:
            """Run one part; its results and when and under what load it ran, saved at once.

            A results file keeps the parts an earlier run measured (``merge``), so each part
            carries its own ``<part>_run``: the figures of one file may come from different runs."""
            print(f"{title} ...", flush=True)
            run: dict[str, Any] = {
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "load_average_at_start": os.getloadavg(),
                "quick": args.quick,
            }
            begun = time.perf_counter()
            report[part] = await work()
            report[f"{part}_run"] = run | {"seconds": time.perf_counter() - begun, "load_average_at_end": os.getloadavg()}
            save()

        if "overhead" in args.parts:
            await measure("overhead", "Overhead", lambda: overhead.overhead(stack, args, directory))
        if "memory" in args.parts:
            kinds = ["application"] if args.no_permits else ["application", "permit"]
            kinds += ["stock"] if args.stock else []

            async def parked() -> dict[str, Any]:
                return memory.summary(await memory.parked_memory(stack, args.parked, kinds))

            await measure("memory", "Memory per parked case", parked)
        if "replay" in args.parts:
            await measure("replay", "Replay cost", lambda: memory.replay(stack))
        if "scale" in args.parts:
            from benchmarks import scale

            await measure("scale", "Scale", lambda: scale.scale(stack, args, directory))
    report["seconds"] = time.perf_counter() - started
    report["load_average_at_end"] = os.getloadavg()
    return report


def merge(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Keep the parts of an earlier results file that this run did not measure."""
    if path.exists():
        try:
            earlier: dict[str, Any] = json.loads(path.read_text())
        except json.JSONDecodeError:
            earlier = {}
        for part in PARTS:
            if part not in report and part in earlier:
                report[part] = earlier[part]
                if f"{part}_run" in earlier:
                    report[f"{part}_run"] = earlier[f"{part}_run"]
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    configure_logging("bench", "WARNING")  # the real activities log each step at info
    directory = Path(tempfile.mkdtemp(prefix="hasa-bench-"))
    try:
        report = asyncio.run(run(args, directory))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("interrupted; the dev server and workers are stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    from benchmarks.report import markdown

    report = merge(args.json, report)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nDone in {report['seconds']:.0f}s; results in {args.json}.\n")
    print(markdown(report))
    if not args.no_plot:
        from benchmarks.plot import plot

        print(f"plot: {plot(report, ROOT / 'docs' / 'benchmark.png')}")
    return 0


if __name__ == "__main__":
    code = main()
    # The SDK's Rust threads can abort the interpreter at exit (sdk-python#300): leave with
    # the code meant, once the output is flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
