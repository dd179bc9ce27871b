"""The document check, against a real store and registry."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.document_store import DocumentStore
from activities.documents import DocumentActivities
from activities.registry_db import CaseRow, DocumentRow, Registry
from domain.messages import CheckDocuments, DocumentCheckResult
from domain.models import Application, Document
from domain.steps import Phase
from infra.settings import Settings


def check(
    env: ActivityEnvironment, acts: DocumentActivities, app: Application, documents: list[Document] | None = None, round: int = 1
) -> DocumentCheckResult:
    request = CheckDocuments(
        application_id=app.application_id,
        documents=app.documents if documents is None else documents,
        new_elements=app.new_elements,
        round=round,
        phase_if_complete=Phase.AWAITING_INTERVIEW_DECISION,
        phase_if_incomplete=Phase.AWAITING_DOCUMENTS,
    )
    result: DocumentCheckResult = env.run(acts.check_documents, request)
    return result


def codes(result: DocumentCheckResult) -> list[tuple[str, str | None]]:
    return [(m.code, m.document_id) for m in result.missing]


def replaced(app: Application, doc_id: str, **changes: object) -> list[Document]:
    return [d.model_copy(update=changes) if d.id == doc_id else d for d in app.documents]


def test_the_example_application_is_complete(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application, registry: Registry
) -> None:
    result = check(env, document_activities, registered)
    assert result.complete
    assert result.missing == []
    assert result.checked_documents == 4
    with registry.transaction() as session:
        assert session.scalars(select(CaseRow)).one().phase == "awaiting_interview_decision"


def test_checking_twice_records_each_document_once(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application, registry: Registry
) -> None:
    check(env, document_activities, registered)
    check(env, document_activities, registered)
    with registry.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DocumentRow)) == 4


def test_missing_form(env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application) -> None:
    result = check(env, document_activities, registered, [d for d in registered.documents if d.id != "doc-1"])
    assert not result.complete
    assert codes(result) == [("application_form", None)]
    assert result.missing[0].message_nl


def test_missing_translation(env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application) -> None:
    result = check(env, document_activities, registered, [d for d in registered.documents if d.id != "doc-4"])
    assert codes(result) == [("translation", "doc-3")]


def test_a_repair_round_is_judged_with_the_earlier_documents(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application
) -> None:
    first = check(env, document_activities, registered, [d for d in registered.documents if d.id != "doc-4"])
    assert not first.complete
    repair = check(env, document_activities, registered, [d for d in registered.documents if d.id == "doc-4"], round=2)
    assert repair.complete
    assert repair.checked_documents == 4


def test_a_damaged_file_is_a_sha_mismatch(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application, store: DocumentStore
) -> None:
    doc2 = next(d for d in registered.documents if d.id == "doc-2")
    assert doc2.sha256 is not None
    path = store.path_for(doc2.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-10] + b"tampered!!")
    assert codes(check(env, document_activities, registered)) == [("sha256_mismatch", "doc-2")]


def test_a_file_not_in_the_store(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application
) -> None:
    documents = replaced(registered, "doc-2", sha256="f" * 64, size_bytes=10)
    assert codes(check(env, document_activities, registered, documents)) == [("file_missing", "doc-2")]


def test_a_document_without_a_stored_file(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application
) -> None:
    documents = replaced(registered, "doc-2", sha256=None, size_bytes=None)
    assert codes(check(env, document_activities, registered, documents)) == [("not_stored", "doc-2")]


def test_a_text_file_named_pdf_is_the_wrong_type(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application, store: DocumentStore
) -> None:
    sha, size = store.put(b"This is not a PDF at all, just text.\n")
    documents = replaced(registered, "doc-2", sha256=sha, size_bytes=size, filename="report.pdf")
    result = check(env, document_activities, registered, documents)
    assert codes(result) == [("type", "doc-2")]
    assert result.missing[0].message == "document doc-2 is not a PDF, JPEG or PNG file"


def test_a_png_declared_as_pdf(
    env: ActivityEnvironment,
    document_activities: DocumentActivities,
    registered: Application,
    store: DocumentStore,
    make_image: Callable[[str], bytes],
) -> None:
    sha, size = store.put(make_image("PNG"))
    documents = replaced(registered, "doc-2", sha256=sha, size_bytes=size)
    result = check(env, document_activities, registered, documents)
    assert codes(result) == [("type", "doc-2")]
    assert result.missing[0].message == "document doc-2 is a PNG file but was declared as PDF"


def test_too_large(
    env: ActivityEnvironment,
    store: DocumentStore,
    registry: Registry,
    settings: Settings,
    registered: Application,
    files: dict[str, bytes],
) -> None:
    limit = len(files["doc-2"]) - 1
    small = DocumentActivities(store, registry, replace(settings, max_document_bytes=limit))
    result = check(env, small, registered)
    assert ("size", "doc-2") in codes(result)
    assert all(code == "size" for code, _ in codes(result))


def test_same_id_with_other_content_is_a_conflict(
    env: ActivityEnvironment,
    document_activities: DocumentActivities,
    registered: Application,
    store: DocumentStore,
    make_pdf: Callable[[str], bytes],
) -> None:
    check(env, document_activities, registered)
    sha, size = store.put(make_pdf("another report"))
    result = check(env, document_activities, registered, replaced(registered, "doc-2", sha256=sha, size_bytes=size), round=2)
    assert codes(result) == [("conflict", "doc-2")]


def test_messages_hold_no_personal_data(
    env: ActivityEnvironment, document_activities: DocumentActivities, registered: Application
) -> None:
    documents = replaced(registered, "doc-4", sha256=None, size_bytes=None, filename="Rania Haddad vertaling.pdf")
    result = check(env, document_activities, registered, documents)
    assert result.missing
    for item in result.missing:
        text = item.message + item.message_nl
        assert "Haddad" not in text
        assert "Rania" not in text
        assert "0987654321" not in text
