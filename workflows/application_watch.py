"""The application's two watcher tasks: the decision-deadline warnings and the period alerts.

They run beside the main loop for the life of a case, whatever it waits for, and publish
through the workflow's ``publish`` when an alert changes.  Workflow code: only Temporal's
deterministic APIs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import alerts
    from domain import search_attributes as sa
    from domain.case_state import CaseState


class DeadlineWatch:
    """Watches one case's deadlines; ``publish`` makes what changed visible to operators."""

    def __init__(self, state: CaseState, publish: Callable[[], None]) -> None:
        self._state = state
        self._publish = publish

    async def decision_deadline(self) -> None:
        """Warn operators when the decision deadline approaches and when it passes."""
        state = self._state
        while not state.closed:
            seen = (state.decision_due(), state.decide_alert)
            alert = state.decision_alert_due()
            if alert is None:
                await workflow.wait_condition(self._decision_changed(seen))
                continue
            target, level = alert
            if target > workflow.now():
                try:
                    timeout, summary = target - workflow.now(), f"decision deadline {level.value}"
                    await workflow.wait_condition(self._decision_changed(seen), timeout=timeout, timeout_summary=summary)
                    continue  # the deadline moved or the case closed: look again
                except TimeoutError:
                    pass
            state.raise_decision_alert(level)
            workflow.logger.warning(
                "decision deadline %s", level.value, extra={"application_id": state.application.application_id}
            )
            self._publish()

    def _decision_changed(self, seen: tuple[Any, ...]) -> Callable[[], bool]:
        state = self._state
        return lambda: state.closed or (state.decision_due(), state.decide_alert) != seen

    async def period_alerts(self) -> None:
        """Wake at the instants the repair and appeal alerts change (domain/alerts.py), and publish them."""
        state = self._state
        while not state.closed:
            seen = self._period_dues()
            upcoming = alerts.period_thresholds(seen, workflow.now())
            try:
                await workflow.wait_condition(
                    lambda seen=seen: state.closed or self._period_dues() != seen,  # type: ignore[misc]
                    timeout=upcoming[0] - workflow.now() if upcoming else None,
                    timeout_summary="repair or appeal deadline approaching" if upcoming else None,
                )
            except TimeoutError:
                self._publish()

    def _period_dues(self) -> dict[str, datetime]:
        return {k.value: v.due for k, v in self._state.deadlines.items() if k.value in alerts.PERIOD_LEADS}

    def alerts(self) -> dict[str, str | None]:
        """DecisionAlert as the decision watcher raised it; repair and appeal alerts from now."""
        state = self._state
        now = workflow.now()
        dues = self._period_dues()
        repair = alerts.period_alert(dues.get("repair_by"), alerts.REPAIR_ALERT_LEAD, now)
        appeal = alerts.period_alert(dues.get("appeal_by"), alerts.APPEAL_ALERT_LEAD, now)
        return {
            sa.DECISION_ALERT.name: state.decide_alert.value if state.decision_due() is not None else None,
            sa.REPAIR_ALERT.name: repair.value if repair else None,
            sa.APPEAL_ALERT.name: appeal.value if appeal else None,
        }
