"""The benchmark's results as Markdown tables (what docs/benchmark.md quotes).

``markdown`` renders a results file; the overhead part's tables are drawn when it runs
(``overhead_markdown``) and kept in the file beside its figures.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.overhead import Calibration
    from benchmarks.rounds import RunResult


def markdown(report: dict[str, Any]) -> str:
    parts: list[str] = []
    if "overhead" in report:
        parts += ["## Overhead per case", "", report["overhead"]["markdown"], ""]
    if "memory" in report:
        m = report["memory"]
        parts += [
            f"## Memory per parked case ({m['parked']} parked per kind, slope between {m['bare']['small']} and {m['parked']})",
            "",
            "| worker | KB per parked case | ratio to bare | RSS at the end MB |",
            "|---|--:|--:|--:|",
        ]
        for kind, per_case in m["kb_per_case"].items():
            to_bare = m["ratio_to_bare"].get(kind)
            parts.append(
                f"| {kind} | {per_case:.1f} | {'-' if to_bare is None else f'{to_bare:.2f}x'} "
                f"| {m['worker_rss_kb'].get(kind, 0) / 1024:.0f} |"
            )
        parts.append("")
    if "replay" in report:
        parts += ["## Replay: rebuilding a case from its history", "", "| history | events | ms |", "|---|--:|--:|"]
        parts += [f"| {c['name']} | {c['events']} | {c['ms']:.1f} |" for c in report["replay"]["costs"]]
        parts.append("")
    if "scale" in report:
        parts += ["## Scale", "", report["scale"].get("markdown", ""), ""]
    return "\n".join(parts)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def overhead_markdown(results: list[RunResult], calibration: Calibration, args: argparse.Namespace) -> str:
    plan = calibration.plan
    lines = [
        f"Path: granted without interview. {args.cases} cases per run ({args.real_cases} with the real activities), "
        f"{args.concurrency} at a time, in {args.rounds} interleaved rounds; {os.cpu_count()} CPUs.",
        f"Per case, from the fake's calls: activities per stage {calibration.fake_calls_per_stage} "
        f"(start, then after each update); {plan.timers} timer(s); {plan.children} child workflow(s).",
        "",
        "| run | cases | wall s | cases/s | mean ms | p95 ms | CPU ms/case worker+client | CPU ms/case server "
        "| events/case | workflow tasks/case | activities/case | payload B/case | history B/case |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        h = r.history
        lines.append(
            f"| {r.name} | {r.cases} | {r.wall_s:.1f} | {r.cases_per_s:.1f} | {r.mean_ms:.0f} | {r.p95_ms:.0f} "
            f"| {r.own_cpu_ms_per_case:.0f} | {r.server_cpu_ms_per_case:.0f} | {h.events} | {h.workflow_tasks} "
            f"| {h.activities} | {h.payload_bytes} | {h.history_bytes} |"
        )
    by_name = {r.name: r for r in results}
    lines += [
        "",
        "| ratio | wall time | mean latency | p95 latency | CPU worker+client | CPU server | events | payload bytes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    pairs = [
        ("service / baseline, codec", "service, codec", "baseline, codec"),
        ("service / baseline, no codec", "service, no codec", "baseline, no codec"),
        ("service / baseline + upserts, codec", "service, codec", "baseline + upserts, codec"),
        ("baseline + upserts / baseline, codec", "baseline + upserts, codec", "baseline, codec"),
        ("baseline + upserts + permit / + upserts, codec", "baseline + upserts + permit, codec", "baseline + upserts, codec"),
        ("service / baseline + upserts + permit, codec", "service, codec", "baseline + upserts + permit, codec"),
        ("service codec / no codec", "service, codec", "service, no codec"),
        ("baseline codec / no codec", "baseline, codec", "baseline, no codec"),
        ("service real / fake activities, codec", "service, real activities", "service, codec"),
    ]
    for label, a_name, b_name in pairs:
        a, b = by_name.get(a_name), by_name.get(b_name)
        if a is None or b is None:
            continue
        lines.append(
            f"| {label} | {ratio(a.wall_s / a.cases, b.wall_s / b.cases)} | {ratio(a.mean_ms, b.mean_ms)} "
            f"| {ratio(a.p95_ms, b.p95_ms)} | {ratio(a.own_cpu_ms_per_case, b.own_cpu_ms_per_case)} "
            f"| {ratio(a.server_cpu_ms_per_case, b.server_cpu_ms_per_case)} "
            f"| {ratio(a.history.events, b.history.events)} | {ratio(a.history.payload_bytes, b.history.payload_bytes)} |"
        )
    service, baseline = by_name.get("service, codec"), by_name.get("baseline, codec")
    if service is not None and baseline is not None:
        names = sorted(set(service.history.event_types) | set(baseline.history.event_types))
        lines += [
            "",
            "| event type (one case, codec) | service | baseline | service payload B | baseline payload B |",
            "|---|--:|--:|--:|--:|",
        ]
        for n in names:
            lines.append(
                f"| {n} | {service.history.event_types.get(n, 0)} | {baseline.history.event_types.get(n, 0)} "
                f"| {service.history.payload_bytes_by_event.get(n, 0)} | {baseline.history.payload_bytes_by_event.get(n, 0)} |"
            )
        h = service.history
        lines += [
            "",
            f"Search-attribute upserts per service case: {h.upserts} (values per upsert, by stage: {plan.upserts}), "
            f"{h.upserts_changing_nothing} of them changing no value; {h.upserted_values} values sent, "
            f"{h.upserted_values_changed} of them changed.",
        ]
    child = calibration.child_history
    if child is not None:
        lines += [
            f"Each service case also starts a ResidencePermit child (its own history, not counted above): "
            f"{child.events} events, {child.workflow_tasks} workflow tasks, {child.activities} activity, "
            f"{child.timers} timer, {child.payload_bytes} payload bytes until it waits for its first timer. "
            "Its CPU is in the service's CPU columns; the baseline's stand-in child is one workflow task.",
        ]
    terminated = {r.name: r.children_terminated for r in results if r.children_terminated}
    if terminated:
        lines.append(
            "Children terminated after each round (outside the measurements): "
            + ", ".join(f"{name} {count}" for name, count in terminated.items())
            + "."
        )
    return "\n".join(lines)
