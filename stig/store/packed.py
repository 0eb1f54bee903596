"""How the SQLite store keeps a trace's canonical bytes on disk: deflated (schema 5).

A stored value (the ``raw`` column) is either

* ``0x00`` followed by the canonical bytes as a raw DEFLATE stream (RFC 1951, no zlib header,
  32 KiB window, level 6), when that is shorter; or
* the canonical bytes themselves (a short trace that DEFLATE does not shrink, or a row written
  before schema 5 and not rewritten yet).

A canonical trace is a msgpack array (docs/protocol.md), so its first byte is never ``0x00``: the
two forms cannot be mistaken for each other. Nothing of this reaches the wire: every read of the
store hands out the canonical bytes (``unpack``), which peers and the codec check as before.

Why: the full-text index of every body costs ~700 B per trace of ~1.5 KB, and the row with
its bytes ~1.76 KB; deflating the bytes (~1,545 -> ~960 B for tracegen's pseudo-words) is what
brings a full-text indexed store under 1.5x the encoded size (docs/performance.md, "Disk").
Level 6 is DEFLATE's default: level 1 saved ~10 B less per trace and was not measurably cheaper
on 1-2 KB inputs (most of the cost is setting up the compressor's state, not the matching).
"""

from __future__ import annotations

import zlib

from stig.crdt.bounds import MAX_TRACE_BYTES

DEFLATED = b"\x00"  # first byte of a deflated value; never the first byte of a msgpack array
_LEVEL = 6
_WBITS = -15  # negative: a raw DEFLATE stream with a 32 KiB window, no header or checksum


def pack(encoded: bytes) -> bytes:
    """The value the store keeps for a trace's canonical bytes ``encoded``.

    Raises ValueError for bytes that start as a deflated value does: they are no canonical
    trace, and could not be told apart from one when read back."""
    if encoded[:1] == DEFLATED:
        raise ValueError("not canonical trace bytes: they start with 0x00 (a msgpack integer)")
    deflated = zlib.compress(encoded, _LEVEL, _WBITS)
    if len(deflated) + len(DEFLATED) >= len(encoded):
        return encoded
    return DEFLATED + deflated


def unpack(stored: bytes) -> bytes:
    """The canonical bytes of a value ``pack`` made (or of a row stored before schema 5).

    Raises ValueError if ``stored`` is not such a value: a truncated or altered stream, or one
    that would inflate past the largest trace (``MAX_TRACE_BYTES``), which is refused after
    inflating at most one byte more than that."""
    if stored[:1] != DEFLATED:
        return stored
    inflater = zlib.decompressobj(_WBITS)
    try:
        encoded = inflater.decompress(memoryview(stored)[1:], MAX_TRACE_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"a stored trace does not inflate ({exc})") from exc
    if len(encoded) > MAX_TRACE_BYTES:
        raise ValueError(f"a stored trace inflates past {MAX_TRACE_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise ValueError("a stored trace's DEFLATE stream is truncated or followed by other bytes")
    return encoded
