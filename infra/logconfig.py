"""Logging, configured once per process, with personal data masked on the way out.

Why it is shaped so:

* **One pipeline for both worlds.**  Our code logs through structlog; the Temporal SDK
  (``workflow.logger``, ``activity.logger``, the worker itself) and aiohttp log through the
  standard library.  Both end in one stdlib handler on stderr whose
  ``structlog.stdlib.ProcessorFormatter`` renders them alike: JSON lines when stderr is not
  a terminal (what a log shipper reads), a readable console when it is.
* **Temporal context as fields, not prose.**  The SDK's loggers put workflow id, run id and
  activity type into ``temporal_workflow`` / ``temporal_activity`` extras of each record;
  they become the fields ``workflow_id``, ``run_id``, ``activity_type`` (and a few more),
  and the SDK's habit of appending the same dict to the message text is switched off.
  structlog calls made inside an activity get the same fields from the activity context.
* **Masking is the last step before rendering**, after exceptions have been formatted, so
  nothing reaches stderr unmasked: values of personal keys (:data:`PERSONAL_FIELDS`) are
  replaced anywhere in the event (nested too), and free text -- the message, tracebacks,
  any string value -- loses V-number-like (10 digits) and BSN-like (9 digits) runs, e-mail
  addresses, ``key=value`` pairs of personal keys (the ``repr`` of a model) and pydantic's
  quoted ``input_value``.  It is a safety net, not a licence: the house rule stays "bind
  the application id, never personal data", because a name in free text cannot be
  recognised.
* **Idempotent**: a second call replaces the handler it installed instead of adding one, so
  no line is written twice.  Loggers are not cached on first use, so a later
  reconfiguration (and ``structlog.testing.capture_logs()`` in tests) reaches loggers made
  at import time.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Final

import structlog
import temporalio.activity
import temporalio.workflow
from structlog.typing import EventDict, Processor, WrappedLogger

MASK: Final = "***"

PERSONAL_FIELDS: Final = frozenset(
    {
        # the applicant and the lawyer (domain.models.Applicant, Lawyer)
        "applicant",
        "lawyer",
        "name",
        "full_name",
        "family_name",
        "given_names",
        "given_name",
        "first_name",
        "last_name",
        "surname",
        "applicant_name",
        "lawyer_name",
        "v_number",
        "vnumber",
        "vreemdelingennummer",
        "bsn",
        "burgerservicenummer",
        "date_of_birth",
        "birth_date",
        "dob",
        "nationality",
        "email",
        "e_mail",
        "email_address",
        "lawyer_email",
        "phone",
        "telephone",
        "address",
        # the content of the case: new elements, decisions, responses, reasons
        "new_elements",
        "new_element",
        "description",
        "grounds",
        "summary",
        "reason",
        "explanation",
        "statement",
        "notes",
        "note",
        "comment",
        "remarks",
        "decided_by",
        # documents: a file name often carries a name ("paspoort_jansen.pdf")
        "filename",
        "file_name",
        # whole messages, should anyone log one
        "application",
        "payload",
        "payloads",
        "input",
    }
)
"""Keys whose values are replaced by ``***`` wherever they occur in a log event."""

_V_NUMBER_RE: Final = re.compile(r"(?<![0-9A-Za-z])\d{10}(?![0-9A-Za-z])")
_BSN_RE: Final = re.compile(r"(?<![0-9A-Za-z])(?:\d{9}|\d{4}\.\d{2}\.\d{3})(?![0-9A-Za-z])")
_EMAIL_RE: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_QUOTED: Final = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
# ``family_name='X'`` (a model's repr), ``'family_name': 'X'`` (a dict's), ``name: X``.
_KEY_VALUE_RE: Final = re.compile(
    r"""(?P<key>(?<![\w])['"]?(?:"""
    + "|".join(sorted((re.escape(k) for k in PERSONAL_FIELDS), key=len, reverse=True))
    + r""")['"]?\s*[=:]\s*)(?P<value>"""
    + _QUOTED
    + r"""|[^\s,;)\]}]+)""",
    re.IGNORECASE,
)
# pydantic's ValidationError text: "... [type=string_too_short, input_value='X', input_type=str]"
_INPUT_VALUE_RE: Final = re.compile(r"(?P<key>input_value=)(?P<value>.*?)(?=, input_type=|\]$|$)", re.MULTILINE)

_TEMPORAL_FIELDS: Final = {
    # record extra key -> {SDK detail key: our field}
    "temporal_workflow": {
        "workflow_id": "workflow_id",
        "run_id": "run_id",
        "workflow_type": "workflow_type",
        "namespace": "namespace",
        "task_queue": "task_queue",
        "attempt": "attempt",
        "update_id": "update_id",
        "update_name": "update_name",
    },
    "temporal_activity": {
        "workflow_id": "workflow_id",
        "workflow_run_id": "run_id",
        "workflow_type": "workflow_type",
        "activity_id": "activity_id",
        "activity_type": "activity_type",
        "namespace": "namespace",
        "task_queue": "task_queue",
        "attempt": "attempt",
    },
}

_HANDLER_MARK: Final = "_hasa_logconfig"


def _normalise_key(key: object) -> str:
    return str(key).strip().lower().replace("-", "_")


def _is_personal(key: object) -> bool:
    return _normalise_key(key) in PERSONAL_FIELDS


def mask_text(text: str) -> str:
    """Mask V-numbers, BSNs, e-mail addresses and personal ``key=value`` pairs in free text."""
    text = _INPUT_VALUE_RE.sub(lambda m: m.group("key") + MASK, text)
    text = _KEY_VALUE_RE.sub(lambda m: m.group("key") + MASK, text)
    text = _EMAIL_RE.sub(MASK, text)
    text = _V_NUMBER_RE.sub(MASK, text)
    return _BSN_RE.sub(MASK, text)


def _mask_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: MASK if _is_personal(k) else _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v) for v in value]
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):  # a pydantic model: mask it field by field
        # A model that cannot dump falls back to its text below: a log line must not fail.
        with contextlib.suppress(Exception):
            return _mask_value(model_dump(mode="json"))
    # Anything else would be rendered through str()/repr() by the renderer, unmasked:
    # render it here so its text passes the free-text masks.
    return mask_text(str(value))


