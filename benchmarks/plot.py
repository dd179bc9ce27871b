"""The benchmark's plot, drawn from its own results file: RSS against parked cases (bare and
service) and import throughput against workers.  ``python -m benchmarks.plot [RESULTS]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent


def plot(report: dict[str, Any], target: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    memory = report.get("memory")
    if memory:
        kinds = (
            ("bare", "tab:gray", "bare", "-"),
            ("application", "tab:blue", "application", "-"),
            ("permit", "tab:orange", "permit", "-"),
            ("stock", "tab:blue", "application_stock_sandbox", ":"),
        )
        for kind, colour, key, style in kinds:
            slope = memory.get(kind)
            if not slope:
                continue
            xs = [slope["small"], slope["large"]]
            ys = [slope["rss_small_kb"] / 1024, slope["rss_large_kb"] / 1024]
            label = f"{key.replace('_', ' ')}: {memory['kb_per_case'][key]:.0f} KB/case"
            left.plot(xs, ys, marker="o", color=colour, linestyle=style, label=label)
        left.set_xlabel("parked cases")
        left.set_ylabel("worker RSS (MB)")
        left.set_title("Worker memory against parked cases")
        left.legend()
    else:
        left.text(0.5, 0.5, "no memory run in the results", ha="center")
    imports = (report.get("scale") or {}).get("import") or []
    if imports:
        xs = [run["workers"] for run in imports]
        ys = [run["records_per_s"] for run in imports]
        right.plot(xs, ys, marker="o", color="tab:green")
        for x, y, run in zip(xs, ys, imports, strict=True):
            right.annotate(f"{run['records']} in {run['seconds']:.0f}s", (x, y), textcoords="offset points", xytext=(5, 5))
        right.set_xticks(xs)
        right.set_ylim(bottom=0, top=max(ys) * 1.3)
        right.set_xlabel("workers")
        right.set_ylabel("permits imported per second")
        right.set_title("Import throughput against workers")
    else:
        right.text(0.5, 0.5, "no import run in the results", ha="center")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else ROOT / "docs" / "benchmark-results.json"
    print(plot(json.loads(source.read_text()), ROOT / "docs" / "benchmark.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
