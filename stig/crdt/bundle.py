"""The bundle file: traces carried by hand, on a USB stick (docs/protocol.md §7).

Layout: the 8-byte magic ``STIGBNDL``, one version byte (1), then records until the end of the
file. A record is a 4-byte big-endian length followed by that many bytes of one canonical trace.
There is no count and no index, so a bundle can be written as a stream and read as one.

Reading never trusts a record: each one is handed to the caller as raw bytes to ``validate()``
exactly as if it came from the network. A record longer than MAX_RECORD_BYTES is skipped (it
cannot be a valid trace) and reported; a record cut short by the end of the file ends reading.
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

_SKIP_CHUNK = 1 << 16


@dataclass(frozen=True)
class Record:
    """One record of a bundle: ``raw`` bytes to validate, or the ``error`` that made it unusable.
    ``offset`` is where the record starts in the file, for error messages."""

    offset: int
    raw: bytes = b""
    error: InvalidTrace | None = None


def write_header(out: BinaryIO) -> None:
    out.write(HEADER)


def write_record(out: BinaryIO, raw: bytes) -> None:
    out.write(_LENGTH.pack(len(raw)))
    out.write(raw)


def read_records(stream: BinaryIO) -> Iterator[Record]:
    """Every record of a bundle, in file order. Raises InvalidBundle only for a bad header."""
    header = stream.read(len(HEADER))
    if header[: len(MAGIC)] != MAGIC:
        raise InvalidBundle("not a stig bundle (the file does not start with STIGBNDL)")
    if len(header) < len(HEADER) or header[len(MAGIC)] != VERSION:
        version = header[len(MAGIC)] if len(header) == len(HEADER) else "missing"
        raise InvalidBundle(f"bundle format version {version}; this stig reads version {VERSION}")
    offset = len(HEADER)
    while True:
        prefix = stream.read(_LENGTH.size)
        if not prefix:
            return
        if len(prefix) < _LENGTH.size:
            yield Record(
                offset,
                error=InvalidTrace(
                    Reason.TRUNCATED,
                    f"the file ends {len(prefix)} bytes into a record's 4-byte length "
                    f"({prefix.hex()})",
                ),
            )
            return
        (length,) = _LENGTH.unpack(prefix)
        if length > MAX_RECORD_BYTES:
            skipped = _skip(stream, length)
            if skipped < length:
                yield Record(
                    offset,
                    error=InvalidTrace(
                        Reason.TRUNCATED, f"record claims {length} bytes, file ends first"
                    ),
                )
                return
            yield Record(
                offset,
                error=InvalidTrace(
                    Reason.TOO_LARGE, f"{length} bytes, the limit is {MAX_RECORD_BYTES}"
                ),
            )
        else:
            raw = stream.read(length)
            if len(raw) < length:
                yield Record(
                    offset,
                    error=InvalidTrace(
                        Reason.TRUNCATED, f"record has {len(raw)} of {length} bytes"
                    ),
                )
                return
            yield Record(offset, raw=raw)
        offset += _LENGTH.size + length


def _skip(stream: BinaryIO, length: int) -> int:
    skipped = 0
    while skipped < length:
        chunk = stream.read(min(_SKIP_CHUNK, length - skipped))
        if not chunk:
            break
        skipped += len(chunk)
    return skipped
