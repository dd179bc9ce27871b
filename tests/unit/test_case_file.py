"""The case file built from a recorded, encrypted history (no server): chronology, deadlines, PDF.

The history is ``tests/replay/histories/application_annulled_then_granted.json``: a Vw 2000
case (received 4 May 2026) with an intended decision (Vb 2000 art. 3.118b), a final
rejection, an appeal the court annulled, and a grant.  Its first decision period
(Vw 2000 art. 42(1), 6 months) had passed when the case was decided, so that deadline is
not met; the new period after the annulment is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pypdfium2
import pytest
from temporalio.client import WorkflowHistory

from infra.codec import CodecError, EncryptionCodec, KeyRing
from reports.casefile import RegistryRecords, assemble
from reports.casefile_model import CaseFile, schema
from reports.history import PayloadReader, read_run
from reports.pdf import render

HISTORIES = Path(__file__).resolve().parents[1] / "replay" / "histories"
DATA = Path(__file__).resolve().parent / "data"
APP_ID = "HASA-2026-700002"


def history() -> WorkflowHistory:
    return WorkflowHistory.from_json(f"application-{APP_ID}", (HISTORIES / "application_annulled_then_granted.json").read_text())


def reader() -> PayloadReader:
    return PayloadReader(EncryptionCodec(KeyRing.from_file(HISTORIES / "test-codec-key.json", require_private=False)))


def test_chronology_and_deadlines_from_the_history() -> None:
    run = read_run(history(), reader())
    case_file = assemble(APP_ID, [run], [], RegistryRecords(), None, None, datetime(2026, 12, 1, tzinfo=UTC))
    jsonschema.validate(case_file.model_dump(mode="json"), schema())
    events = [(e.name, e.actor) for e in case_file.chronology if e.kind == "event"]
    assert events == [
        ("interview-decision", "IND-medewerker"),
        ("decision", "officer-17"),
        ("response", "advocaat"),
        ("decision", "officer-17"),
        ("appeal", "advocaat (rechtbank)"),
        ("judgment", "rechtbank"),
        ("decision", "officer-17"),
        ("permit-collected", "IND-loket"),
    ]
    assert [(d.key, d.met) for d in case_file.deadlines] == [
        ("decide_by", False),
        ("respond_by", True),
        ("appeal_by", True),
        ("decide_by", True),
    ]
    assert case_file.deadlines[0].basis.startswith("Vw 2000 art. 42(1)")
    assert [(a.court_case, a.judgment) for a in case_file.appeals] == [("AWB 26/12345", "annulled")]
    assert case_file.case.phase == "closed"
    assert case_file.case.outcome == "granted"


def test_a_case_file_printed_before_still_validates_and_reads_back_the_same() -> None:
    """``hasa-case-file/1`` only ever gets tighter (decision 0060): ``data/case_file_1.json`` was
    printed by ``starter.py case-file`` (e2e case, trimmed) before the case file took the
    domain's models and enums; it validates against today's schema and loads to the same values."""
    printed = json.loads((DATA / "case_file_1.json").read_text())
    jsonschema.validate(printed, schema())
    assert CaseFile.model_validate(printed).model_dump(mode="json") == printed


def test_pdf_has_a_table_of_contents_and_numbered_pages(tmp_path: Path) -> None:
    run = read_run(history(), reader())
    case_file = assemble(APP_ID, [run], [], RegistryRecords(), None, None, datetime(2026, 12, 1, tzinfo=UTC))
    target = tmp_path / "dossier.pdf"
    target.write_bytes(render(case_file))
    pdf = pypdfium2.PdfDocument(target)
    try:
        texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()
    assert "Inhoudsopgave" in texts[1]
    assert "4. Termijnen" in texts[1]
    assert f"pagina {len(texts)} van {len(texts)}" in texts[-1]
    assert any("Beslistermijn" in t and "verstreken" in t for t in texts)


def test_another_key_cannot_read_the_history() -> None:
    with pytest.raises(CodecError):
        read_run(history(), PayloadReader(EncryptionCodec(KeyRing.generate("replay-test"))))


def test_a_permit_that_continued_as_new_is_read_across_its_runs() -> None:
    """tests/replay/histories/permit_renewal_run{1,2}.json: an extension renews the permit
    (continue-as-new); the new run goes on with more events until the permit ends."""
    runs = [
        read_run(WorkflowHistory.from_json(f"permit-{APP_ID}", (HISTORIES / f"permit_renewal_run{n}.json").read_text()), reader())
        for n in (1, 2)
    ]
    case_file = assemble(APP_ID, [], runs, RegistryRecords(), None, None, datetime(2033, 1, 1, tzinfo=UTC))
    assert [(r.status, r.run_id) for r in case_file.runs] == [("continued", runs[0].run_id), ("completed", runs[1].run_id)]
    # every accepted event of both runs, in history order
    recorded = [f.name for run in runs for f in run.facts if f.kind == "event"]
    assert [e.name for e in case_file.chronology if e.kind == "event"] == recorded
    assert {"extension-application", "extension-decision"} <= {f.name for f in runs[0].facts if f.kind == "event"}
    assert any(f.kind == "event" for f in runs[1].facts)
    titles = [e.title for e in case_file.chronology]
    assert "Procedure voortgezet in een nieuwe run (continue-as-new)" in titles
    assert titles.index("Termijn of wachttijd verstreken: herinnering verlenging") < titles.index("Aanvraag verlenging ontvangen")
    assert titles[-1] == "Procedure van de vergunning afgesloten"
    assert [e.at for e in case_file.chronology] == sorted(e.at for e in case_file.chronology)


def test_every_event_letter_phase_and_status_has_a_dutch_label() -> None:
    """The dossier is Dutch: a new event, letter kind, phase or permit status needs its word."""
    from domain.messages import LetterKind
    from domain.permit.transitions import PERMIT_EVENTS, PermitStatus
    from domain.steps import APPLICATION_EVENTS, Outcome, Phase
    from reports import labels

    assert [e.name for e in APPLICATION_EVENTS.values() if e.name not in labels.EVENTS] == []
    assert [t.value for t in PERMIT_EVENTS if t.value not in labels.EVENTS] == []
    assert [k.value for k in LetterKind if k.value not in labels.LETTERS] == []
    assert [p.value for p in Phase if p.value not in labels.PHASES] == []
    assert [o.value for o in Outcome if o.value not in labels.OUTCOMES] == []
    assert [s.value for s in PermitStatus if s.value not in labels.PERMIT_STATUSES] == []
