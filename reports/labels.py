"""Dutch words for what the histories record: event, activity, phase, deadline and letter names.

The case file reads as a dossier for a Dutch court, so every identifier the workflows use
gets its Dutch name here.  An identifier this table does not know (a new event added
later) is shown as it is rather than dropped, so the chronology stays complete.
"""

from __future__ import annotations

from typing import Any

from domain import search_attributes as sa

EVENTS: dict[str, str] = {
    # the application (the README's event table)
    "documents": "Documenten nagezonden",
    "interview-decision": "Beslissing over het gehoor",
    "interview-report": "Verslag van het gehoor ontvangen",
    "no-show": "Aanvrager niet verschenen op het gehoor",
    "decision": "Beslissing ingevoerd",
    "response": "Zienswijze ontvangen",
    "appeal": "Beroep ingesteld",
    "judgment": "Uitspraak van de rechtbank",
    "withdraw": "Aanvraag ingetrokken",
    "permit-collected": "Verblijfsdocument opgehaald",
    "extend-decision-period": "Beslistermijn verlengd",
    "interview-booked": "Gehoor handmatig ingepland",
    # the permit
    "extension-application": "Aanvraag verlenging ontvangen",
    "extension-decision": "Beslissing op de verlenging",
    "permanent-application": "Aanvraag verblijfsvergunning onbepaalde tijd ontvangen",
    "permanent-decision": "Beslissing op de aanvraag onbepaalde tijd",
    "refusal-appealed": "Beroep ingesteld tegen de afwijzing",
    "appeal-decided": "Uitspraak op het beroep tegen de afwijzing",
    "replace-document": "Vervanging van het verblijfsdocument gevraagd",
    "report-change": "Wijziging gemeld",
    "fine-decision": "Beslissing over de boete",
    "withdraw-permit": "Vergunning ingetrokken",
    "document-collected": "Nieuw verblijfsdocument opgehaald",
}

# Who sends an event when its body does not name a person (decisions carry decided_by).
EVENT_ACTORS: dict[str, str] = {
    "documents": "aanvrager of advocaat",
    "interview-decision": "IND-medewerker",
    "interview-report": "IND-medewerker (gehoor)",
    "no-show": "IND-medewerker (gehoor)",
    "response": "advocaat",
    "appeal": "advocaat (rechtbank)",
    "judgment": "rechtbank",
    "withdraw": "aanvrager",
    "permit-collected": "IND-loket",
    "extend-decision-period": "IND-medewerker",
    "interview-booked": "IND-medewerker (planning)",
    "extension-application": "vergunninghouder",
    "extension-decision": "IND-medewerker",
    "permanent-application": "vergunninghouder",
    "permanent-decision": "IND-medewerker",
    "refusal-appealed": "advocaat (rechtbank)",
    "appeal-decided": "rechtbank",
    "replace-document": "vergunninghouder",
    "report-change": "vergunninghouder",
    "fine-decision": "IND-medewerker",
    "withdraw-permit": "IND-medewerker",
    "document-collected": "IND-loket",
}

PHASES: dict[str, str] = {
    "registering": "aanvraag wordt geregistreerd",
    "checking_documents": "documenten worden gecontroleerd",
    "awaiting_documents": "wachten op ontbrekende documenten (hersteltermijn)",
    "awaiting_interview_decision": "wachten op de beslissing over een gehoor",
    "awaiting_interview_slot": "wachten op een vrije gehoorafspraak met tolk",
    "interview_booked": "gehoor gepland",
    "awaiting_decision": "wachten op de beslissing",
    "intended_decision": "voornemen verzonden; wachten op de zienswijze",
    "awaiting_final_decision": "wachten op de definitieve beslissing",
    "appeal_window": "beslissing genomen; beroepstermijn loopt",
    "appeal_lodged": "beroep ingesteld; wachten op de uitspraak",
    "awaiting_collection": "vergunning verleend; wachten tot het document is opgehaald",
    "closed": "zaak gesloten",
}

OUTCOMES: dict[str, str] = {
    "granted": "ingewilligd (verblijfsvergunning verleend)",
    "inadmissible": "niet-ontvankelijk",
    "manifestly_unfounded": "kennelijk ongegrond",
    "unfounded": "ongegrond",
    "not_processed": "niet in behandeling genomen",
    "withdrawn": "ingetrokken",
    "annulled": "vernietigd (beroep gegrond)",
    "upheld": "in stand gelaten (beroep ongegrond)",
}

PERMIT_STATUSES: dict[str, str] = {
    "active": "geldig",
    "extension_pending": "verlenging aangevraagd",
    "permanent_pending": "onbepaalde tijd aangevraagd",
    "awaiting_appeal": "geldigheid verstreken; rechtmatig verblijf zolang beroep tegen de afwijzing mogelijk of aanhangig is",
    "expired": "verlopen",
    "withdrawn": "ingetrokken",
    "replaced_by_permanent": "vervangen door een vergunning voor onbepaalde tijd",
}

