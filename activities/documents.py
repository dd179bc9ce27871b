"""The application check's I/O (step 4): record the documents, look at their files, judge.

The registry, not the workflow's copy, decides what the case holds: documents are recorded
the first time they are seen and every check runs over everything recorded, so a repair
round that sends only the new documents is judged together with the earlier ones.  The
files are hashed and typed by content here (outside the database transaction, so a large
file does not hold the write lock); the judging itself is the pure ``domain.checklist``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import select
from temporalio import activity

from activities.document_store import DocumentStore, inspect_file
from activities.registry_db import DocumentRow, Registry, model_of, new_row, record_phase, require_case, utcnow
from domain import checklist
from domain.messages import CheckDocuments, DocumentCheckResult
from domain.models import Document
from infra.settings import Settings


class DocumentActivities:
    """Activities against the document store and the registry's documents table."""

    def __init__(self, store: DocumentStore, registry: Registry, settings: Settings) -> None:
        self._store = store
        self._registry = registry
        self._max_bytes = settings.max_document_bytes

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.check_documents]

    @activity.defn(name="check_documents")
    def check_documents(self, request: CheckDocuments) -> DocumentCheckResult:
        log = structlog.get_logger().bind(application_id=request.application_id)
        documents, conflicting = self._record(request)
        stored = {d.id: self._inspect(d) for d in documents if d.sha256 is not None}
        missing = checklist.conflicts(conflicting) + checklist.check(documents, request.new_elements, stored, self._max_bytes)
        complete = not missing
        with self._registry.transaction() as session:
            case = require_case(session, request.application_id)
            phase = request.phase_if_complete if complete else request.phase_if_incomplete
            if phase is not None:
                record_phase(case, phase)
        log.info(
            "documents_checked",
            round=request.round,
            complete=complete,
            documents=len(documents),
            problems=sorted({m.code for m in missing}),
        )
        return DocumentCheckResult(complete=complete, missing=missing, checked_documents=len(documents))

    def _record(self, request: CheckDocuments) -> tuple[list[Document], list[str]]:
        """Record the documents not yet recorded; return all recorded ones and the conflicts."""
        conflicting: list[str] = []
        with self._registry.transaction() as session:
            require_case(session, request.application_id)
            rows = {
                row.doc_id: row
                for row in session.scalars(
                    select(DocumentRow).where(DocumentRow.application_id == request.application_id).order_by(DocumentRow.id)
                )
            }
            for doc in request.documents:
                row = rows.get(doc.id)
                if row is None:
                    row = _row(request.application_id, doc)
                    session.add(row)
                    rows[doc.id] = row
                elif row.sha256 is None and doc.sha256 is not None:
                    # Recorded before its file was stored: the file has arrived since.
                    row.sha256, row.size_bytes = doc.sha256, doc.size_bytes
                elif doc.sha256 is not None and doc.sha256 != row.sha256:
                    conflicting.append(doc.id)
            session.flush()
            documents = [_document(row) for row in sorted(rows.values(), key=lambda r: r.id)]
        return documents, conflicting

    def _inspect(self, doc: Document) -> checklist.StoredFile | None:
        assert doc.sha256 is not None
        if not self._store.exists(doc.sha256):
            return None
        with self._store.open(doc.sha256) as fh:
            return inspect_file(fh)


def _row(application_id: str, doc: Document) -> DocumentRow:
    return new_row(DocumentRow, doc, application_id=application_id, doc_id=doc.id, recorded_at=utcnow())


def _document(row: DocumentRow) -> Document:
    return model_of(Document, row, id=row.doc_id)
