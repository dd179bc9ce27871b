"""The legal values of the permit's life, each with its source.

Legal rules, not settings: a change in law arrives as a new policy version (see
``domain/policy.py``), never as an environment variable.  Values that ``domain.md`` marks
unconfirmed are settings instead (``domain.permit.state.PermitSettings``).
"""

from __future__ import annotations

from decimal import Decimal

EXTENSION_WINDOW_MONTHS = 6  # extension may be applied for from 6 months before expiry
PERMANENT_AFTER_MONTHS = 60  # 5 consecutive years on a temporary asylum permit
REPLACEMENT_MIN_MONTHS_LEFT = 6  # with less left, apply for extension instead
WARNING_VALID_MONTHS = 24  # a warning counts for 2 years
FINE_MAXIMUM_EUR = Decimal("1500")  # administrative fine for breaching the duty to inform
FINE_MAXIMUM_LESS_SERIOUS_EUR = FINE_MAXIMUM_EUR / 2
