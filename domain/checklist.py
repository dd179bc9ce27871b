"""The application check (step 4): which documents a complete repeat application holds.

Pure rules, no I/O: the document-check activity gathers the facts about each stored file
(its hash, size and the type its content shows) and hands them in as ``StoredFile``; these
functions only judge.  Each problem becomes a ``MissingItem`` whose texts name document
ids and kinds only, because they are shown in the UI and quoted in the letter, and a file
name or a description may carry the applicant's name or story.  ``message`` is English for
operators; ``message_nl`` is the same sentence for the Dutch letter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.messages import MissingItem
from domain.models import (
    UNTRANSLATED_LANGUAGES,
    Document,
    DocumentKind,
    MediaType,
    NewElement,
    NewElementKind,
)


class MissingCode(enum.StrEnum):
    """What kind of problem a ``MissingItem`` reports (its ``code``)."""

    APPLICATION_FORM = "application_form"  # no M35-O form
    EVIDENCE = "evidence"  # an evidence document a new element names was not handed in
    TRANSLATION = "translation"  # a foreign-language document without a translation
    NOT_STORED = "not_stored"  # no sha256/size recorded: the file was never handed in
    FILE_MISSING = "file_missing"  # recorded, but the store does not have the file
    SHA256_MISMATCH = "sha256_mismatch"  # the stored bytes no longer hash to the record
    SIZE_MISMATCH = "size_mismatch"  # the recorded size differs from the stored file
    TYPE = "type"  # content is not PDF/JPEG/PNG, or not the declared type
    SIZE = "size"  # larger than the limit
    CONFLICT = "conflict"  # the id was recorded earlier for different content


ALLOWED_MEDIA_TYPES: frozenset[str] = frozenset(m.value for m in MediaType)

_TYPE_NAMES = {MediaType.PDF.value: "PDF", MediaType.JPEG.value: "JPEG", MediaType.PNG.value: "PNG"}

_KIND_NL = {
    DocumentKind.APPLICATION_FORM: "aanvraagformulier",
    DocumentKind.EVIDENCE: "bewijsstuk",
    DocumentKind.TRANSLATION: "vertaling",
    DocumentKind.INTERVIEW_REPORT: "gehoorverslag",
    DocumentKind.IDENTITY: "identiteitsdocument",
    DocumentKind.OTHER: "document",
}

_ELEMENT_NL = {
    NewElementKind.PERSONAL_SITUATION: "gewijzigde persoonlijke situatie",
    NewElementKind.COUNTRY_SITUATION: "gewijzigde situatie in het land van herkomst",
    NewElementKind.POLICY_CHANGE: "gewijzigd beleid",
    NewElementKind.COURT_JUDGMENT: "uitspraak van een rechter",
}

_LANGUAGES_EN = "Dutch, English, French or German"
_LANGUAGES_NL = "het Nederlands, Engels, Frans of Duits"


@dataclass(frozen=True)
class StoredFile:
    """What the document store holds under a document's recorded sha256."""

    sha256: str  # the hash of the bytes as stored now
    size_bytes: int
    detected_media_type: str | None  # judged from the content; None when not recognised


def needs_translation(language: str) -> bool:
    """Dutch, English, French and German documents need no translation ("nl-BE" is Dutch)."""
    return language.split("-", 1)[0].lower() not in UNTRANSLATED_LANGUAGES


def _item(code: MissingCode, document_id: str | None, en: str, nl: str) -> MissingItem:
    return MissingItem(code=code.value, document_id=document_id, message=en, message_nl=nl)


