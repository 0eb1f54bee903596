from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crypto import mint, work_bits
from stig.crypto.pow import MAX_POW_BITS, POW_CONTEXT


def reference_work_bits(data: bytes) -> int:
    digest = hashlib.blake2b(POW_CONTEXT + data, digest_size=32).digest()
    bits = "".join(f"{byte:08b}" for byte in digest)
    return len(bits) - len(bits.lstrip("0"))


@given(st.binary(max_size=300))
def test_work_bits_matches_reference(data: bytes) -> None:
    assert work_bits(data) == reference_work_bits(data)


def test_pinned_vector() -> None:
    # Pinned so that a changed context string, digest size or nonce search shows up here:
    # BLAKE2b-256(b"stig/pow/v1" b"stig" + be64(196766)) = 00008ebe0d50...
    def payload(nonce: int) -> bytes:
        return b"stig" + nonce.to_bytes(8, "big")

    assert mint(payload, 16) == 196766
    assert work_bits(payload(196766)) == 16


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 12), st.integers(0, 2**40))
def test_mint_reaches_the_target(prefix: bytes, bits: int, start: int) -> None:
    def payload(nonce: int) -> bytes:
        return prefix + nonce.to_bytes(8, "big")

    nonce = mint(payload, bits, start)
    assert nonce >= start
    assert work_bits(payload(nonce)) >= bits


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 8))
def test_mint_returns_the_smallest_nonce(prefix: bytes, bits: int) -> None:
    def payload(nonce: int) -> bytes:
        return prefix + nonce.to_bytes(8, "big")

    nonce = mint(payload, bits)
    assert all(work_bits(payload(smaller)) < bits for smaller in range(nonce))


def test_mint_zero_bits_is_start() -> None:
    assert mint(lambda nonce: b"x", 0, start=17) == 17


@pytest.mark.parametrize("bits", [-1, MAX_POW_BITS + 1, 256])
def test_mint_rejects_bits_out_of_range(bits: int) -> None:
    with pytest.raises(ValueError, match="bits"):
        mint(lambda nonce: b"x", bits)


def test_mint_rejects_negative_start() -> None:
    with pytest.raises(ValueError, match="negative"):
        mint(lambda nonce: b"x", 1, start=-1)
