"""The one list of search attributes: keys with their types, for every side that needs them.

The workflows upsert these keys; ``starter.py setup`` registers them on a namespace; the
dev stack passes them to the dev server; the tests, the benchmark and the replay recorders
register them on their test servers.  All derive from ``ALL`` here, so a new attribute is
one line.  Values carry no personal data (README, "Personal data").

Only ``temporalio.common`` and the API enums are imported: no workflow or activity code.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

# the application (workflows/application.py)
APPLICATION_STEP = SearchAttributeKey.for_keyword("ApplicationStep")
APPLICATION_PHASE = SearchAttributeKey.for_keyword("ApplicationPhase")
APPLICATION_OUTCOME = SearchAttributeKey.for_keyword("ApplicationOutcome")
DECISION_DUE_BY = SearchAttributeKey.for_datetime("DecisionDueBy")
POLICY_VERSION = SearchAttributeKey.for_keyword("PolicyVersion")
INTERVIEW_AT = SearchAttributeKey.for_datetime("InterviewAt")
# Alerts moved by the workflows' own timers (domain/alerts.py): views that know what "now" is.
DECISION_ALERT = SearchAttributeKey.for_keyword("DecisionAlert")
REPAIR_ALERT = SearchAttributeKey.for_keyword("RepairAlert")
APPEAL_ALERT = SearchAttributeKey.for_keyword("AppealAlert")
# the permit (workflows/permit.py); PermitValidUntil is the start of the last valid Dutch day
PERMIT_STATUS = SearchAttributeKey.for_keyword("PermitStatus")
PERMIT_VALID_UNTIL = SearchAttributeKey.for_datetime("PermitValidUntil")
FINE_PROPOSED = SearchAttributeKey.for_bool("FineProposed")
PERMIT_ALERT = SearchAttributeKey.for_keyword("PermitAlert")

APPLICATION: tuple[SearchAttributeKey[Any], ...] = (
    APPLICATION_STEP,
    APPLICATION_PHASE,
    APPLICATION_OUTCOME,
    DECISION_DUE_BY,
    POLICY_VERSION,
    INTERVIEW_AT,
    DECISION_ALERT,
    REPAIR_ALERT,
    APPEAL_ALERT,
)
PERMIT: tuple[SearchAttributeKey[Any], ...] = (PERMIT_STATUS, PERMIT_VALID_UNTIL, FINE_PROPOSED, PERMIT_ALERT)
ALL: tuple[SearchAttributeKey[Any], ...] = APPLICATION + PERMIT

# The dev server keeps visibility in SQLite, which holds at most 10 Keyword attributes and 3 of
# every other type per namespace (tests/unit/test_alerts.py checks ALL against these).
SQLITE_LIMITS: dict[SearchAttributeIndexedValueType, int] = {
    kind: 10 if kind is SearchAttributeIndexedValueType.KEYWORD else 3 for kind in SearchAttributeIndexedValueType
}

# The names the dev server's --search-attribute flag and `temporal operator` use: the enum's
# name in CamelCase (KEYWORD_LIST -> KeywordList).
TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    kind: "".join(word.capitalize() for word in kind.name.split("_")) for kind in SearchAttributeIndexedValueType
}


def indexed_types() -> dict[str, IndexedValueType.ValueType]:
    """Name to type, as the operator service's AddSearchAttributesRequest takes them."""
    return {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in ALL}


def cli_flags() -> tuple[str, ...]:
    """``Name=Type`` for ``temporal server start-dev --search-attribute``."""
    return tuple(f"{key.name}={TYPE_NAMES[key.indexed_value_type]}" for key in ALL)
