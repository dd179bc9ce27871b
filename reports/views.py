"""The operators' saved views: a name, a list query, and the Web UI address that opens it.

The queries use the alert attributes the workflows move with their own timers
(``domain/alerts.py``), so none holds a date and none needs refreshing: "decisions overdue"
is ``DecisionAlert = 'overdue'`` today and next year.  ``docs/operators.md`` lists the same
views; ``starter.py views`` prints them with the address for the configured Web UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from workflows.names import APPLICATION_WORKFLOW, PERMIT_WORKFLOW

CASES = f"WorkflowType = '{APPLICATION_WORKFLOW}' AND ExecutionStatus = 'Running'"
PERMITS = f"WorkflowType = '{PERMIT_WORKFLOW}' AND ExecutionStatus = 'Running'"


@dataclass(frozen=True)
class View:
    name: str
    query: str
    meaning: str

    def url(self, ui: str, namespace: str) -> str:
        return f"{ui.rstrip('/')}/namespaces/{quote(namespace)}/workflows?query={quote(self.query, safe='')}"


VIEWS: tuple[View, ...] = (
    View("Decisions overdue", f"{CASES} AND DecisionAlert = 'overdue'", "the statutory decision period has passed"),
    View(
        "Decisions due within 14 days",
        f"{CASES} AND DecisionAlert = 'approaching'",
        "the decision period ends within the warning lead (14 days by default)",
    ),
    View("Waiting for documents", f"{CASES} AND ApplicationPhase = 'awaiting_documents'", "the repair period runs"),
    View(
        "Repair period ending",
        f"{CASES} AND RepairAlert = 'approaching'",
        "the repair period ends within 3 days; unrepaired, the case closes as not processed",
    ),
    View("Interviews booked", f"{CASES} AND ApplicationPhase = 'interview_booked'", "an interview is planned (InterviewAt)"),
    View(
        "Waiting for an interview slot",
        f"{CASES} AND ApplicationPhase = 'awaiting_interview_slot'",
        "no slot with a suitable interpreter was free; the case tries again",
    ),
    View(
        "Appeal window ending",
        f"{CASES} AND AppealAlert = 'approaching'",
        "the appeal window closes within 7 days",
    ),
    View(
        "Extension window open",
        f"{PERMITS} AND PermitAlert = 'extension_window_open'",
        "the holder may apply for an extension (from 6 months before expiry)",
    ),
    View(
        "Permits expiring within a month",
        f"{PERMITS} AND PermitAlert = 'expires_within_month'",
        "the permit's last valid day is within a month",
    ),
    View("Permits expired", f"WorkflowType = '{PERMIT_WORKFLOW}' AND PermitAlert = 'expired'", "the permit has expired"),
    View("Fines proposed", f"{PERMITS} AND FineProposed = true", "a fine awaits its decision (fine-decision)"),
)


def by_name(name: str) -> View:
    for view in VIEWS:
        if view.name.lower() == name.lower():
            return view
    raise KeyError(name)
