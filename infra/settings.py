"""One frozen settings object, read from the environment at the edges.

``worker.py``, ``starter.py`` and the codec server call ``Settings.from_env()``; workflows
never read the environment.  Temporal's own connection settings (``temporal.toml`` profiles,
``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, TLS, API key) are read as the ``temporal`` CLI
reads them, through ``temporalio.envconfig`` (infra/client.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from domain.policy import LegalSettings
from workflows.names import TASK_QUEUE

DEFAULT_INTERPRETER_LANGUAGES = (
    # The most common languages of asylum seekers in the Netherlands (IND/COA figures):
    # Arabic, Tigrinya, Turkish, Persian, Dari, Pashto, Somali, Kurmanji, Sorani, Russian,
    # Ukrainian, Amharic, Urdu, French, English.
    "ar",
    "ti",
    "tr",
    "fa",
    "prs",
    "ps",
    "so",
    "kmr",
    "ckb",
    "ru",
    "uk",
    "am",
    "ur",
    "fr",
    "en",
)


# Files of this service hold personal data (the registry, documents, letters, logs): every
# process creates them owner-only.  Modules that create files also set explicit modes.
PRIVATE_UMASK = 0o077


def restrict_umask() -> None:
    """Owner-only permissions for everything this process creates (worker, starter, dev stack)."""
    os.umask(PRIVATE_UMASK)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _csv(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


DEFAULT_TEMPORAL_ADDRESS = "localhost:7233"
# Chosen from `make bench` (docs/benchmark.md, decision 0051).
DEFAULT_MAX_CACHED_WORKFLOWS = 1000
DEFAULT_WORKFLOW_TASK_SLOTS = 100
DEFAULT_ACTIVITY_SLOTS = 16
DEFAULT_TEMPORAL_NAMESPACE = "default"


@dataclass(frozen=True)
class Settings:
    # Resolved by from_env from Temporal's client configuration (infra/client.py): the
    # temporal.toml profile, then TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE.
    temporal_address: str = DEFAULT_TEMPORAL_ADDRESS
    temporal_namespace: str = DEFAULT_TEMPORAL_NAMESPACE
    task_queue: str = TASK_QUEUE
    data_dir: Path = Path("var")
    database_url: str = ""
    document_store: Path = Path("var/documents")
    outbox_dir: Path = Path("var/letters")
    max_document_bytes: int = 20 * 1024 * 1024
    interpreter_languages: tuple[str, ...] = DEFAULT_INTERPRETER_LANGUAGES
    slot_horizon_days: int = 60
    interview_times: tuple[str, ...] = ("09:00", "11:00", "14:00")
    desk_times: tuple[str, ...] = ("09:00", "09:30", "10:00", "10:30", "11:00", "13:30", "14:00", "14:30", "15:00")
    desks: tuple[str, ...] = ("IND-loket Den Haag", "IND-loket Zwolle")
    interview_locations: tuple[str, ...] = ("Aanmeldcentrum Ter Apel",)
    extension_reminder_months: tuple[int, ...] = (6, 3, 1)
    late_report_weeks: int = 4
    # How long `starter.py send` waits for a worker to complete an event before it gives up.
    send_timeout_seconds: float = 30.0
    # The values docs/legal.md marks unconfirmed (decision 0004), and the operational limits
    # of the no-show and manual-booking paths.
    legal: LegalSettings = field(default_factory=LegalSettings)
    interview_rebook_limit: int = 2
    slot_tries_before_manual: int = 12
    # host:port where a worker serves Prometheus metrics (SDK and service); empty: none.
    metrics_address: str = ""
    # SIGTERM: how long a worker lets running activities finish before it cancels them.
    drain_seconds: float = 30.0
    # The worker's workflow cache and concurrency (docs/benchmark.md, decision 0051): a cached
    # case costs memory, an evicted one a replay of its history at its next event.
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS
    workflow_task_slots: int = DEFAULT_WORKFLOW_TASK_SLOTS
    activity_slots: int = DEFAULT_ACTIVITY_SLOTS
    # Only to migrate histories written before payloads were encrypted (docs/decisions/0021).
    allow_plaintext_payloads: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def registry_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'registry.sqlite3').as_posix()}"

    @classmethod
    def from_env(cls) -> Settings:
        from infra.client import address_and_namespace  # here: infra.client imports this module

        data_dir = Path(_env("HASA_DATA_DIR", "var"))
        temporal_address, temporal_namespace = address_and_namespace()
        return cls(
            temporal_address=temporal_address,
            temporal_namespace=temporal_namespace,
            task_queue=_env("HASA_TASK_QUEUE", TASK_QUEUE),
            data_dir=data_dir,
            database_url=_env("HASA_DATABASE_URL", ""),
            document_store=Path(_env("HASA_DOCUMENT_STORE", str(data_dir / "documents"))),
            outbox_dir=Path(_env("HASA_OUTBOX_DIR", str(data_dir / "letters"))),
            max_document_bytes=int(_env("HASA_MAX_DOCUMENT_BYTES", str(20 * 1024 * 1024))),
            interpreter_languages=_csv(_env("HASA_INTERPRETER_LANGUAGES", ",".join(DEFAULT_INTERPRETER_LANGUAGES))),
            slot_horizon_days=int(_env("HASA_SLOT_HORIZON_DAYS", "60")),
            extension_reminder_months=tuple(
                int(x) for x in _env("HASA_EXTENSION_REMINDER_MONTHS", "6,3,1").split(",") if x.strip()
            ),
            late_report_weeks=int(_env("HASA_LATE_REPORT_WEEKS", "4")),
            send_timeout_seconds=float(_env("HASA_SEND_TIMEOUT_SECONDS", "30")),
            legal=_legal(),
            interview_rebook_limit=int(_env("HASA_INTERVIEW_REBOOK_LIMIT", "2")),
            slot_tries_before_manual=int(_env("HASA_SLOT_TRIES_BEFORE_MANUAL", "12")),
            metrics_address=_env("HASA_METRICS_ADDRESS", ""),
            drain_seconds=float(_env("HASA_WORKER_DRAIN_SECONDS", "30")),
            max_cached_workflows=_bounded_int("HASA_MAX_CACHED_WORKFLOWS", DEFAULT_MAX_CACHED_WORKFLOWS, 0, 1_000_000),
            workflow_task_slots=_bounded_int("HASA_WORKFLOW_TASK_SLOTS", DEFAULT_WORKFLOW_TASK_SLOTS, 1, 10_000),
            activity_slots=_bounded_int("HASA_ACTIVITY_SLOTS", DEFAULT_ACTIVITY_SLOTS, 1, 1_000),
            allow_plaintext_payloads=_env("HASA_ALLOW_PLAINTEXT_PAYLOADS", "0") == "1",
        )


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    """An integer setting within [low, high]; anything else names the variable."""
    text = _env(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid setting {name}: {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise ValueError(f"invalid setting {name}: {value} is not between {low} and {high}")
    return value


# HASA_* variable -> LegalSettings field; an unset variable keeps the field's default.
LEGAL_VARIABLES = {
    "HASA_APPEAL_WEEKS": "appeal_weeks",
    "HASA_NOT_PROCESSED_APPEAL_WEEKS": "not_processed_appeal_weeks",
    "HASA_V_NUMBER_DIGITS": "v_number_digits",
    "HASA_VW2000_MAX_EXTENSION_MONTHS": "vw2000_max_extension_months",
    "HASA_EU_MERITS_MONTHS": "eu_merits_months",
    "HASA_EU_MERITS_MAX_EXTENSION_MONTHS": "eu_merits_max_extension_months",
}


def _legal() -> LegalSettings:
    """The unconfirmed legal values; a value out of its bounds names the variable."""
    given = {
        field_name: os.environ[name].strip() for name, field_name in LEGAL_VARIABLES.items() if os.environ.get(name, "").strip()
    }
    try:
        return LegalSettings.model_validate(given)
    except ValidationError as err:
        names = {v: k for k, v in LEGAL_VARIABLES.items()}
        problems = "; ".join(f"{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in err.errors())
        msg = f"invalid legal setting: {problems}"
        raise ValueError(msg) from None
