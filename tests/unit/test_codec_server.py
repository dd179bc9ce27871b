"""The codec server, as the Temporal Web UI calls it from an operator's browser."""

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
from infra.codec_server import build_app

UI_ORIGIN = "http://localhost:8233"
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

    async def make(token: str | None = None, cors_origin: str = UI_ORIGIN) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(TestServer(build_app(ring, cors_origin, token)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_encode_then_decode_round_trip(make_client: MakeClient) -> None:
    client = await make_client()

    encoded = await client.post("/encode", json=as_json(plain_payload()))
    assert encoded.status == 200
    encoded_body = await encoded.json()
    [sealed] = from_json(encoded_body)
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert V_NUMBER.encode() not in sealed.data

    decoded = await client.post("/decode", json=encoded_body, headers={"X-Namespace": "default"})
    assert decoded.status == 200
    assert from_json(await decoded.json()) == [plain_payload()]


async def test_decodes_what_the_worker_encoded(make_client: MakeClient, ring: KeyRing) -> None:
    client = await make_client()
    sealed = await EncryptionCodec(ring).encode([plain_payload(), Payload(metadata={"encoding": b"binary/null"})])

    response = await client.post("/decode", json=as_json(*sealed))

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

    response = await client.post("/decode", json=body)

    [payload] = (await response.json())["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert V_NUMBER in base64.b64decode(payload["data"]).decode()


async def test_an_empty_list_comes_back_as_an_empty_list(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/decode", json={"payloads": []})
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
    client = await make_client(token=TOKEN)
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


async def test_without_a_configured_token_none_is_needed(make_client: MakeClient) -> None:
    client = await make_client(token=None)
    response = await client.post("/decode", json={"payloads": []})
    assert response.status == 200


async def test_a_malformed_body_is_400_without_echoing_it(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/decode", data=f"not json {V_NUMBER}", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert V_NUMBER not in await response.text()


async def test_an_unknown_key_id_is_a_400_naming_the_id(make_client: MakeClient) -> None:
    client = await make_client()
    [sealed] = await EncryptionCodec(KeyRing.generate("retired-2019")).encode([plain_payload()])

    response = await client.post("/decode", json=as_json(sealed))

    assert response.status == 400
    assert "retired-2019" in (await response.json())["error"]


async def test_logs_never_hold_payload_contents(make_client: MakeClient) -> None:
    client = await make_client()
    with structlog.testing.capture_logs() as logs:
        encoded = await client.post("/encode", json=as_json(plain_payload()), headers={"X-Namespace": "default"})
        await client.post("/decode", json=await encoded.json())

    requests = [e for e in logs if e["event"] == "codec request"]
    assert [(e["path"], e["status"], e["payload_count"]) for e in requests] == [("/encode", 200, 1), ("/decode", 200, 1)]
    assert requests[0]["namespace"] == "default"
    text = repr(logs)
    assert V_NUMBER not in text
    assert "Haddad" not in text
    assert base64.b64encode(plain_payload().data).decode()[:16] not in text
