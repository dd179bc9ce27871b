"""The payload codec: what Temporal stores is unreadable without the key ring."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from domain.models import Applicant
from infra.codec import (
    ENCODING,
    METADATA_KEY_ID,
    CodecError,
    EncryptionCodec,
    KeyConfigError,
    KeyRing,
    UnknownKeyError,
    data_converter,
    generate_key_file,
)

V_NUMBER = "1234567890"
FAMILY_NAME = "Haddad"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def plain_payload(text: str = f'{{"family_name": "{FAMILY_NAME}", "v_number": "{V_NUMBER}"}}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate("k1")


async def test_round_trip_restores_the_payload_exactly(ring: KeyRing) -> None:
    codec = EncryptionCodec(ring)
    original = [plain_payload(), Payload(metadata={"encoding": b"binary/null"})]

    decoded = await codec.decode(await codec.encode(original))

    assert decoded == original


async def test_encoded_payload_holds_no_plaintext_and_names_its_key(ring: KeyRing) -> None:
    [encoded] = await EncryptionCodec(ring).encode([plain_payload()])

    wire = encoded.SerializeToString()
    assert FAMILY_NAME.encode() not in wire
    assert V_NUMBER.encode() not in wire
    assert b"json/plain" not in wire
    assert encoded.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert encoded.metadata[METADATA_KEY_ID] == b"k1"


async def test_each_encoding_uses_a_fresh_nonce(ring: KeyRing) -> None:
    codec = EncryptionCodec(ring)
    first, second = await codec.encode([plain_payload(), plain_payload()])
    assert first.data[:12] != second.data[:12]
    assert first.data != second.data


async def test_pydantic_model_round_trips_through_the_data_converter(ring: KeyRing) -> None:
    applicant = Applicant(
        v_number=V_NUMBER,
        family_name=FAMILY_NAME,
        given_names="Samira",
        date_of_birth=date(1990, 5, 17),
        nationality="SYR",
        language="ar",
        in_netherlands=True,
        earlier_repeat_applications=1,
    )
    converter = data_converter(ring)

    [encoded] = await converter.encode([applicant])
    [decoded] = await converter.decode([encoded], [Applicant])

    assert FAMILY_NAME.encode() not in encoded.SerializeToString()
    assert decoded == applicant


async def test_failure_messages_are_encrypted_too(ring: KeyRing) -> None:
    converter = data_converter(ring)
    failure = Failure()

    await converter.encode_failure(ApplicationError(f"no case for V-number {V_NUMBER}"), failure)

    assert V_NUMBER.encode() not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert V_NUMBER in str(decoded)


def test_no_keyring_means_the_plain_pydantic_converter(ring: KeyRing) -> None:
    assert data_converter(None) is pydantic_data_converter
    assert isinstance(data_converter(ring).payload_codec, EncryptionCodec)


async def test_rotation_keeps_old_payloads_readable() -> None:
    old = KeyRing.generate("2025-01")
    [old_payload] = await EncryptionCodec(old).encode([plain_payload()])

    rotated = old.with_key("2026-01", KeyRing.generate("x").key("x"))
    codec = EncryptionCodec(rotated)
    [new_payload] = await codec.encode([plain_payload()])

    assert rotated.current == "2026-01"
    assert new_payload.metadata[METADATA_KEY_ID] == b"2026-01"
    assert await codec.decode([old_payload, new_payload]) == [plain_payload(), plain_payload()]


async def test_unknown_key_id_is_a_clear_error_naming_the_id_not_a_key(ring: KeyRing) -> None:
    [encoded] = await EncryptionCodec(ring).encode([plain_payload()])
    other = KeyRing.generate("k2")

    with pytest.raises(UnknownKeyError, match="'k1'") as caught:
        await EncryptionCodec(other).decode([encoded])

    assert caught.value.key_id == "k1"
    assert b64(ring.key("k1")) not in str(caught.value)
    assert b64(other.key("k2")) not in str(caught.value)


async def test_a_tampered_payload_is_rejected(ring: KeyRing) -> None:
    [encoded] = await EncryptionCodec(ring).encode([plain_payload()])
    tampered = Payload(metadata=dict(encoded.metadata), data=encoded.data[:-1] + bytes([encoded.data[-1] ^ 1]))

    with pytest.raises(CodecError, match="failed authentication"):
        await EncryptionCodec(ring).decode([tampered])


async def test_a_relabelled_payload_is_rejected(ring: KeyRing) -> None:
    """The key id is authenticated: a payload cannot claim another key of the ring."""
    both = ring.with_key("k2", ring.key("k1"), current=False)
    [encoded] = await EncryptionCodec(both).encode([plain_payload()])
    relabelled = Payload(metadata={**dict(encoded.metadata), METADATA_KEY_ID: b"k2"}, data=encoded.data)

    with pytest.raises(CodecError, match="failed authentication"):
        await EncryptionCodec(both).decode([relabelled])


async def test_unencrypted_payloads_are_refused_unless_allowed(ring: KeyRing) -> None:
    """Issue 8 defect 3: before, a payload in clear passed decode and reached the workflow.

    The refusal drops the clear content and converts to a non-retryable error; the setting
    for migrating histories written before the codec lets it through unchanged.
    """
    [refused] = await EncryptionCodec(ring).decode([plain_payload()])
    assert refused.metadata["encoding"] == b"binary/unencrypted-refused"
    assert refused.data == b""
    with pytest.raises(ApplicationError, match="unencrypted payload was refused") as caught:
        data_converter(ring).payload_converter.from_payloads([refused])
    assert caught.value.non_retryable
    assert caught.value.type == "UnencryptedPayload"
    assert await EncryptionCodec(ring, allow_plaintext=True).decode([plain_payload()]) == [plain_payload()]
    allowed = data_converter(ring, allow_plaintext=True)
    assert allowed.payload_codec is not None
    [value] = allowed.payload_converter.from_payloads(await allowed.payload_codec.decode([plain_payload()]))
    assert value == {"family_name": FAMILY_NAME, "v_number": V_NUMBER}


@pytest.mark.parametrize("size", [16, 24, 31, 33, 64])
def test_a_key_that_is_not_32_bytes_is_refused(size: int) -> None:
    key = os.urandom(size)
    with pytest.raises(KeyConfigError, match=f"is {size} bytes") as caught:
        KeyRing.parse(f"short:{b64(key)}")
    assert b64(key) not in str(caught.value)


def test_repr_shows_key_ids_but_no_key(ring: KeyRing) -> None:
    assert "k1" in repr(ring)
    assert b64(ring.key("k1")) not in repr(ring)
    assert repr(ring.key("k1")) not in repr(ring)


def test_keys_from_env_first_key_is_current() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)

    ring = KeyRing.from_env({"HASA_CODEC_KEYS": f"k1:{b64(k1)}, k2:{b64(k2)}"})

    assert ring.current == "k1"
    assert ring.key("k1") == k1
    assert ring.key("k2") == k2


def test_keys_from_env_with_named_current_key() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)

    ring = KeyRing.from_env({"HASA_CODEC_KEYS": f"k1:{b64(k1)},k2:{b64(k2)}", "HASA_CODEC_CURRENT_KEY": "k2"})

    assert ring.current == "k2"


def test_keys_from_key_file(tmp_path: Path) -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"current": "k2", "keys": {"k1": b64(k1), "k2": b64(k2)}}))
    path.chmod(0o600)

    ring = KeyRing.from_env({"HASA_CODEC_KEY_FILE": str(path)})

    assert ring.current == "k2"
    assert ring.key("k1") == k1


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    """Issue 8 defect 4: before, a world-readable key file was used as it was."""
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": {"k1": b64(os.urandom(32))}}))
    path.chmod(mode)
    with pytest.raises(KeyConfigError, match=f"mode {mode:04o}.*chmod 600"):
        KeyRing.from_env({"HASA_CODEC_KEY_FILE": str(path)})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "no payload encryption key configured"),
        ({"HASA_CODEC_KEYS": "  "}, "no payload encryption key configured"),
        ({"HASA_CODEC_KEYS": "k1"}, "not 'kid:base64key'"),
        ({"HASA_CODEC_KEYS": "k1:not base64!"}, "'k1' is not valid base64"),
        ({"HASA_CODEC_KEYS": f"k1:{b64(bytes(32))}", "HASA_CODEC_CURRENT_KEY": "k9"}, "'k9' is not in the key ring"),
        ({"HASA_CODEC_KEYS": f"k1:{b64(bytes(32))},k1:{b64(bytes(32))}"}, "given twice"),
        ({"HASA_CODEC_KEYS": f"k1:{b64(bytes(32))}", "HASA_CODEC_KEY_FILE": "x.json"}, "not both"),
        ({"HASA_CODEC_KEY_FILE": "/nonexistent/keys.json"}, "does not exist"),
    ],
)
def test_misconfiguration_is_a_clear_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        KeyRing.from_env(environ)


def test_a_malformed_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": ["not", "a", "map"]}')
    path.chmod(0o600)
    with pytest.raises(KeyConfigError, match="is not"):
        KeyRing.from_env({"HASA_CODEC_KEY_FILE": str(path)})
    path.write_text("{not json")
    with pytest.raises(KeyConfigError, match="cannot be read as JSON"):
        KeyRing.from_env({"HASA_CODEC_KEY_FILE": str(path)})


async def test_generated_key_file_is_private_loadable_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "var" / "codec-keys.json"

    assert generate_key_file(path) == path
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600
    first = path.read_text()
    ring = KeyRing.from_env({"HASA_CODEC_KEY_FILE": str(path)})
    [encoded] = await EncryptionCodec(ring).encode([plain_payload()])

    generate_key_file(path)

    assert path.read_text() == first
    again = KeyRing.from_env({"HASA_CODEC_KEY_FILE": str(path)})
    assert await EncryptionCodec(again).decode([encoded]) == [plain_payload()]


def test_generated_key_files_get_distinct_key_ids(tmp_path: Path) -> None:
    a = KeyRing.from_file(generate_key_file(tmp_path / "a.json"))
    b = KeyRing.from_file(generate_key_file(tmp_path / "b.json"))
    assert a.current != b.current
    assert a.key(a.current) != b.key(b.current)
