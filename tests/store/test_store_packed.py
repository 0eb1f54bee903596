"""How the store keeps a trace's bytes (stig/store/packed.py): compressed when that is shorter,
always read back as the canonical bytes, and a damaged value is a precise error."""

from __future__ import annotations

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import MAX_TRACE_BYTES
from stig.store.packed import MAGIC, pack, unpack
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
    # Compressed exactly when that is shorter; otherwise the bytes as they are.
    assert stored.startswith(MAGIC) == (stored != encoded)


@given(st.text(min_size=1, max_size=600))
def test_a_real_trace_round_trips_and_a_long_body_is_compressed(words: str) -> None:
    trace = post(ANA, kinds.NOTE, 0, body=(words + " ") * 4)
    stored = pack(trace.encoded)
    assert unpack(stored) == trace.encoded
    if len(trace.body) >= 400:  # repeated four times: DEFLATE always finds it
        assert stored.startswith(MAGIC)
        assert len(stored) < len(trace.encoded)


def test_a_row_stored_before_schema_5_reads_as_it_is() -> None:
    trace = post(ANA, kinds.NOTE, 0, body="stored as it is " * 20)
    assert unpack(trace.encoded) == trace.encoded


def test_bytes_that_start_like_a_compressed_value_are_refused_by_pack() -> None:
    with pytest.raises(ValueError, match="canonical"):
        pack(MAGIC + b"not a trace")


def frame(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=True).compress(data)


def frame_without_size(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=False).compress(data)


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (frame(b"\x9b" + b"x" * 900)[:-3], "truncated"),
        (frame(b"\x9b" + b"x" * 900) + b"tail", "followed"),
        (MAGIC + b"\xff\xff\xff\xff not a frame at all", "does not decompress"),
        (frame_without_size(b"\x9b" + b"x" * 900), "does not say its size"),
        # 8 MiB of zeros compress to a few hundred bytes: refused by its header, unread.
        (frame(bytes(8 << 20)), "claims 8388608 bytes"),
    ],
    ids=["truncated", "trailing", "garbage", "no-size", "bomb"],
)
def test_a_damaged_value_is_a_value_error_that_says_what(stored: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        unpack(stored)
