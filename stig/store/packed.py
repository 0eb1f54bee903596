"""How the SQLite store keeps a trace's canonical bytes on disk: compressed (schema 5).

A stored value (the ``raw`` column) is either

* one Zstandard frame (RFC 8878: magic ``28 B5 2F FD``, the content size in its header, no
  checksum, no dictionary, level 2) of the canonical bytes, when that is shorter; or
* the canonical bytes themselves (a short trace that compression does not shrink, or a row
  written before schema 5 and not rewritten yet).

A canonical trace is a msgpack array (docs/protocol.md), so its first byte is never ``0x28``
(a msgpack integer): the two forms cannot be mistaken for each other. Nothing of this reaches
the wire: every read of the store hands out the canonical bytes (``unpack``), which peers and
the codec check as before.

Why: the full-text index of every body costs ~700 B per trace of ~1.5 KB, and the row with its
bytes ~1.76 KB; compressing the bytes (~1,545 -> ~990 B for tracegen's pseudo-words) is what
brings a full-text indexed store to 1.5x the encoded size (docs/performance.md, "Disk").
Why Zstandard at level 2, measured on those traces in one run (benchmarks/packed.py): DEFLATE
(zlib, level 6) kept ~35 B less per trace but cost ~4x the CPU to compress (~52 against
~13 µs per trace, on an ingest path of ~150 µs) and ~3x to decompress (~15 against ~5 µs,
about what decoding the trace costs); levels 1 and 3 kept 1,022 and 995 B.

A compressor and a decompressor are kept per thread (the zstandard objects are not thread-safe;
the store packs and unpacks on its connection thread; a read may unpack on the event loop's).
"""

from __future__ import annotations

import threading

import zstandard

from stig.crdt.bounds import MAX_TRACE_BYTES

MAGIC = b"\x28\xb5\x2f\xfd"  # a Zstandard frame's first bytes; no canonical trace starts so
_LEVEL = 2


class _Codecs(threading.local):
    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(
            level=_LEVEL, write_checksum=False, write_content_size=True
        )
        self.decompressor = zstandard.ZstdDecompressor()


_codecs = _Codecs()


def pack(encoded: bytes) -> bytes:
    """The value the store keeps for a trace's canonical bytes ``encoded``.

    Raises ValueError for bytes that start as a compressed value does: they are no canonical
    trace, and could not be told apart from one when read back."""
    if encoded[:1] == MAGIC[:1]:
        raise ValueError("not canonical trace bytes: they start with 0x28 (a msgpack integer)")
    compressed: bytes = _codecs.compressor.compress(encoded)
    return compressed if len(compressed) < len(encoded) else encoded


def unpack(stored: bytes) -> bytes:
    """The canonical bytes of a value ``pack`` made (or of a row stored before schema 5).

    Raises ValueError if ``stored`` is not such a value: a damaged or truncated frame, bytes
    after it, or a frame whose header says it holds more than the largest trace
    (``MAX_TRACE_BYTES``), which is refused before anything is decompressed."""
    if stored[:1] != MAGIC[:1]:
        return stored
    try:
        size = zstandard.frame_content_size(stored)
        if size < 0:
            raise ValueError("a stored trace's frame does not say its size")
        if size > MAX_TRACE_BYTES:
            raise ValueError(f"a stored trace claims {size} bytes (at most {MAX_TRACE_BYTES})")
        inflater = _codecs.decompressor.decompressobj()
        encoded: bytes = inflater.decompress(stored)
    except zstandard.ZstdError as exc:
        raise ValueError(f"a stored trace does not decompress ({exc})") from exc
    if not inflater.eof or inflater.unused_data or len(encoded) != size:
        raise ValueError("a stored trace's frame is truncated or followed by other bytes")
    return encoded
