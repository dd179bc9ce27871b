"""The remote codec endpoint the Temporal Web UI (and ``temporal --codec-endpoint``) calls.

Payloads in Temporal are encrypted (see ``infra/codec.py``); an operator who may read a case
opens the Web UI, which sends the encrypted payloads to this server from the operator's
browser and shows what comes back.  The key never leaves this process, and the Temporal
server never sees a decrypted payload.

Why it is shaped so:

* **Temporal's own wire format**: ``POST /decode`` and ``POST /encode`` take and return
  ``{"payloads": [...]}`` in proto-JSON (``temporalio.api.common.v1.Payloads`` through
  ``google.protobuf.json_format``), which is what the UI and the CLI send.
* **Safe by default** (docs/decisions/0020): every request must carry the allowed
  ``Origin`` (``HASA_CODEC_CORS_ORIGIN``, the Web UI's address) or the bearer token
  (``HASA_CODEC_TOKEN``, compared in constant time); a request with neither is refused,
  and so is one with any other ``Origin`` (refused outright, not merely left without CORS
  headers, because a browser would still have sent it).  The ``Origin`` alone suffices
  only on loopback; on another address the token is required of every request.  The
  preflight is exempt because browsers never send credentials with it.
* **Loopback only without a token**: the server binds to 127.0.0.1 by default and refuses
  to start on any other address unless a token is configured, so decrypted asylum data
  travels no further than the operator's machine unless someone decides otherwise.  In a
  container whose port is published on the host's loopback only, the deployment says so
  with ``HASA_CODEC_PRIVATE_NETWORK=1`` (the address is then treated like loopback).
* **Decode only**: ``POST /encode`` (which would let a caller forge payloads the worker
  trusts) answers 404 unless ``--enable-encode`` / ``HASA_CODEC_ENABLE_ENCODE=1``.
* **Replies and logs say how much, never what**: path, namespace, number of payloads,
  status.  An error reply never echoes input and never names key ids (the log names the
  payload's key id, for the operator who holds the key ring).
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import structlog
from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from infra.client import keyring_for
from infra.codec import CodecError, EncryptionCodec, KeyRing, UnknownKeyError
from infra.logconfig import configure_logging
from infra.settings import Settings

DEFAULT_CORS_ORIGIN: Final = "http://localhost:8233"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8081
ENV_CORS_ORIGIN: Final = "HASA_CODEC_CORS_ORIGIN"
ENV_TOKEN: Final = "HASA_CODEC_TOKEN"
ENV_ENABLE_ENCODE: Final = "HASA_CODEC_ENABLE_ENCODE"
# The listening address is reachable only from a private network (a container whose port is
# published on the host's loopback): treat it like loopback.
ENV_PRIVATE_NETWORK: Final = "HASA_CODEC_PRIVATE_NETWORK"
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None, *, private_network: bool = False) -> None:
    """Refuse to serve decrypted data beyond this machine without a token."""
    if not token and not is_loopback(host) and not private_network:
        raise SystemExit(
            f"codec server: refusing to listen on {host!r} without a token: set {ENV_TOKEN}, or listen on "
            f"127.0.0.1, or (a container published on the host's loopback only) set {ENV_PRIVATE_NETWORK}=1"
        )


def build_app(  # noqa: C901, PLR0915  # the app factory: its routes are closures over the key ring and the settings
    keyring: KeyRing,
    cors_origin: str = DEFAULT_CORS_ORIGIN,
    token: str | None = None,
    *,
    allow_encode: bool = False,
    origin_suffices: bool = True,
) -> web.Application:
    """The codec web application.

    A request needs the token (when ``token`` is set) or the allowed ``Origin``; the
    ``Origin`` alone suffices only with ``origin_suffices`` (the server listens on loopback
    only: a forged header cannot come from another machine).  ``/encode`` exists only with
    ``allow_encode``.
    """
    # The UI may show payloads that are already in clear (old histories): pass them through.
    codec = EncryptionCodec(keyring, allow_plaintext=True)
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
        authorization = request.headers.get("Authorization")
        token_ok = expected_auth is not None and hmac.compare_digest((authorization or "").encode(), expected_auth)
        response: web.StreamResponse
        if origin is not None and origin != allowed_origin:
            response = _json_error(403, "origin not allowed")
            # The origin (an address, never a payload) makes "Codec Server could not connect" traceable.
            log.warning("codec request refused: origin not allowed", origin=origin[:200], allowed_origin=allowed_origin)
        elif request.match_info.http_exception is not None:
            response = _json_error(request.match_info.http_exception.status, "no such endpoint")
        elif request.method == "OPTIONS":
            # Preflight: browsers send no Authorization here, so no token check; but a
            # browser always sends the Origin.
            response = web.Response(status=204) if origin is not None else _json_error(403, "origin required")
        elif token_ok or (origin_suffices and origin is not None and authorization is None):
            try:
                response = await handler(request)
            except web.HTTPException as error:
                response = _json_error(error.status, error.reason)
        elif expected_auth is not None:
            response = _json_error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = "Bearer"
        else:
            response = _json_error(403, "requests come from the Web UI's origin, or carry the token")
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
        decoded = []
        for index, payload in enumerate(payloads.payloads):
            try:
                decoded.append(codec.decrypt(payload))
            except CodecError as error:
                # The reply names the position and the kind only: no input, no key ids.
                key_id = error.key_id if isinstance(error, UnknownKeyError) else None
                reason = "its key is not in this server's key ring" if key_id else "it is damaged or under another key"
                log.warning(
                    "decode failed",
                    kind=type(error).__name__,
                    payload_key_id=key_id,
                    namespace=request.headers.get("X-Namespace"),
                )
                return _json_error(400, f"payload {index} cannot be decrypted: {reason}")
        return answer(Payloads(payloads=decoded))

    async def encode(request: web.Request) -> web.Response:
        payloads = await read_payloads(request)
        if isinstance(payloads, web.Response):
            return payloads
        return answer(Payloads(payloads=await codec.encode(payloads.payloads)))

    app = web.Application(middlewares=[guard], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/decode", decode)
    # The guard answers every preflight; this route makes aiohttp route OPTIONS to it
    # instead of answering 405 before the middleware runs its course.
    app.router.add_route("OPTIONS", "/decode", decode)
    if allow_encode:
        app.router.add_post("/encode", encode)
        app.router.add_route("OPTIONS", "/encode", encode)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.codec_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--enable-encode",
        action="store_true",
        default=os.environ.get(ENV_ENABLE_ENCODE, "").strip() == "1",
        help=f"also serve POST /encode (off by default; or {ENV_ENABLE_ENCODE}=1)",
    )
    args = parser.parse_args(argv)
    configure_logging("codec-server", args.log_level)
    token = os.environ.get(ENV_TOKEN, "").strip() or None
    private_network = os.environ.get(ENV_PRIVATE_NETWORK, "").strip() == "1"
    try:
        check_binding(args.host, token, private_network=private_network)
    except SystemExit as refusal:
        sys.stderr.write(f"{refusal}\n")
        raise SystemExit(2) from None
    keyring = keyring_for(Settings.from_env())
    cors_origin = os.environ.get(ENV_CORS_ORIGIN, "").strip() or DEFAULT_CORS_ORIGIN
    log.info(
        "codec server starting",
        host=args.host,
        port=args.port,
        cors_origin=cors_origin,
        key_ids=list(keyring.key_ids),
        current_key_id=keyring.current,
        token_required=token is not None,
        encode_enabled=args.enable_encode,
        private_network=private_network,
    )
    app = build_app(
        keyring, cors_origin, token, allow_encode=args.enable_encode, origin_suffices=is_loopback(args.host) or private_network
    )
    # access_log=None: the guard logs each request once, as structured fields.
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
