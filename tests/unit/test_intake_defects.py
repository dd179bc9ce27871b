"""Issue 8 defects 5 and 6: identifiers with ASCII digits only, and intake file handling.

Each test here failed before its fix: Unicode digits passed as identifiers, symlinks in
``--documents DIR`` were followed, a file was stored before its size was checked, ``send``
stored files for an event that was then refused, a non-hex ``sha256`` ended in a
traceback, deeply nested JSON was reported as "cannot reach Temporal", and JSON Lines were
read whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import starter
from activities.document_store import DocumentStore
from domain.identifiers import application_id_is_valid, bsn_is_valid, v_number_is_valid
from domain.models import Application, DocumentsEvent
from infra.codec import KeyRing
from infra.devstack import make_example_documents
from intake import cases
from intake.errors import FieldError, Refused
from intake.records import DocumentFiles, load_json, parse_application, parse_event_body, read_records
from tests.conftest import EXAMPLE, ROOT

MAX = 20 * 1024 * 1024
FULL_WIDTH_ID = "HASA-２０２６-０００１２３"


def example() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return raw


def stored_files(store: DocumentStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "store")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return make_example_documents(tmp_path / "files")


# --- defect 5: ASCII digits only ------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (application_id_is_valid, FULL_WIDTH_ID),
        (application_id_is_valid, "HASA-2026-٠٠٠١٢٣"),  # Arabic-Indic digits
        (v_number_is_valid, "٣١٤١٥٩٢٦٥٣"),
        (v_number_is_valid, "３１４１５９２６５３"),
        (bsn_is_valid, "١٦٢٢٧٥٨٦٩"),
    ],
)
def test_identifiers_refuse_non_ascii_digits(check: Any, value: str) -> None:
    assert not check(value)


def test_a_look_alike_application_id_names_no_second_case() -> None:
    raw = example()
    raw["application_id"] = FULL_WIDTH_ID
    with pytest.raises(ValidationError, match="application id looks like"):
        Application.model_validate(raw)
    raw = example()
    raw["applicant"]["v_number"] = "٣١٤١٥٩٢٦٥٣"
    with pytest.raises(ValidationError, match="V-number is"):
        Application.model_validate(raw)
    with pytest.raises(Refused, match="malformed"):
        cases.check_application_id(FULL_WIDTH_ID)


# --- defect 6: files --------------------------------------------------------------------------


def test_a_symlink_in_the_documents_folder_is_refused(store: DocumentStore, files: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes((files / "M35-O.pdf").read_bytes())
    (files / "M35-O.pdf").unlink()
    (files / "M35-O.pdf").symlink_to(secret)
    app, errors = parse_application(json.dumps(example()), DocumentFiles(store, files, MAX), ingest=True)
    assert app is None
    assert errors == [
        FieldError("documents.0.filename", "file 'M35-O.pdf' is a symbolic link; only regular files in DIR are read")
    ]
    assert stored_files(store) == []


def test_a_file_over_the_limit_is_refused_before_anything_is_stored(store: DocumentStore, files: Path) -> None:
    size = (files / "M35-O.pdf").stat().st_size
    limit = size - 1
    app, errors = parse_application(json.dumps(example()), DocumentFiles(store, files, limit), ingest=True)
    assert app is None
    assert (
        FieldError("documents.0.filename", f"file 'M35-O.pdf' is {size} bytes; the limit is {limit} (HASA_MAX_DOCUMENT_BYTES)")
        in errors
    )
    assert stored_files(store) == []


def test_a_non_hex_sha256_is_a_field_error_before_the_store_is_asked(store: DocumentStore) -> None:
    body = json.dumps(
        {
            "documents": [
                {
                    "id": "doc-9",
                    "kind": "evidence",
                    "filename": "x.pdf",
                    "media_type": "application/pdf",
                    "language": "en",
                    "sha256": "../../" + "z" * 58,
                    "size_bytes": 1,
                }
            ]
        }
    )
    with pytest.raises(Refused) as caught:
        parse_event_body("documents", DocumentsEvent, body, DocumentFiles(store, None, MAX), ingest=True)
    assert [e.field for e in caught.value.errors] == ["documents.0.sha256"]


def test_send_takes_back_the_files_of_a_refused_event(
    store: DocumentStore, files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The event is refused by the case: the file stored for it leaves the store again."""

    async def connect(settings: Any) -> object:
        return object()

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise Refused("event 'documents' is not allowed now: the repair period ended")

    monkeypatch.setattr(starter, "_connect", connect)
    monkeypatch.setattr(cases, "send_event", refuse)
    monkeypatch.setenv("HASA_DOCUMENT_STORE", str(store.root))
    body = {"documents": [dict(example()["documents"][0], id="doc-9")]}
    code = starter.main(["send", "HASA-2026-000123", "documents", json.dumps(body), "--documents", str(files)])
    assert code == 1
    assert json.loads(capsys.readouterr().out) == {"error": "event 'documents' is not allowed now: the repair period ended"}
    assert stored_files(store) == []


