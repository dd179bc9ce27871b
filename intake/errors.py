"""Typed refusals of the intake side: what was wrong, named by field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a record or an event body (``field`` is a dotted path)."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class UsageError(Exception):
    """A command line that cannot be carried out (exit 2)."""


class Refused(Exception):
    """A request the service or the intake refused (exit 1).

    Either a reason (``message``: the case is closed, the event is not allowed now) or the
    field-named errors of an invalid record or body (``errors``), or both.
    """

    def __init__(self, message: str | None = None, errors: Sequence[FieldError] = ()) -> None:
        self.message = message
        self.errors = tuple(errors)
        super().__init__(self.summary())

    def summary(self) -> str:
        """One line for a terminal."""
        parts = [self.message] if self.message else []
        parts += [f"{e.field}: {e.message}" for e in self.errors]
        return "; ".join(parts) or "refused"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.message is not None:
            out["error"] = self.message
        if self.errors or self.message is None:
            out["errors"] = [e.as_dict() for e in self.errors]
        return out


class Unavailable(Exception):
    """Temporal, the case's worker or a store did not answer in time (exit 1); the message says what to do.

    ``delivered`` is ``False`` when the request certainly never reached the server, ``None``
    when it may have (a timeout while waiting for a worker).
    """

    def __init__(self, message: str, *, delivered: bool | None = None) -> None:
        super().__init__(message)
        self.delivered = delivered


def errors_of(err: ValidationError) -> list[FieldError]:
    """pydantic's errors as field-named errors; the input itself is never quoted (it may be personal)."""
    out = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in e["loc"] if p not in ("function-after", "function-before"))
        out.append(FieldError(loc or "(record)", e["msg"].removeprefix("Value error, ")))
    return out
