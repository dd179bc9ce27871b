"""The failure type of a refused event, which the payload codec leaves readable.

A refusal says which event was refused and why, in words built only from the event's name,
the case's phase or the permit's status and the transition table (``domain.machine``,
``domain.permit.transitions``): no personal data.  The Web UI shows a failure's message in
the update dialog, and encrypted failures show only "Encoded failure", so refusals carry
this ``ApplicationError`` type, which ``infra.codec.ServiceFailureConverter`` does not
encrypt.  Every other failure (a validation error can quote what was sent) stays encrypted.
"""

from __future__ import annotations

REFUSAL_TYPE = "EventRefused"
# A refusal for timing only: the case is busy (acting on an accepted event, or running the
# work of a phase it leaves by itself, such as the document check) and may well accept the
# same event a moment later.  Clients (``intake.cases.send_event``) send such an event again
# until their wait ends; an operator reads it like any refusal.
BUSY_TYPE = "EventRefusedBusy"
READABLE_TYPES = frozenset({REFUSAL_TYPE, BUSY_TYPE})
