"""Management figures: counts, decisions against their statutory deadline, lead times, permits.

Two sources, neither personal:

* **visibility** (the search attributes): cases by step, phase and outcome, permits by
  status, and the permits' ``PermitValidUntil`` for expiries per month.  Counts use
  ``GROUP BY`` where the server supports it; the SQL visibility of the dev server and of
  a PostgreSQL/SQLite cluster groups by ``ExecutionStatus`` only, so for the service's own
  attributes one count query per known value is sent instead (the values are the domain's
  enums, so none is missed).
* **the registry**: final decisions with their time, each case's receipt and statutory
  decision deadline (``cases.decide_by``, the period from receipt: Vw 2000 art. 42(1) or
  Regulation (EU) 2024/1348 art. 39), and the policy version.

A case's *first* final decision is compared with that deadline; a decision after a court
annulled an earlier one runs in a new period the registry does not store, so it is counted
apart (``after_annulment``) rather than judged against the wrong date.  Lead time is
receipt to first final decision, per policy version (median and 90th percentile, in days).
``--since`` counts the cases started (visibility ``StartTime``) and registered (registry)
from that day on, Dutch time.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.service import RPCError, RPCStatusCode

from domain import search_attributes as sa
from domain.deadlines import AMSTERDAM
from domain.permit.transitions import PermitStatus
from domain.steps import Outcome, Phase, Step
from workflows.names import APPLICATION_WORKFLOW, PERMIT_WORKFLOW


class LeadTime(BaseModel):
    decisions: int
    median_days: float | None
    p90_days: float | None


class Deadlines(BaseModel):
    within: int = Field(description="first final decision on or before the statutory deadline")
    after: int = Field(description="first final decision after the statutory deadline")
    after_annulment: int = Field(description="final decisions in a new round after a court annulled one")
    open_overdue: int = Field(description="no final decision yet and the statutory deadline has passed")


class WeekCount(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W49 (Dutch time)")
    within: int
    after: int


class Stats(BaseModel):
    generated_at: datetime
    since: date | None
    cases: int
    by_step: dict[str, int]
    by_phase: dict[str, int]
    by_outcome: dict[str, int]
    by_execution_status: dict[str, int]
    decisions: Deadlines
    lead_time: dict[str, LeadTime] = Field(description="per policy version: receipt to first final decision")
    decisions_per_week: list[WeekCount]
    permits: int
    permits_by_status: dict[str, int]
    permits_expiring_per_month: dict[str, int] = Field(description="active permits by month of their last valid day")


# --- visibility -----------------------------------------------------------------------------


def _quote(value: str) -> str:
    return "'" + value.replace("'", "") + "'"


async def count_by(client: Client, base: str, attribute: str, values: Iterable[str]) -> dict[str, int]:
    """Counts of ``base`` per value of a keyword attribute: GROUP BY if supported, else one query per value."""
    try:
        result = await client.count_workflows(f"{base} GROUP BY {attribute}")
    except RPCError as err:
        if err.status is not RPCStatusCode.INVALID_ARGUMENT:
            raise
    else:
        grouped = {str(g.group_values[0]): g.count for g in result.groups if g.group_values}
        return {k: v for k, v in grouped.items() if v}
    out: dict[str, int] = {}
    for value in values:
        n = (await client.count_workflows(f"{base} AND {attribute} = {_quote(value)}")).count
        if n:
            out[value] = n
    return out


async def by_execution_status(client: Client, base: str) -> dict[str, int]:
    result = await client.count_workflows(f"{base} GROUP BY ExecutionStatus")
    return {str(g.group_values[0]): g.count for g in result.groups if g.group_values and g.count}


async def expiring_per_month(client: Client, since_clause: str) -> dict[str, int]:
    months: Counter[str] = Counter()
    query = f"WorkflowType = '{PERMIT_WORKFLOW}' AND {sa.PERMIT_STATUS.name} = '{PermitStatus.ACTIVE.value}'{since_clause}"
    async for execution in client.list_workflows(query):
        for pair in execution.typed_search_attributes:
            if pair.key.name == sa.PERMIT_VALID_UNTIL.name and isinstance(pair.value, datetime):
                months[pair.value.astimezone(AMSTERDAM).strftime("%Y-%m")] += 1
    return dict(sorted(months.items()))


# --- registry -------------------------------------------------------------------------------


class CaseDecisions(BaseModel):
    policy_version: str
    received_at: datetime
    decide_by: datetime
    closed: bool
    final_decisions: list[datetime]


def read_decisions(registry_url: str, since: date | None) -> list[CaseDecisions]:
    from activities.registry_db import CASE_CLOSED, CaseRow, DecisionRow, Registry

    registry = Registry(registry_url)
    try:
        with Session(registry.engine) as db:
            query = select(CaseRow.application_id, CaseRow.policy_version, CaseRow.received_at, CaseRow.decide_by, CaseRow.status)
            if since is not None:
                query = query.where(CaseRow.registered_at >= _start_of(since))
            cases = {row[0]: (row[1], row[2], row[3], row[4] == CASE_CLOSED) for row in db.execute(query)}
            finals: dict[str, list[datetime]] = defaultdict(list)
            decided = select(DecisionRow.application_id, DecisionRow.decided_at).where(DecisionRow.final.is_(True))
            for app_id, decided_at in db.execute(decided.order_by(DecisionRow.decided_at)):
                if app_id in cases:
                    finals[app_id].append(_aware(decided_at))
    finally:
        registry.dispose()
    return [
        CaseDecisions(
            policy_version=p, received_at=_aware(r), decide_by=_aware(d), closed=c, final_decisions=finals.get(app_id, [])
        )
        for app_id, (p, r, d, c) in sorted(cases.items())
    ]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)


def deadline_figures(cases: Sequence[CaseDecisions], now: datetime) -> tuple[Deadlines, list[WeekCount]]:
    within = after = later = overdue = 0
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        if not case.final_decisions:
            overdue += not case.closed and case.decide_by < now
            continue
        first, *rest = case.final_decisions
        in_time = first <= case.decide_by
        within += in_time
        after += not in_time
        later += len(rest)
        year, week, _ = first.astimezone(AMSTERDAM).isocalendar()
        weeks[f"{year}-W{week:02d}"][0 if in_time else 1] += 1
    per_week = [WeekCount(week=w, within=c[0], after=c[1]) for w, c in sorted(weeks.items())]
    return Deadlines(within=within, after=after, after_annulment=later, open_overdue=overdue), per_week


def lead_times(cases: Sequence[CaseDecisions]) -> dict[str, LeadTime]:
    days: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        if case.final_decisions:
            days[case.policy_version].append((case.final_decisions[0] - case.received_at) / timedelta(days=1))
    return {policy: _lead(values) for policy, values in sorted(days.items())}


def _lead(values: list[float]) -> LeadTime:
    ordered = sorted(values)
    # The 90th percentile by the inclusive method: a single value is its own percentile.
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1] if len(ordered) > 1 else ordered[0]
    return LeadTime(decisions=len(ordered), median_days=round(statistics.median(ordered), 2), p90_days=round(p90, 2))


# --- together -------------------------------------------------------------------------------


async def collect(client: Client, registry_url: str, since: date | None, now: datetime | None = None) -> Stats:
    now = now or datetime.now(UTC)
    since_clause = f" AND StartTime >= '{_start_of(since).isoformat()}'" if since else ""
    cases = f"WorkflowType = '{APPLICATION_WORKFLOW}'{since_clause}"
    permits = f"WorkflowType = '{PERMIT_WORKFLOW}'{since_clause}"
    registry = read_decisions(registry_url, since)
    deadlines, per_week = deadline_figures(registry, now)
    return Stats(
        generated_at=now,
        since=since,
        cases=(await client.count_workflows(cases)).count,
        by_step=await count_by(client, cases, sa.APPLICATION_STEP.name, [s.key for s in Step]),
        by_phase=await count_by(client, cases, sa.APPLICATION_PHASE.name, [p.value for p in Phase]),
        by_outcome=await count_by(client, cases, sa.APPLICATION_OUTCOME.name, [o.value for o in Outcome]),
        by_execution_status=await by_execution_status(client, cases),
        decisions=deadlines,
        lead_time=lead_times(registry),
        decisions_per_week=per_week,
        permits=(await client.count_workflows(permits)).count,
        permits_by_status=await count_by(client, permits, sa.PERMIT_STATUS.name, [s.value for s in PermitStatus]),
        permits_expiring_per_month=await expiring_per_month(client, since_clause),
    )


def table(stats: Stats) -> str:
    """The figures as plain text for a terminal."""
    lines = [
        f"Figures at {stats.generated_at.astimezone(AMSTERDAM):%Y-%m-%d %H:%M %Z}"
        + (f", cases since {stats.since}" if stats.since else "")
    ]

    def block(title: str, rows: dict[str, Any]) -> None:
        lines.extend(["", title])
        if not rows:
            lines.append("  (none)")
        width = max((len(k) for k in rows), default=0)
        lines.extend(f"  {k:<{width}}  {v:>6}" for k, v in rows.items())

    block(f"Cases ({stats.cases}) by step", stats.by_step)
    block("by phase", stats.by_phase)
    block("by outcome", stats.by_outcome)
    block("by execution status", stats.by_execution_status)
    block("Final decisions against the statutory deadline", stats.decisions.model_dump())
    lines.extend(["", "Lead time receipt -> first final decision (days)"])
    lines.extend(
        f"  {policy:<14} n={lead.decisions:<5} median {lead.median_days:>7}  p90 {lead.p90_days:>7}"
        for policy, lead in stats.lead_time.items()
    )
    block(f"Permits ({stats.permits}) by status", stats.permits_by_status)
    block("Active permits expiring per month", stats.permits_expiring_per_month)
    return "\n".join(lines) + "\n"


def chart(stats: Stats, target: str) -> None:
    """A PNG of final decisions per week, within and after the statutory deadline (stacked)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    weeks = [w.week for w in stats.decisions_per_week]
    within = [w.within for w in stats.decisions_per_week]
    late = [w.after for w in stats.decisions_per_week]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(weeks) + 3), 4))
    axes.bar(weeks, within, label="binnen de wettelijke termijn", color="#2e7d32")
    axes.bar(weeks, late, bottom=within, label="na de wettelijke termijn", color="#c62828")
    axes.set_title("Beslissingen per week tegen de wettelijke beslistermijn")
    axes.set_xlabel("week (eerste definitieve beslissing)")
    axes.set_ylabel("beslissingen")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(target, format="png", dpi=100)
    plt.close(figure)


