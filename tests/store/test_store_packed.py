"""How the store keeps a trace's bytes (stig/store/packed.py): deflated when that is shorter,
always read back as the canonical bytes, and a damaged value is a precise error."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import MAX_TRACE_BYTES
from stig.store.packed import DEFLATED, pack, unpack
from tests.crdt.strategies import ANA, post

# A canonical trace is a msgpack array: its first byte is 0x90-0x9f (fixarray) or 0xdc/0xdd.
canonical_like = st.builds(
    lambda first, rest: bytes([first]) + rest,
    st.sampled_from([*range(0x90, 0xA0), 0xDC, 0xDD]),
    st.one_of(
        st.binary(max_size=MAX_TRACE_BYTES - 1),
        st.text(max_size=2000).map(lambda text: text.encode()[: MAX_TRACE_BYTES - 1]),
    ),
)


@given(canonical_like)
def test_unpack_gives_back_what_pack_took_and_pack_never_grows_it(encoded: bytes) -> None:
    stored = pack(encoded)
    assert unpack(stored) == encoded
    assert len(stored) <= len(encoded)
    # Deflated exactly when that is shorter; otherwise the bytes as they are.
    assert stored.startswith(DEFLATED) == (stored != encoded)


@given(st.text(min_size=1, max_size=600))
def test_a_real_trace_round_trips_and_a_long_body_is_deflated(words: str) -> None:
    trace = post(ANA, kinds.NOTE, 0, body=(words + " ") * 4)
    stored = pack(trace.encoded)
    assert unpack(stored) == trace.encoded
    if len(trace.body) >= 400:  # repeated four times: DEFLATE always finds it
        assert stored.startswith(DEFLATED)
        assert len(stored) < len(trace.encoded)


def test_a_row_stored_before_schema_5_reads_as_it_is() -> None:
    trace = post(ANA, kinds.NOTE, 0, body="stored as it is " * 20)
    assert unpack(trace.encoded) == trace.encoded


def test_bytes_that_start_like_a_deflated_value_are_refused_by_pack() -> None:
    with pytest.raises(ValueError, match="canonical"):
        pack(DEFLATED + b"not a trace")


def deflated(data: bytes) -> bytes:
    return DEFLATED + zlib.compress(data, 6, -15)


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (deflated(b"\x9b" + b"x" * 900)[:-3], "truncated"),
        (deflated(b"\x9b" + b"x" * 900) + b"tail", "followed"),
        (DEFLATED + b"\xff\xff\xff\xff not deflate at all", "does not inflate"),
        # 8 MiB of zeros deflates to ~8 KiB; unpack stops after MAX_TRACE_BYTES + 1.
        (deflated(bytes(8 << 20)), "past"),
    ],
    ids=["truncated", "trailing", "garbage", "bomb"],
)
def test_a_damaged_value_is_a_value_error_that_says_what(stored: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        unpack(stored)
