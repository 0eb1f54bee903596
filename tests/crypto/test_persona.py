from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stig.crypto import Persona, verify
from stig.crypto.persona import valid_persona_name

SEED = bytes(range(32))


def test_sign_verify_round_trip() -> None:
    persona = Persona.generate("ana")
    signature = persona.sign(b"stig/trace/v1hello")
    assert len(signature) == 64
    assert len(persona.public_key) == 32
    assert verify(persona.public_key, b"stig/trace/v1hello", signature)


@given(st.binary(max_size=256))
def test_verify_accepts_every_own_signature(message: bytes) -> None:
    persona = Persona("ana", SEED)
    assert verify(persona.public_key, message, persona.sign(message))


def test_rfc8032_test_vector_1() -> None:
    # RFC 8032 section 7.1, TEST 1: pins the seed convention that key files rely on.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    persona = Persona("vector", seed)
    assert persona.public_key.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert persona.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_seed_round_trip() -> None:
    persona = Persona.generate("ana")
    again = Persona("ana", persona.seed)
    assert again == persona
    assert again.public_key == persona.public_key
    assert hash(again) == hash(persona)


def test_generate_gives_distinct_keys() -> None:
    assert Persona.generate("a").public_key != Persona.generate("a").public_key


def test_verify_rejects_tampered_message() -> None:
    persona = Persona("ana", SEED)
    signature = persona.sign(b"message")
    assert not verify(persona.public_key, b"messagE", signature)


def test_verify_rejects_wrong_key() -> None:
    signature = Persona("ana", SEED).sign(b"message")
    other = Persona.generate("bo")
    assert not verify(other.public_key, b"message", signature)


def test_verify_rejects_short_key() -> None:
    persona = Persona("ana", SEED)
    signature = persona.sign(b"message")
    assert not verify(persona.public_key[:31], b"message", signature)


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 63, b"\x00" * 64, b"\xff" * 64, b"\x01" * 65],
)
def test_verify_rejects_garbage_signature(signature: bytes) -> None:
    persona = Persona("ana", SEED)
    assert not verify(persona.public_key, b"message", signature)


def test_verify_rejects_small_order_key() -> None:
    # The identity point: a key that would "verify" forged signatures if not rejected.
    identity = bytes([1]) + bytes(31)
    forged = identity + bytes(32)
    assert not verify(identity, b"message", forged)


@given(st.binary(max_size=40), st.binary(max_size=20), st.binary(max_size=70))
def test_verify_never_raises(public_key: bytes, message: bytes, signature: bytes) -> None:
    assert verify(public_key, message, signature) in (True, False)


def test_verify_never_raises_on_wrong_types() -> None:
    assert not verify("not bytes", b"m", b"s" * 64)  # type: ignore[arg-type]
    assert not verify(b"k" * 32, b"m", None)  # type: ignore[arg-type]


def test_repr_hides_seed() -> None:
    persona = Persona("ana", SEED)
    text = repr(persona)
    assert "ana" in text
    assert persona.public_key.hex() in text
    assert SEED.hex() not in text
    assert repr(SEED) not in text


@pytest.mark.parametrize("seed", [b"", b"\x00" * 31, b"\x00" * 33])
def test_seed_must_be_32_bytes(seed: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Persona("ana", seed)


def test_equality_depends_on_name_and_seed() -> None:
    assert Persona("ana", SEED) == Persona("ana", SEED)
    assert Persona("ana", SEED) != Persona("bo", SEED)
    assert Persona("ana", SEED) != Persona("ana", bytes(32))
    assert Persona("ana", SEED) != SEED


@pytest.mark.parametrize("name", ["a", "ana", "0day", "ana_b-2", "a" * 32])
def test_valid_names(name: str) -> None:
    assert valid_persona_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "a" * 33, "_ana", "-ana", "Ana", "ana.b", "ana/b", "../x", "ana ", "é", "ana\n"],
)
def test_invalid_names(name: str) -> None:
    assert not valid_persona_name(name)


@given(st.text(max_size=40))
def test_valid_names_match_the_rule(name: str) -> None:
    alphabet = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
    expected = 1 <= len(name) <= 32 and all(c in alphabet for c in name) and name[0] not in "_-"
    assert valid_persona_name(name) == expected
