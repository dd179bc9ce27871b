"""The application check's rules, without a store or a database."""

from __future__ import annotations

from domain.checklist import MissingCode, StoredFile, check, check_application, check_file, needs_translation
from domain.models import Document, NewElement

SHA = "a" * 64
OTHER_SHA = "b" * 64


def doc(id: str, kind: str = "evidence", language: str = "en", media_type: str = "application/pdf", **extra: object) -> Document:
    return Document.model_validate(
        {"id": id, "kind": kind, "filename": f"{id}.bin", "media_type": media_type, "language": language, **extra}
    )


def element(*evidence: str, kind: str = "personal_situation") -> NewElement:
    return NewElement.model_validate(
        {"kind": kind, "description": "Something new happened.", "occurred_on": "2026-10-14", "evidence": list(evidence)}
    )


FORM = doc("doc-1", kind="application_form", language="nl")


def codes(items: list) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(i.code, i.document_id) for i in items]


def test_complete_set_has_no_problems() -> None:
    documents = [
        FORM,
        doc("doc-2"),
        doc("doc-3", language="ar", media_type="image/jpeg"),
        doc("doc-4", kind="translation", language="nl", translation_of="doc-3"),
    ]
    assert check_application(documents, [element("doc-2"), element("doc-3", "doc-4")]) == []


def test_missing_form() -> None:
    assert codes(check_application([doc("doc-2")], [element("doc-2")])) == [("application_form", None)]


def test_element_without_evidence_is_for_the_decision_not_incomplete() -> None:
    """Issue 9 point 16: a new element may rest on the applicant's statement alone.

    Whether it is credible is weighed in the decision (Awb 4:6; Vw 2000 art. 30a(1)(d)),
    so it is no gap that could lead to buiten behandeling stellen (Vw 2000 art. 30c); the
    requirement's finding says it is to be weighed.
    """
    assert check_application([FORM], [element()]) == []
    assert check_application([FORM, doc("doc-2")], [element(), element("doc-2")]) == []


def test_element_whose_evidence_was_not_handed_in() -> None:
    assert codes(check_application([FORM], [element("doc-9")])) == [("evidence", "doc-9")]


def test_one_present_evidence_document_is_enough() -> None:
    assert check_application([FORM, doc("doc-2")], [element("doc-2", "doc-9")]) == []


def test_foreign_language_document_needs_translation() -> None:
    problems = check_application([FORM, doc("doc-3", language="ar")], [])
    assert codes(problems) == [("translation", "doc-3")]


def test_translation_into_another_foreign_language_does_not_count() -> None:
    documents = [FORM, doc("doc-3", language="ar"), doc("doc-4", kind="translation", language="tr", translation_of="doc-3")]
    assert codes(check_application(documents, [])) == [("translation", "doc-3"), ("translation", "doc-4")]


def test_regional_variants_of_accepted_languages_need_no_translation() -> None:
    assert not needs_translation("nl-BE")
    assert not needs_translation("FR")
    assert needs_translation("ar")


def test_messages_carry_no_file_names() -> None:
    documents = [doc("doc-3", language="ar", filename="Rania Haddad passport.jpg")]
    for item in check(documents, [element()], {}, 100):
        assert "Haddad" not in item.message
        assert "Haddad" not in item.message_nl


def stored(sha: str = SHA, size: int = 100, mime: str | None = "application/pdf") -> StoredFile:
    return StoredFile(sha256=sha, size_bytes=size, detected_media_type=mime)


def test_file_rules() -> None:
    recorded = doc("doc-2", sha256=SHA, size_bytes=100)
    assert check_file(recorded, stored(), 1000) == []
    assert codes(check_file(doc("doc-2"), None, 1000)) == [("not_stored", "doc-2")]
    assert codes(check_file(recorded, None, 1000)) == [("file_missing", "doc-2")]
    assert codes(check_file(recorded, stored(sha=OTHER_SHA), 1000)) == [("sha256_mismatch", "doc-2")]
    assert codes(check_file(recorded, stored(size=101), 1000)) == [("size_mismatch", "doc-2")]
    assert codes(check_file(recorded, stored(), 99)) == [("size", "doc-2")]
    assert codes(check_file(recorded, stored(mime=None), 1000)) == [("type", "doc-2")]
    assert codes(check_file(recorded, stored(mime="image/gif"), 1000)) == [("type", "doc-2")]
    wrong = check_file(recorded, stored(mime="image/png"), 1000)
    assert wrong[0].message == "document doc-2 is a PNG file but was declared as PDF"


def test_size_limit_message_in_megabytes() -> None:
    recorded = doc("doc-2", sha256=SHA, size_bytes=25 * 1024 * 1024)
    [item] = check_file(recorded, stored(size=25 * 1024 * 1024), 20 * 1024 * 1024)
    assert item.code == MissingCode.SIZE
    assert item.message == "document doc-2 is 25.0 MB; the limit is 20.0 MB"
    assert "25,0 MB" in item.message_nl


def test_check_combines_set_and_file_rules() -> None:
    documents = [FORM.model_copy(update={"sha256": SHA, "size_bytes": 100})]
    problems = check(documents, [element("doc-9")], {"doc-1": stored()}, 1000)
    assert codes(problems) == [("evidence", "doc-9")]
