"""The alert values (domain/alerts.py) and the search attributes' fit on the dev server.

The extension window opens 6 months before expiry (domain.permit.law.EXTENSION_WINDOW_MONTHS,
IND page on extending an asylum permit); the month before expiry and the lead times are
settings in domain/alerts.py, not law.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from domain import alerts
from domain.permit.schedule import extension_window_opens
from domain.search_attributes import ALL, SQLITE_LIMITS
from reports.views import VIEWS

VALID_UNTIL = date(2031, 11, 30)


def permit(today: date, *, expired: bool = False, ended: bool = False) -> str:
    return alerts.permit_alert(
        expired=expired, ended=ended, valid_until=VALID_UNTIL, window_opens=extension_window_opens(VALID_UNTIL), today=today
    ).value


def test_permit_alert_over_the_last_months() -> None:
    assert permit(date(2031, 5, 29)) == "none"
    assert permit(date(2031, 5, 30)) == "extension_window_open"  # 6 months before the last valid day
    assert permit(date(2031, 10, 29)) == "extension_window_open"
    assert permit(date(2031, 10, 30)) == "expires_within_month"
    assert permit(date(2031, 12, 1), expired=True) == "expired"
    assert permit(date(2031, 6, 1), ended=True) == "none"  # withdrawn or replaced: nothing to alert


def test_period_alert_and_its_thresholds() -> None:
    due = datetime(2026, 12, 8, 23, 59, tzinfo=UTC)
    lead = alerts.REPAIR_ALERT_LEAD
    assert alerts.period_alert(None, lead, due) is None
    assert alerts.period_alert(due, lead, due - lead - timedelta(seconds=1)) is alerts.Alert.NONE
    assert alerts.period_alert(due, lead, due - lead) is alerts.Alert.APPROACHING
    now = due - timedelta(days=5)
    assert alerts.period_thresholds({"repair_by": due, "decide_by": due}, now) == [due - lead]
    assert alerts.period_thresholds({"repair_by": due}, due - lead) == []


def test_search_attributes_fit_the_dev_servers_sqlite_visibility() -> None:
    used = Counter(key.indexed_value_type for key in ALL)
    for kind, count in used.items():
        assert count <= SQLITE_LIMITS[kind], f"{kind.name}: {count} attributes, SQLite visibility holds {SQLITE_LIMITS[kind]}"


def test_views_use_only_known_attributes() -> None:
    names = {key.name for key in ALL}
    for view in VIEWS:
        words = {w.strip("()") for w in view.query.split()}
        custom = {w for w in words if w[:1].isupper() and w not in {"AND", "OR", "WorkflowType", "ExecutionStatus"}}
        assert custom <= names, view.name
