"""The management figures' arithmetic and their Prometheus gauges, without a server.

A case's first final decision is judged against the statutory period from receipt
(Vw 2000 art. 42(1); Regulation (EU) 2024/1348 art. 35); a decision after a court annulled
an earlier one runs in a new period the registry does not keep, so it is counted apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reports.stats import CaseDecisions, Deadlines, LeadTime, Stats, deadline_figures, lead_times, set_gauges

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def case(
    policy: str, received_days_ago: int, period_days: int, decided_days_ago: list[int], closed: bool = False
) -> CaseDecisions:
    received = NOW - timedelta(days=received_days_ago)
    return CaseDecisions(
        policy_version=policy,
        received_at=received,
        decide_by=received + timedelta(days=period_days),
        closed=closed,
        final_decisions=[NOW - timedelta(days=d) for d in decided_days_ago],
    )


def test_deadlines_lead_times_and_weeks() -> None:
    cases = [
        case("vw2000", 210, 183, [20, 5]),  # late, then a new round after an annulment
        case("eu-2024-1348", 10, 60, [8], closed=True),
        case("eu-2024-1348", 30, 60, [2]),
        case("vw2000", 200, 183, []),  # open and past its period
        case("vw2000", 300, 183, [], closed=True),  # withdrawn: not overdue
    ]
    deadlines, weeks = deadline_figures(cases, NOW)
    assert deadlines == Deadlines(within=2, after=1, after_annulment=1, open_overdue=1)
    assert sum(w.within for w in weeks) == 2
    assert sum(w.after for w in weeks) == 1
    leads = lead_times(cases)
    assert leads["vw2000"] == LeadTime(decisions=1, median_days=190.0, p90_days=190.0)
    assert leads["eu-2024-1348"].decisions == 2
    assert leads["eu-2024-1348"].median_days == 15.0  # 2 and 28 days


class Meter:
    def __init__(self) -> None:
        self.values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def create_gauge(self, name: str, description: str = "", unit: str | None = None) -> Any:
        return Gauge(self, name)

    create_gauge_float = create_gauge


class Gauge:
    def __init__(self, meter: Meter, name: str) -> None:
        self.meter, self.name = meter, name

    def set(self, value: float, attributes: dict[str, str] | None = None) -> None:
        self.meter.values[(self.name, tuple(sorted((attributes or {}).items())))] = value


def test_gauges_carry_every_known_value_and_no_personal_data() -> None:
    stats = Stats(
        generated_at=NOW,
        since=None,
        cases=3,
        by_step={"decision": 2, "interview": 1},
        by_phase={"appeal_window": 2, "awaiting_interview_decision": 1},
        by_outcome={"unfounded": 2},
        by_execution_status={"Running": 3},
        decisions=Deadlines(within=1, after=1, after_annulment=0, open_overdue=1),
        lead_time={"vw2000": LeadTime(decisions=2, median_days=190.5, p90_days=201.0)},
        decisions_per_week=[],
        permits=0,
        permits_by_status={},
        permits_expiring_per_month={"2031-11": 1},
    )
    meter = Meter()
    set_gauges(meter, stats)  # type: ignore[arg-type]
    values = meter.values
    assert values[("hasa_stats_cases_by_phase", (("phase", "appeal_window"),))] == 2
    assert values[("hasa_stats_cases_by_phase", (("phase", "closed"),))] == 0  # a known value at zero
    assert values[("hasa_stats_decisions", (("timing", "open_overdue"),))] == 1
    assert values[("hasa_stats_lead_time_days", (("policy_version", "vw2000"), ("quantile", "0.5")))] == 190.5
    assert values[("hasa_stats_permits_expiring", (("month", "2031-11"),))] == 1
    assert values[("hasa_stats_permits_by_status", (("status", "active"),))] == 0
    labels = {v for (_, attrs) in values for (_, v) in attrs}
    assert all(v.replace("_", "").replace("-", "").replace(".", "").isalnum() for v in labels)
