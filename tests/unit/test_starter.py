"""The intake side without a server: reading records, resolving documents, field-named errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activities.document_store import DocumentStore
from domain.models import DecisionEvent, WithdrawEvent
from infra.devstack import make_example_documents
from intake.errors import FieldError, Refused
from intake.records import DocumentFiles, parse_application, parse_event_body, read_records
from tests.conftest import EXAMPLE

MAX = 20 * 1024 * 1024


def files_in(store: DocumentStore, directory: Path | None) -> DocumentFiles:
    return DocumentFiles(store, directory, MAX)


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "store")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return make_example_documents(tmp_path / "files")


def example() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return raw


def test_one_json_document_or_json_lines(tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(EXAMPLE.read_text())  # pretty-printed over many lines
    assert [r.line for r in read_records(str(single))] == [1]
    lines = tmp_path / "many.jsonl"
    lines.write_text(json.dumps(example()) + "\n\n" + json.dumps(example()) + "\n")
    assert [r.line for r in read_records(str(lines))] == [1, 3]


def test_valid_record_ingests_its_files_and_records_hashes(store: DocumentStore, files: Path) -> None:
    app, errors = parse_application(json.dumps(example()), files_in(store, files), ingest=True)
    assert errors == []
    assert app is not None
    for doc in app.documents:
        assert doc.sha256 is not None
        assert store.exists(doc.sha256)
        assert doc.size_bytes == (files / doc.filename).stat().st_size


def test_invalid_record_stores_nothing(store: DocumentStore, files: Path) -> None:
    raw = example()
    raw["applicant"]["v_number"] = "0987"
    app, errors = parse_application(json.dumps(raw), files_in(store, files), ingest=True)
    assert app is None
    assert errors == [FieldError("applicant.v_number", "a V-number is exactly 10 digits")]
    assert not store.root.exists() or not any(p.is_file() for p in store.root.rglob("*"))


def test_missing_file_names_the_document(store: DocumentStore, files: Path) -> None:
    (files / "summons.jpg").unlink()
    app, errors = parse_application(json.dumps(example()), files_in(store, files), ingest=True)
    assert app is None
    assert errors == [FieldError("documents.2.filename", f"file 'summons.jpg' is missing from {files}")]


def test_given_hash_is_checked_against_the_store(store: DocumentStore, files: Path) -> None:
    raw = example()
    sha, size = store.put_file(files / "M35-O.pdf")
    raw["documents"] = [dict(raw["documents"][0], sha256=sha, size_bytes=size + 1)]
    raw["new_elements"] = []
    app, errors = parse_application(json.dumps(raw), files_in(store, None), ingest=True)
    assert app is None
    assert errors == [FieldError("documents.0.size_bytes", "differs from the size of the stored file with this sha256")]
    raw["documents"][0]["sha256"] = "ab" * 32
    raw["documents"][0]["size_bytes"] = size
    _, errors = parse_application(json.dumps(raw), files_in(store, None), ingest=True)
    assert errors == [FieldError("documents.0.sha256", "no file with this sha256 in the document store")]


def test_malformed_json_is_named(store: DocumentStore) -> None:
    app, errors = parse_application('{"application_id": ', files_in(store, None), ingest=True)
    assert app is None
    assert errors[0].field == "(json)"
    assert errors[0].message.startswith("malformed JSON")


def test_event_body_is_validated_with_field_names(store: DocumentStore) -> None:
    with pytest.raises(Refused, match=r"outcome") as caught:
        parse_event_body(
            "decision",
            DecisionEvent,
            '{"outcome": "maybe", "grounds": "g", "decided_by": "o"}',
            files_in(store, None),
            ingest=True,
        )
    assert caught.value.errors[0].field == "outcome"
    body = parse_event_body("withdraw", WithdrawEvent, '{"reason": "going home"}', files_in(store, None), ingest=True)
    assert body.model_dump() == {"reason": "going home"}
