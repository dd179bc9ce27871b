"""Shared fixtures for the activity tests: a real registry (SQLite and PostgreSQL), store and outbox per test.

Nothing is faked: each test gets its own registry file (migrated with the real Alembic
migrations), document store and outbox directory under ``tmp_path``, and real PDF, JPEG
and PNG bytes to put in the store.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF
from PIL import Image  # installed with fpdf2, which needs it
from temporalio.testing import ActivityEnvironment

from activities.document_store import DocumentStore
from activities.documents import DocumentActivities
from activities.letters import LetterActivities, LetterOutbox
from activities.registry import RegistryActivities
from activities.registry_db import Registry
from domain.messages import RegisterCase
from domain.models import Application
from infra.settings import Settings

# The shape of shared/examples/application.json (no real person), kept here so the unit
# tests do not depend on a file outside the repository.
EXAMPLE: dict[str, Any] = {
    "application_id": "HASA-2026-000123",
    "received_at": "2026-11-27T09:30:00+01:00",
    "applicant": {
        "v_number": "0987654321",
        "bsn": "123456782",
        "family_name": "Haddad",
        "given_names": "Rania",
        "date_of_birth": "1991-04-17",
        "nationality": "SYR",
        "language": "ar",
        "in_netherlands": True,
        "earlier_repeat_applications": 0,
        "lawyer": {"name": "mr. J. de Vries", "email": "devries@example.nl"},
    },
    "previous_application": {
        "case_number": "IND-2023-448812",
        "outcome": "rejected",
        "decision_date": "2024-02-12",
        "final": True,
    },
    "new_elements": [
        {
            "kind": "country_situation",
            "description": "Renewed conscription of reservists in the home region since September 2026.",
            "occurred_on": "2026-09-01",
            "evidence": ["doc-2"],
        },
        {
            "kind": "personal_situation",
            "description": "Summons to report for military service, received by family in October 2026.",
            "occurred_on": "2026-10-14",
            "evidence": ["doc-3", "doc-4"],
        },
    ],
    "documents": [
        {"id": "doc-1", "kind": "application_form", "filename": "M35-O.pdf", "media_type": "application/pdf", "language": "nl"},
        {
            "id": "doc-2",
            "kind": "evidence",
            "filename": "country-report-2026.pdf",
            "media_type": "application/pdf",
            "language": "en",
        },
        {"id": "doc-3", "kind": "evidence", "filename": "summons.jpg", "media_type": "image/jpeg", "language": "ar"},
        {
            "id": "doc-4",
            "kind": "translation",
            "translation_of": "doc-3",
            "filename": "summons-translation.pdf",
            "media_type": "application/pdf",
            "language": "nl",
        },
    ],
}

DECIDE_BY = datetime(2027, 5, 27, 22, 59, tzinfo=UTC)


def make_pdf(text: str = "M35-O") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def make_image(fmt: str, colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(
        Settings(),
        data_dir=tmp_path,
        document_store=tmp_path / "documents",
        outbox_dir=tmp_path / "letters",
        slot_horizon_days=14,
        interpreter_languages=("ar", "ti"),
        interview_times=("09:00", "14:00"),
        interview_locations=("Aanmeldcentrum Ter Apel",),
        desk_times=("09:00", "13:30"),
        desks=("IND-loket Den Haag", "IND-loket Zwolle"),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Registry]:
    """The registry on SQLite (a file under tmp_path) and on a real PostgreSQL: every test that
    uses it runs on both backends (``-k sqlite`` or ``-k postgresql`` picks one)."""
    url = request.getfixturevalue("postgres_database") if request.param == "postgresql" else settings.registry_url
    registry = Registry(url)
    registry.migrate()
    yield registry
    registry.dispose()


@pytest.fixture
def store(settings: Settings) -> DocumentStore:
    return DocumentStore(settings.document_store)


@pytest.fixture
def outbox(settings: Settings, registry: Registry) -> LetterOutbox:
    return LetterOutbox(settings.outbox_dir, registry)


@pytest.fixture
def registry_activities(registry: Registry, outbox: LetterOutbox, settings: Settings) -> RegistryActivities:
    return RegistryActivities(registry, outbox, settings)


@pytest.fixture
def document_activities(store: DocumentStore, registry: Registry, settings: Settings) -> DocumentActivities:
    return DocumentActivities(store, registry, settings)


@pytest.fixture
def letter_activities(outbox: LetterOutbox) -> LetterActivities:
    return LetterActivities(outbox)


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def files() -> dict[str, bytes]:
    """Real bytes for each example document, by document id."""
    return {
        "doc-1": make_pdf("M35-O"),
        "doc-2": make_pdf("Country report"),
        "doc-3": make_image("JPEG"),
        "doc-4": make_pdf("Vertaling"),
    }


@pytest.fixture
def application(store: DocumentStore, files: dict[str, bytes]) -> Application:
    """The example application with every file put in the store, as intake does it."""
    data = {**EXAMPLE, "documents": [dict(d) for d in EXAMPLE["documents"]]}
    for doc in data["documents"]:
        doc["sha256"], doc["size_bytes"] = store.put(files[doc["id"]])
    return Application.model_validate(data)


@pytest.fixture
def registration(application: Application) -> RegisterCase:
    return RegisterCase(application=application, policy_version="eu-2024-1348", decide_by=DECIDE_BY)


@pytest.fixture
def registered(
    env: ActivityEnvironment, registry_activities: RegistryActivities, application: Application, registration: RegisterCase
) -> Application:
    """The example application, registered."""
    env.run(registry_activities.register_case, registration)
    return application


@pytest.fixture(name="make_pdf")
def make_pdf_fixture() -> object:
    return make_pdf


@pytest.fixture(name="make_image")
def make_image_fixture() -> object:
    return make_image
