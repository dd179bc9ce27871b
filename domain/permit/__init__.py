"""The residence permit's five-year life, split by concern.

The permit workflow (``workflows/permit.py``) only orchestrates; everything it decides is
here, pure and unit-tested without a server:

* ``law``: the legal values with their sources;
* ``transitions``: statuses, triggers and the transition table;
* ``events``: the update bodies;
* ``state``: ``PermitState`` (the one model handed to continue-as-new) and the settings;
* ``schedule``: dates, terms and timers;
* ``rules``: what an event is allowed to do now, and what it does to the state;
* ``view``: the status view and the operator's details.

Legal facts (domain.md, "The permit"): validity 5 years (Vw 2000 art. 28(2)); extension may
be applied for from 6 months before expiry while the permit is valid; a permanent permit
after 5 consecutive years on a temporary one (or from 6 months before expiry); replacement
for damaged, lost or stolen cards (police report for lost or stolen) or changed details,
refused with less than 6 months left; a first late report of a change gets a warning valid
2 years, a repeat within 2 years a fine of at most EUR 1,500, half for a less serious
violation; withdrawal on the grounds of Vw 2000 art. 32.

This ``__init__`` imports nothing, so ``domain.messages`` can import the permit's enums
from ``domain.permit.transitions`` without an import cycle.
"""
