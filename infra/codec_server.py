"""The remote codec endpoint the Temporal Web UI (and ``temporal --codec-endpoint``) calls.

Payloads in Temporal are encrypted (see ``infra/codec.py``); an operator who may read a case
opens the Web UI, which sends the encrypted payloads to this server from the operator's
browser and shows what comes back.  The key never leaves this process, and the Temporal
server never sees a decrypted payload.

Why it is shaped so:

* **Temporal's own wire format**: ``POST /decode`` and ``POST /encode`` take and return
  ``{"payloads": [...]}`` in proto-JSON (``temporalio.api.common.v1.Payloads`` through
  ``google.protobuf.json_format``), which is what the UI and the CLI send.
* **CORS for one origin only** (``HASA_CODEC_CORS_ORIGIN``, the UI's address): the browser
  calls this server cross-origin, and no other web page an operator has open may use it
  to decrypt.  A request carrying any other ``Origin`` is refused outright, not merely left
  without CORS headers, because a browser would still have sent it.  Tools that send no
  ``Origin`` (the CLI) are allowed.
* **An optional bearer token** (``HASA_CODEC_TOKEN``), compared in constant time; the
  preflight is exempt because browsers never send credentials with it.
* **It binds to 127.0.0.1 by default**: decrypted asylum data should travel no further
  than the operator's machine unless someone decides otherwise.
* **Logs say who asked for how much, never what**: path, namespace, number of payloads,
  status.  Errors name key ids, never keys or contents.
"""

from __future__ import annotations

import argparse
import hmac
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import structlog
from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from infra.client import keyring_for
from infra.codec import CodecError, EncryptionCodec, KeyRing
from infra.logconfig import configure_logging
from infra.settings import Settings

DEFAULT_CORS_ORIGIN: Final = "http://localhost:8233"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8081
ENV_CORS_ORIGIN: Final = "HASA_CODEC_CORS_ORIGIN"
ENV_TOKEN: Final = "HASA_CODEC_TOKEN"
# Temporal limits one payload to 2 MiB; a UI request can carry a whole event's payloads.
MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024
ALLOWED_HEADERS: Final = "content-type, x-namespace, authorization"
ALLOWED_METHODS: Final = "POST, OPTIONS"
PREFLIGHT_MAX_AGE_SECONDS: Final = "600"

PAYLOAD_COUNT: Final = web.RequestKey("payload_count", int)

log = structlog.get_logger("codec_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def build_app(keyring: KeyRing, cors_origin: str = DEFAULT_CORS_ORIGIN, token: str | None = None) -> web.Application:
    """The codec web application; ``token`` ``None`` or empty means no authentication."""
    codec = EncryptionCodec(keyring)
    allowed_origin = cors_origin.rstrip("/")
    expected_auth = f"Bearer {token}".encode() if token else None

    def cors_headers(origin: str | None) -> dict[str, str]:
        if origin != allowed_origin:
            return {}
        return {
            "Access-Control-Allow-Origin": allowed_origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_SECONDS,
            "Vary": "Origin",
        }

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        origin = request.headers.get("Origin")
        response: web.StreamResponse
        if origin is not None and origin != allowed_origin:
            response = _json_error(403, "origin not allowed")
        elif request.method == "OPTIONS":
            # Preflight: browsers send no Authorization here, so no token check.
            response = web.Response(status=204)
        elif expected_auth is not None and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(), expected_auth
        ):
            response = _json_error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = "Bearer"
        else:
            try:
                response = await handler(request)
            except web.HTTPException as error:
                response = _json_error(error.status, error.reason)
        response.headers.update(cors_headers(origin))
        log.info(
            "codec request",
            method=request.method,
            path=request.path,
            namespace=request.headers.get("X-Namespace"),
            status=response.status,
            payload_count=request.get(PAYLOAD_COUNT),
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return response

    async def read_payloads(request: web.Request) -> Payloads | web.Response:
        try:
            body = await request.text()
            # Unknown fields are ignored: a newer UI may send fields this SDK predates.
            payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError):
            # The parser's message can quote the body; it stays out of logs and answers.
            return _json_error(400, 'body is not {"payloads": [...]} in proto-JSON')
        request[PAYLOAD_COUNT] = len(payloads.payloads)
        return payloads

    def answer(payloads: Payloads) -> web.Response:
        # Built per payload: MessageToDict(Payloads) drops an empty list, and the UI
        # expects the key.
        return web.json_response({"payloads": [json_format.MessageToDict(p) for p in payloads.payloads]})

    async def decode(request: web.Request) -> web.Response:
        payloads = await read_payloads(request)
        if isinstance(payloads, web.Response):
            return payloads
        try:
            decoded = await codec.decode(payloads.payloads)
        except CodecError as error:
            log.warning("decode failed", error=str(error), namespace=request.headers.get("X-Namespace"))
            return _json_error(400, str(error))
        return answer(Payloads(payloads=decoded))

    async def encode(request: web.Request) -> web.Response:
        payloads = await read_payloads(request)
        if isinstance(payloads, web.Response):
            return payloads
        return answer(Payloads(payloads=await codec.encode(payloads.payloads)))

    app = web.Application(middlewares=[guard], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/decode", decode)
    app.router.add_post("/encode", encode)
    # The guard answers every preflight; these routes make aiohttp route OPTIONS to it
    # instead of answering 405 before the middleware runs its course.
    app.router.add_route("OPTIONS", "/decode", decode)
    app.router.add_route("OPTIONS", "/encode", encode)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.codec_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging("codec-server", args.log_level)
    keyring = keyring_for(Settings.from_env())
    cors_origin = os.environ.get(ENV_CORS_ORIGIN, "").strip() or DEFAULT_CORS_ORIGIN
    token = os.environ.get(ENV_TOKEN, "").strip() or None
    log.info(
        "codec server starting",
        host=args.host,
        port=args.port,
        cors_origin=cors_origin,
        key_ids=list(keyring.key_ids),
        current_key_id=keyring.current,
        token_required=token is not None,
    )
    # access_log=None: the guard logs each request once, as structured fields.
    web.run_app(build_app(keyring, cors_origin, token), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
