from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.pwhash import argon2id

from stig.crypto.keyfile import (
    MAX_KEYFILE_BYTES,
    decode_keyfile,
    encode_keyfile,
    keyfile_is_locked,
    keyfile_public_key,
)
from stig.crypto.persona import Persona
from stig.errors import PersonaError, UsageError, WrongPassphrase

FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}
SEED = bytes(range(32))
ANA = Persona("ana", SEED)


def fields_of(data: bytes) -> dict[str, object]:
    loaded = json.loads(data)
    assert isinstance(loaded, dict)
    return loaded


def rewrite(data: bytes, **changes: object) -> bytes:
    fields = fields_of(data)
    fields.update(changes)
    return json.dumps(fields).encode()


def test_plain_round_trip() -> None:
    data = encode_keyfile(ANA, None)
    assert decode_keyfile(data, None) == ANA
    assert not keyfile_is_locked(data)
    assert keyfile_public_key(data) == ANA.public_key


def test_plain_layout() -> None:
    data = encode_keyfile(ANA, None)
    assert data.endswith(b"\n")
    assert fields_of(data) == {
        "format": "stig-key/1",
        "name": "ana",
        "public": ANA.public_key.hex(),
        "kdf": "none",
        "seed": SEED.hex(),
    }


def test_plain_ignores_a_passphrase() -> None:
    assert decode_keyfile(encode_keyfile(ANA, None), "whatever") == ANA


def test_locked_round_trip() -> None:
    data = encode_keyfile(ANA, "correct horse", **FAST)
    assert keyfile_is_locked(data)
    assert SEED.hex().encode() not in data
    assert keyfile_public_key(data) == ANA.public_key
    assert decode_keyfile(data, "correct horse") == ANA


def test_locked_layout() -> None:
    fields = fields_of(encode_keyfile(ANA, "pw", **FAST))
    assert list(fields) == [
        "format",
        "name",
        "public",
        "kdf",
        "salt",
        "opslimit",
        "memlimit",
        "box",
    ]
    assert fields["kdf"] == "argon2id"
    assert fields["opslimit"] == argon2id.OPSLIMIT_MIN
    assert fields["memlimit"] == argon2id.MEMLIMIT_MIN
    assert isinstance(fields["salt"], str) and len(fields["salt"]) == 32
    assert isinstance(fields["box"], str) and len(fields["box"]) == 144


def test_locked_file_can_be_reimplemented_from_the_docstring() -> None:
    from nacl.secret import SecretBox

    fields = fields_of(encode_keyfile(ANA, "pw", **FAST))
    assert isinstance(fields["salt"], str) and isinstance(fields["box"], str)
    assert isinstance(fields["opslimit"], int) and isinstance(fields["memlimit"], int)
    key = argon2id.kdf(
        32, b"pw", bytes.fromhex(fields["salt"]), fields["opslimit"], fields["memlimit"]
    )
    box = bytes.fromhex(fields["box"])
    assert SecretBox(key).decrypt(box[24:], box[:24]) == SEED


def test_salt_is_fresh_each_time() -> None:
    first = fields_of(encode_keyfile(ANA, "pw", **FAST))
    second = fields_of(encode_keyfile(ANA, "pw", **FAST))
    assert first["salt"] != second["salt"]
    assert first["box"] != second["box"]


def test_passphrase_is_unicode_normalised() -> None:
    composed = "caf\u00e9"
    decomposed = "cafe\u0301"
    data = encode_keyfile(ANA, composed, **FAST)
    assert decode_keyfile(data, decomposed) == ANA


def test_wrong_passphrase() -> None:
    data = encode_keyfile(ANA, "right", **FAST)
    with pytest.raises(WrongPassphrase, match="'ana'"):
        decode_keyfile(data, "wrong")
    with pytest.raises(WrongPassphrase):
        decode_keyfile(data, "")


def test_locked_without_passphrase() -> None:
    data = encode_keyfile(ANA, "right", **FAST)
    with pytest.raises(PersonaError, match="STIG_PASSPHRASE") as info:
        decode_keyfile(data, None)
    assert not isinstance(info.value, WrongPassphrase)


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(UsageError, match="empty passphrase"):
        encode_keyfile(ANA, "", **FAST)


def test_invalid_name_is_refused() -> None:
    with pytest.raises(UsageError, match="not a valid persona name"):
        encode_keyfile(Persona("../evil", SEED), None)


