"""The reports end to end on one dev server: the case file and the management figures.

The case file: a case through intended decision, appeal, annulment and grant,
then a replaced card and a warning, read back as JSON (validated against its schema) and as
a PDF whose pages are rendered to PNG and read in order.

The case is received on 4 May 2026, before the EU procedure regulation applies on
12 June 2026 (Regulation (EU) 2024/1348 art. 79), so the Vw 2000 rules with an intended
decision (voornemen, Vb 2000 art. 3.118b) apply; its 6-month decision period (Vw 2000
art. 42(1)) has passed by the time the first decision is taken, so the case file shows
that deadline as missed and the new one after the annulment as met.

The figures (`starter.py stats`): that case plus a mixed batch driven here, and the
figures compared with what the test drove.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pypdfium2
import pytest

from domain.deadlines import AMSTERDAM
from infra.devstack import DevStack, free_port, make_example_documents
from tests.conftest import EXAMPLE

APP_ID = "HASA-2026-000812"
DECIDE = {"grounds": "de nieuwe elementen zijn beoordeeld", "decided_by": "beslismedewerker-17"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    data = tmp_path_factory.mktemp("casefile")
    dev = DevStack(
        data_dir=data, frontend_port=free_port(), ui_port=free_port(), codec_port=free_port(), with_ui=False, logs=data / "logs"
    )
    with dev.running():
        yield dev


def send(stack: DevStack, event: str, body: dict[str, Any]) -> dict[str, Any]:
    result = stack.starter("send", APP_ID, event, json.dumps(body))
    assert result.returncode == 0, result.stdout + result.stderr
    out: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return out


def wait_phase(stack: DevStack, phase: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    current: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = stack.starter("status", APP_ID)
        if result.returncode == 0:
            current = json.loads(result.stdout)
            if current["phase"] == phase:
                return current
        time.sleep(0.5)
    raise AssertionError(f"{APP_ID} never reached {phase}: {current}")


def _today() -> str:
    return datetime.now(AMSTERDAM).date().isoformat()


@pytest.fixture(scope="module")
def driven(stack: DevStack) -> dict[str, Any]:
    documents = make_example_documents(stack.data_dir / "example-documents")
    raw = json.loads(EXAMPLE.read_text())
    raw["application_id"] = APP_ID
    raw["received_at"] = "2026-05-04T10:00:00+02:00"
    result = stack.starter("submit", "-", "--documents", str(documents), stdin=json.dumps(raw))
    assert result.returncode == 0, result.stdout + result.stderr
    wait_phase(stack, "awaiting_interview_decision")
    send(stack, "interview-decision", {"needed": False, "reason": "het dossier volstaat"})
    send(stack, "decision", {"outcome": "unfounded", **DECIDE})
    # dates an event reports lie between the decision and today (issue 8 defect 8)
    send(stack, "response", {"submitted_on": _today(), "summary": "de oproep is echt"})
    send(stack, "decision", {"outcome": "unfounded", **DECIDE})
    send(stack, "appeal", {"lodged_on": _today(), "court_case": "AWB 26/4711"})
    send(stack, "judgment", {"result": "annulled"})
    granted = send(stack, "decision", {"outcome": "granted", **DECIDE})["case"]
    today = granted["permit"]["issued_on"]
    send(stack, "permit-collected", {"collected_on": today})
    send(stack, "replace-document", {"reason": "lost", "police_report": "PV-2026-0042"})
    send(stack, "report-change", {"kind": "address", "occurred_on": "2026-01-05", "reported_on": today})
    return granted


def case_file(stack: DevStack, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.starter("case-file", APP_ID, *args)


def test_json_case_file_validates_and_holds_the_whole_case(stack: DevStack, driven: dict[str, Any]) -> None:
    result = case_file(stack, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    schema = json.loads(stack.starter("schema", "case-file", check=True).stdout)
    jsonschema.validate(document, schema)

    events = [e["name"] for e in document["chronology"] if e["kind"] == "event"]
    assert events == [
        "interview-decision",
        "decision",
        "response",
        "decision",
        "appeal",
        "judgment",
        "decision",
        "permit-collected",
        "replace-document",
        "report-change",
    ]
    times = [e["at"] for e in document["chronology"]]
    assert times == sorted(times)
    decisions = document["decisions"]
    assert [(d["outcome"], d["final"]) for d in decisions] == [("unfounded", False), ("unfounded", True), ("granted", True)]
    assert {d["decided_by"] for d in decisions} == {"beslismedewerker-17"}
    assert all(d["grounds"] == DECIDE["grounds"] for d in decisions)
    decide = [d for d in document["deadlines"] if d["key"] == "decide_by"]
    assert [d["met"] for d in decide] == [False, True]  # the first period had passed; the one after the annulment was met
    assert all("42" in d["basis"] for d in decide)
    assert [a["judgment"] for a in document["appeals"]] == ["annulled"]
    assert document["appeals"][0]["court_case"] == "AWB 26/4711"
    assert document["applicant"]["v_number"] == json.loads(EXAMPLE.read_text())["applicant"]["v_number"]
    assert {d["doc_id"] for d in document["documents"]} >= {"doc-1"}
    assert all(len(d["sha256"]) == 64 for d in document["documents"])
    kinds = {letter["kind"] for letter in document["letters"]}
    assert {"acknowledgement", "intended_decision", "decision", "permit_invitation", "warning"} <= kinds
    for letter in document["letters"]:
        path = Path(letter["file"])
        full = path if path.is_absolute() else stack.data_dir / "letters" / path
        assert full.read_bytes().startswith(b"%PDF")
    permit = document["permit"]
    assert [c["purpose"] for c in permit["cards"]][:1] == ["initial"]
    assert len(permit["cards"]) == 2
    assert any(c["invalid_reason"] == "lost" for c in permit["cards"])
    assert [v["outcome"] for v in permit["violations"]] == ["warning"]


def test_pdf_pages_show_every_event_in_order(stack: DevStack, driven: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "dossier.pdf"
    result = case_file(stack, "--format", "pdf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    pdf = pypdfium2.PdfDocument(out)
    try:
        texts = []
        for index in range(len(pdf)):
            page = pdf[index]
            page.render(scale=1).to_pil().save(tmp_path / f"page-{index + 1}.png")
            texts.append(page.get_textpage().get_text_range())
    finally:
        pdf.close()
    assert len(texts) > 3
    assert "Inhoudsopgave" in texts[1]
    assert "Chronologie" in texts[1]
    assert all(f"pagina {n} van {len(texts)}" in text for n, text in enumerate(texts, start=1))
    whole = "\n".join(texts).replace("\r", "")
    start = whole.index("Chronologie\n")
    titles = [
        "Voornemen vastgelegd: ongegrond",
        "Zienswijze ontvangen",
        "Beslissing vastgelegd: ongegrond",
        "Beroep ingesteld",
        "Uitspraak van de rechtbank",
        "Beslissing vastgelegd: ingewilligd",
        "Verblijfsdocument opgehaald",
        "Vervanging van het verblijfsdocument gevraagd",
        "Waarschuwing gegeven (meldplicht)",
    ]
    missing = [title for title in titles if title not in whole[start:]]
    assert not missing, whole[start : start + 6000]
    positions = [whole.index(title, start) for title in titles]
    assert positions == sorted(positions), list(zip(titles, positions, strict=True))
    assert "beslismedewerker-17" in whole


def test_without_the_key_nothing_is_printed(stack: DevStack, driven: dict[str, Any], tmp_path: Path) -> None:
    env = {k: v for k, v in stack.env().items() if not k.startswith("HASA_CODEC")}
    env["HASA_DATA_DIR"] = str(tmp_path)  # no development key file there either
    env["HASA_DATABASE_URL"] = f"sqlite:///{stack.data_dir / 'registry.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "starter.py", "case-file", APP_ID],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "needs the payload key" in result.stdout
    raw = json.loads(EXAMPLE.read_text())
    for personal in (raw["applicant"]["family_name"], raw["applicant"]["v_number"]):
        assert personal not in result.stdout + result.stderr


BATCH = {
    "granted": "HASA-2026-000901",
    "unfounded": "HASA-2026-000902",
    "withdrawn": "HASA-2026-000903",
    "waiting": "HASA-2026-000904",
    "overdue": "HASA-2026-000905",  # received 4 May 2026: its Vw 2000 period ended 4 Nov 2026
}


def send_to(stack: DevStack, app_id: str, event: str, body: dict[str, Any]) -> dict[str, Any]:
    result = stack.starter("send", app_id, event, json.dumps(body))
    assert result.returncode == 0, result.stdout + result.stderr
    out: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return out


def wait_for(stack: DevStack, app_id: str, phase: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = stack.starter("status", app_id)
        if result.returncode == 0 and json.loads(result.stdout)["phase"] == phase:
            return
        time.sleep(0.5)
    raise AssertionError(f"{app_id} never reached {phase}")


@pytest.fixture(scope="module")
def batch(stack: DevStack, driven: dict[str, Any]) -> None:
    """Four more cases under the current policy (received 27 November 2026, eu-2024-1348), and
    one received under the Vw 2000 whose decision period has passed, left undecided."""
    documents = stack.data_dir / "example-documents"
    lines = []
    for key, app_id in BATCH.items():
        raw = json.loads(EXAMPLE.read_text())
        raw["application_id"] = app_id
        if key == "overdue":
            raw["received_at"] = "2026-05-04T10:00:00+02:00"
        lines.append(json.dumps(raw))
    result = stack.starter("submit", "-", "--documents", str(documents), stdin="\n".join(lines))
    assert result.returncode == 0, result.stdout + result.stderr
    for app_id in BATCH.values():
        wait_for(stack, app_id, "awaiting_interview_decision")
    for key in ("granted", "unfounded"):
        send_to(stack, BATCH[key], "interview-decision", {"needed": False, "reason": "het dossier volstaat"})
        send_to(stack, BATCH[key], "decision", {"outcome": key, **DECIDE})
    status = json.loads(stack.starter("status", BATCH["granted"], check=True).stdout)
    send_to(stack, BATCH["granted"], "permit-collected", {"collected_on": status["permit"]["issued_on"]})
    send_to(stack, BATCH["withdrawn"], "withdraw", {"reason": "de aanvrager trekt de aanvraag in"})


def stats(stack: DevStack, *args: str) -> dict[str, Any]:
    result = stack.starter("stats", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def test_stats_match_what_was_driven(stack: DevStack, batch: None, tmp_path: Path) -> None:
    expected_phases = {"closed": 3, "appeal_window": 1, "awaiting_interview_decision": 2}
    deadline = time.monotonic() + 30
    figures = stats(stack)
    while figures["by_phase"] != expected_phases and time.monotonic() < deadline:
        time.sleep(1)  # visibility follows the workflows a moment later
        figures = stats(stack)
    assert figures["cases"] == 6
    assert figures["by_phase"] == expected_phases
    assert figures["by_outcome"] == {"granted": 2, "unfounded": 1, "withdrawn": 1}
    # a closed case keeps the step it closed in: the withdrawn one was at the interview step
    assert figures["by_step"] == {"collect_permit": 2, "decision": 1, "interview": 3}
    # The first case's first final decision came after its Vw 2000 period (ended 4 Nov 2026);
    # the batch's two were decided the day after receipt; the grant after the annulment
    # runs in a new period.
    assert figures["decisions"] == {"within": 2, "after": 1, "after_annulment": 1, "open_overdue": 1}
    assert {policy: lead["decisions"] for policy, lead in figures["lead_time"].items()} == {"eu-2024-1348": 2, "vw2000": 1}
    assert 180 < figures["lead_time"]["vw2000"]["median_days"] < 240  # 4 May to the day the test runs
    assert figures["permits"] == 2
    assert figures["permits_by_status"] == {"active": 2}
    assert sum(figures["permits_expiring_per_month"].values()) == 2
    assert sum(w["within"] + w["after"] for w in figures["decisions_per_week"]) == 3

    chart = tmp_path / "decisions.png"
    result = stack.starter("stats", "--chart", str(chart))
    assert result.returncode == 0, result.stderr
    assert chart.read_bytes().startswith(b"\x89PNG")
    text = stack.starter("stats", "--format", "table", "--since", "2020-01-01", check=True).stdout
    assert "Cases (6) by step" in text
    assert "awaiting_interview_decision" in text
    applicant = json.loads(EXAMPLE.read_text())["applicant"]
    assert applicant["family_name"] not in text + result.stdout


async def test_overdue_case_carries_the_alert_and_the_documented_view_lists_it(stack: DevStack, batch: None) -> None:
    from temporalio.client import Client

    views = [json.loads(line) for line in stack.starter("views", "--format", "json", check=True).stdout.splitlines()]
    overdue = next(v for v in views if v["name"] == "Decisions overdue")
    assert overdue["query"] in (Path(__file__).resolve().parents[2] / "docs" / "operators.md").read_text()
    assert overdue["url"].startswith("http://localhost:8233/namespaces/default/workflows?query=")
    client = await Client.connect(stack.address)  # ids and search attributes only: no key needed
    deadline = time.monotonic() + 30
    listed: list[str] = []
    while time.monotonic() < deadline:
        listed = [w.id async for w in client.list_workflows(overdue["query"])]
        if listed:
            break
        await asyncio.sleep(0.5)
    assert listed == [f"application-{BATCH['overdue']}"]
    approaching = next(v for v in views if v["name"] == "Decisions due within 14 days")
    assert [w.id async for w in client.list_workflows(approaching["query"])] == []
