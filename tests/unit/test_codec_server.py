"""The codec server, as the Temporal Web UI calls it from an operator's browser.

Issue 8 defect 2 (safe by default): a request without the UI's ``Origin`` and without the
token is refused, ``/encode`` is off unless enabled, a non-loopback address needs a token,
and error replies neither echo input nor name key ids.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from infra.codec import EncryptionCodec, KeyRing
from infra.codec_server import build_app, check_binding, is_loopback

UI_ORIGIN = "http://localhost:8233"
FROM_UI = {"Origin": UI_ORIGIN}
TOKEN = "s3cret-token"
V_NUMBER = "1234567890"

MakeClient = Callable[..., Coroutine[Any, Any, TestClient[Any, Any]]]


def plain_payload() -> Payload:
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=f'{{"v_number": "{V_NUMBER}", "family_name": "Haddad"}}'.encode(),
    )


def as_json(*payloads: Payload) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def from_json(body: dict[str, Any]) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in body["payloads"]]


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate("k1")


@pytest.fixture
async def make_client(ring: KeyRing) -> AsyncIterator[MakeClient]:
    clients: list[TestClient[Any, Any]] = []

    async def make(
        token: str | None = None, cors_origin: str = UI_ORIGIN, allow_encode: bool = True, origin_suffices: bool = True
    ) -> TestClient[Any, Any]:
        app = build_app(ring, cors_origin, token, allow_encode=allow_encode, origin_suffices=origin_suffices)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_encode_then_decode_round_trip(make_client: MakeClient) -> None:
    client = await make_client()

    encoded = await client.post("/encode", json=as_json(plain_payload()), headers=FROM_UI)
    assert encoded.status == 200
    encoded_body = await encoded.json()
    [sealed] = from_json(encoded_body)
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert V_NUMBER.encode() not in sealed.data

    decoded = await client.post("/decode", json=encoded_body, headers={"X-Namespace": "default", **FROM_UI})
    assert decoded.status == 200
    assert from_json(await decoded.json()) == [plain_payload()]


async def test_decodes_what_the_worker_encoded(make_client: MakeClient, ring: KeyRing) -> None:
    client = await make_client()
    sealed = await EncryptionCodec(ring).encode([plain_payload(), Payload(metadata={"encoding": b"binary/null"})])

    response = await client.post("/decode", json=as_json(*sealed), headers=FROM_UI)

    assert response.status == 200
    assert from_json(await response.json()) == [plain_payload(), Payload(metadata={"encoding": b"binary/null"})]


async def test_wire_format_is_temporal_proto_json(make_client: MakeClient, ring: KeyRing) -> None:
    client = await make_client()
    [sealed] = await EncryptionCodec(ring).encode([plain_payload()])
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }

    response = await client.post("/decode", json=body, headers=FROM_UI)

    [payload] = (await response.json())["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert V_NUMBER in base64.b64decode(payload["data"]).decode()


async def test_an_empty_list_comes_back_as_an_empty_list(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/decode", json={"payloads": []}, headers=FROM_UI)
    assert await response.json() == {"payloads": []}


async def test_cors_preflight_for_the_ui_origin(make_client: MakeClient) -> None:
    client = await make_client(token=TOKEN)

    response = await client.options(
        "/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )

    assert response.status in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].lower().split(",")}
    assert {"content-type", "x-namespace", "authorization"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_no_cors_for_another_origin(make_client: MakeClient) -> None:
    client = await make_client()
    evil = "https://evil.example"

    preflight = await client.options("/decode", headers={"Origin": evil, "Access-Control-Request-Method": "POST"})
    post = await client.post("/decode", json={"payloads": []}, headers={"Origin": evil})

    for response in (preflight, post):
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_ui_responses_carry_cors_headers(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == UI_ORIGIN


async def test_configured_origin_is_the_one_allowed(make_client: MakeClient) -> None:
    client = await make_client(cors_origin="https://temporal.ind.example")
    allowed = await client.options("/encode", headers={"Origin": "https://temporal.ind.example"})
    default = await client.options("/encode", headers={"Origin": UI_ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://temporal.ind.example"
    assert default.status == 403


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", TOKEN, f"Basic {TOKEN}"])
async def test_401_without_the_bearer_token(make_client: MakeClient, authorization: str | None) -> None:
    """Off loopback the token is required of every request, the UI's included."""
    client = await make_client(token=TOKEN, origin_suffices=False)
    headers = {"Origin": UI_ORIGIN} if authorization is None else {"Origin": UI_ORIGIN, "Authorization": authorization}

    for path in ("/decode", "/encode"):
        response = await client.post(path, json={"payloads": []}, headers=headers)
        assert response.status == 401
        # The UI must be able to read the 401, so it carries CORS headers too.
        assert response.headers["Access-Control-Allow-Origin"] == UI_ORIGIN


