"""The outbox: real PDFs, one row per (case, key, recipient), Latin-1-safe names."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.letters import LETTER_FACTS_MISSING, LetterActivities, LetterOutbox, bedrag, datum, latin1, moment
from activities.registry import RegistryActivities
from activities.registry_db import LetterRow, Registry
from domain.deadlines import AMSTERDAM
from domain.messages import LetterKind, PeriodFromHandOver, Recipient, RegisterCase, SendLetter
from domain.models import Application

ALL = [Recipient.APPLICANT, Recipient.LAWYER, Recipient.RETURN_SERVICE]

# Enough facts for every kind, in the formats the workflow sends them.
FACTS = {
    "received_on": "2026-11-27",
    "decide_by": "2027-01-27",
    "repair_by": "04-12-2026 09:30",
    "interview_at": "08-12-2026 09:00",
    "location": "Aanmeldcentrum Ter Apel",
    "outcome": "inadmissible",
    "grounds": "No new elements.",
    "respond_by": "2026-12-15T10:00:00+01:00",
    "appeal_by": "2026-12-21T23:59:00+01:00",
    "valid_from": "2026-12-14",
    "valid_until": "2031-12-14",
    "endorsement": "Arbeid vrij toegestaan. TWV niet vereist.",
    "desk_at": "05-01-2027 13:30",
    "desk_location": "IND-loket Zwolle",
    "document_number": "III-V123AL568",
    "amount": "750",
    "reason": "lost",
    "policy_version": "vw2000",
    "months": "3",
    "admissibility_by": "2027-01-27",
}


def letter(
    app_id: str, kind: LetterKind, key: str | None = None, recipients: list[Recipient] | None = None, **facts: str
) -> SendLetter:
    return SendLetter(
        application_id=app_id,
        key=key or kind.value.replace("_", "-"),
        kind=kind,
        recipients=recipients or [Recipient.APPLICANT, Recipient.LAWYER],
        facts=facts or FACTS,
        items=["het aanvraagformulier (model M35-O) ontbreekt"],
    )


def text_of(path: str) -> str:
    """The text shown in one of our PDFs: the strings of its (Flate-compressed) text operators.

    Lines are joined with a space, so a phrase wrapped across lines still matches.
    """
    shown: list[str] = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", Path(path).read_bytes(), re.S):
        try:
            # decompressobj stops at the end of the zlib data and ignores the line break
            # before "endstream" (a stream's last byte may itself be a CR).
            content = zlib.decompressobj().decompress(stream).decode("latin-1")
        except zlib.error:
            continue  # not compressed: fonts and other binary streams
        for literal in re.findall(r"\(((?:[^()\\]|\\.)*)\)\s*Tj", content):
            shown.append(re.sub(r"\\(.)", r"\1", literal))
    return " ".join(" ".join(shown).split())


def test_send_writes_a_pdf_and_a_row_once(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application, registry: Registry, settings
) -> None:
    request = letter(registered.application_id, LetterKind.ACKNOWLEDGEMENT)
    first = env.run(letter_activities.send_letter, request)
    again = env.run(letter_activities.send_letter, request)
    assert again == first
    assert [ref.recipient for ref in first.letters] == ["applicant", "lawyer"]
    for ref in first.letters:
        path = Path(ref.path)
        assert path.parent == settings.outbox_dir / registered.application_id
        assert path.name == f"acknowledgement-{ref.recipient}.pdf"
        assert path.read_bytes().startswith(b"%PDF")
    with registry.transaction() as session:
        assert session.scalar(select(func.count()).select_from(LetterRow)) == 2
    assert not list(settings.outbox_dir.rglob(".tmp-*"))


def test_letter_text_is_dutch_and_addressed(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    sent = env.run(letter_activities.send_letter, letter(registered.application_id, LetterKind.DOCUMENTS_MISSING))
    applicant, lawyer = (text_of(ref.path) for ref in sent.letters)
    assert "Rania Haddad" in applicant
    assert "0987654321" in applicant
    assert "Geachte heer/mevrouw Haddad" in applicant
    assert "4 december 2026 om 09:30 uur" in applicant
    assert "het aanvraagformulier (model M35-O) ontbreekt" in applicant
    assert "Geachte mr. J. de Vries" in lawyer
    assert "afschrift" in lawyer


def test_the_workflow_can_date_a_letter(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    request = letter(registered.application_id, LetterKind.WITHDRAWAL, recipients=[Recipient.APPLICANT], letter_date="2027-03-01")
    sent = env.run(letter_activities.send_letter, request)
    assert "Datum: 1 maart 2027" in text_of(sent.letters[0].path)


def test_no_lawyer_is_skipped_not_an_error(
    env: ActivityEnvironment,
    letter_activities: LetterActivities,
    registry_activities: RegistryActivities,
    application: Application,
) -> None:
    without = application.model_copy(
        update={"application_id": "HASA-2026-000200", "applicant": application.applicant.model_copy(update={"lawyer": None})}
    )
    env.run(
        registry_activities.register_case,
        RegisterCase(application=without, policy_version="vw2000", decide_by=application.received_at),
    )
    sent = env.run(letter_activities.send_letter, letter(without.application_id, LetterKind.WITHDRAWAL))
    assert [ref.recipient for ref in sent.letters] == ["applicant"]


@pytest.mark.parametrize("kind", list(LetterKind))
def test_every_kind_renders_for_every_recipient(
    kind: LetterKind, env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    sent = env.run(letter_activities.send_letter, letter(registered.application_id, kind, recipients=ALL))
    assert len(sent.letters) == 3
    for ref in sent.letters:
        text = text_of(ref.path)
        assert "Immigratie- en Naturalisatiedienst" in text
        assert "{{" not in text
        assert "{%" not in text


def test_decision_to_the_return_service_names_the_return_decision_not_the_grounds(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    sent = env.run(
        letter_activities.send_letter,
        letter(
            registered.application_id,
            LetterKind.DECISION,
            recipients=[Recipient.RETURN_SERVICE],
            outcome="unfounded",
            grounds="Secret grounds.",
            appeal_by="2027-01-11T23:59:00+01:00",
            policy_version="vw2000",
        ),
    )
    text = text_of(sent.letters[0].path)
    assert "Dienst Terugkeer en Vertrek" in text
    assert "terugkeerbesluit" in text
    assert "Secret grounds" not in text
    assert "geboren op 17 april 1991" in text


def test_missing_required_fact_is_refused(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    with pytest.raises(ApplicationError) as raised:
        env.run(
            letter_activities.send_letter, letter(registered.application_id, LetterKind.INTERVIEW_INVITATION, location="Ter Apel")
        )
    assert raised.value.type == LETTER_FACTS_MISSING
    assert raised.value.non_retryable


def test_a_key_that_is_not_a_file_name_is_refused(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    with pytest.raises(ApplicationError):
        env.run(letter_activities.send_letter, letter(registered.application_id, LetterKind.WITHDRAWAL, key="../escape"))


def test_names_outside_latin1_render(
    env: ActivityEnvironment,
    letter_activities: LetterActivities,
    registry_activities: RegistryActivities,
    application: Application,
) -> None:
    person = application.applicant.model_copy(update={"given_names": "Łukasz Nguyễn", "family_name": "Đorđević-Şahin محمد"})
    app = application.model_copy(update={"application_id": "HASA-2026-000201", "applicant": person})
    env.run(registry_activities.register_case, RegisterCase(application=app, policy_version="vw2000", decide_by=app.received_at))
    sent = env.run(letter_activities.send_letter, letter(app.application_id, LetterKind.FINE, amount="1500"))
    text = text_of(sent.letters[0].path)
    assert "Lukasz Nguyen Dordevic-Sahin" in text
    assert "EUR 1.500,00" in text


def test_latin1_folding() -> None:
    assert latin1("Łódź €5 – “ok” é ë ß") == 'Lódz EUR5 - "ok" é ë ß'
    assert latin1("e\u0301") == "é"  # decomposed input is composed first
    assert latin1("مرحبا") == "?????"
    assert re.fullmatch(r"[\x00-\xff]*", latin1("Nguyễn Văn Đức ǅ ﬁ"))


def test_dutch_dates_and_amounts() -> None:
    assert datum("2026-05-05") == "5 mei 2026"
    assert moment("2026-12-15T09:00:00+00:00") == "15 december 2026 om 10:00 uur"
    assert moment("04-12-2026 09:30") == "4 december 2026 om 09:30 uur"
    assert datum("volgt per brief") == "volgt per brief"
    assert bedrag("1500") == "€\u00a01.500,00"
    assert bedrag("750.5") == "€\u00a0750,50"


def test_every_kind_has_a_template(outbox: LetterOutbox) -> None:
    # The constructor refuses to start without one; this just makes it visible.
    assert outbox.outbox_dir.name == "letters"


# --- issue 9: letters a lawyer would sign ---------------------------------------------------------


def _text(env: ActivityEnvironment, letters: LetterActivities, request: SendLetter) -> list[str]:
    return [text_of(ref.path) for ref in env.run(letters.send_letter, request).letters]


def test_not_processed_uses_the_statutory_term_and_gives_the_appeal_date(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    """Issue 9 points 2 and 10: art. 30c Vw speaks of *buiten behandeling stellen*; it is a
    decision that can be appealed, so the letter gives the appeal period's end date."""
    facts = {**FACTS, "reason": "no_show", "appeal_by": "2026-12-21T23:59:59+01:00"}
    applicant, _ = _text(env, letter_activities, letter(registered.application_id, LetterKind.NOT_PROCESSED, **facts))
    assert "buiten behandeling gesteld" in applicant
    assert "niet in behandeling" not in applicant
    assert "artikel 30c van de Vreemdelingenwet 2000" in applicant
    assert "U bent niet gekomen" in applicant
    assert "uiterlijk op 21 december 2026 om 23:59 uur bij de rechtbank" in applicant
    assert "geen nieuw terugkeerbesluit" in applicant
    missing = letter(registered.application_id, LetterKind.DOCUMENTS_MISSING)
    first, _ = _text(env, letter_activities, missing)
    assert "buiten behandeling stellen (artikel 30c" in first


