"""The case file as a Dutch PDF dossier: a cover, a table of contents, numbered sections, pages.

Laid out with fpdf2 (already used for the letters) in its core Helvetica font, so nothing
is downloaded or bundled; text is folded to Latin-1 the way the letters are
(``activities.letters.latin1``).  Every time is shown in Dutch time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fpdf import FPDF, XPos, YPos
from fpdf.outline import OutlineSection

from activities.letters import FooterPDF, datum, latin1, moment
from domain.deadlines import AMSTERDAM
from reports import labels
from reports.casefile_model import (
    Appeal,
    Card,
    CaseFile,
    Deadline,
    Decision,
    DocumentOnFile,
    Interview,
    Letter,
    Run,
    StatusChange,
    Violation,
)

SECTIONS = (
    "Zaakgegevens",
    "Chronologie",
    "Beslissingen",
    "Termijnen",
    "Brieven",
    "Documenten in het dossier",
    "Gehoren",
    "Beroep en uitspraken",
    "Verblijfsvergunning",
    "Workflow-runs",
)


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    local = value.astimezone(AMSTERDAM)
    return f"{local:%d-%m-%Y %H:%M}"


def _toc(pdf: FPDF, outline: list[OutlineSection]) -> None:
    pdf.set_xy(pdf.l_margin, pdf.t_margin)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 10, "Inhoudsopgave", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("Helvetica", size=11)
    for section in outline:
        link = pdf.add_link(page=section.page_number)
        pdf.set_x(pdf.l_margin + 6 * section.level)
        pdf.cell(150 - 6 * section.level, 7, latin1(section.name), link=link)
        pdf.cell(0, 7, str(section.page_number), align="R", link=link, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _deadline_state(deadline: Deadline, now: datetime) -> str:
    if deadline.met is True:
        return f"gehaald ({_when(deadline.closed_at)})"
    if deadline.met is False:
        return f"verstreken ({_when(deadline.closed_at)})"
    return "loopt nog" if deadline.due > now else "verstreken, nog open"


Described = tuple[str, list[str]]


def _deadline(d: Deadline, now: datetime) -> Described:
    return f"{d.title}: uiterlijk {_when(d.due)}", [f"Grondslag: {d.basis}", f"Stand: {_deadline_state(d, now)}"]


def _decision(d: Decision) -> Described:
    what = "Beslissing" if d.final else "Voornemen"
    return (
        f"{what} {d.sequence}: {labels.OUTCOMES.get(d.outcome, d.outcome)} ({_when(d.decided_at)})",
        [
            f"Genomen door: {d.decided_by}",
            f"Gronden: {d.grounds}",
            f"Beleid: {d.policy_version}",
            f"Zienswijze uiterlijk: {_when(d.respond_by)}" if d.respond_by else "",
            f"Beroep uiterlijk: {_when(d.appeal_by)}" if d.appeal_by else "",
        ],
    )


def _letter(letter: Letter) -> Described:
    recipient = labels.RECIPIENTS.get(letter.recipient, letter.recipient)
    return (
        f"{_when(letter.created_at)}  {letter.title} (aan {recipient})",
        [f"Bestand: {letter.file}", f"SHA-256: {letter.sha256}"],
    )


def _document(d: DocumentOnFile) -> Described:
    return (
        f"{d.doc_id}: {d.filename}",
        [
            f"Soort: {d.kind}; type: {d.media_type}; taal: {d.language}"
            + (f"; vertaling van {d.translation_of}" if d.translation_of else ""),
            f"SHA-256: {d.sha256 or '-'}; grootte: {d.size_bytes if d.size_bytes is not None else '-'} bytes",
            f"Vastgelegd: {_when(d.recorded_at)}",
        ],
    )


def _interview(i: Interview) -> Described:
    return (
        f"{_when(i.decided_at)}  gehoor {'nodig' if i.needed else 'niet nodig'}",
        [
            f"Reden: {i.reason}",
            f"Gepland: {_when(i.starts_at)} te {i.location}" if i.starts_at else "",
            f"Gehouden op: {datum(i.held_on)}" if i.held_on else "",
            "Aanvrager niet verschenen" if i.no_show else "",
        ],
    )


def _appeal(a: Appeal) -> Described:
    return (
        f"Beroep {a.court_case}, ingesteld {datum(a.lodged_on)}",
        [
            f"Vastgelegd: {_when(a.recorded_at)}",
            f"Uitspraak: {labels.OUTCOMES.get(a.judgment, a.judgment)} ({_when(a.judged_at)})"
            if a.judgment
            else "Uitspraak: nog niet",
        ],
    )


def _card(c: Card) -> Described:
    return (
        f"{c.document_number} ({c.purpose}, type {c.permit_type})",
        [
            f"Geldig {datum(c.valid_from)} t/m {datum(c.valid_until)}",
            f"Aangemaakt {_when(c.issued_at)}; status {c.status}",
            f"Opgehaald op {datum(c.collected_on)}" if c.collected_on else "",
            f"Ongeldig: {c.invalid_reason}" if c.invalid_reason else "",
        ],
    )


def _violation(v: Violation) -> Described:
    what = "Waarschuwing" if v.outcome == "warning" else "Boete"
    return (
        f"{what} {v.sequence}: {v.change_kind} (gewijzigd {datum(v.occurred_on)}, gemeld {datum(v.reported_on)})",
        [
            f"Besloten op {datum(v.decided_on)}",
            f"Waarschuwing geldig t/m {datum(v.warning_valid_until)}" if v.warning_valid_until else "",
            f"Boete: maximum EUR {v.fine_maximum_eur}; status {v.fine_status}; bedrag {v.fine_amount_eur or '-'}"
            if v.outcome != "warning"
            else "",
        ],
    )


def _status_change(s: StatusChange) -> Described:
    ground = f"; grond {s.withdrawal_ground}" if s.withdrawal_ground else ""
    return (
        f"{_when(s.changed_at)}  {labels.PERMIT_STATUSES.get(s.status, s.status)}",
        [f"type {s.permit_type}, geldig t/m {datum(s.valid_until)}{ground}"],
    )


def _run(r: Run) -> Described:
    return (
        f"{r.workflow_id} ({r.workflow_type})",
        [f"Run {r.run_id}", f"Gestart {_when(r.started_at)}; gesloten {_when(r.closed_at)}; status {r.status}"],
    )


class _Writer:
    def __init__(self, case_file: CaseFile) -> None:
        self.file = case_file
        footer = latin1(f"Dossier {case_file.application_id} - pagina {{page}} van {{nb}}")
        self.pdf = FooterPDF(footer, footer_y=-14, footer_height=8)
        self.pdf.set_title(latin1(f"Dossier {case_file.application_id}"))
        self.pdf.set_author("Immigratie- en Naturalisatiedienst")
        self.pdf.set_creator("hasa reports")
        self.pdf.set_creation_date(case_file.generated_at.astimezone(UTC))
        self.pdf.set_margins(left=20, top=18, right=18)
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.section_number = 0
        self.fresh_page = False

    # -- primitives ------------------------------------------------------------------------

    def heading(self, name: str) -> None:
        self.section_number += 1
        title = f"{self.section_number}. {name}"
        if not self.fresh_page:
            self.pdf.add_page()
        self.fresh_page = False
        self.pdf.start_section(latin1(title))
        self.pdf.set_font("Helvetica", style="B", size=14)
        self.pdf.cell(0, 9, latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_draw_color(0, 70, 127)
        self.pdf.line(self.pdf.l_margin, self.pdf.get_y(), 192, self.pdf.get_y())
        self.pdf.ln(3)

    def para(self, text: str, *, bold: bool = False, size: int = 10) -> None:
        self.pdf.set_font("Helvetica", style="B" if bold else "", size=size)
        self.pdf.multi_cell(0, 5, latin1(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pairs(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            self.pdf.set_font("Helvetica", style="B", size=10)
            self.pdf.cell(55, 6, latin1(label))
            self.pdf.set_font("Helvetica", size=10)
            self.pdf.multi_cell(0, 6, latin1(value or "-"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def none(self, text: str = "Geen.") -> None:
        self.para(text)

    def item(self, head: str, lines: list[str]) -> None:
        if self.pdf.get_y() > 250:
            self.pdf.add_page()
        self.para(head, bold=True)
        self.pdf.set_font("Helvetica", size=9)
        for line in lines:
            if line:
                self.pdf.set_x(self.pdf.l_margin + 5)
                self.pdf.multi_cell(0, 4.5, latin1(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1.5)

    def items(self, rows: Sequence[Any], describe: Callable[[Any], Described], *, none: bool = True) -> None:
        """One item per row, or "Geen." for none."""
        if none and not rows:
            self.none()
        for row in rows:
            self.item(*describe(row))

    # -- the document --------------------------------------------------------------------

    def render(self) -> bytes:
        f = self.file
        pdf = self.pdf
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.cell(0, 10, "Immigratie- en Naturalisatiedienst", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(20)
        pdf.set_font("Helvetica", style="B", size=20)
        pdf.multi_cell(0, 10, latin1(f"Dossier herhaalde asielaanvraag\n{f.application_id}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(8)
        applicant = f.applicant
        self.pairs(
            [
                ("Aanvrager", f"{applicant.given_names} {applicant.family_name}" if applicant else "onbekend in het register"),
                ("V-nummer", applicant.v_number if applicant else "-"),
                ("Opgemaakt op", moment(f.generated_at)),
                ("Bronnen", "workflowhistorie (ontsleuteld), register, verzonden brieven"),
            ]
        )
        pdf.ln(6)
        self.para(
            "Dit dossier bevat bijzondere persoonsgegevens. Het is opgemaakt uit de vastgelegde historie van de "
            "procedure en het register van de IND en geeft elke gebeurtenis weer in de volgorde waarin zij "
            "plaatsvond. Tijden zijn Nederlandse tijd.",
            size=9,
        )
        pdf.add_page()
        pdf.insert_toc_placeholder(_toc, pages=1)  # breaks to a fresh page itself
        self.fresh_page = True
        self.case()
        self.chronology()
        listings: list[tuple[Sequence[Any], Callable[[Any], Described]]] = [
            (f.decisions, _decision),
            (f.deadlines, partial(_deadline, now=f.generated_at)),
            (f.letters, _letter),
            (f.documents, _document),
            (f.interviews, _interview),
            (f.appeals, _appeal),
        ]
        for name, (rows, describe) in zip(SECTIONS[2:8], listings, strict=True):
            self.heading(name)
            self.items(rows, describe)
        self.permit()
        self.runs()
        return bytes(pdf.output())

    def case(self) -> None:
        f = self.file
        self.heading(SECTIONS[0])
        a = f.applicant
        rows = [
            ("Aanvraagnummer", f.application_id),
            ("Beleid", f.case.policy_version or "-"),
            ("Ontvangen", _when(f.case.received_at)),
            ("Geregistreerd", _when(f.case.registered_at)),
            ("Fase", labels.PHASES.get(f.case.phase or "", f.case.phase or "-")),
            ("Uitkomst", labels.OUTCOMES.get(f.case.outcome or "", f.case.outcome or "nog geen")),
            ("Gesloten", _when(f.case.closed_at)),
        ]
        if a is not None:
            rows += [
                ("Naam", f"{a.given_names} {a.family_name}"),
                ("V-nummer", a.v_number),
                ("Geboortedatum", datum(a.date_of_birth)),
                ("Nationaliteit", a.nationality),
                ("Taal", a.language),
                ("Advocaat", a.lawyer_name or "-"),
            ]
        self.pairs(rows)

    def chronology(self) -> None:
        self.heading(SECTIONS[1])
        self.para(f"{len(self.file.chronology)} gebeurtenissen, oudste eerst.", size=9)
        self.pdf.ln(2)
        for n, e in enumerate(self.file.chronology, start=1):
            where = "vergunning" if e.workflow == "permit" else "aanvraag"
            lines = []
            if e.actor:
                lines.append(f"Door: {e.actor}")
            if e.detail:
                lines.append(e.detail)
            if e.refused:
                lines.append(f"Geweigerd: {e.refused}")
            self.item(f"{n}. {_when(e.at)}  [{where}]  {e.title}", lines)

    def permit(self) -> None:
        self.heading(SECTIONS[8])
        p = self.file.permit
        if p is None:
            self.none("Geen verblijfsvergunning verleend.")
            return
        self.pairs(
            [
                ("Status", labels.PERMIT_STATUSES.get(p.status or "", p.status or "-")),
                ("Type", p.permit_type or "-"),
                ("Geldig", f"{datum(p.valid_from)} t/m {datum(p.valid_until)}" if p.valid_from else "-"),
            ]
        )
        self.pdf.ln(2)
        parts: list[tuple[str, Sequence[Any], Callable[[Any], Described], bool]] = [
            ("Verblijfsdocumenten", p.cards, _card, False),
            ("Herinneringen", p.reminders, lambda r: (f"{_when(r.created_at)}  {r.title}", [f"Bestand: {r.file}"]), True),
            ("Waarschuwingen en boetes", p.violations, _violation, True),
            ("Statuswijzigingen", p.status_changes, _status_change, False),
        ]
        for title, rows, describe, none in parts:
            self.para(title, bold=True)
            self.items(rows, describe, none=none)

    def runs(self) -> None:
        self.heading(SECTIONS[9])
        self.items(self.file.runs, _run, none=False)


def render(case_file: CaseFile) -> bytes:
    """The case file as PDF bytes."""
    return _Writer(case_file).render()