def test_send_keeps_files_that_were_in_the_store_before(
    store: DocumentStore, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha, _ = store.put_file(files / "M35-O.pdf")

    async def connect(settings: Any) -> object:
        return object()

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise Refused("closed")

    monkeypatch.setattr(starter, "_connect", connect)
    monkeypatch.setattr(cases, "send_event", refuse)
    monkeypatch.setenv("HASA_DOCUMENT_STORE", str(store.root))
    body = {"documents": [dict(example()["documents"][0], id="doc-9")]}
    assert starter.main(["send", "HASA-2026-000123", "documents", json.dumps(body), "--documents", str(files)]) == 1
    assert store.exists(sha)


# --- defect 6: JSON ---------------------------------------------------------------------------


def test_deep_nesting_and_duplicate_keys_are_field_errors() -> None:
    _, errors = load_json("[" * 100_000 + "]" * 100_000)
    assert errors == [FieldError("(json)", "nested too deeply: a record is a few levels of objects and lists")]
    _, errors = load_json('{"application_id": "HASA-2026-000123", "application_id": "HASA-2026-000124"}')
    assert errors == [FieldError("application_id", "given twice in one object")]


def test_check_reports_deep_nesting_as_a_field_error_not_an_outage(tmp_path: Path) -> None:
    record = tmp_path / "deep.json"
    record.write_text('{"application_id": ' + "[" * 50_000 + "]" * 50_000 + "}\n")
    env = {**os.environ, "HASA_DATA_DIR": str(tmp_path), "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    env["HASA_CODEC_KEYS"] = f"t:{__import__('base64').b64encode(KeyRing.generate('t').key('t')).decode()}"
    result = subprocess.run(
        [sys.executable, "starter.py", "check", str(record)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot reach Temporal" not in result.stderr
    out = json.loads(result.stdout)
    assert out["errors"] == [{"field": "(json)", "message": "nested too deeply: a record is a few levels of objects and lists"}]


def test_a_line_over_the_record_limit_is_reported_without_reading_it_whole(tmp_path: Path) -> None:
    source = tmp_path / "batch.jsonl"
    line = json.dumps(example())
    source.write_text(line + "\n" + '{"x": "' + "a" * 5000 + '"}\n' + line + "\n")
    got = list(read_records(str(source), limit=4000))
    assert [(r.line, r.too_long) for r in got] == [(1, False), (2, True), (3, False)]


def test_json_lines_are_streamed_in_flat_memory(tmp_path: Path) -> None:
    """Memory while reading is bounded by one record, not by the number of records."""
    line = json.dumps(example()) + "\n"

    def peak(count: int) -> int:
        source = tmp_path / f"{count}.jsonl"
        source.write_text(line * count)
        tracemalloc.start()
        try:
            n = sum(1 for _ in read_records(str(source)))
            _, top = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert n == count
        return top

    small, large = peak(200), peak(4000)
    assert large < small * 2, (small, large)
    assert large < 1024 * 1024
