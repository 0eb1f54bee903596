"""The wire format of sync frames (docs/sync.md §2, §3, §5): constants, items and bounds, the
payload of every mode, fingerprints, varints, and the strict decoder and the encoder of frames.
Pure: bytes in, values out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from itertools import compress

from stig.crdt.bounds import MAX_TIMESTAMP
from stig.errors import StigError

# -- protocol constants (docs/sync.md §2, §5) -----------------------------------------------------

PROTOCOL_VERSION = 0x01
"""First byte of every frame, so that a later protocol can be negotiated."""

ID_BYTES = 32
"""Ids are BLAKE2b-256 content addresses."""

FINGERPRINT_BYTES = 8
"""A range fingerprint is 8 bytes: two different ranges collide with probability 2^-64 per
comparison, and forging a collision with a given honest range costs a 2^64 search."""

FINGERPRINT_PERSON = b"stig/sync/v1"
"""BLAKE2b personalisation of the fingerprint hash (domain separation from every other hash)."""

SUM_BYTES = 8
"""A digest carries the id sum modulo 2^64: the first 8 bytes of a single differing id."""

PREFIX_BYTES = 4
"""Shortest id prefix in an id list, an id reply or a found range."""

MAX_FRAME_BYTES = 256 * 1024
"""Largest frame a peer must accept, and the default size this side sends at most."""

MIN_FRAME_BYTES = 256
"""Smallest frame limit the state machine works with: a frame must always have room for one
split into two digests plus the fingerprint of the deferred remainder."""

MAX_FRAME_RANGES = 2048
"""Most ranges in one frame (skips included). A range costs the receiver a few microseconds of
interpreter work however few bytes it takes, so this, not the byte limit, bounds a frame's CPU:
a 256 KiB frame of 1-item ranges held some 40,000 of them (0.2-0.6 s). An answer with more is
deferred to the next round like one over the byte limit (docs/sync.md §4.6)."""

MAX_ROUNDS = 512
"""Most frames a side receives in one session (a round is one frame each way). With full-size
frames a new node can pull some 30 million ids within it; a peer that needs more is cut off."""

MAX_VARINT_BYTES = 8
"""Longest varint accepted (56 bits): every value in a frame (timestamps up to 2^40, counts)
fits in 6 bytes."""

# -- errors ---------------------------------------------------------------------------------------


class SyncReason(StrEnum):
    """Why a peer was cut off. Stable strings: they appear in logs and per-peer counters."""

    BAD_VERSION = "bad_version"  # first byte is not PROTOCOL_VERSION
    BAD_FRAME = "bad_frame"  # a frame that does not decode (the detail says where)
    FRAME_TOO_LARGE = "frame_too_large"
    TOO_MANY_ROUNDS = "too_many_rounds"
    PROTOCOL = "protocol"  # decodes, but makes no sense at this point of the exchange
    TOO_MUCH = "too_much"  # a session over its bounds (records, bytes: node/sync.py)


class SyncError(StigError):
    """A peer sent a frame that cannot be accepted; the session ends and the peer is counted."""

    def __init__(self, reason: SyncReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def bad_frame(detail: str) -> SyncError:
    return SyncError(SyncReason.BAD_FRAME, detail)


def protocol_error(detail: str) -> SyncError:
    return SyncError(SyncReason.PROTOCOL, detail)


# -- items, bounds and frames --------------------------------------------------------------------


@dataclass(frozen=True, order=True, slots=True)
class Item:
    """One trace as the protocol sees it: sorted by ``(timestamp, id)``."""

    timestamp: int
    id: bytes


_ZERO_ID = bytes(ID_BYTES)
_INFINITE_TS = MAX_TIMESTAMP + 1
_MOD = 1 << (8 * ID_BYTES)
SUM_MASK = (1 << (8 * SUM_BYTES)) - 1
TS_BYTES = 6
"""Items are kept as 38-byte keys, the timestamp in 6 big-endian bytes then the id: comparing
two keys as bytes compares (timestamp, id), and sorting bytes is twice as fast as tuples."""
TS_BITS = 8 * TS_BYTES


@dataclass(frozen=True, slots=True)
class Bound:
    """A position in the ``(timestamp, id)`` order: the items at or after it are above it.

    ``prefix`` is the shortest id prefix that separates the items on both sides (empty when
    their timestamps differ); it is padded with zero bytes for comparison. The infinite bound
    lies above every item."""

    timestamp: int
    prefix: bytes = b""

    @property
    def infinite(self) -> bool:
        return self.timestamp == _INFINITE_TS

    @property
    def key(self) -> bytes:
        """The least item key at or above the bound."""
        padding = _ZERO_ID[len(self.prefix) :]
        return self.timestamp.to_bytes(TS_BYTES, "big") + self.prefix + padding


LOWEST = Bound(0)
INFINITY = Bound(_INFINITE_TS)


class Mode(IntEnum):
    SKIP = 0
    FINGERPRINT = 1
    ID_LIST = 2
    ID_REPLY = 3
    DIGEST = 4
    CLAIM = 5
    FOUND = 6


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing (more) to do for this range."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The sender's fingerprint of its items in this range."""

    value: bytes


