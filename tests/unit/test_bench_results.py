"""The benchmark's results file: a run of some parts keeps the others, each with when it ran."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench import merge


def test_a_partial_run_keeps_the_other_parts_with_their_own_run(tmp_path: Path) -> None:
    earlier = {
        "started_at": "2026-12-01T00:00:00Z",
        "memory": {"application_kb": 175},
        "memory_run": {"started_at": "2026-12-01T00:00:00Z", "load_average_at_start": [0.1, 0.2, 0.3]},
        "replay": {"old": True},
        "replay_run": {"started_at": "2026-12-01T00:00:00Z"},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(earlier))
    now = {"started_at": "2026-12-02T00:00:00Z", "replay": {"old": False}, "replay_run": {"started_at": "2026-12-02T00:00:00Z"}}

    merged = merge(path, now)

    assert merged["memory"] == earlier["memory"]
    assert merged["memory_run"] == earlier["memory_run"]  # when the kept figures were measured
    assert merged["replay"] == {"old": False}
    assert merged["replay_run"] == {"started_at": "2026-12-02T00:00:00Z"}
    assert merged["started_at"] == "2026-12-02T00:00:00Z"
