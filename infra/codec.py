"""AES-256-GCM payload encryption, so Temporal's history never holds asylum data in clear.

Every workflow input, activity result, signal, update and memo carries special-category
personal data (names, V-numbers, the new elements).  Temporal stores those payloads in its
database and shows them in the Web UI and the CLI; the codec encrypts them in the worker
and the starter before they leave the process, and only holders of the key (the worker,
the starter, and the codec server the UI calls) can read them back.

Why it is shaped so:

* **The whole payload is sealed**, metadata included (``Payload.SerializeToString()``): the
  original ``encoding`` (``json/plain``, ``binary/null``, ...) says nothing personal, but
  sealing it keeps the decoded payload byte-for-byte identical to the encoded one.  The
  outer payload only says ``encoding: binary/encrypted`` and which key sealed it.
* **A key ring, not a key**: histories live for years (five years and more in an asylum
  procedure), keys do not.  Encoding always uses the current key; decoding uses whichever
  key the payload names in ``encryption-key-id``, so a key can be rotated by adding a new
  current key and keeping the old one until every history that used it has been deleted.
* **The key id is authenticated** (GCM associated data): a payload cannot be relabelled to
  be decrypted with another key.
* **Unencrypted payloads are refused** (docs/decisions/0021): a client without the key
  could otherwise start a case with personal data in clear in the history, or send
  ``decision: granted``.  Decoding replaces such a payload (dropping its content) with one
  of encoding ``binary/unencrypted-refused``, which the service's payload converter turns
  into a non-retryable ``ApplicationError``: the SDK then rejects the update before its
  validator (the case unchanged) and fails a workflow started so before it runs a step.
  ``HASA_ALLOW_PLAINTEXT_PAYLOADS=1`` lets them through, only to migrate histories written
  before the codec was switched on.  The codec server passes them through: it shows the UI
  what is already in clear.
* **Errors name key ids, never keys**, and :class:`KeyRing` does not print its keys in a
  ``repr``, so a traceback in a log cannot leak a key.
* **Keys come from the environment or a key file** read at the edges (``worker.py``,
  ``starter.py``, the codec server); ``generate_key_file`` makes a development key file
  with mode 0600 for ``make run``.  Production keys come from a secret store through the
  same variables.
* Failures get their message and stack trace moved into an encoded attribute too
  (``ServiceFailureConverter``, the SDK's encoding converter): a pydantic ``ValidationError`` quotes
  the offending input, which may be a name or a V-number, and failure messages are
  otherwise stored in clear.  The one exception is an event's refusal (``domain.refusal``):
  built from event and phase names only, it stays readable so the Web UI can show it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import functools
import json
import os
import secrets
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultFailureConverterWithEncodedAttributes,
    EncodingPayloadConverter,
    PayloadCodec,
    PayloadConverter,
)
from temporalio.exceptions import ApplicationError

from domain.refusal import READABLE_TYPES

ENCODING = b"binary/encrypted"
REFUSED_ENCODING = "binary/unencrypted-refused"
UNENCRYPTED_PAYLOAD = "UnencryptedPayload"  # the ApplicationError type of a refused payload
METADATA_ENCODING = "encoding"
METADATA_KEY_ID = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per payload, never reused with a key

ENV_KEYS = "HASA_CODEC_KEYS"
ENV_CURRENT_KEY = "HASA_CODEC_CURRENT_KEY"
ENV_KEY_FILE = "HASA_CODEC_KEY_FILE"


class CodecError(Exception):
    """A payload cannot be encrypted or decrypted; the message names key ids, never keys."""


class KeyConfigError(CodecError):
    """The key ring is not configured, or configured wrongly."""


class UnknownKeyError(CodecError):
    """A payload names a key id the key ring does not hold."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload was encrypted with key id {key_id!r}, which is not in the key ring "
            f"(known ids: {', '.join(known) or 'none'}); add that key to "
            f"{ENV_KEYS} or {ENV_KEY_FILE} to read it"
        )


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """Key id -> 32-byte AES key, and the id of the key new payloads are encrypted with."""

    keys: Mapping[str, bytes] = dataclasses.field(repr=False)
    current: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigError("the key ring holds no keys")
        for key_id, key in self.keys.items():
            _check_key(key_id, key)
        if self.current not in self.keys:
            raise KeyConfigError(f"current key id {self.current!r} is not in the key ring (known ids: {', '.join(self.keys)})")
        # A private copy, so a caller mutating its dict cannot change a ring in use.
        object.__setattr__(self, "keys", dict(self.keys))

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current!r}, key_ids={list(self.keys)!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self.keys)

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyError(key_id, list(self.keys)) from None

    def with_key(self, key_id: str, key: bytes, *, current: bool = True) -> KeyRing:
        """A new ring that also holds ``key_id`` (made current unless ``current=False``)."""
        return KeyRing({**self.keys, key_id: key}, key_id if current else self.current)

    @classmethod
    def generate(cls, key_id: str = "dev") -> KeyRing:
        return cls({key_id: AESGCM.generate_key(bit_length=KEY_BYTES * 8)}, key_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> KeyRing:
        """Read ``HASA_CODEC_KEYS`` (+ ``HASA_CODEC_CURRENT_KEY``) or ``HASA_CODEC_KEY_FILE``.

        ``HASA_CODEC_KEYS`` is ``kid:base64key,kid2:base64key``; the current key defaults to
        the first.  ``HASA_CODEC_KEY_FILE`` names a JSON file
        ``{"current": "kid", "keys": {"kid": "base64key"}}``.  ``HASA_CODEC_CURRENT_KEY``,
        when set, names the current key for either form.
        """
        spec = environ.get(ENV_KEYS, "").strip()
        key_file = environ.get(ENV_KEY_FILE, "").strip()
        current = environ.get(ENV_CURRENT_KEY, "").strip() or None
        if spec and key_file:
            raise KeyConfigError(f"set {ENV_KEYS} or {ENV_KEY_FILE}, not both")
        if spec:
            return cls.parse(spec, current)
        if key_file:
            return cls.from_file(Path(key_file), current)
        raise KeyConfigError(
            f"no payload encryption key configured: set {ENV_KEYS} "
            f"('kid:base64key,...') or {ENV_KEY_FILE} (a JSON key file; "
            "`python -m infra.codec generate-key-file var/codec-keys.json` makes one for development)"
        )

    @classmethod
    def parse(cls, spec: str, current: str | None = None) -> KeyRing:
        """Parse ``kid:base64key,kid2:base64key``; the first key is current by default."""
        keys: dict[str, bytes] = {}
        for n, item in enumerate(part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            key_id = key_id.strip()
            if not sep or not key_id:
                raise KeyConfigError(f"{ENV_KEYS} entry {n + 1} is not 'kid:base64key'")
            if key_id in keys:
                raise KeyConfigError(f"key id {key_id!r} is given twice in {ENV_KEYS}")
            keys[key_id] = _decode_key(key_id, encoded.strip())
        if not keys:
            raise KeyConfigError(f"{ENV_KEYS} holds no keys")
        return cls(keys, current or next(iter(keys)))

    @classmethod
    def from_file(cls, path: Path, current: str | None = None, *, require_private: bool = True) -> KeyRing:  # noqa: C901  # one refusal per way a key file can be wrong, each named
        """Read a key file; one that its group or others can read is refused (``require_private``)."""
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyConfigError(f"key file {str(path)!r} does not exist") from None
        if require_private and mode & 0o077:
            raise KeyConfigError(
                f"key file {str(path)!r} is readable or writable by its group or others "
                f"(mode {stat.S_IMODE(mode):04o}); `chmod 600` it, and replace the keys if others may have read them"
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyConfigError(f"key file {str(path)!r} does not exist") from None
        except (OSError, ValueError) as error:
            # The error text of a JSON parse can quote file content; name only its kind.
            raise KeyConfigError(f"key file {str(path)!r} cannot be read as JSON ({type(error).__name__})") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
            raise KeyConfigError(f'key file {str(path)!r} is not {{"current": "kid", "keys": {{"kid": "base64key"}}}}')
        raw_keys: dict[str, object] = document["keys"]
        keys: dict[str, bytes] = {}
        for key_id, encoded in raw_keys.items():
            if not isinstance(encoded, str):
                raise KeyConfigError(f"key {key_id!r} in {str(path)!r} is not a base64 string")
            keys[key_id] = _decode_key(key_id, encoded)
        if not keys:
            raise KeyConfigError(f"key file {str(path)!r} holds no keys")
        file_current = document.get("current")
        if current is None:
            if file_current is None:
                current = next(iter(keys))
            elif isinstance(file_current, str):
                current = file_current
            else:
                raise KeyConfigError(f"'current' in {str(path)!r} is not a key id")
        return cls(keys, current)


def _check_key(key_id: str, key: bytes) -> None:
    if not key_id or key_id != key_id.strip() or any(c in key_id for c in ",:"):
        raise KeyConfigError(f"key id {key_id!r} must be non-empty, without spaces, ',' or ':'")
    if len(key) != KEY_BYTES:
        raise KeyConfigError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}")


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"key {key_id!r} is not valid base64") from None
    _check_key(key_id, key)
    return key


class EncryptionCodec(PayloadCodec):
    """Seals each payload with AES-256-GCM under the key ring's current key.

    A payload that arrives unencrypted is refused (see the module text) unless
    ``allow_plaintext``.
    """

    def __init__(self, keyring: KeyRing, *, allow_plaintext: bool = False) -> None:
        self._keyring = keyring
        self._allow_plaintext = allow_plaintext
        # AESGCM objects are cheap but not free; one per key, made once.
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._keyring.current
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode("utf-8"))
        return Payload(
            metadata={
                METADATA_ENCODING: ENCODING,
                METADATA_KEY_ID: key_id.encode("utf-8"),
            },
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get(METADATA_ENCODING) != ENCODING:
            if self._allow_plaintext:
                return payload
            # The clear content goes no further than this line: not into a log, not into an error.
            return Payload(metadata={METADATA_ENCODING: REFUSED_ENCODING.encode()})
        raw_id = payload.metadata.get(METADATA_KEY_ID)
        if raw_id is None:
            raise CodecError(f"encrypted payload carries no {METADATA_KEY_ID!r} metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(key_id, self._keyring.key_ids)
        if len(payload.data) < NONCE_BYTES + 16:
            raise CodecError(f"encrypted payload under key id {key_id!r} is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, raw_id)
        except InvalidTag:
            raise CodecError(
                f"payload under key id {key_id!r} failed authentication: it was altered, "
                "or the key under that id is not the key it was encrypted with"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


class RefusedPayloadConverter(EncodingPayloadConverter):
    """Turns a payload the codec refused (it came unencrypted) into a clear, non-retryable error."""

    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING

    def to_payload(self, value: object) -> Payload | None:
        return None  # never produces one

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> object:
        raise ApplicationError(
            "an unencrypted payload was refused: this service accepts only payloads encrypted with its key "
            "(use starter.py or a client with the codec; HASA_ALLOW_PLAINTEXT_PAYLOADS=1 only to migrate old histories)",
            type=UNENCRYPTED_PAYLOAD,
            non_retryable=True,
        )


_TYPE_ADAPTERS: functools._lru_cache_wrapper[TypeAdapter[Any]] = functools.lru_cache(maxsize=1024)(TypeAdapter)


class SharedJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    """The SDK's pydantic JSON converter on the process's one TypeAdapter cache (also in a copy)."""

    def __init__(self) -> None:
        super().__init__()
        self._type_adapter = _TYPE_ADAPTERS

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._type_adapter = _TYPE_ADAPTERS


# One set of converters for the whole process.  The SDK builds a payload converter for every
# workflow run; the stock pydantic one then built a JSON converter, and with it a cache of
# TypeAdapters, per run: each cached run kept a TypeAdapter for its input and for each result
# type it decoded (about 13 KB per parked case, decision 0055).  The converters hold no
# state of a run: a TypeAdapter is immutable once built, and the types it is keyed on are
# the passed-through ``domain`` models, the same objects in every run.
_CONVERTERS: tuple[EncodingPayloadConverter, ...] = (
    *(
        SharedJSONPayloadConverter() if isinstance(c, PydanticJSONPlainPayloadConverter) else c
        for c in PydanticPayloadConverter().converters.values()
    ),
    RefusedPayloadConverter(),
)


class ServicePayloadConverter(PydanticPayloadConverter):
    """The pydantic payload converter on the process's one set of converters, plus the
    refusal of unencrypted payloads."""

    def __init__(self) -> None:
        CompositePayloadConverter.__init__(self, *_CONVERTERS)


def data_converter(keyring: KeyRing | None, *, allow_plaintext: bool = False) -> DataConverter:
    """The pydantic data converter, encrypting payloads and failure messages with ``keyring``.

    Unencrypted payloads are refused unless ``allow_plaintext``.  ``None`` gives the plain
    pydantic converter: only tests of the codec itself need that.
    """
    if keyring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=ServicePayloadConverter,
        payload_codec=EncryptionCodec(keyring, allow_plaintext=allow_plaintext),
        failure_converter_class=ServiceFailureConverter,
    )


class ServiceFailureConverter(DefaultFailureConverterWithEncodedAttributes):
    """Encrypts failure messages and stack traces, except an event's refusal (``domain.refusal``).

    A refusal is built from event, phase and status names only, so the Web UI's update
    dialog can show why an event was refused; its stack trace is dropped (it says nothing
    to an operator).
    """

    _clear = DefaultFailureConverter()  # the SDK's converter without encoded attributes

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
        if isinstance(exception, ApplicationError) and exception.type in READABLE_TYPES:
            self._clear.to_failure(exception, payload_converter, failure)
            failure.stack_trace = ""
            return
        super().to_failure(exception, payload_converter, failure)


def generate_key_file(path: str | os.PathLike[str], key_id: str | None = None) -> Path:
    """Write a new development key file (mode 0600) at ``path`` unless one exists there.

    Idempotent: an existing file is never overwritten, since that would make every history
    encrypted with it unreadable.  The key id is random unless given, so payloads from two
    developers' key files fail with "unknown key id" instead of an authentication error.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    key_id = key_id or f"dev-{secrets.token_hex(4)}"
    ring = KeyRing.generate(key_id)
    document = {
        "current": key_id,
        "keys": {key_id: base64.b64encode(ring.key(key_id)).decode("ascii")},
    }
    try:
        # O_EXCL: atomic create-if-absent, and the key is never readable by others,
        # not even for the moment between creating and chmod-ing the file.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return target
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump(document, handle, indent=2)
        handle.write("\n")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.codec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate-key-file", help="write a development key file (mode 0600) if absent")
    generate.add_argument("path", type=Path)
    generate.add_argument("--key-id", default=None)
    commands.add_parser("new-key", help="print a new base64 key for HASA_CODEC_KEYS")
    args = parser.parse_args(argv)
    if args.command == "generate-key-file":
        result = str(generate_key_file(args.path, args.key_id))
    else:
        result = base64.b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8)).decode("ascii")
    # Machine-readable result on stdout, for the Makefile or a secret store.
    sys.stdout.write(result + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
