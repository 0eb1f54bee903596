"""The bundle file: traces carried by hand, on a USB stick (docs/protocol.md §7).

Layout: the 8-byte magic ``STIGBNDL``, one version byte (1), then records until the end of the
file. A record is a 4-byte big-endian length followed by that many bytes of one canonical trace.
There is no count and no index, so a bundle can be written as a stream and read as one.

Reading never trusts a record: each one is handed to the caller as raw bytes to ``validate()``
exactly as if it came from the network. A record longer than MAX_RECORD_BYTES is skipped (it
cannot be a valid trace) and reported; a record cut short by the end of the file ends reading.

A record shorter than MIN_RECORD_BYTES (the smallest canonical trace) cannot be a valid trace
either, and is refused by its length alone, without being decoded: a file of empty records holds
65,000 of them per 256 KiB, and decoding each one and raising its error cost 300 ms of CPU per
256 KiB (docs/performance.md, "Adversarial input"). Consecutive short records are counted in one
``Record`` (``count``), at most one read buffer's worth at a time, so a file of nothing else costs
a few hundred nanoseconds per record and no object per record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from stig.crdt.bounds import MAX_TRACE_BYTES
from stig.errors import InvalidBundle, InvalidTrace, Reason

MAGIC = b"STIGBNDL"
VERSION = 1
HEADER = MAGIC + bytes([VERSION])
_LENGTH = struct.Struct(">I")

MAX_RECORD_BYTES = MAX_TRACE_BYTES
"""A record longer than a trace can be is refused without reading it into memory."""

MIN_RECORD_BYTES = 111
"""The smallest canonical trace: an 11-element array of the shortest encoding of each field (a
1-character kind, a 32-byte author, a 64-byte signature, one byte for each other field). A
shorter record is refused by its length (``too_small``) without being decoded."""

_SKIP_CHUNK = 1 << 16
_READ_CHUNK = 1 << 18
"""Bytes read at a time; a run of short records is counted within one such buffer."""


@dataclass(frozen=True)
class Record:
    """One record of a bundle: ``raw`` bytes to validate, or the ``error`` that made it unusable.
    ``offset`` is where the record starts in the file, for error messages; ``size`` is how many
    bytes of the file it took, its length prefix included. A run of consecutive records shorter
    than MIN_RECORD_BYTES is one Record: ``count`` of them from ``offset`` on, one error."""

    offset: int
    raw: bytes = b""
    error: InvalidTrace | None = None
    size: int = 0
    count: int = 1


def write_header(out: BinaryIO) -> None:
    out.write(HEADER)


def write_record(out: BinaryIO, raw: bytes) -> None:
    out.write(_LENGTH.pack(len(raw)))
    out.write(raw)


class _Buffer:
    """The file read _READ_CHUNK bytes at a time: ``data[pos:]`` is what is read and not taken
    yet, and ``data[pos]`` is at file offset ``offset``."""

    __slots__ = ("data", "offset", "pos", "stream")

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.stream = stream
        self.data = b""
        self.pos = 0
        self.offset = offset

    def has(self, n: int) -> bool:
        """Whether n bytes are there to take, reading more if needed (False: the file ends)."""
        if len(self.data) - self.pos >= n:
            return True
        rest = self.data[self.pos :]
        more = self.stream.read(max(n - len(rest), _READ_CHUNK))
        self.data, self.pos = rest + more, 0
        return len(self.data) >= n

    def take(self, n: int) -> bytes:
        """Up to n bytes (fewer only where the file ends)."""
        self.has(n)
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        self.offset += len(out)
        return out

    def skip(self, n: int) -> int:
        """Skip n bytes without holding them; how many were there."""
        buffered = min(n, len(self.data) - self.pos)
        self.pos += buffered
        skipped = buffered + _skip(self.stream, n - buffered)
        self.offset += skipped
        return skipped

    def short_run(self) -> int:
        """Take the records shorter than MIN_RECORD_BYTES that lie whole in the buffer from
        here on; how many. The loop that a file of empty records runs 65,000 times per 256 KiB:
        no object is made per record."""
        data, pos, end = self.data, self.pos, len(self.data)
        unpack, head, least = _LENGTH.unpack_from, _LENGTH.size, MIN_RECORD_BYTES
        count = 0
        while pos + head <= end:
            (length,) = unpack(data, pos)
            if length >= least or pos + head + length > end:
                break
            pos += head + length
            count += 1
        self.offset += pos - self.pos
        self.pos = pos
        return count


def read_records(stream: BinaryIO) -> Iterator[Record]:
    """Every record of a bundle, in file order. Raises InvalidBundle only for a bad header."""
    header = stream.read(len(HEADER))
    if header[: len(MAGIC)] != MAGIC:
        raise InvalidBundle("not a stig bundle (the file does not start with STIGBNDL)")
    if len(header) < len(HEADER) or header[len(MAGIC)] != VERSION:
        version = header[len(MAGIC)] if len(header) == len(HEADER) else "missing"
        raise InvalidBundle(f"bundle format version {version}; this stig reads version {VERSION}")
    buf = _Buffer(stream, len(HEADER))
    while True:
        offset = buf.offset
        if not buf.has(_LENGTH.size):
            prefix = buf.take(_LENGTH.size)
            if prefix:
                yield Record(
                    offset,
                    error=InvalidTrace(
                        Reason.TRUNCATED,
                        f"the file ends {len(prefix)} bytes into a record's 4-byte length "
                        f"({prefix.hex()})",
                    ),
                    size=len(prefix),
                )
            return
        count = buf.short_run()
        if count:
            yield _too_small(offset, count, buf.offset - offset)
            continue
        (length,) = _LENGTH.unpack(buf.take(_LENGTH.size))
        if length > MAX_RECORD_BYTES:
            skipped = buf.skip(length)
            if skipped < length:
                yield Record(
                    offset,
                    error=InvalidTrace(
                        Reason.TRUNCATED, f"record claims {length} bytes, file ends first"
                    ),
                    size=_LENGTH.size + skipped,
                )
                return
            yield Record(
                offset,
                error=InvalidTrace(
                    Reason.TOO_LARGE, f"{length} bytes, the limit is {MAX_RECORD_BYTES}"
                ),
                size=_LENGTH.size + length,
            )
            continue
        raw = buf.take(length)
        if len(raw) < length:
            yield Record(
                offset,
                error=InvalidTrace(Reason.TRUNCATED, f"record has {len(raw)} of {length} bytes"),
                size=_LENGTH.size + len(raw),
            )
            return
        if length < MIN_RECORD_BYTES:  # a short record that straddled the buffer's end
            yield _too_small(offset, 1, _LENGTH.size + length)
            continue
        yield Record(offset, raw=raw, size=_LENGTH.size + length)


def _too_small(offset: int, count: int, size: int) -> Record:
    if count == 1:
        detail = f"{size - _LENGTH.size} bytes, the smallest trace is {MIN_RECORD_BYTES}"
    else:
        detail = (
            f"{count} records in a row (bytes {offset} to {offset + size - 1}), each shorter "
            f"than the smallest trace ({MIN_RECORD_BYTES} bytes)"
        )
    return Record(offset, error=InvalidTrace(Reason.TOO_SMALL, detail), size=size, count=count)


def _skip(stream: BinaryIO, length: int) -> int:
    skipped = 0
    while skipped < length:
        chunk = stream.read(min(_SKIP_CHUNK, length - skipped))
        if not chunk:
            break
        skipped += len(chunk)
    return skipped