async def test_the_bearer_token_lets_a_request_through(make_client: MakeClient) -> None:
    client = await make_client(token=TOKEN)
    response = await client.post("/encode", json=as_json(plain_payload()), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200


async def test_without_a_configured_token_the_ui_origin_is_enough(make_client: MakeClient) -> None:
    client = await make_client(token=None)
    response = await client.post("/decode", json={"payloads": []}, headers=FROM_UI)
    assert response.status == 200


async def test_neither_origin_nor_token_is_refused(make_client: MakeClient, ring: KeyRing) -> None:
    """Before: any local process (or a page it served) that could reach the port got plaintext."""
    client = await make_client(token=None)
    [sealed] = await EncryptionCodec(ring).encode([plain_payload()])
    response = await client.post("/decode", json=as_json(sealed))
    assert response.status == 403
    assert V_NUMBER not in await response.text()
    preflight = await client.options("/decode", headers={"Access-Control-Request-Method": "POST"})
    assert preflight.status == 403


@pytest.mark.parametrize("authorization", ["Bearer wrong", TOKEN])
async def test_on_loopback_the_ui_origin_suffices_but_a_wrong_token_does_not(make_client: MakeClient, authorization: str) -> None:
    client = await make_client(token=TOKEN)
    assert (await client.post("/decode", json={"payloads": []}, headers=FROM_UI)).status == 200
    wrong = await client.post("/decode", json={"payloads": []}, headers={**FROM_UI, "Authorization": authorization})
    assert wrong.status == 401


async def test_a_token_alone_lets_a_tool_decode(make_client: MakeClient) -> None:
    client = await make_client(token=TOKEN)
    response = await client.post("/decode", json={"payloads": []}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200


async def test_encode_is_off_unless_enabled(make_client: MakeClient) -> None:
    """Before: /encode sealed anything, so a caller could forge payloads the worker trusts."""
    client = await make_client(allow_encode=False)
    for method in ("POST", "OPTIONS"):
        response = await client.request(method, "/encode", json=as_json(plain_payload()), headers=FROM_UI)
        assert response.status in (403, 404, 405), method
        assert response.status != 200
    response = await client.post("/encode", json=as_json(plain_payload()), headers=FROM_UI)
    assert response.status == 404


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)])
def test_only_loopback_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        check_binding(host, None)
    else:
        with pytest.raises(SystemExit, match="without a token"):
            check_binding(host, None)
    check_binding(host, TOKEN)
    check_binding(host, None, private_network=True)


def test_the_server_refuses_to_start_on_a_public_address_without_a_token(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("HASA_")}
    env["HASA_CODEC_KEYS"] = f"k:{base64.b64encode(bytes(32)).decode()}"
    result = subprocess.run(
        [sys.executable, "-m", "infra.codec_server", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "without a token" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_malformed_body_is_400_without_echoing_it(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/decode", data=f"not json {V_NUMBER}", headers={"Content-Type": "application/json", **FROM_UI})
    assert response.status == 400
    assert V_NUMBER not in await response.text()


async def test_an_unknown_key_is_a_400_naming_no_key_id(make_client: MakeClient) -> None:
    """Before: the reply named the payload's key id and listed the ids the server holds."""
    client = await make_client()
    [sealed] = await EncryptionCodec(KeyRing.generate("retired-2019")).encode([plain_payload()])

    with structlog.testing.capture_logs() as logs:
        response = await client.post("/decode", json=as_json(sealed), headers=FROM_UI)

    assert response.status == 400
    error = (await response.json())["error"]
    assert error == "payload 0 cannot be decrypted: its key is not in this server's key ring"
    assert "k1" not in error
    assert "retired-2019" not in error
    # The operator's log names the payload's key id, not the ring.
    [failure] = [e for e in logs if e["event"] == "decode failed"]
    assert failure["payload_key_id"] == "retired-2019"
    assert "k1" not in repr(failure)


async def test_a_tampered_payload_is_a_400_without_echoing_it(make_client: MakeClient, ring: KeyRing) -> None:
    client = await make_client()
    [sealed] = await EncryptionCodec(ring).encode([plain_payload()])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    response = await client.post("/decode", json=as_json(sealed), headers=FROM_UI)
    assert response.status == 400
    assert (await response.json())["error"] == "payload 0 cannot be decrypted: it is damaged or under another key"


async def test_logs_never_hold_payload_contents(make_client: MakeClient) -> None:
    client = await make_client()
    with structlog.testing.capture_logs() as logs:
        encoded = await client.post("/encode", json=as_json(plain_payload()), headers={"X-Namespace": "default", **FROM_UI})
        await client.post("/decode", json=await encoded.json(), headers=FROM_UI)

    requests = [e for e in logs if e["event"] == "codec request"]
    assert [(e["path"], e["status"], e["payload_count"]) for e in requests] == [("/encode", 200, 1), ("/decode", 200, 1)]
    assert requests[0]["namespace"] == "default"
    text = repr(logs)
    assert V_NUMBER not in text
    assert "Haddad" not in text
    assert base64.b64encode(plain_payload().data).decode()[:16] not in text


async def test_a_refused_origin_is_logged_without_the_payload(make_client: MakeClient) -> None:
    """So "Codec Server could not connect" in the Web UI can be traced to a wrong origin (issue 12)."""
    client = await make_client()
    with structlog.testing.capture_logs() as logs:
        response = await client.post(
            "/decode", json={"payloads": [{"data": "c2VjcmV0"}]}, headers={"Origin": "http://127.0.0.1:8233"}
        )
    assert response.status == 403
    [refused] = [e for e in logs if e["event"] == "codec request refused: origin not allowed"]
    assert refused["origin"] == "http://127.0.0.1:8233"
    assert refused["allowed_origin"] == UI_ORIGIN
    assert "c2VjcmV0" not in repr(logs)