DEADLINES: dict[str, str] = {
    "decide_by": "Beslistermijn",
    "repair_by": "Hersteltermijn (verzuim)",
    "respond_by": "Termijn voor de zienswijze",
    "appeal_by": "Beroepstermijn",
}

LETTERS: dict[str, str] = {
    "acknowledgement": "Ontvangstbevestiging",
    "documents_missing": "Verzoek ontbrekende documenten",
    "interview_invitation": "Uitnodiging gehoor",
    "intended_decision": "Voornemen",
    "decision": "Beschikking",
    "not_processed": "Besluit niet in behandeling nemen",
    "withdrawal": "Bevestiging intrekking",
    "permit_invitation": "Uitnodiging ophalen verblijfsdocument",
    "extension_reminder": "Herinnering verlenging",
    "permanent_eligible": "Brief vergunning onbepaalde tijd mogelijk",
    "permit_expired": "Brief vergunning verlopen",
    "extension_decision": "Beslissing verlenging",
    "permanent_decision": "Beslissing onbepaalde tijd",
    "replacement": "Vervangend verblijfsdocument",
    "replacement_refused": "Weigering vervangend document",
    "warning": "Waarschuwing",
    "fine": "Boete",
    "permit_withdrawn": "Intrekking vergunning",
    "card_invitation": "Uitnodiging ophalen nieuw document",
    "decision_period_extended": "Verlenging beslistermijn",
    "return_handover": "Overdracht aan de DT&V (terugkeer)",
}

ACTIVITIES: dict[str, str] = {
    "register_case": "Zaak geregistreerd",
    "check_documents": "Documenten gecontroleerd",
    "book_slot": "Afspraak geboekt",
    "record_decision": "Beslissing vastgelegd",
    "issue_permit": "Verblijfsdocument aangemaakt",
    "close_case": "Zaak gesloten in het register",
    "record_permit_status": "Status van de vergunning vastgelegd",
    "invalidate_document": "Verblijfsdocument ongeldig verklaard",
    "record_violation": "Schending van de meldplicht vastgelegd",
    "record_fine_decision": "Beslissing over de boete vastgelegd",
    "record_card_collected": "Ophalen van het document vastgelegd",
}

TIMERS: dict[str, str] = {
    "repair period ends": "einde hersteltermijn",
    "response period ends": "einde termijn zienswijze",
    "appeal window ends": "einde beroepstermijn",
    "try the interview booking again": "opnieuw proberen een gehoor te plannen",
    "decision deadline approaching": "beslistermijn nadert",
    "decision deadline overdue": "beslistermijn verstreken",
    "repair or appeal deadline approaching": "einde hersteltermijn of beroepstermijn nadert",
    "extension reminder due": "herinnering verlenging",
    "five years reached": "vijf jaar verblijf bereikt",
    "expiry reached": "einde geldigheid vergunning",
    "desk booking due": "opnieuw proberen een balieafspraak te maken",
}

# Values of event fields that are identifiers rather than free text.
VALUES: dict[str, str] = {
    "lost": "verloren",
    "stolen": "gestolen",
    "damaged": "beschadigd",
    "details_changed": "gegevens gewijzigd",
    "address": "adres",
    "household": "samenstelling huishouden",
    "work": "werk",
    "false_information": "onjuiste gegevens",
    "public_order": "openbare orde",
    "grounds_lapsed": "grond vervallen",
    "residence_abroad": "verblijf buiten Nederland",
}

RECIPIENTS: dict[str, str] = {"applicant": "aanvrager", "lawyer": "advocaat"}

FIELDS: dict[str, str] = {
    "needed": "gehoor nodig",
    "reason": "reden",
    "held_on": "gehouden op",
    "outcome": "beslissing",
    "grounds": "gronden",
    "decided_by": "genomen door",
    "submitted_on": "ingediend op",
    "summary": "samenvatting",
    "lodged_on": "ingesteld op",
    "court_case": "zaaknummer rechtbank",
    "result": "uitspraak",
    "collected_on": "opgehaald op",
    "granted": "ingewilligd",
    "civic_integration_met": "inburgering voldaan",
    "police_report": "proces-verbaal",
    "kind": "soort",
    "occurred_on": "datum wijziging",
    "reported_on": "gemeld op",
    "imposed": "opgelegd",
    "amount_eur": "bedrag (EUR)",
    "ground": "grond",
    "explanation": "toelichting",
    "less_serious": "minder ernstig",
}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if value is None:
        return "-"
    if isinstance(value, str):
        return OUTCOMES.get(value, VALUES.get(value, value))
    if isinstance(value, list):
        return f"{len(value)} stuk(ken)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


