"""The intake payload and the events, as pydantic models.

These models are the contract with intake systems (``starter.py schema`` publishes them as
JSON Schema) and with five-year-old workflow histories: fields get defaults when added and
are never renamed or removed.  Validation that needs "now" (``received_at`` in the future)
reads it from the validation context, so a workflow replaying an old payload never fails
on it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.identifiers import (
    V_NUMBER_DIGITS,
    V_NUMBER_MAX_DIGITS,
    V_NUMBER_MIN_DIGITS,
    application_id_is_valid,
    bsn_is_valid,
    document_number_is_valid,
    v_number_is_valid,
)


class Model(BaseModel):
    """Base for every message: unknown fields are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
DocumentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


def checked(is_valid: Callable[[str], bool], problem: str) -> AfterValidator:
    """A string field's check by one of ``domain.identifiers``' tests, failing with ``problem``."""

    def check(value: str) -> str:
        if not is_valid(value):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


ApplicationId = Annotated[str, checked(application_id_is_valid, "an application id looks like HASA-2026-000123")]
Bsn = Annotated[str, checked(bsn_is_valid, "a BSN is 9 digits and must pass the 11-test")]
DocumentNumber = Annotated[
    str, checked(document_number_is_valid, "not a residence document number (type-V followed by 8 characters)")
]

# Languages in which a document needs no translation (IND: Dutch, English, French, German).
UNTRANSLATED_LANGUAGES = frozenset({"nl", "en", "fr", "de"})


class Lawyer(Model):
    name: NonEmpty
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Applicant(Model):
    v_number: Annotated[str, Field(description="Vreemdelingennummer: exactly 10 digits.")]
    bsn: Bsn | None = Field(default=None, description="Burgerservicenummer: 9 digits passing the 11-test.")
    family_name: NonEmpty
    given_names: NonEmpty
    date_of_birth: date
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 3166-1 alpha-3 code, or XXA/XXB/XXC/XXX for stateless and unknown."
    )
    language: LanguageCode = Field(description="ISO 639 code of the language for the interpreter.")
    in_netherlands: bool
    earlier_repeat_applications: int = Field(ge=0, le=100)
    lawyer: Lawyer | None = None

    @field_validator("v_number")
    @classmethod
    def _v_number(cls, value: str, info: ValidationInfo) -> str:
        # The length is unconfirmed (no checksum or format is published), so it is a setting
        # (HASA_V_NUMBER_DIGITS, decision 0004) that intake passes in the validation context.
        # Without a context (a worker loading a case it already accepted) only the form is
        # checked, so a case taken in under one setting still loads under another.
        context = info.context if isinstance(info.context, dict) else None
        if context is None:
            if not any(v_number_is_valid(value, n) for n in range(V_NUMBER_MIN_DIGITS, V_NUMBER_MAX_DIGITS + 1)):
                raise ValueError(f"a V-number is {V_NUMBER_MIN_DIGITS} to {V_NUMBER_MAX_DIGITS} digits")
            return value
        digits = int(context.get("v_number_digits", V_NUMBER_DIGITS))
        if not v_number_is_valid(value, digits):
            raise ValueError(f"a V-number is exactly {digits} digits")
        return value

    @field_validator("date_of_birth")
    @classmethod
    def _born(cls, value: date) -> date:
        if value.year < 1900:
            raise ValueError("date of birth before 1900")
        return value


class PreviousOutcome(enum.StrEnum):
    REJECTED = "rejected"
    PERMIT_WITHDRAWN = "permit_withdrawn"
    WITHDRAWN = "withdrawn"
    NOT_PROCESSED = "not_processed"
    GRANTED = "granted"


class PreviousApplication(Model):
    case_number: NonEmpty
    outcome: PreviousOutcome
    decision_date: date
    final: bool


class NewElementKind(enum.StrEnum):
    PERSONAL_SITUATION = "personal_situation"
    COUNTRY_SITUATION = "country_situation"
    POLICY_CHANGE = "policy_change"
    COURT_JUDGMENT = "court_judgment"


class NewElement(Model):
    kind: NewElementKind
    description: NonEmpty
    occurred_on: date
    evidence: list[DocumentId] = Field(default_factory=list)


class DocumentKind(enum.StrEnum):
    APPLICATION_FORM = "application_form"
    EVIDENCE = "evidence"
    TRANSLATION = "translation"
    INTERVIEW_REPORT = "interview_report"
    IDENTITY = "identity"
    OTHER = "other"


class MediaType(enum.StrEnum):
    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"


class Document(Model):
    """A document named by the application; its bytes live in the document store."""

    id: DocumentId
    kind: DocumentKind
    filename: Annotated[str, StringConstraints(pattern=r"^[^/\\\x00]{1,255}$")]
    media_type: MediaType
    language: LanguageCode
    translation_of: DocumentId | None = None
    sha256: Sha256 | None = Field(default=None, description="Set by the store, or by an intake system that stored the file.")
    size_bytes: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _translation(self) -> Document:
        if self.kind is DocumentKind.TRANSLATION and self.translation_of is None:
            raise ValueError("a translation names the document it translates in translation_of")
        if self.kind is not DocumentKind.TRANSLATION and self.translation_of is not None:
            raise ValueError("only a translation has translation_of")
        if (self.sha256 is None) != (self.size_bytes is None):
            raise ValueError("sha256 and size_bytes are given together or not at all")
        return self


