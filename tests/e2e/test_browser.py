"""In a real browser: the Web UI reads a case in clear through the codec server, and not without it.

The dev server (with its Web UI), the codec server and the worker run as in ``make run``;
headless Chromium (Debian's package, driven by Playwright) works the UI as an operator
would, following ``docs/operators.md``: a list query on ``ApplicationStep`` typed into the
query box, the case opened from the list, its input read, an event sent with "Send an
Update", the current details read, and the list filtered again on the new step.  Payloads
reach the browser encrypted and the UI has the codec server decode them (and encode the
event it sends), so the applicant's data reads in clear; with the codec server stopped, a
fresh browser sees only ciphertext.  The list queries the guide gives for saved views are
run against the same server, so a renamed attribute or a typo in the guide fails here.

Screenshots land in ``var/screenshots/`` (CI keeps ``var/`` as artifacts); the README shows
the decoded case, copied from there to ``docs/screenshots/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from infra.devstack import BIN, DevStack, free_port, make_example_documents
from tests.conftest import EXAMPLE, ROOT
from tests.e2e.browser import CHROMIUM_ARGS, BrowserUnavailable, ensure_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

SCREENSHOTS = ROOT / "var" / "screenshots"
OPERATORS_GUIDE = ROOT / "docs" / "operators.md"
UI_TIMEOUT_MS = 30_000
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}

# Invented, distinctive personal data: easy to spot on screen, impossible to confuse.
FAMILY_NAME = "Zyxwvutsonian"
GIVEN_NAMES = "Qwertyna"
V_NUMBER = "5550001234"
CASE = "HASA-2026-700001"  # the case the operator works on
OTHER = "HASA-2026-700002"  # stays at the interview step; the second filter must leave it out
# What the UI shows of a payload it cannot decode: base64 of the codec's "binary/encrypted".
ENCRYPTED_MARKER = "YmluYXJ5L2VuY3J5cHRlZA=="
INTERVIEW_REASON = "the file and the documents suffice"
INTERVIEW_DECISION = {"needed": False, "reason": INTERVIEW_REASON}
REFUSED_DECISION = {"outcome": "granted", "grounds": "too early", "decided_by": "officer-1"}


@pytest.fixture(scope="module")
def chromium() -> Path:
    try:
        return ensure_chromium()
    except BrowserUnavailable as reason:
        pytest.skip(f"no headless Chromium for the browser test: {reason}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    data = tmp_path_factory.mktemp("browser")
    dev = DevStack(
        data_dir=data,
        frontend_port=free_port(),
        ui_port=free_port(),
        codec_port=free_port(),
        with_ui=True,
        logs=data / "logs",
    )
    with dev.running():
        yield dev


def application(app_id: str, family_name: str, given_names: str, v_number: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(EXAMPLE.read_text())
    raw["application_id"] = app_id
    raw["applicant"].update(family_name=family_name, given_names=given_names, v_number=v_number, bsn=None)
    return raw


def phase(stack: DevStack, app_id: str) -> str | None:
    result = stack.starter("status", app_id)
    return json.loads(result.stdout)["phase"] if result.returncode == 0 else None


def listed_at_step(stack: DevStack, step: str) -> set[str]:
    result = stack.starter("list", "--step", step)
    return {json.loads(line)["application_id"] for line in result.stdout.splitlines() if line.strip()}


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def cases(stack: DevStack) -> None:
    """Two cases waiting for the interview decision (step 5)."""
    documents = make_example_documents(stack.data_dir / "example-documents")
    batch = "\n".join(
        json.dumps(a)
        for a in (
            application(CASE, FAMILY_NAME, GIVEN_NAMES, V_NUMBER),
            application(OTHER, "Otherperson", "Nobody", "5550009999"),
        )
    )
    submitted = stack.starter("submit", "-", "--documents", str(documents), stdin=batch)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    # Visibility is eventually consistent: wait until a list query sees both at the step.
    wait_until("both cases listed at step interview", lambda: {CASE, OTHER} <= listed_at_step(stack, "interview"))


def shoot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.mouse.move(0, 0)  # no hover tooltips in the picture
    page.screenshot(path=str(path), full_page=True)
    return path


def list_query(page: Page, query: str) -> None:
    """Type a list query into the workflows list's query box, as docs/operators.md says."""
    page.get_by_test_id("toggle-manual-query").click()
    box = page.get_by_test_id("workflow-manual-search-input")
    box.fill(query)
    box.press("Enter")


def send_update(page: Page, name: str, body: dict[str, Any], shot: str = "03-send-an-update.png") -> None:
    """More Actions -> Send an Update, as docs/operators.md says."""
    page.get_by_role("button", name="More Actions").click()
    page.get_by_role("menuitem", name="Send an Update").click()
    page.get_by_test_id("update-select-button").filter(visible=True).first.click()
    page.get_by_role("option", name=name, exact=True).filter(visible=True).first.click()
    page.get_by_role("textbox", name="Data").filter(visible=True).first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(body))
    # Leaving the editor reformats the JSON and moves the buttons; a click that starts
    # while the layout shifts is lost, so blur first.
    page.get_by_test_id("update-id").filter(visible=True).first.click()
    shoot(page, shot)
    page.get_by_test_id("confirm-modal-button").filter(visible=True).first.click()


