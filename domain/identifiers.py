"""Identifiers: application ids, workflow ids, BSN 11-test, permit document numbers.

Digits are ASCII ``[0-9]`` everywhere, never ``\\d``: in Python and in pydantic's regex
engine ``\\d`` matches any Unicode digit, so ``HASA-２０２６-０００１２３`` (full-width) or an
Arabic-Indic V-number would pass and name a second case that looks like the first.
"""

from __future__ import annotations

import re

APPLICATION_ID_PATTERN = r"[A-Z][A-Z0-9]{1,9}-[0-9]{4}-[0-9]{6}"
V_NUMBER_PATTERN = r"[0-9]{10}"
# The V-number's length is unconfirmed (domain.md): a setting (HASA_V_NUMBER_DIGITS) within
# these bounds, 10 by default.
V_NUMBER_DIGITS = 10
V_NUMBER_MIN_DIGITS = 6
V_NUMBER_MAX_DIGITS = 16
BSN_PATTERN = r"[0-9]{9}"

# RvIG document numbers: type numeral, "-V", 8 characters from digits and capitals without
# 0 and O (so a number never reads ambiguously).
DOCUMENT_NUMBER_ALPHABET = "123456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
DOCUMENT_NUMBER_PATTERN = r"(III|IV)-V[1-9A-NP-Z]{8}"


def bsn_is_valid(bsn: str) -> bool:
    """The 11-test: weights 9..2 and -1; the sum is divisible by 11 (and not zero)."""
    if not re.fullmatch(BSN_PATTERN, bsn, flags=re.ASCII):
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(d) * w for d, w in zip(bsn, weights, strict=True))
    return total % 11 == 0 and total != 0


def application_id_is_valid(application_id: str) -> bool:
    return re.fullmatch(APPLICATION_ID_PATTERN, application_id, flags=re.ASCII) is not None


def v_number_is_valid(v_number: str, digits: int = V_NUMBER_DIGITS) -> bool:
    return re.fullmatch(f"[0-9]{{{digits}}}", v_number, flags=re.ASCII) is not None


def application_workflow_id(application_id: str) -> str:
    return f"application-{application_id}"


def permit_workflow_id(application_id: str) -> str:
    return f"permit-{application_id}"


def document_number_is_valid(number: str) -> bool:
    return re.fullmatch(DOCUMENT_NUMBER_PATTERN, number) is not None