class Application(Model):
    """One repeat asylum application as an intake system submits it."""

    application_id: Annotated[ApplicationId, Field(description="Business key, e.g. HASA-2026-000123; holds no personal data.")]
    received_at: AwareDatetime
    applicant: Applicant
    previous_application: PreviousApplication
    new_elements: list[NewElement] = Field(default_factory=list, max_length=100)
    documents: list[Document] = Field(default_factory=list, max_length=500)

    @field_validator("received_at")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = info.context.get("now") if isinstance(info.context, dict) else None
        if isinstance(now, datetime) and value > now:
            raise ValueError("received_at lies in the future")
        return value

    @model_validator(mode="after")
    def _references(self) -> Application:
        check_document_references(self.documents, self.new_elements)
        return self


def check_document_references(documents: list[Document], new_elements: list[NewElement]) -> None:
    """Every evidence and translation reference names a document of the same case."""
    ids = [d.id for d in documents]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"document ids are used twice: {', '.join(duplicates)}")
    known = set(ids)
    for n, element in enumerate(new_elements):
        for ref in element.evidence:
            if ref not in known:
                raise ValueError(f"new_elements[{n}].evidence names unknown document {ref!r}")
    for doc in documents:
        if doc.translation_of is not None and doc.translation_of not in known:
            raise ValueError(f"document {doc.id!r} translates unknown document {doc.translation_of!r}")


# --- events ---------------------------------------------------------------------------------


class DecisionOutcome(enum.StrEnum):
    GRANTED = "granted"
    INADMISSIBLE = "inadmissible"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    UNFOUNDED = "unfounded"
    # Buiten behandeling stellen (Vw 2000 art. 30c) after an unexcused no-show: only then
    # (the workflow checks it); the repair period has its own path.
    NOT_PROCESSED = "not_processed"


class DocumentsEvent(Model):
    documents: list[Document] = Field(min_length=1, max_length=100)


class InterviewDecisionEvent(Model):
    needed: bool
    reason: NonEmpty


class InterviewReportEvent(Model):
    held_on: date
    report_document: Document | None = None


class NoShowEvent(Model):
    """The applicant did not attend the booked interview.

    Excused (a valid reason): a new interview is booked.  Not excused: the caseworker
    decides on the file or puts the application *buiten behandeling* (art. 30c Vw;
    ECLI:NL:RBDHA:2025:19553, ECLI:NL:RBDHA:2025:17421).  Both fields have defaults so a
    history from before they existed still loads (an empty body meant: not excused).
    """

    excused: bool = False
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""


class ExtendDecisionPeriodEvent(Model):
    """More time to decide (Vw 2000 art. 42(4); Regulation 2024/1348 art. 35)."""

    reason: NonEmpty
    months: int = Field(
        ge=1, le=24, description="Months added to the decision period; the total stays within the policy's maximum."
    )
    deadline: Literal["decide_by", "admissibility_by"] = Field(
        default="decide_by",
        description="Which decision period: the merits (decide_by) or, under the EU policy, the admissibility one.",
    )


class InterviewBookedEvent(Model):
    """An interview booked by hand, once the automatic booking has failed often enough."""

    starts_at: AwareDatetime
    location: NonEmpty
    interpreter_language: LanguageCode


class DecisionEvent(Model):
    outcome: DecisionOutcome
    grounds: NonEmpty
    decided_by: NonEmpty
    effective_from: date | None = Field(
        default=None,
        description="A grant only: a permit start later than the day the application was received, with a reason.",
    )
    effective_from_reason: NonEmpty | None = None

    @model_validator(mode="after")
    def _effective_from(self) -> DecisionEvent:
        if (self.effective_from is None) != (self.effective_from_reason is None):
            raise ValueError("effective_from and effective_from_reason come together")
        if self.effective_from is not None and self.outcome is not DecisionOutcome.GRANTED:
            raise ValueError("effective_from belongs to a grant only")
        return self


class ResponseEvent(Model):
    submitted_on: date
    summary: NonEmpty


class AppealEvent(Model):
    lodged_on: date
    court_case: NonEmpty


class JudgmentResult(enum.StrEnum):
    ANNULLED = "annulled"
    UPHELD = "upheld"


class JudgmentEvent(Model):
    result: JudgmentResult


class WithdrawEvent(Model):
    reason: NonEmpty


class PermitCollectedEvent(Model):
    collected_on: date


OutcomeName = Literal["granted", "inadmissible", "manifestly_unfounded", "unfounded", "not_processed", "withdrawn"]