def test_an_operator_reads_and_moves_a_case_in_the_web_ui_through_the_codec_server(  # noqa: PLR0915  # one scripted walk through the Web UI, step by step
    stack: DevStack, chromium: Path, cases: None
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # the UI polls; a codec failure shows after a few seconds
    workflows = f"http://localhost:{stack.ui_port}/namespaces/default/workflows"
    case_url = f"{workflows}/application-{CASE}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
        page: Page | None = None
        try:
            # --- an operator with the codec server ------------------------------------------
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(workflows)
            list_query(page, 'ApplicationStep="interview"')
            expect(page).to_have_url(re.compile(r"query=ApplicationStep"))
            case_link = page.get_by_role("link", name=f"application-{CASE}")
            expect(case_link).to_be_visible()
            expect(page.get_by_role("link", name=f"application-{OTHER}")).to_be_visible()
            shoot(page, "01-workflows-at-step-interview.png")

            case_link.click()
            page.wait_for_url(re.compile(re.escape(case_url) + r"/"))  # the UI adds run id and tab
            expect(page.get_by_text(FAMILY_NAME).first).to_be_visible()
            expect(page.get_by_text(GIVEN_NAMES).first).to_be_visible()
            expect(page.get_by_text(V_NUMBER).first).to_be_visible()
            expect(page.get_by_test_id("data-encoder-status-success")).to_be_visible()
            shoot(page, "02-case-decoded-through-codec.png")

            # An event the case cannot take now: the dialog shows why, in words (issue 12).
            send_update(page, "decision", REFUSED_DECISION, shot="03a-refused-event-sent.png")
            expect(page.get_by_text("is not allowed now").filter(visible=True).first).to_be_visible()
            expect(page.get_by_text("waiting for the decision whether to interview").filter(visible=True).first).to_be_visible()
            expect(page.get_by_text("Encoded failure")).to_have_count(0)
            shoot(page, "03b-refused-event-reason.png")
            page.get_by_test_id("cancel-modal-button").filter(visible=True).first.click()
            assert phase(stack, CASE) == "awaiting_interview_decision"

            send_update(page, "interview-decision", INTERVIEW_DECISION)
            expect(page.get_by_role("textbox", name="Data").filter(visible=True)).to_have_count(0)  # dialog closed
            wait_until("the case to take the UI's event", lambda: phase(stack, CASE) == "awaiting_decision")

            # Current details (Markdown, rendered in a sandboxed frame): step and deadlines only.
            page.reload()
            page.get_by_text("User Metadata", exact=True).click()
            details = page.frame_locator("iframe").last
            expect(details.get_by_text("Step 6 of 7")).to_be_visible()
            # Plain labels, one deadline per line in Dutch time, what the case accepts now.
            expect(details.get_by_text("Accepts now:")).to_be_visible()
            expect(details.get_by_text("Decision due:").first).to_be_visible()
            expect(details.get_by_text("decide_by")).to_have_count(0)
            shoot(page, "04-case-current-details.png")

            wait_until("the case listed at step decision", lambda: CASE in listed_at_step(stack, "decision"))
            page.goto(workflows)
            list_query(page, 'ApplicationStep="decision"')
            expect(page.get_by_role("link", name=f"application-{CASE}")).to_be_visible()
            expect(page.get_by_role("link", name=f"application-{OTHER}")).to_have_count(0)
            shoot(page, "05-workflows-at-step-decision.png")
            context.close()

            # --- the same case without the codec server -------------------------------------
            stack.stop_process("codec-server")
            context = browser.new_context(viewport=VIEWPORT)  # nothing cached from above
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(case_url)
            expect(page.get_by_text("Codec Server could not connect").filter(visible=True).first).to_be_visible()
            expect(page.get_by_text(ENCRYPTED_MARKER).first).to_be_visible()
            shoot(page, "06-case-without-codec.png")
            html = page.content()
            for secret in (FAMILY_NAME, GIVEN_NAMES, V_NUMBER):
                assert secret not in html, f"{secret!r} is readable in the UI without the codec server"
            context.close()
        except BaseException:
            if page is not None and not page.is_closed():
                shoot(page, "99-failure.png")
            raise
        finally:
            browser.close()

    # The UI decoded the case and encoded the event through the codec server, which logged
    # what it did (path, namespace, count), never the contents.
    codec_log = (stack.data_dir / "logs" / "codec-server.log").read_text()
    requests = [json.loads(line) for line in codec_log.splitlines() if '"codec request"' in line]
    for path in ("/decode", "/encode"):
        assert any(r["path"] == path and r["status"] == 200 and r["namespace"] == "default" for r in requests), path
    for secret in (FAMILY_NAME, GIVEN_NAMES, V_NUMBER, INTERVIEW_REASON):
        assert secret not in codec_log


def test_the_list_queries_of_the_operators_guide_run(stack: DevStack) -> None:
    queries = re.findall(r"```sql\n(.*?)\n```", OPERATORS_GUIDE.read_text(), flags=re.DOTALL)
    assert len(queries) >= 6, "the guide's everyday views are fenced as ```sql blocks"
    for query in queries:
        listed = subprocess.run(
            [str(BIN / "temporal"), "workflow", "list", "--query", query, "--address", stack.address, "--namespace", "default"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, f"{query}\n{listed.stderr}"
