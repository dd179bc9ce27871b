"""The three requirements of a repeat application, as findings.

A requirement that is not met does not refuse the application (only malformed input is
refused at the door); it becomes a finding that informs the decision, for example
inadmissible when there are no new elements (Vw 2000 art. 30a(1)(d)).
"""

from __future__ import annotations

from domain.models import Application, Model, PreviousOutcome


class Finding(Model):
    requirement: str
    met: bool
    note: str


def findings(application: Application) -> list[Finding]:
    previous = application.previous_application
    earlier_ok = previous.outcome in (PreviousOutcome.REJECTED, PreviousOutcome.PERMIT_WITHDRAWN)
    elements = application.new_elements
    with_evidence = sum(1 for e in elements if e.evidence)
    return [
        Finding(
            requirement="in_netherlands",
            met=application.applicant.in_netherlands,
            note="the applicant is in the Netherlands"
            if application.applicant.in_netherlands
            else "the applicant is not in the Netherlands",
        ),
        Finding(
            requirement="earlier_application",
            met=earlier_ok,
            note=f"earlier application: {previous.outcome.value}" + ("" if previous.final else " (not yet final)"),
        ),
        Finding(
            requirement="new_elements",
            met=bool(elements),
            note=f"{len(elements)} new element(s), {with_evidence} with evidence"
            + (
                f"; {len(elements) - with_evidence} without evidence, to be weighed in the decision"
                if with_evidence < len(elements)
                else ""
            )
            if elements
            else "no new elements or findings given (Vw 2000 art. 30a(1)(d))",
        ),
    ]
