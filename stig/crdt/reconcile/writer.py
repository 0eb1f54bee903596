"""The frame being written: ranges added all-or-nothing within the frame's byte limit and
MAX_FRAME_RANGES, with room always kept to defer the rest to the next round (docs/sync.md
§4.6)."""

from __future__ import annotations

from stig.crdt.reconcile.wire import (
    LOWEST,
    MAX_FRAME_RANGES,
    PROTOCOL_VERSION,
    Bound,
    Payload,
    Skip,
    encode_bound,
    encode_payload,
)

FRAME_RESERVE = 64
"""Bytes kept free in every frame for the range that defers the rest to the next round: a skip
range (bound up to 40 bytes) and a fingerprint range up to infinity (11 bytes)."""

RANGES_RESERVE = 2
"""Ranges kept free in every frame for the same deferral: the skip and the fingerprint."""

Mark = tuple[int, int, Bound, int, int]

_SKIP = Skip()


class Writer:
    """Builds one outgoing frame range by range, within a byte budget and MAX_FRAME_RANGES.

    Every write is all-or-nothing: ``add`` rolls back and returns False if the range (with a
    skip range before it, when there is a gap) would leave room for fewer than ``reserve``
    deferrals (one unless told otherwise; a deferral is FRAME_RESERVE bytes and
    RANGES_RESERVE ranges)."""

    __slots__ = ("buf", "limit", "prev_ts", "ranges", "upper", "work")

    def __init__(self, limit: int) -> None:
        self.buf = bytearray((PROTOCOL_VERSION,))
        self.limit = limit
        self.prev_ts = 0
        self.upper = LOWEST  # upper bound of the last range written
        self.work = 0  # ranges written that are not skips
        self.ranges = 0  # ranges written, skips included

    def mark(self) -> Mark:
        return (len(self.buf), self.prev_ts, self.upper, self.work, self.ranges)

    def rollback(self, mark: Mark) -> None:
        del self.buf[mark[0] :]
        _, self.prev_ts, self.upper, self.work, self.ranges = mark

    def _range(self, upper: Bound, payload: Payload) -> None:
        self.buf += encode_bound(upper, self.prev_ts)
        self.buf += encode_payload(payload)
        if not upper.infinite:
            self.prev_ts = upper.timestamp
        self.upper = upper
        self.ranges += 1

    def add(self, lower: Bound, upper: Bound, payload: Payload, *, reserve: int = 1) -> bool:
        mark = (len(self.buf), self.prev_ts, self.upper, self.work, self.ranges)
        # Mostly the very bound written last (ranges answered in a row): skip the comparison.
        if lower is not self.upper and lower != self.upper:
            self._range(lower, _SKIP)
        self._range(upper, payload)
        self.work += 1
        if (
            len(self.buf) + reserve * FRAME_RESERVE > self.limit
            or self.ranges + reserve * RANGES_RESERVE > MAX_FRAME_RANGES
        ):
            self.rollback(mark)
            return False
        return True

    def room(self) -> int:
        """Bytes still free for ranges, FRAME_RESERVE kept aside."""
        return self.limit - FRAME_RESERVE - len(self.buf)

    def frame(self) -> bytes:
        return bytes(self.buf)