def test_intended_decision_names_the_outcome_and_addresses_whoever_responds(
    env: ActivityEnvironment,
    letter_activities: LetterActivities,
    registry_activities: RegistryActivities,
    registered: Application,
    application: Application,
) -> None:
    """Issue 9 point 11 (Vw 2000 art. 39, the zienswijze): the subject names the intended
    outcome, and an applicant without a lawyer is told that they may respond."""
    facts = {**FACTS, "outcome": "manifestly_unfounded"}
    applicant, _ = _text(env, letter_activities, letter(registered.application_id, LetterKind.INTENDED_DECISION, **facts))
    assert "Voornemen: de IND is van plan uw herhaalde asielaanvraag af te wijzen als kennelijk ongegrond" in applicant
    assert "artikel 30b van de Vreemdelingenwet 2000" in applicant
    assert "Uw advocaat kan schriftelijk reageren" in applicant
    without = application.model_copy(
        update={"application_id": "HASA-2026-000202", "applicant": application.applicant.model_copy(update={"lawyer": None})}
    )
    env.run(
        registry_activities.register_case,
        RegisterCase(application=without, policy_version="vw2000", decide_by=without.received_at),
    )
    facts["outcome"] = "inadmissible"
    [alone] = _text(env, letter_activities, letter(without.application_id, LetterKind.INTENDED_DECISION, **facts))
    assert "van plan uw herhaalde asielaanvraag niet-ontvankelijk te verklaren" in alone
    assert "U kunt schriftelijk reageren" in alone
    assert "Uw advocaat kan" not in alone