def describe(body: dict[str, Any]) -> str:
    """An event's body as 'label: value' pairs; documents are listed by id and file name."""
    parts = []
    for key, value in body.items():
        if key == "documents" and isinstance(value, list):
            names = ", ".join(f"{d.get('id')} ({d.get('filename')})" for d in value if isinstance(d, dict))
            parts.append(f"documenten: {names}")
        elif key == "report_document" and isinstance(value, dict):
            parts.append(f"verslag: {value.get('id')} ({value.get('filename')})")
        else:
            parts.append(f"{FIELDS.get(key, key)}: {_value(value)}")
    return "; ".join(parts)


def started(workflow_type: str, data: Any) -> str:
    if workflow_type == "ResidencePermit":
        return "Procedure van de verblijfsvergunning gestart"
    received = ""
    if isinstance(data, dict) and isinstance(data.get("application"), dict):
        received = f" (ontvangen {data['application'].get('received_at', '')})"
    return f"Herhaalde asielaanvraag ingediend{received}"


def activity(name: str, data: Any, result: Any) -> str:  # noqa: PLR0911  # a label per activity name
    body = data if isinstance(data, dict) else {}
    if name == "send_letter":
        kind = str(body.get("kind", ""))
        recipients = ", ".join(RECIPIENTS.get(r, r) for r in body.get("recipients", []))
        return f"Brief verzonden: {LETTERS.get(kind, kind)}" + (f" (aan {recipients})" if recipients else "")
    if name == "record_decision":
        what = "Beslissing" if body.get("final") else "Voornemen"
        return f"{what} vastgelegd: {OUTCOMES.get(str(body.get('outcome')), body.get('outcome'))}"
    if name == "book_slot":
        return "Gehoor gepland" if body.get("kind") == "interview" else "Afspraak aan de balie gepland"
    if name == "record_violation":
        outcome = body.get("outcome")
        if outcome == "warning":
            return "Waarschuwing gegeven (meldplicht)"
        return "Boete voorgesteld (meldplicht)" if outcome == "fine" else ACTIVITIES[name]
    if name == "record_permit_status":
        status = str(body.get("status"))
        return f"Status van de vergunning vastgelegd: {PERMIT_STATUSES.get(status, status)}"
    return ACTIVITIES.get(name, f"Activiteit '{name}'")


def activity_detail(name: str, data: Any, result: Any) -> str:  # noqa: C901, PLR0911  # a detail line per activity name
    body = data if isinstance(data, dict) else {}
    out = result if isinstance(result, dict) else {}
    if name == "record_decision":
        return f"gronden: {body.get('grounds', '')}; genomen door: {body.get('decided_by', '')}"
    if name == "book_slot" and out.get("booked"):
        return f"{out.get('starts_at')} te {out.get('location')}"
    if name == "book_slot":
        return "geen vrije afspraak"
    if name == "check_documents":
        missing = out.get("missing") or []
        return (
            "volledig"
            if out.get("complete")
            else f"{len(missing)} ontbrekend: "
            + "; ".join(str(m.get("message_nl") or m.get("message")) for m in missing if isinstance(m, dict))
        )
    if name in ("issue_permit",):
        valid = f"geldig {out.get('valid_from')} t/m {out.get('valid_until')}"
        return f"{out.get('document_number')} type {out.get('permit_type')}, {valid}"
    if name == "send_letter":
        letters = out.get("letters") or []
        return "; ".join(f"{RECIPIENTS.get(str(x.get('recipient')), x.get('recipient'))}: {x.get('path')}" for x in letters)
    if name == "invalidate_document":
        return f"{body.get('document_number')}: {VALUES.get(str(body.get('reason')), body.get('reason'))}"
    if name == "record_violation":
        return (
            f"wijziging {VALUES.get(str(body.get('change_kind')), body.get('change_kind'))} van {body.get('occurred_on')}, "
            f"gemeld {body.get('reported_on')}"
            + (f"; waarschuwing geldig t/m {body.get('warning_valid_until')}" if body.get("warning_valid_until") else "")
        )
    if name == "record_permit_status":
        return f"type {body.get('permit_type')}, geldig t/m {body.get('valid_until')}"
    if name == "close_case":
        return f"uitkomst: {OUTCOMES.get(str(body.get('outcome')), body.get('outcome'))}"
    return ""


def attribute(name: str, value: Any) -> str:
    if name == sa.APPLICATION_PHASE.name:
        return f"Fase: {PHASES.get(str(value), str(value))}"
    if name == sa.APPLICATION_OUTCOME.name:
        return f"Uitkomst: {OUTCOMES.get(str(value), str(value))}"
    if name == sa.PERMIT_STATUS.name:
        return f"Status vergunning: {PERMIT_STATUSES.get(str(value), str(value))}"
    return f"{name}: {value}"


def timer(summary: str) -> str:
    return TIMERS.get(summary, summary)
