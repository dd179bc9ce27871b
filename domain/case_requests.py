"""What the application workflow asks of its activities, built from the case (pure).

The workflow sends these; building them here keeps ``workflows/application.py`` to the
orchestration and lets the requests be read and tested without a server.
"""

from __future__ import annotations

from domain.case_kinds import DeadlineKind
from domain.case_state import CaseState
from domain.messages import CheckDocuments, LetterKind, PeriodFromHandOver, Recipient, SendLetter
from domain.policy import PolicyVersion
from domain.steps import NEGATIVE_OUTCOMES, Phase

BOTH = [Recipient.APPLICANT, Recipient.LAWYER]


def check_documents(state: CaseState) -> CheckDocuments:
    """This round's document check; the workflow says which phase follows either result."""
    return CheckDocuments(
        application_id=state.application.application_id,
        documents=state.documents,
        new_elements=list(state.application.new_elements),
        round=state.check_round,
        phase_if_complete=Phase.AWAITING_INTERVIEW_DECISION,
        phase_if_incomplete=Phase.AWAITING_DOCUMENTS,
    )


def documents_missing_first(state: CaseState, policy: PolicyVersion, key: str, items: list[str]) -> SendLetter:
    """The first documents-missing letter: the repair period starts when the applicant is told
    (issue 9 point 15), so the letter activity computes its end from the hand-over."""
    period = policy.repair_period(state.application.applicant.earlier_repeat_applications)
    return SendLetter(
        application_id=state.application.application_id,
        key=key,
        kind=LetterKind.DOCUMENTS_MISSING,
        recipients=BOTH,
        facts={"policy_version": policy.id},
        items=items,
        period=PeriodFromHandOver(
            fact=DeadlineKind.REPAIR_BY.value,
            amount=period.amount,
            unit=period.unit.value,
            rule=period.rule.value,
            basis=period.basis,
        ),
    )


def return_handover(state: CaseState, policy: PolicyVersion, ground: str, appeal_by: str = "") -> SendLetter | None:
    """Departure goes to DT&V only once no appeal can stop it (issue 9 point 12); only a
    rejection is a return decision (Vw 2000 art. 45), not processed is not (None)."""
    outcome = state.outcome
    if outcome not in NEGATIVE_OUTCOMES:
        return None
    return SendLetter(
        application_id=state.application.application_id,
        key=f"return-handover-{len(state.decisions)}",
        kind=LetterKind.RETURN_HANDOVER,
        recipients=[Recipient.RETURN_SERVICE],
        facts={"policy_version": policy.id, "ground": ground, "outcome": outcome.value, "appeal_by": appeal_by},
    )