@pytest.mark.parametrize(
    "limits",
    [
        {"opslimit": 0, "memlimit": argon2id.MEMLIMIT_MIN},
        {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": 1024},
        {"opslimit": 5, "memlimit": argon2id.MEMLIMIT_MIN},
        {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": 2 * argon2id.MEMLIMIT_SENSITIVE},
    ],
)
def test_encode_rejects_limits_out_of_range(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="limit"):
        encode_keyfile(ANA, "pw", **limits)


def assert_damaged(data: bytes, why: str, passphrase: str | None = None) -> None:
    with pytest.raises(PersonaError, match=why) as info:
        decode_keyfile(data, passphrase)
    assert "is damaged" in str(info.value)
    assert "stig id new" in str(info.value)
    assert not isinstance(info.value, WrongPassphrase)


def test_truncated_json_is_damaged() -> None:
    data = encode_keyfile(ANA, None)
    assert_damaged(data[: len(data) // 2], "not valid JSON")


def test_wrong_seed_for_public_key_is_damaged() -> None:
    data = rewrite(encode_keyfile(ANA, None), seed=bytes(32).hex())
    assert_damaged(data, "public key does not belong")
    with pytest.raises(PersonaError, match="public key does not belong"):
        keyfile_public_key(data)


def test_wrong_public_key_in_locked_file_is_damaged() -> None:
    data = rewrite(encode_keyfile(ANA, "pw", **FAST), public=bytes(32).hex())
    assert keyfile_public_key(data) == bytes(32)
    assert_damaged(data, "public key does not belong", passphrase="pw")


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("seed", "zz" * 32, "'seed' is not valid hex"),
        ("seed", SEED.hex()[:-2], "'seed' holds 31 bytes"),
        ("seed", 12, "'seed' is not a hex string"),
        ("public", "00 " * 32, "'public' is not valid hex"),
        ("public", "0" * 63, "'public' holds 31.5 bytes"),
        ("name", "Ana", "name is missing or invalid"),
        ("name", None, "name is missing or invalid"),
        ("kdf", "scrypt", "unknown kdf"),
        ("format", "pem", "format is not"),
        ("extra", 1, "unexpected field 'extra'"),
    ],
)
def test_bad_fields_are_damaged(field: str, value: object, why: str) -> None:
    assert_damaged(rewrite(encode_keyfile(ANA, None), **{field: value}), why)


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("opslimit", True, "'opslimit' is not an integer"),
        ("opslimit", 0, "'opslimit' is not an integer"),
        ("opslimit", 1000, "'opslimit' is not an integer"),
        ("memlimit", 2**50, "'memlimit' is not an integer"),
        ("memlimit", "8192", "'memlimit' is not an integer"),
        ("salt", "00" * 8, "'salt' holds 8 bytes"),
        ("box", "00" * 71, "'box' holds 71 bytes"),
    ],
)
def test_bad_locked_fields_are_damaged(field: str, value: object, why: str) -> None:
    assert_damaged(rewrite(encode_keyfile(ANA, "pw", **FAST), **{field: value}), why, "pw")


def test_missing_field_is_damaged() -> None:
    fields = fields_of(encode_keyfile(ANA, None))
    del fields["seed"]
    assert_damaged(json.dumps(fields).encode(), "'seed' is missing")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 3000 + b"]" * 3000, "larger than|not valid JSON"),
        (b" " * (MAX_KEYFILE_BYTES + 1), "larger than"),
    ],
)
def test_unparseable_is_damaged(data: bytes, why: str) -> None:
    assert_damaged(data, why)
    with pytest.raises(PersonaError):
        keyfile_is_locked(data)


def test_deep_nesting_within_the_size_limit_is_damaged() -> None:
    assert_damaged(b"[" * 2000 + b"]" * 2000, "not valid JSON|not a JSON object")


def test_future_format_says_upgrade() -> None:
    data = rewrite(encode_keyfile(ANA, None), format="stig-key/2")
    with pytest.raises(PersonaError, match="upgrade stig"):
        decode_keyfile(data, None)


def test_expect_name_labels_errors_and_catches_renames() -> None:
    with pytest.raises(PersonaError, match="key file for 'bo' is damaged"):
        decode_keyfile(b"{", None, expect_name="bo")
    with pytest.raises(PersonaError, match="holds persona 'ana', not 'bo'"):
        decode_keyfile(encode_keyfile(ANA, None), None, expect_name="bo")
    assert decode_keyfile(encode_keyfile(ANA, None), None, expect_name="ana") == ANA


@given(
    st.binary(min_size=32, max_size=32), st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True)
)
def test_plain_round_trip_law(seed: bytes, name: str) -> None:
    persona = Persona(name, seed)
    assert decode_keyfile(encode_keyfile(persona, None), None) == persona


@settings(max_examples=10, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.text(min_size=1, max_size=20))
def test_locked_round_trip_law(seed: bytes, passphrase: str) -> None:
    persona = Persona("ana", seed)
    data = encode_keyfile(persona, passphrase, **FAST)
    assert decode_keyfile(data, passphrase) == persona


@given(st.binary(max_size=300))
def test_decode_raises_only_persona_errors(data: bytes) -> None:
    with contextlib.suppress(PersonaError):
        decode_keyfile(data, "pw")


@given(st.data())
def test_corrupted_plain_file_raises_only_persona_errors(data: st.DataObject) -> None:
    original = bytearray(encode_keyfile(ANA, None))
    index = data.draw(st.integers(0, len(original) - 1))
    original[index] = data.draw(st.integers(0, 255))
    try:
        # As the keyring reads it: the file's name is the persona's, so a changed name inside
        # is damage too (nothing else authenticates the name of an unprotected file).
        persona = decode_keyfile(bytes(original), None, expect_name=ANA.name)
    except PersonaError:
        return
    # Surviving corruptions are layout-only (whitespace, hex case): the key is unchanged.
    assert persona == ANA


def test_upper_case_hex_is_accepted() -> None:
    data = rewrite(
        encode_keyfile(ANA, None), public=ANA.public_key.hex().upper(), seed=SEED.hex().upper()
    )
    assert decode_keyfile(data, None) == ANA