@dataclass(frozen=True, slots=True)
class Digest:
    """The sender's fingerprint of its items in this range, their number, and the low 64 bits
    of the sum of their ids (little-endian integers)."""

    value: bytes
    count: int
    sum: int


@dataclass(frozen=True, slots=True)
class Claim:
    """'You hold one item in this range that I lack; its id starts with ``prefix`` (8 bytes);
    without it your items have my fingerprint ``value``.' Decoded from a digest by the side
    that lacks the item; only the side that holds it can check it."""

    prefix: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Found:
    """'This range differs by exactly one item, which I hold and you lack: its id starts with
    ``prefix`` (and no other id I hold does).' Sent by the responder only."""

    prefix: bytes


@dataclass(frozen=True, slots=True)
class IdList:
    """Every item of the sender in this range, as ``width``-byte id prefixes in key order.
    The initiator sends short prefixes (answered by an IdReply); the responder sends full ids
    (width 32, not answered)."""

    width: int
    ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class IdReply:
    """The responder's answer to an initiator's IdList of ``count`` ``width``-byte prefixes:
    which of them it lacks (bit i of ``bitmap`` set: entry i, see ``missing``),
    ``extra_width``-byte prefixes of its own items that matched none of them, and the
    fingerprint of its items that did match.

    The bitmap is kept as it travels: a 256 KiB frame can hold 2 Mi bits, and building a
    tuple of 2 Mi indices costs more CPU (~60 ms) than a frame may (docs/performance.md,
    "Adversarial input"). Only the initiator expands it, once it checked that ``count`` is
    the number of its own items in the range."""

    width: int
    count: int
    bitmap: bytes
    extra_width: int
    extras: tuple[bytes, ...]
    check: bytes

    def __post_init__(self) -> None:
        if len(self.bitmap) != (self.count + 7) // 8 or _bits_past(self.bitmap, self.count):
            raise ValueError("the bitmap must have (count + 7) // 8 bytes, no bit past count")

    @classmethod
    def of(
        cls,
        width: int,
        count: int,
        missing: Iterable[int],
        extra_width: int,
        extras: tuple[bytes, ...],
        check: bytes,
    ) -> IdReply:
        """The reply that marks the entries ``missing`` (indices below ``count``)."""
        bitmap = bytearray((count + 7) // 8)
        for i in missing:
            bitmap[i >> 3] |= 1 << (i & 7)
        return cls(width, count, bytes(bitmap), extra_width, extras, check)

    @property
    def missing(self) -> tuple[int, ...]:
        """Indices of the entries the responder lacks, ascending. Linear in the bitmap: bin()
        writes bit i as character i from the right, turned into selectors for compress()
        (testing bit i of one large integer for each i in turn was quadratic)."""
        digits = bin(int.from_bytes(self.bitmap, "little"))[:1:-1]
        return tuple(compress(range(self.count), digits.encode("ascii").translate(_SELECTORS)))


_SELECTORS = bytes.maketrans(b"01", b"\x00\x01")


def _bits_past(bitmap: bytes, count: int) -> bool:
    """Whether a bitmap of ``count`` bits (in (count + 7) // 8 bytes) sets a bit at or past
    ``count``: only its last byte can, so this costs the same whatever the size."""
    return count % 8 != 0 and bitmap[-1] >> (count % 8) != 0


Payload = Skip | Fingerprint | Digest | Claim | Found | IdList | IdReply


@dataclass(frozen=True, slots=True)
class Range:
    """One range of a frame; its lower bound is the previous range's upper bound (or LOWEST)."""

    upper: Bound
    payload: Payload


def fingerprint(total: int, count: int) -> bytes:
    """Fingerprint of ``count`` ids whose sum (as little-endian integers) is ``total``:
    BLAKE2b(digest_size=8, person=FINGERPRINT_PERSON) of the sum mod 2^256 in 32 little-endian
    bytes followed by the varint of the count. Sums of ranges come from prefix sums in O(1),
    which is what makes large sets cheap."""
    h = _FINGERPRINT_HASH.copy()  # cheaper than a new personalised hash each time
    h.update((total % _MOD).to_bytes(ID_BYTES, "little") + encode_varint(count))
    return h.digest()


_FINGERPRINT_HASH = hashlib.blake2b(digest_size=FINGERPRINT_BYTES, person=FINGERPRINT_PERSON)


def encode_varint(value: int) -> bytes:
    """Unsigned base-128, most significant group first, high bit set on all but the last byte."""
    if 0 <= value < 0x80:  # one byte: most varints of a frame (counts, widths, time steps)
        return _ONE_BYTE[value]
    if value < 0:
        raise ValueError("varints are unsigned")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]