def test_a_rejection_states_the_return_decision_and_holds_dt_v_back_during_the_appeal_window(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    """Issue 9 point 12 (Vw 2000 art. 45, 82): a rejection is a return decision; the letter
    says what an appeal does to departure, and DT&V is told not to act while the appeal
    window is open; the hand-over comes in a letter of its own."""
    facts = {**FACTS, "outcome": "unfounded", "appeal_by": "2026-12-28T23:59:59+01:00"}
    applicant, _, dtv = _text(
        env, letter_activities, letter(registered.application_id, LetterKind.DECISION, recipients=ALL, **facts)
    )
    assert "u Nederland moet verlaten als deze beslissing in stand blijft" in applicant
    assert "geen schorsende werking" in applicant
    assert "voorlopige voorziening" in applicant
    assert "pas contact met u op over uw vertrek als de beroepstermijn (28 december 2026 om 23:59 uur) voorbij is" in applicant
    assert "Neem het vertrek van betrokkene niet ter hand zolang deze termijn loopt" in dtv
    assert "vragen u het vertrek van betrokkene ter hand te nemen" not in dtv
    [handover] = _text(
        env,
        letter_activities,
        letter(registered.application_id, LetterKind.RETURN_HANDOVER, recipients=[Recipient.RETURN_SERVICE], **facts),
    )
    assert "vragen u het vertrek van betrokkene ter hand te nemen" in handover
    granted, _ = _text(
        env,
        letter_activities,
        letter(registered.application_id, LetterKind.DECISION, key="granted", **{**facts, "outcome": "granted"}),
    )
    assert "verlaten" not in granted


def test_letters_under_the_eu_regulation_cite_the_regulation(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    """Issue 9 point 13: under Regulation (EU) 2024/1348 the letters cite its articles (art. 35
    for the periods, art. 55 for a subsequent application), not Vw 2000 art. 30a/30b/31/42."""
    facts = {**FACTS, "policy_version": "eu-2024-1348", "outcome": "inadmissible", "appeal_by": "2026-12-28T23:59:59+01:00"}
    for kind in (LetterKind.DECISION, LetterKind.NOT_PROCESSED, LetterKind.DOCUMENTS_MISSING, LetterKind.ACKNOWLEDGEMENT):
        applicant, _ = _text(env, letter_activities, letter(registered.application_id, kind, key=f"eu-{kind.value}", **facts))
        assert "2024/1348" in applicant, kind
        for article in ("artikel 30a", "artikel 30b", "artikel 30c", "artikel 31 ", "artikel 42", "artikel 45"):
            assert article not in applicant, (kind, article)


def test_acknowledgement_says_which_deadline_is_which(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    """Issue 9 point 4 (Regulation 2024/1348 art. 35(1) and (3); Vw 2000 art. 42(1)): under
    the EU policy the inadmissibility decision and the decision on the merits have their own
    dates; under Vw 2000 there is one."""
    eu = {**FACTS, "policy_version": "eu-2024-1348", "admissibility_by": "2027-01-27", "decide_by": "2027-05-27"}
    applicant, _ = _text(
        env, letter_activities, letter(registered.application_id, LetterKind.ACKNOWLEDGEMENT, key="ack-eu", **eu)
    )
    assert (
        "niet-ontvankelijk is, omdat u geen nieuwe elementen of bevindingen heeft, "
        "dan krijgt u die beslissing uiterlijk op 27 januari 2027" in applicant
    )
    assert "uiterlijk op 27 mei 2027 over de inhoud van uw aanvraag (artikel 35, derde lid" in applicant
    vw = {**FACTS, "policy_version": "vw2000", "admissibility_by": "2027-05-27", "decide_by": "2027-05-27"}
    applicant, _ = _text(
        env, letter_activities, letter(registered.application_id, LetterKind.ACKNOWLEDGEMENT, key="ack-vw", **vw)
    )
    assert (
        "uiterlijk op 27 mei 2027 een beslissing op uw aanvraag (artikel 42, eerste lid, van de Vreemdelingenwet 2000)"
        in applicant
    )
    assert "twee termijnen" not in applicant


def test_more_time_letter_gives_the_new_date_and_the_reason(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application
) -> None:
    """Issue 9 point 3 (Vw 2000 art. 42(4)): the applicant and the lawyer are told the new date."""
    facts = {
        **FACTS,
        "months": "3",
        "previous_due": "2027-05-27",
        "decide_by": "2027-08-27",
        "reason": "Complex country information.",
    }
    applicant, lawyer = _text(
        env, letter_activities, letter(registered.application_id, LetterKind.DECISION_PERIOD_EXTENDED, **facts)
    )
    assert "verlengen de beslistermijn met 3 maanden (artikel 42, vierde lid, van de Vreemdelingenwet 2000)" in applicant
    assert "Dat wordt nu uiterlijk 27 augustus 2027" in applicant
    assert "Complex country information." in applicant
    assert "afschrift" in lawyer


def test_a_period_from_hand_over_is_computed_from_the_recorded_hand_over(
    env: ActivityEnvironment, letter_activities: LetterActivities, registered: Application, registry: Registry
) -> None:
    """Issue 9 point 15 (Vb 2000 art. 3.118b: 4 hours): the repair period starts when the
    applicant is told; the outbox records the hand-over, writes the end computed from it, and
    a retried activity returns the same instant (so the same end)."""
    facts = {k: v for k, v in FACTS.items() if k != "repair_by"}
    request = letter(registered.application_id, LetterKind.DOCUMENTS_MISSING, key="missing-4h", **facts).model_copy(
        update={"period": PeriodFromHandOver(fact="repair_by", amount=4, unit="hours", rule="atw", basis="Vb 2000 art. 3.118b")}
    )
    first = env.run(letter_activities.send_letter, request)
    again = env.run(letter_activities.send_letter, request)
    assert first.handed_over_at is not None
    assert again.handed_over_at == first.handed_over_at
    with registry.transaction() as session:
        row = session.scalars(select(LetterRow).where(LetterRow.key == "missing-4h", LetterRow.recipient == "applicant")).one()
        recorded = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    assert recorded == first.handed_over_at
    due = (first.handed_over_at + timedelta(hours=4)).astimezone(AMSTERDAM)
    text = text_of(first.letters[0].path)
    assert f"uiterlijk op {moment(due.isoformat())} bij de IND" in text