def check_application(documents: Sequence[Document], new_elements: Sequence[NewElement]) -> list[MissingItem]:
    """The rules about the set of documents: form, named evidence handed in, translations.

    A new element that names no evidence document is not a gap: see ``requirements``.
    """
    problems: list[MissingItem] = []
    by_id = {d.id: d for d in documents}

    if not any(d.kind is DocumentKind.APPLICATION_FORM for d in documents):
        problems.append(
            _item(
                MissingCode.APPLICATION_FORM,
                None,
                "the application form (model M35-O) is missing",
                "het aanvraagformulier (model M35-O) ontbreekt",
            )
        )

    for number, element in enumerate(new_elements, start=1):
        label_en = f"new element {number} ({element.kind.value.replace('_', ' ')})"
        label_nl = f"nieuw element {number} ({_ELEMENT_NL[element.kind]})"
        if not element.evidence:
            # A new element may rest on the applicant's own statement: whether it is proven
            # is weighed in the decision (Awb 4:6; Vw 2000 art. 30a(1)(d); the finding
            # ``new_elements`` in domain.requirements says so), not a gap in the
            # application that could lead to buiten behandeling stellen (art. 30c).
            continue
        if any(ref in by_id for ref in element.evidence):
            continue
        for ref in element.evidence:
            problems.append(
                _item(
                    MissingCode.EVIDENCE,
                    ref,
                    f"evidence document {ref} for {label_en} has not been handed in",
                    f"het bewijsstuk {ref} bij {label_nl} is niet ingeleverd",
                )
            )

    translated = {
        d.translation_of
        for d in documents
        if d.kind is DocumentKind.TRANSLATION and d.translation_of is not None and not needs_translation(d.language)
    }
    for doc in documents:
        if not needs_translation(doc.language):
            continue
        if doc.kind is DocumentKind.TRANSLATION:
            problems.append(
                _item(
                    MissingCode.TRANSLATION,
                    doc.id,
                    f"translation {doc.id} is not in {_LANGUAGES_EN}",
                    f"de vertaling {doc.id} is niet in {_LANGUAGES_NL}",
                )
            )
        elif doc.id not in translated:
            problems.append(
                _item(
                    MissingCode.TRANSLATION,
                    doc.id,
                    f"document {doc.id} ({doc.kind.value.replace('_', ' ')}) needs a translation into {_LANGUAGES_EN}",
                    f"van het document {doc.id} ({_KIND_NL[doc.kind]}) ontbreekt een vertaling in {_LANGUAGES_NL}",
                )
            )
    return problems


def check_file(document: Document, stored: StoredFile | None, max_bytes: int) -> list[MissingItem]:
    """The rules about one document's file, given what the store holds for it."""
    doc = document.id
    if document.sha256 is None or document.size_bytes is None:
        return [
            _item(
                MissingCode.NOT_STORED,
                doc,
                f"the file of document {doc} has not been handed in",
                f"het bestand van document {doc} is niet ingeleverd",
            )
        ]
    if stored is None:
        return [
            _item(
                MissingCode.FILE_MISSING,
                doc,
                f"the file of document {doc} is not in the document store",
                f"het bestand van document {doc} is niet gevonden; lever het opnieuw in",
            )
        ]
    if stored.sha256 != document.sha256:
        return [
            _item(
                MissingCode.SHA256_MISMATCH,
                doc,
                f"the stored file of document {doc} does not match its recorded SHA-256 checksum",
                f"het bestand van document {doc} is beschadigd; lever het opnieuw in",
            )
        ]
    problems: list[MissingItem] = []
    if stored.size_bytes != document.size_bytes:
        problems.append(
            _item(
                MissingCode.SIZE_MISMATCH,
                doc,
                f"document {doc} was recorded as {document.size_bytes} bytes but the file has {stored.size_bytes}",
                f"de grootte van document {doc} klopt niet met de registratie; lever het opnieuw in",
            )
        )
    if stored.size_bytes > max_bytes:
        size, limit = _size(stored.size_bytes), _size(max_bytes)
        problems.append(
            _item(
                MissingCode.SIZE,
                doc,
                f"document {doc} is {size}; the limit is {limit}",
                f"document {doc} is {_dutch(size)}; dat is groter dan de toegestane {_dutch(limit)}",
            )
        )
    detected = stored.detected_media_type
    if detected not in ALLOWED_MEDIA_TYPES:
        problems.append(
            _item(
                MissingCode.TYPE,
                doc,
                f"document {doc} is not a PDF, JPEG or PNG file",
                f"document {doc} is geen PDF-, JPEG- of PNG-bestand",
            )
        )
    elif detected != document.media_type.value:
        found, declared = _TYPE_NAMES[detected], _TYPE_NAMES[document.media_type.value]
        problems.append(
            _item(
                MissingCode.TYPE,
                doc,
                f"document {doc} is a {found} file but was declared as {declared}",
                f"document {doc} is een {found}-bestand, maar is opgegeven als {declared}",
            )
        )
    return problems


def check(
    documents: Sequence[Document],
    new_elements: Sequence[NewElement],
    stored: Mapping[str, StoredFile | None],
    max_bytes: int,
) -> list[MissingItem]:
    """Every rule; ``stored`` maps a document id to its file (absent or None: not found)."""
    problems = check_application(documents, new_elements)
    for doc in documents:
        problems += check_file(doc, stored.get(doc.id), max_bytes)
    return problems


def conflicts(ids: Iterable[str]) -> list[MissingItem]:
    """Documents handed in again under an id already recorded for other content."""
    return [
        _item(
            MissingCode.CONFLICT,
            doc,
            f"document {doc} was recorded earlier with different content; hand it in under a new id",
            f"onder het nummer {doc} is eerder een ander document ingeleverd; gebruik een nieuw nummer",
        )
        for doc in ids
    ]


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size} bytes"
    return f"{size / (1024 * 1024):.1f} MB"


def _dutch(size: str) -> str:
    # Dutch writes a decimal comma.
    return size.replace(".", ",")