_SKIP, _FINGERPRINT, _DIGEST = int(Mode.SKIP), int(Mode.FINGERPRINT), int(Mode.DIGEST)
_ID_LIST, _ID_REPLY = int(Mode.ID_LIST), int(Mode.ID_REPLY)
_CLAIM, _FOUND = int(Mode.CLAIM), int(Mode.FOUND)
_SKIP_PAYLOAD = Skip()  # immutable, and equal to every other Skip()


class _Reader:
    """Strict cursor over a frame: every read checks that the bytes are there."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def varint(self, what: str) -> int:
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:  # one byte: most varints of a frame
            self.pos = pos + 1
            return data[pos]
        value = 0
        for i in range(MAX_VARINT_BYTES):
            if pos + i >= len(data):
                raise bad_frame(f"truncated varint ({what})")
            byte = data[pos + i]
            if i == 0 and byte == 0x80:
                raise bad_frame(f"non-minimal varint ({what})")
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                self.pos = pos + i + 1
                return value
        raise bad_frame(f"varint longer than {MAX_VARINT_BYTES} bytes ({what})")

    def take(self, n: int, what: str) -> bytes:
        pos = self.pos
        end = pos + n
        if end > len(self.data):
            raise bad_frame(f"truncated {what}: {n} bytes announced, {self.remaining} left")
        self.pos = end
        return self.data[pos:end]

    def width(self, what: str) -> int:
        w = self.varint(what)
        if w > ID_BYTES:
            raise bad_frame(f"{what} prefix longer than {ID_BYTES} bytes: {w}")
        if w < PREFIX_BYTES:
            raise bad_frame(f"{what} prefix shorter than {PREFIX_BYTES} bytes: {w}")
        return w

    def prefixes(self, what: str) -> tuple[int, tuple[bytes, ...]]:
        width = self.width(what)
        n = self.varint(f"{what} count")
        # Checked before anything is allocated: a count cannot promise more than the frame holds.
        if n * width > self.remaining:
            raise bad_frame(f"{what} count {n} larger than the frame")
        raw = self.take(n * width, what)
        if n <= 1:
            return width, (raw,) if n else ()
        return width, tuple(raw[i : i + width] for i in range(0, n * width, width))

    def bound(self, prev_ts: int) -> Bound:
        data, pos = self.data, self.pos
        if pos + 1 < len(data) and data[pos] < 0x80 and data[pos + 1] < 0x80:
            # Both varints one byte long, as in most ranges of a frame (a frame's 2048 ranges
            # are read one by one: each call saved counts, docs/performance.md).
            code, length = data[pos], data[pos + 1]
            self.pos = pos + 2
        else:
            code = self.varint("bound timestamp")
            length = self.varint("bound prefix length")
        if length > ID_BYTES:
            raise bad_frame(f"bound prefix longer than {ID_BYTES} bytes: {length}")
        prefix = self.take(length, "bound prefix")
        if code == 0:
            if length:
                raise bad_frame("the infinite bound has an id prefix")
            return INFINITY
        ts = prev_ts + code - 1
        if ts > MAX_TIMESTAMP:
            raise bad_frame(f"bound timestamp {ts} out of range")
        if prefix and prefix[-1] == 0:
            raise bad_frame("non-minimal bound prefix (ends in a zero byte)")
        return Bound(ts, prefix)

    def payload(self, mode: int) -> Payload:
        # Plain ints, not Mode members: an enum attribute per comparison, per range, adds up.
        if mode == _SKIP:
            return _SKIP_PAYLOAD
        if mode == _FINGERPRINT:
            return Fingerprint(self.take(FINGERPRINT_BYTES, "fingerprint"))
        if mode == _DIGEST:
            value = self.take(FINGERPRINT_BYTES, "digest fingerprint")
            count = self.varint("digest count")
            total = int.from_bytes(self.take(SUM_BYTES, "digest sum"), "little")
            return Digest(value, count, total)
        if mode == _ID_LIST:
            return IdList(*self.prefixes("id list"))
        if mode == _ID_REPLY:
            return self.reply()
        if mode == _CLAIM:
            prefix = self.take(SUM_BYTES, "claim prefix")
            return Claim(prefix, self.take(FINGERPRINT_BYTES, "claim fingerprint"))
        if mode == _FOUND:
            return Found(self.take(self.width("found"), "found prefix"))
        raise bad_frame(f"unknown mode {mode}")

    def reply(self) -> IdReply:
        width = self.width("id reply")
        count = self.varint("id reply count")
        nbytes = (count + 7) // 8
        if nbytes > self.remaining:
            raise bad_frame(f"id reply count {count} larger than the frame")
        bitmap = self.take(nbytes, "id reply bitmap")
        if _bits_past(bitmap, count):
            raise bad_frame("id reply bitmap has bits set past its count")
        extra_width, extras = self.prefixes("id reply extras")
        check = self.take(FINGERPRINT_BYTES, "id reply check")
        return IdReply(width, count, bitmap, extra_width, extras, check)


def decode_frame(frame: bytes) -> list[Range]:
    """Parse a frame strictly; any deviation from docs/sync.md §2 raises SyncError."""
    if not frame:
        raise bad_frame("empty frame")
    if frame[0] != PROTOCOL_VERSION:
        raise SyncError(SyncReason.BAD_VERSION, f"protocol version {frame[0]:#04x} not supported")
    reader = _Reader(frame, 1)
    ranges: list[Range] = []
    last = LOWEST
    last_key = last.key
    skipped = False  # the last range was a skip
    end = len(frame)
    while reader.pos < end:
        if last.infinite:
            raise bad_frame("trailing bytes after the infinite bound")
        if len(ranges) == MAX_FRAME_RANGES:
            raise bad_frame(f"more than {MAX_FRAME_RANGES} ranges")
        upper = reader.bound(last.timestamp)
        upper_key = upper.key
        if upper_key <= last_key:
            raise bad_frame("bounds out of order")
        payload = reader.payload(reader.varint("mode"))
        skip = payload is _SKIP_PAYLOAD
        if skip and skipped:
            raise bad_frame("two adjacent skip ranges")
        ranges.append(Range(upper, payload))
        last, last_key, skipped = upper, upper_key, skip
    if ranges and isinstance(ranges[-1].payload, Skip):
        raise bad_frame("trailing skip range (a frame ends with an implicit skip)")
    return ranges


def encode_bound(bound: Bound, prev_ts: int) -> bytes:
    if bound.infinite:
        return b"\x00\x00"
    code = encode_varint(bound.timestamp - prev_ts + 1)
    return code + encode_varint(len(bound.prefix)) + bound.prefix


def encode_payload(payload: Payload) -> bytes:
    if isinstance(payload, Skip):
        return bytes((Mode.SKIP,))
    if isinstance(payload, Fingerprint):
        return bytes((Mode.FINGERPRINT,)) + payload.value
    if isinstance(payload, Digest):
        return (
            bytes((Mode.DIGEST,))
            + payload.value
            + encode_varint(payload.count)
            + payload.sum.to_bytes(SUM_BYTES, "little")
        )
    if isinstance(payload, Claim):
        return bytes((Mode.CLAIM,)) + payload.prefix + payload.value
    if isinstance(payload, Found):
        return bytes((Mode.FOUND,)) + encode_varint(len(payload.prefix)) + payload.prefix
    if isinstance(payload, IdList):
        return bytes((Mode.ID_LIST,)) + _encode_prefixes(payload.width, payload.ids)
    return (
        bytes((Mode.ID_REPLY,))
        + encode_varint(payload.width)
        + encode_varint(payload.count)
        + payload.bitmap
        + _encode_prefixes(payload.extra_width, payload.extras)
        + payload.check
    )


def _encode_prefixes(width: int, prefixes: Sequence[bytes]) -> bytes:
    return encode_varint(width) + encode_varint(len(prefixes)) + b"".join(prefixes)


def encode_frame(ranges: Sequence[Range]) -> bytes:
    """The bytes of a frame (the inverse of decode_frame for canonical frames)."""
    out = bytearray((PROTOCOL_VERSION,))
    prev_ts = 0
    for r in ranges:
        out += encode_bound(r.upper, prev_ts)
        out += encode_payload(r.payload)
        if not r.upper.infinite:
            prev_ts = r.upper.timestamp
    return bytes(out)