# --- the same figures as Prometheus gauges on the worker's metrics endpoint -------------------

STATS_POLL_SECONDS = 300.0
GAUGES: dict[str, str] = {
    "cases_by_step": "Cases by step (visibility)",
    "cases_by_phase": "Cases by phase (visibility)",
    "cases_by_outcome": "Cases by outcome (visibility)",
    "decisions": "First final decisions within/after the statutory deadline, later rounds, open overdue (registry)",
    "lead_time_days": "Receipt to first final decision in days, per policy version (median and p90)",
    "permits_by_status": "Permits by status (visibility)",
    "permits_expiring": "Active permits by month of their last valid day (visibility)",
}


def set_gauges(meter: MetricMeter, stats: Stats) -> None:
    """The figures as ``hasa_stats_*`` gauges; labels are code names and months, never personal data.

    Every known value is set (zeros too), so a count that drops to nothing is not left at its
    last value.
    """
    gauges = {name: meter.create_gauge(f"hasa_stats_{name}", text) for name, text in GAUGES.items() if name != "lead_time_days"}
    lead_gauge = meter.create_gauge_float("hasa_stats_lead_time_days", GAUGES["lead_time_days"], "d")
    for name, label, values, known in (
        ("cases_by_step", "step", stats.by_step, [s.key for s in Step]),
        ("cases_by_phase", "phase", stats.by_phase, [p.value for p in Phase]),
        ("cases_by_outcome", "outcome", stats.by_outcome, [o.value for o in Outcome]),
        ("permits_by_status", "status", stats.permits_by_status, [s.value for s in PermitStatus]),
    ):
        for value in known:
            gauges[name].set(values.get(value, 0), {label: value})
    for timing, count in stats.decisions.model_dump().items():
        gauges["decisions"].set(count, {"timing": timing})
    for policy, lead in stats.lead_time.items():
        for quantile, days in (("0.5", lead.median_days), ("0.9", lead.p90_days)):
            if days is not None:
                lead_gauge.set(days, {"policy_version": policy, "quantile": quantile})
    for month, count in stats.permits_expiring_per_month.items():
        gauges["permits_expiring"].set(count, {"month": month})


async def report_stats(
    meter: MetricMeter, client: Client, registry_url: str, stop: asyncio.Event, interval: float = STATS_POLL_SECONDS
) -> None:
    """Recompute the figures and set the gauges every ``interval`` seconds until ``stop``."""
    while not stop.is_set():
        # Visibility or the registry briefly away: keep the last values, try again later.
        with contextlib.suppress(Exception):
            set_gauges(meter, await collect(client, registry_url, None))
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
