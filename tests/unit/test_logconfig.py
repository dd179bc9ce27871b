"""Logging: structured, with Temporal ids as fields and no personal data on stderr."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
import temporalio.activity
import temporalio.workflow
from temporalio.testing import ActivityEnvironment

from infra.logconfig import MASK, PERSONAL_FIELDS, configure_logging, mask_personal_data, mask_text

V_NUMBER = "1234567890"
BSN = "111222333"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    flags = (
        temporalio.workflow.logger.workflow_info_on_message,
        temporalio.activity.logger.activity_info_on_message,
    )
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    temporalio.workflow.logger.workflow_info_on_message = flags[0]
    temporalio.activity.logger.activity_info_on_message = flags[1]


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_on_stderr_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker")

    structlog.get_logger("hasa.test").info("intake accepted", application_id="HASA-2026-000123")

    [line] = json_lines(capsys.readouterr().err)
    assert line["event"] == "intake accepted"
    assert line["application_id"] == "HASA-2026-000123"
    assert line["level"] == "info"
    assert line["logger"] == "hasa.test"
    assert line["process"] == "worker"
    assert line["timestamp"].endswith("Z")


def test_console_renderer_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    configure_logging("starter")

    structlog.get_logger().info("hello", v_number=V_NUMBER)

    output = terminal.getvalue()
    assert "hello" in output
    assert not output.lstrip().startswith("{")
    assert V_NUMBER not in output


def test_calling_twice_writes_each_line_once(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker")
    configure_logging("worker", "DEBUG")

    structlog.get_logger().debug("once")
    logging.getLogger("some.library").info("once too")

    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["once", "once too"]


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker", "warning")

    structlog.get_logger().info("hidden")
    structlog.get_logger().warning("shown")

    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]


def test_personal_fields_are_masked_anywhere(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker")

    structlog.get_logger().info(
        "intake",
        application_id="HASA-2026-000123",
        family_name="Haddad",
        applicant={"given_names": "Samira", "v_number": V_NUMBER},
        documents=[{"id": "doc-1", "filename": "paspoort_haddad.pdf", "kind": "identity"}],
        Date_Of_Birth="1990-05-17",
    )

    output = capsys.readouterr().err
    [line] = json_lines(output)
    assert line["family_name"] == MASK
    assert line["applicant"] == MASK
    assert line["documents"] == [{"id": "doc-1", "filename": MASK, "kind": "identity"}]
    assert line["Date_Of_Birth"] == MASK
    assert line["application_id"] == "HASA-2026-000123"
    for secret in ("Haddad", "Samira", V_NUMBER, "1990-05-17", "haddad"):
        assert secret not in output


def test_free_text_is_masked_including_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker")

    structlog.get_logger().info(
        f"lookup for V-number {V_NUMBER}, BSN {BSN} and 1112.22.333, mail samira@example.nl",
        note_free=f"call advocaat@law.nl about {V_NUMBER}",
    )
    logging.getLogger("stdlib").warning("stdlib says %s and %s", V_NUMBER, "a.b@example.org")

    output = capsys.readouterr().err
    first, second = json_lines(output)
    assert first["event"] == f"lookup for V-number {MASK}, BSN {MASK} and {MASK}, mail {MASK}"
    assert first["note_free"] == f"call {MASK} about {MASK}"
    assert second["event"] == f"stdlib says {MASK} and {MASK}"


def test_identifiers_that_are_not_personal_survive() -> None:
    for text in (
        "HASA-2026-000123",
        "application-HASA-2026-000123",
        "3f2a1c9e-1234-4567-89ab-123456789012",
        "2026-11-28T16:35:47.879394Z",
        "12345678",
        "12345678901",
    ):
        assert mask_text(text) == text


def test_reprs_and_validation_errors_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    from pydantic import ValidationError

    from domain.models import Lawyer

    configure_logging("worker")
    try:
        Lawyer(name="Mr. A. de Vries", email="not-an-address-de-vries")
    except ValidationError:
        structlog.get_logger().exception("intake rejected")
    structlog.get_logger().info("model", lawyer_repr="Lawyer(name='Mr. A. de Vries', email='x@y.nl')")

    output = capsys.readouterr().err
    first, second = json_lines(output)
    assert "ValidationError" in first["exception"]
    assert "de-vries" not in output
    assert "de Vries" not in output
    assert second["lawyer_repr"] == f"Lawyer(name={MASK}, email={MASK})"


def test_mask_processor_works_on_nested_structures_and_models() -> None:
    from domain.models import Lawyer

    event = mask_personal_data(
        None,
        "info",
        {
            "event": "x",
            "cases": [{"lawyer": {"name": "A"}, "step": "intake"}, ("grounds", {"reason": "R"})],
            "model": Lawyer(name="A. de Vries", email="a@b.nl"),
        },
    )

    assert event["cases"] == [{"lawyer": MASK, "step": "intake"}, ["grounds", {"reason": MASK}]]
    assert event["model"] == {"name": MASK, "email": MASK}


def test_personal_fields_cover_the_domain_models() -> None:
    from domain.models import Applicant, DecisionEvent, Lawyer, NewElement, ResponseEvent, WithdrawEvent

    assert {"v_number", "bsn", "family_name", "given_names", "date_of_birth", "nationality"} <= set(Applicant.model_fields)
    assert {"v_number", "bsn", "family_name", "given_names", "date_of_birth", "nationality", "lawyer"} <= PERSONAL_FIELDS
    assert set(Lawyer.model_fields) <= PERSONAL_FIELDS
    assert "description" in NewElement.model_fields
    assert "description" in PERSONAL_FIELDS
    for model, field in ((DecisionEvent, "grounds"), (ResponseEvent, "summary"), (WithdrawEvent, "reason")):
        assert field in model.model_fields
        assert field in PERSONAL_FIELDS


def test_temporal_workflow_extra_becomes_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker")

    logging.getLogger("temporalio.workflow").info(
        "phase finished",
        extra={
            "temporal_workflow": {
                "workflow_id": "application-HASA-2026-000123",
                "run_id": "0196f1d2-aaaa-7bbb-8ccc-123456789abc",
                "workflow_type": "RepeatApplicationWorkflow",
                "namespace": "default",
                "task_queue": "hasa",
                "attempt": 1,
            }
        },
    )

    [line] = json_lines(capsys.readouterr().err)
    assert line["workflow_id"] == "application-HASA-2026-000123"
    assert line["run_id"] == "0196f1d2-aaaa-7bbb-8ccc-123456789abc"
    assert line["workflow_type"] == "RepeatApplicationWorkflow"
    assert line["logger"] == "temporalio.workflow"
    assert "temporal_workflow" not in line


async def test_sdk_activity_logger_gives_activity_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("worker")

    @temporalio.activity.defn(name="store_document")
    async def store_document() -> None:
        temporalio.activity.logger.info("stored")
        structlog.get_logger("hasa.activities").info("stored via structlog")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        activity_type="store_document",
        workflow_id="application-HASA-2026-000123",
        workflow_run_id="0196f1d2-aaaa-7bbb-8ccc-123456789abc",
    )
    await env.run(store_document)

    sdk, ours = json_lines(capsys.readouterr().err)
    for line in (sdk, ours):
        assert line["activity_type"] == "store_document"
        assert line["workflow_id"] == "application-HASA-2026-000123"
        assert line["run_id"] == "0196f1d2-aaaa-7bbb-8ccc-123456789abc"
    # The ids are fields; the SDK no longer appends them to the message as well.
    assert sdk["event"] == "stored"
