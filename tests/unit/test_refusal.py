"""A refused event's reason stays readable (the Web UI shows it); every other failure is encrypted."""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from domain.refusal import BUSY_TYPE, REFUSAL_TYPE
from domain.steps import MACHINE, Phase, Trigger
from infra.codec import KeyRing, data_converter


async def convert(exception: BaseException) -> Failure:
    """As the worker writes it into history: converted, then the payloads sealed by the codec."""
    converter = data_converter(KeyRing.generate("t"))
    failure = Failure()
    await converter.encode_failure(exception, failure)
    return failure


async def test_a_refusal_is_readable_and_reads_as_a_sentence() -> None:
    text = MACHINE.rejection(Phase.APPEAL_WINDOW, Trigger.DECISION)
    assert text == (
        "The event 'decision' is not allowed now: the case is decided, and the appeal window is open "
        "(phase 'appeal_window'). 'decision' is accepted only once the documents are complete and the interview is settled."
    )
    failure = await convert(ApplicationError(text, type=REFUSAL_TYPE, non_retryable=True))
    assert failure.message == text
    assert not failure.HasField("encoded_attributes")
    assert failure.stack_trace == ""


async def test_other_failures_stay_encrypted() -> None:
    for exception in (ValueError("family_name: 'Jansen' is not valid"), ApplicationError("Jansen", type="Other")):
        failure = await convert(exception)
        assert failure.message == "Encoded failure"
        assert "Jansen" not in failure.SerializeToString().decode("latin-1")


async def test_a_refusal_for_now_is_readable_too() -> None:
    text = MACHINE.rejection(Phase.CHECKING_DOCUMENTS, Trigger.INTERVIEW_DECISION)
    failure = await convert(ApplicationError(text, type=BUSY_TYPE, non_retryable=True))
    assert failure.message == text
    assert not failure.HasField("encoded_attributes")
