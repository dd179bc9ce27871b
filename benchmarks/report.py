"""The benchmark's results as Markdown tables (what docs/benchmark.md quotes)."""

from __future__ import annotations

from typing import Any


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
            ratio = m["ratio_to_bare"].get(kind)
            parts.append(
                f"| {kind} | {per_case:.1f} | {'-' if ratio is None else f'{ratio:.2f}x'} "
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
