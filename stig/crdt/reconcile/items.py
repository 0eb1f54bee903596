"""The set a session reconciles, sorted and summed once (docs/sync.md §1, §3): the storage
seam of reconciliation, as Negentropy's storage interface. A session reads ranges,
fingerprints, digests and bounds from it in O(1) or O(log n) and never rebuilds it, so one
``ReconcileSet`` can serve every session until the set changes."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import accumulate, pairwise
from operator import itemgetter

from stig.crdt.bounds import MAX_TIMESTAMP
from stig.crdt.reconcile.wire import (
    ID_BYTES,
    PREFIX_BYTES,
    SUM_MASK,
    TS_BITS,
    TS_BYTES,
    Bound,
    Digest,
    Item,
    fingerprint,
)

SINGLE_SCAN_MAX_ITEMS = 64
"""A digest over a range of at most this many of our items is decoded by scanning the range;
over a larger one, by looking its low 64 bits up in an index of our ids built once per set."""

ID_OF = itemgetter(slice(TS_BYTES, None))
"""An item's id from its key."""


class ReconcileSet:
    """Items sorted by ``(timestamp, id)`` as 38-byte keys (the timestamp in 6 big-endian bytes,
    then the id: comparing keys as bytes compares items), with:

    - ``vals``: each id as a little-endian integer, and ``sums``, their prefix sums, so the sum
      (hence the fingerprint) of any range of indices costs O(1);
    - ``heads``: the first PREFIX_BYTES of each id, cut once, and ``crowded``: the ids whose
      heads are shared with another of ours, by head, sorted (only these need a longer prefix
      to be told apart).

    Ranges are given as indices ``[lo, hi)`` into the sorted keys."""

    __slots__ = ("_by_low_bits", "crowded", "heads", "keys", "sums", "vals")

    def __init__(self, items: Iterable[Item]) -> None:
        try:
            keys = sorted({item.timestamp.to_bytes(TS_BYTES, "big") + item.id for item in items})
        except OverflowError:
            raise ValueError("item timestamps must be within 0..MAX_TIMESTAMP") from None
        if keys and int.from_bytes(keys[-1][:TS_BYTES], "big") > MAX_TIMESTAMP:
            raise ValueError("item timestamps must be within 0..MAX_TIMESTAMP")
        if set(map(len, keys)) - {TS_BYTES + ID_BYTES}:
            raise ValueError(f"item ids must be {ID_BYTES} bytes")
        self.keys = keys
        # An id as a little-endian integer is its key read little-endian, timestamp shifted out.
        self.vals = [int.from_bytes(k, "little") >> TS_BITS for k in keys]
        self.sums = list(accumulate(self.vals, initial=0))
        self.heads = list(map(itemgetter(slice(TS_BYTES, TS_BYTES + PREFIX_BYTES)), keys))
        self.crowded: dict[bytes, list[bytes]] = {}
        if len(set(self.heads)) < len(self.heads):  # else no two of our ids share their head
            shared = Counter(self.heads)
            crowded: dict[bytes, list[bytes]] = {p: [] for p, n in shared.items() if n > 1}
            for h, k in zip(self.heads, keys, strict=True):
                group = crowded.get(h)
                if group is not None:
                    group.append(k[TS_BYTES:])
            for group in crowded.values():
                group.sort()
            self.crowded = crowded
        # Our indices by the low 64 bits of their ids, for decoding digests over large ranges
        # in O(1) rather than by a scan of the range (built on first need).
        self._by_low_bits: dict[int, int | list[int]] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def locate(self, bound: Bound, lo: int = 0) -> int:
        """The index of the first item at or above ``bound`` (searching from ``lo``)."""
        return len(self.keys) if bound.infinite else bisect_left(self.keys, bound.key, lo)

    def total(self, lo: int, hi: int) -> int:
        return self.sums[hi] - self.sums[lo]

    def fingerprint(self, lo: int, hi: int) -> bytes:
        return fingerprint(self.sums[hi] - self.sums[lo], hi - lo)

    def digest(self, lo: int, hi: int) -> Digest:
        total = self.sums[hi] - self.sums[lo]
        return Digest(fingerprint(total, hi - lo), hi - lo, total & SUM_MASK)

    def bound_before(self, i: int) -> Bound:
        """The shortest bound above item i-1 and at or below item i."""
        key, prev = self.keys[i], self.keys[i - 1]
        ts = int.from_bytes(key[:TS_BYTES], "big")
        if key[:TS_BYTES] != prev[:TS_BYTES]:
            return Bound(ts)
        id_ = key[TS_BYTES:]
        return Bound(ts, id_[: _common_prefix(prev[TS_BYTES:], id_) + 1])

    def single(self, lo: int, hi: int, low_bits: int, peer: bytes) -> int | None:
        """The index of our item in [lo, hi) whose id has these low 64 bits and without which
        our range has the peer's fingerprint ``peer``; None if there is none."""
        total = self.sums[hi] - self.sums[lo]
        vals = self.vals
        if hi - lo <= SINGLE_SCAN_MAX_ITEMS:
            # A frame can hold 2048 such digests: one pass over the slice, no index per item.
            for i, value in enumerate(vals[lo:hi], lo):
                if value & SUM_MASK == low_bits and fingerprint(total - value, hi - lo - 1) == peer:
                    return i
            return None
        # A digest over a large range (a peer may send one over our whole set): look the low
        # bits up instead of scanning, so a frame's work does not grow with our set.
        if self._by_low_bits is None:
            index: dict[int, int | list[int]] = {}
            for i, value in enumerate(vals):
                bits = value & SUM_MASK
                seen = index.setdefault(bits, i)
                if seen != i:  # ids ground to share their low 64 bits
                    index[bits] = [*seen, i] if isinstance(seen, list) else [seen, i]
            self._by_low_bits = index
        found = self._by_low_bits.get(low_bits)
        candidates: Iterable[int] = (
            () if found is None else [found] if isinstance(found, int) else found
        )
        for i in candidates:
            if (
                lo <= i < hi
                and vals[i] & SUM_MASK == low_bits
                and fingerprint(total - vals[i], hi - lo - 1) == peer
            ):
                return i
        return None

    def list_width(self, lo: int, hi: int) -> int:
        """PREFIX_BYTES, or more if two of our own ids in the range would share a prefix."""
        if len(set(self.heads[lo:hi])) == hi - lo:
            return PREFIX_BYTES  # the usual case, without sorting
        ids = sorted(map(ID_OF, self.keys[lo:hi]))
        longest = max((_common_prefix(a, b) for a, b in pairwise(ids)), default=0)
        return min(ID_BYTES, max(PREFIX_BYTES, longest + 1))

    def extra_width(self, extras: Sequence[bytes]) -> int:
        """Shortest prefix width (at least PREFIX_BYTES) that tells each of these ids apart
        from every other id we hold, so that 'the item starting with it' names one item."""
        crowded = self.crowded
        if not crowded:
            return PREFIX_BYTES
        heads = crowded.keys() & set(map(itemgetter(slice(0, PREFIX_BYTES)), extras))
        if not heads:
            return PREFIX_BYTES
        return max(
            (self.unique_width(id_) for id_ in extras if id_[:PREFIX_BYTES] in heads),
            default=PREFIX_BYTES,
        )

    def unique_width(self, id_: bytes) -> int:
        """The shortest prefix of our id ``id_`` (at least PREFIX_BYTES) no other id of ours
        starts with."""
        crowded = self.crowded
        group = crowded.get(id_[:PREFIX_BYTES])
        if group is None:
            return PREFIX_BYTES
        i = bisect_left(group, id_)
        width = PREFIX_BYTES
        if i > 0:
            width = max(width, _common_prefix(group[i - 1], id_) + 1)
        if i + 1 < len(group):
            width = max(width, _common_prefix(group[i + 1], id_) + 1)
        return min(ID_BYTES, width)


def _common_prefix(a: bytes, b: bytes) -> int:
    """Number of leading bytes two distinct ids share."""
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return (8 * ID_BYTES - x.bit_length()) // 8