def mask_personal_data(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: replace personal values with ``***`` throughout the event."""
    return {k: MASK if _is_personal(k) else _mask_value(v) for k, v in event_dict.items()}


def _temporal_record_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Lift the SDK's ``temporal_workflow`` / ``temporal_activity`` extras into fields."""
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    for extra_key, fields in _TEMPORAL_FIELDS.items():
        details = getattr(record, extra_key, None)
        if isinstance(details, Mapping):
            for source, target in fields.items():
                if details.get(source) is not None:
                    event_dict.setdefault(target, details[source])
    return event_dict


def _activity_context(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Give structlog calls inside an activity the fields the SDK's activity logger gives."""
    if "activity_type" not in event_dict and temporalio.activity.in_activity():
        info = temporalio.activity.info()
        for key, value in (
            ("workflow_id", info.workflow_id),
            ("run_id", info.workflow_run_id),
            ("workflow_type", info.workflow_type),
            ("activity_id", info.activity_id),
            ("activity_type", info.activity_type),
            ("attempt", info.attempt),
        ):
            if value is not None:
                event_dict.setdefault(key, value)
    return event_dict


def _add_process(process: str) -> Processor:
    def add_process(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("process", process)
        return event_dict

    return add_process


def configure_logging(process: str, level: str = "INFO") -> None:
    """Route structlog and stdlib logging to stderr, rendered and masked alike.

    ``process`` (``worker``, ``starter``, ``codec-server``) is added to every line.
    """
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}")

    renderer: Processor = structlog.dev.ConsoleRenderer() if sys.stderr.isatty() else structlog.processors.JSONRenderer()

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_process(process),
    ]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            _activity_context,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so capture_logs() and a second configure_logging() reach loggers
        # created at import time; these processes log little, the lookup is cheap.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _temporal_record_fields],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before masking, so their contents are masked too.
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)

    # The ids are fields now; the SDK would otherwise also append them to every message.
    temporalio.workflow.logger.workflow_info_on_message = False
    temporalio.activity.logger.activity_info_on_message = False
