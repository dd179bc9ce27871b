"""Alerts: keyword search attributes that say where a case or permit stands against "now".

Temporal's list queries have no "now", so a saved view cannot ask "decision deadline
passed".  The workflows therefore keep keyword attributes that their own timers move when
a deadline comes near or passes; a view ``DecisionAlert = 'overdue'`` is then always right.
Values are fixed words (no dates, no personal data).

* ``DecisionAlert``: ``none`` / ``approaching`` / ``overdue`` against the statutory
  decision deadline (the earlier of the admissibility and merits deadlines under the EU
  policy); unset once no decision deadline runs.  Moved by the application's decision
  watcher, which already warns in the details at the same instants.
* ``RepairAlert``: ``none`` / ``approaching`` while the repair period runs (1 week, or 4
  hours after earlier repeat applications; Vw 2000 art. 30c and the IND page, step 4: the
  period ends the case as not processed on its own, so it is never "overdue").
* ``AppealAlert``: ``none`` / ``approaching`` while the appeal window runs (Awb art. 6:7,
  the period in ``domain.policy``; the window closes the case on its own when it ends).
* ``PermitAlert``: ``none``, ``extension_window_open`` (an extension may be applied for:
  the permit's extension window),
  ``expires_within_month``, ``expired``.  The window is ``domain.permit.law.EXTENSION_WINDOW_MONTHS``
  (IND page on extending an asylum permit: from 6 months before expiry).

How long before a deadline "approaching" starts is not law: these are named settings.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from domain.deadlines import add_months

# Unconfirmed operational choices, not law: when a deadline counts as approaching.
REPAIR_ALERT_LEAD = timedelta(days=3)
APPEAL_ALERT_LEAD = timedelta(days=7)
PERMIT_EXPIRY_ALERT_MONTHS = 1


class Alert(enum.StrEnum):
    NONE = "none"
    APPROACHING = "approaching"
    OVERDUE = "overdue"


class PermitAlert(enum.StrEnum):
    NONE = "none"
    EXTENSION_WINDOW_OPEN = "extension_window_open"
    EXPIRES_WITHIN_MONTH = "expires_within_month"
    EXPIRED = "expired"


# deadline key -> how long before it the alert says "approaching"
PERIOD_LEADS: dict[str, timedelta] = {"repair_by": REPAIR_ALERT_LEAD, "appeal_by": APPEAL_ALERT_LEAD}


def period_alert(due: datetime | None, lead: timedelta, now: datetime) -> Alert | None:
    """The alert of a period that ends by itself: None when it does not run."""
    if due is None:
        return None
    return Alert.APPROACHING if now >= due - lead else Alert.NONE


def period_thresholds(dues: dict[str, datetime], now: datetime) -> list[datetime]:
    """The instants after ``now`` at which a period alert changes."""
    return sorted(due - PERIOD_LEADS[key] for key, due in dues.items() if key in PERIOD_LEADS and due - PERIOD_LEADS[key] > now)


def permit_alert(*, expired: bool, ended: bool, valid_until: date, window_opens: date, today: date) -> PermitAlert:
    """Where a permit stands against today (Dutch date); ``valid_until`` is its last valid day.

    ``expired``: the permit's status is expired; ``ended``: withdrawn or replaced by a
    permanent permit (nothing to alert).  The thresholds are whole Dutch days, so they fall
    on the instants of the permit's own extension reminders (midnight, 6 and 1 months before
    expiry with the default ``HASA_EXTENSION_REMINDER_MONTHS``), which wake the workflow.
    """
    if expired:
        return PermitAlert.EXPIRED
    if ended:
        return PermitAlert.NONE
    if today >= add_months(valid_until, -PERMIT_EXPIRY_ALERT_MONTHS):
        return PermitAlert.EXPIRES_WITHIN_MONTH
    if today >= window_opens:
        return PermitAlert.EXTENSION_WINDOW_OPEN
    return PermitAlert.NONE
