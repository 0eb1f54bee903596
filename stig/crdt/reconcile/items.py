"""The set a session reconciles (docs/sync.md §1, §3): the storage seam of reconciliation, as
Negentropy's storage interface (a sorted set with range fingerprints behind one interface).

``ReconcileSet`` is kept current by its owner, item by item (``add``, ``remove``: O(log n) plus
the copy of one block of at most 2 x BLOCK_ITEMS references), and is never rebuilt for a
session. A session reads a ``Snapshot`` of it: ranges, fingerprints, digests and bounds by
index, in O(log n) (a range's sum is the difference of two running sums). A range within one
block is read as one slice of it, a longer one by one chain over block slices; each block keeps
the 4-byte heads of its ids beside its keys, so that id lists and replies (hostile frames among
them, docs/performance.md "Adversarial input") slice heads rather than cut every key.

**Snapshot semantics** (why a session can run on a worker thread while traces are stored):
blocks are copy-on-write — a change to the set replaces the block it touches, never edits it —
so ``snapshot()`` copies only the lists of blocks (keys, running sums, heads) and their
running counts and sums (O(n / BLOCK_ITEMS)), and a snapshot answers every query as the set
stood when it was taken, however the set changes afterwards. One exception, which costs bytes
and never a wrong answer: ``Snapshot.single`` looks digests over more than
SINGLE_SCAN_MAX_ITEMS items up in the live set's index of ids by their first bytes, and checks
every candidate against the snapshot; an item removed from the set after the snapshot was
taken is then not found there, and the session answers as for a digest it cannot decode.
``add``, ``remove`` and ``snapshot`` are called from one thread (the node's event loop);
snapshots may be read from any thread.

Pure: no clock, no database; the node feeds it (stig.node.sync_set).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate, chain, pairwise
from operator import itemgetter, sub

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

BLOCK_ITEMS = 128
"""Items per block of a set built at once; a block grows to 2 x this before it is split, and
is merged with a neighbour below a quarter of it. A change copies one block and redoes the
running sums after the changed place: an add took 16 us with 128 items per block, 39 us with
512 (200k items, 2026-12-07); a snapshot after changes copies n / 128 block references."""

SINGLE_SCAN_MAX_ITEMS = 16
"""A digest over a range of at most this many of our items is decoded by scanning the range's
values; over a larger one, by looking its head up in the set's index of ids."""

HEAD_MASK = (1 << (8 * PREFIX_BYTES)) - 1
"""An id's first PREFIX_BYTES, read little-endian: the low bits of its value (and of a
digest's sum), and the key of ``ReconcileSet``'s index of ids."""

ID_OF = itemgetter(slice(TS_BYTES, None))
"""An item's id from its key."""

HEAD_OF = itemgetter(slice(TS_BYTES, TS_BYTES + PREFIX_BYTES))
"""An item's PREFIX_BYTES-long id prefix from its key."""

Key = bytes
"""An item as 38 bytes: the timestamp in TS_BYTES big-endian bytes, then the id; comparing
keys as bytes compares items."""


def item_key(timestamp: int, id_: bytes) -> Key:
    """The key of an item; ValueError if it is not one (docs/sync.md §1)."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("item timestamps must be within 0..MAX_TIMESTAMP")
    if len(id_) != ID_BYTES:
        raise ValueError(f"item ids must be {ID_BYTES} bytes")
    return timestamp.to_bytes(TS_BYTES, "big") + id_


def _value(key: Key) -> int:
    """The id as a little-endian integer: the key read little-endian, timestamp shifted out."""
    return int.from_bytes(key, "little") >> TS_BITS


class ReconcileSet:
    """The items a node reconciles, kept sorted in blocks, with the running sums of their ids.

    Also kept: an index of our keys by the first PREFIX_BYTES of their id (to decode digests
    over large ranges in O(1) and to know which ids share a head), and ``crowded``: the heads
    shared by two or more of our ids, each with those ids, sorted (only these need a longer
    prefix than PREFIX_BYTES to be told apart)."""

    __slots__ = (
        "_block",
        "_blocks",
        "_by_head",
        "_crowded",
        "_firsts",
        "_heads",
        "_runs",
        "_snapshot",
    )

    def __init__(self, items: Iterable[Item] = (), *, block_items: int = BLOCK_ITEMS) -> None:
        """Sort the items once. ``block_items`` is BLOCK_ITEMS but for tests of the blocks."""
        if block_items < 4:
            raise ValueError("blocks must hold at least 4 items")
        self._block = block = block_items
        keys = sorted({item_key(item.timestamp, item.id) for item in items})
        vals = [_value(k) for k in keys]
        self._blocks: list[list[Key]] = [keys[i : i + block] for i in range(0, len(keys), block)]
        # Per block, the running sums of its ids: runs[b][j] is the sum of its first j ids.
        self._runs: list[list[int]] = [
            list(accumulate(vals[i : i + block], initial=0)) for i in range(0, len(vals), block)
        ]
        self._firsts: list[Key] = [block[0] for block in self._blocks]
        # Per block, the heads of its ids (HEAD_OF of each key), kept beside the keys so that
        # an id list or a reply reads a range's heads as slices, not by cutting each key.
        self._heads: list[list[bytes]] = [list(map(HEAD_OF, block)) for block in self._blocks]
        by_head: dict[int, Key | tuple[Key, ...]] = {}
        crowded: dict[bytes, tuple[bytes, ...]] = {}
        for k, v in zip(keys, vals, strict=True):
            head = v & HEAD_MASK
            seen = by_head.setdefault(head, k)
            if seen is not k:
                together = (*seen, k) if isinstance(seen, tuple) else (seen, k)
                by_head[head] = together
                crowded[k[TS_BYTES : TS_BYTES + PREFIX_BYTES]] = tuple(sorted(map(ID_OF, together)))
        self._by_head = by_head
        self._crowded = crowded
        self._snapshot: Snapshot | None = None

    def __len__(self) -> int:
        return sum(map(len, self._blocks))

    def __contains__(self, item: Item) -> bool:
        return self._where(item_key(item.timestamp, item.id))[2]

    def _where(self, key: Key) -> tuple[int, int, bool]:
        """The block ``key`` belongs in, its place there, and whether it is there."""
        b = max(0, bisect_right(self._firsts, key) - 1)
        if not self._blocks:
            return 0, 0, False
        block = self._blocks[b]
        i = bisect_left(block, key)
        return b, i, i < len(block) and block[i] == key

    def add(self, item: Item) -> bool:
        """Add an item; False if it was there already."""
        key = item_key(item.timestamp, item.id)
        if not self._blocks:
            self._blocks, self._runs, self._firsts, self._heads = [[]], [[0]], [key], [[]]
        b, i, present = self._where(key)
        if present:
            return False
        value = _value(key)
        # Copy-on-write: a snapshot may hold the old block.
        block = list(self._blocks[b])
        block.insert(i, key)
        heads = list(self._heads[b])
        heads.insert(i, HEAD_OF(key))
        runs = self._runs[b]
        self._put(b, block, runs[: i + 1] + [s + value for s in runs[i:]], heads)
        head = value & HEAD_MASK
        seen = self._by_head.setdefault(head, key)
        if seen is not key:
            together = (*seen, key) if isinstance(seen, tuple) else (seen, key)
            self._by_head[head] = together
            self._crowded[key[TS_BYTES : TS_BYTES + PREFIX_BYTES]] = tuple(
                sorted(map(ID_OF, together))
            )
        if len(block) > 2 * self._block:
            self._split(b)
        return True

    def remove(self, item: Item) -> bool:
        """Remove an item; False if it was not there."""
        key = item_key(item.timestamp, item.id)
        b, i, present = self._where(key)
        if not present:
            return False
        block = list(self._blocks[b])
        del block[i]
        heads = list(self._heads[b])
        del heads[i]
        runs = self._runs[b]
        value = runs[i + 1] - runs[i]
        self._put(b, block, runs[: i + 1] + [s - value for s in runs[i + 2 :]], heads)
        head = value & HEAD_MASK
        seen = self._by_head[head]
        if isinstance(seen, tuple):
            rest = tuple(k for k in seen if k != key)
            self._by_head[head] = rest if len(rest) > 1 else rest[0]
            prefix = key[TS_BYTES : TS_BYTES + PREFIX_BYTES]
            if len(rest) > 1:
                self._crowded[prefix] = tuple(sorted(map(ID_OF, rest)))
            else:
                del self._crowded[prefix]
        else:
            del self._by_head[head]
        if len(block) < self._block // 4:
            self._merge(b)
        return True

    def update(self, added: Iterable[Item] = (), removed: Iterable[Item] = ()) -> None:
        """Remove then add items (either may be absent, resp. present, already)."""
        for item in removed:
            self.remove(item)
        for item in added:
            self.add(item)

    def _put(self, b: int, block: list[Key], runs: list[int], heads: list[bytes]) -> None:
        """Replace block b (never edit it: a snapshot may hold it)."""
        self._snapshot = None
        if not block:
            del self._blocks[b], self._runs[b], self._firsts[b], self._heads[b]
            return
        self._blocks[b], self._runs[b], self._firsts[b] = block, runs, block[0]
        self._heads[b] = heads

    def _split(self, b: int) -> None:
        block, runs = self._blocks[b], self._runs[b]
        half = len(block) // 2
        low = runs[half]
        self._blocks[b : b + 1] = [block[:half], block[half:]]
        self._runs[b : b + 1] = [runs[: half + 1], [s - low for s in runs[half:]]]
        self._firsts[b : b + 1] = [block[0], block[half]]
        heads = self._heads[b]
        self._heads[b : b + 1] = [heads[:half], heads[half:]]

    def _merge(self, b: int) -> None:
        """Merge a small block with a neighbour (split again if that is too large)."""
        if len(self._blocks) < 2 or b >= len(self._blocks):
            return
        a = b - 1 if b > 0 else b
        block = self._blocks[a] + self._blocks[a + 1]
        low = self._runs[a][-1]
        runs = [*self._runs[a], *(s + low for s in self._runs[a + 1][1:])]
        self._blocks[a : a + 2] = [block]
        self._runs[a : a + 2] = [runs]
        self._firsts[a : a + 2] = [block[0]]
        self._heads[a : a + 2] = [self._heads[a] + self._heads[a + 1]]
        if len(block) > 2 * self._block:
            self._split(a)

    def snapshot(self) -> Snapshot:
        """The set as it stands now, for a session to read (cached until the next change)."""
        if self._snapshot is None:
            self._snapshot = Snapshot(
                list(self._blocks),
                list(self._runs),
                list(self._firsts),
                list(self._heads),
                list(accumulate(map(len, self._blocks), initial=0)),
                list(accumulate((runs[-1] for runs in self._runs), initial=0)),
                dict(self._crowded),
                self._by_head,
            )
        return self._snapshot


class Snapshot:
    """A ``ReconcileSet`` as it stood at one moment, read by index: item i is the i-th in
    ``(timestamp, id)`` order, and ranges are given as indices ``[lo, hi)``."""

    __slots__ = (
        "_blocks",
        "_by_head",
        "_firsts",
        "_heads",
        "_offsets",
        "_runs",
        "_sums",
        "crowded",
        "n",
    )

    def __init__(
        self,
        blocks: list[list[Key]],
        runs: list[list[int]],
        firsts: list[Key],
        heads: list[list[bytes]],
        offsets: list[int],
        sums: list[int],
        crowded: dict[bytes, tuple[bytes, ...]],
        by_head: dict[int, Key | tuple[Key, ...]],
    ) -> None:
        self._blocks = blocks
        self._runs = runs  # per block, the running sums of its ids
        self._firsts = firsts
        self._heads = heads  # per block, the heads of its ids
        self._offsets = offsets  # index of the first item of each block, then n
        self._sums = sums  # sum of the ids before each block, then of all
        self._by_head = by_head  # the live set's: read only through single()
        self.crowded = crowded
        """Our ids by the heads they share with another of ours (see ReconcileSet)."""
        self.n = offsets[-1]

    def __len__(self) -> int:
        return self.n

    # -- positions ------------------------------------------------------------------------------

    def _at(self, i: int) -> tuple[int, int]:
        """Block and place in it of item i (0 <= i < n)."""
        b = bisect_right(self._offsets, i) - 1
        return b, i - self._offsets[b]

    def key(self, i: int) -> Key:
        b, j = self._at(i)
        return self._blocks[b][j]

    def id(self, i: int) -> bytes:
        return self.key(i)[TS_BYTES:]

    def value(self, i: int) -> int:
        """Item i's id as a little-endian integer."""
        b, j = self._at(i)
        runs = self._runs[b]
        return runs[j + 1] - runs[j]

    def _gather(self, parts: list[list[bytes]], lo: int, hi: int) -> list[bytes]:
        """Items [lo, hi) of per-block lists ``parts`` (keys or heads): one slice when the
        range falls in one block (the usual case of a frame's ranges), else one chain."""
        if hi <= lo:
            return []
        offsets = self._offsets
        b = bisect_right(offsets, lo) - 1
        j = lo - offsets[b]
        part = parts[b]
        if j + hi - lo <= len(part):
            return part[j : j + hi - lo]
        e = bisect_right(offsets, hi - 1, b) - 1
        return list(
            chain(part[j:], chain.from_iterable(parts[b + 1 : e]), parts[e][: hi - offsets[e]])
        )

    def keys(self, lo: int, hi: int) -> list[Key]:
        return self._gather(self._blocks, lo, hi)

    def values(self, lo: int, hi: int) -> list[int]:
        """The ids of items [lo, hi) as little-endian integers."""
        if hi <= lo:
            return []
        offsets = self._offsets
        b = bisect_right(offsets, lo) - 1
        j = lo - offsets[b]
        runs = self._runs[b]
        if j + hi - lo < len(runs):  # within one block
            return list(map(sub, runs[j + 1 : j + hi - lo + 1], runs[j : j + hi - lo]))
        e = bisect_right(offsets, hi - 1, b) - 1
        out = list(map(sub, runs[j + 1 :], runs[j:-1]))
        for c in range(b + 1, e + 1):
            runs = self._runs[c]
            end = hi - offsets[c] if c == e else len(runs) - 1
            out += map(sub, runs[1 : end + 1], runs[:end])
        return out

    def ids(self, lo: int, hi: int) -> list[bytes]:
        return list(map(ID_OF, self.keys(lo, hi)))

    def heads(self, lo: int, hi: int) -> list[bytes]:
        """The first PREFIX_BYTES of the ids of items [lo, hi)."""
        return self._gather(self._heads, lo, hi)

    def locate(self, bound: Bound, lo: int = 0) -> int:
        """The index of the first item at or above ``bound`` (searching from ``lo``)."""
        if bound.infinite:
            return self.n
        key = bound.key
        b = bisect_right(self._firsts, key) - 1
        if b < 0:
            return lo
        return max(lo, self._offsets[b] + bisect_left(self._blocks[b], key))

    # -- sums and fingerprints ------------------------------------------------------------------

    def total(self, lo: int, hi: int) -> int:
        """The sum of the ids of items [lo, hi) (not reduced)."""
        if hi <= lo:
            return 0
        offsets = self._offsets
        b = bisect_right(offsets, lo) - 1
        runs = self._runs[b]
        j = lo - offsets[b]
        if j + hi - lo < len(runs):  # within one block
            return runs[j + hi - lo] - runs[j]
        sums = self._sums
        if hi >= self.n:
            return sums[-1] - sums[b] - runs[j]
        e = bisect_right(offsets, hi, b) - 1
        return sums[e] + self._runs[e][hi - offsets[e]] - sums[b] - runs[j]

    def fingerprint(self, lo: int, hi: int) -> bytes:
        if hi > lo:  # a range within one block, inline (one per range of a frame)
            offsets = self._offsets
            b = bisect_right(offsets, lo) - 1
            runs = self._runs[b]
            j = lo - offsets[b]
            if j + hi - lo < len(runs):
                return fingerprint(runs[j + hi - lo] - runs[j], hi - lo)
        return fingerprint(self.total(lo, hi), hi - lo)

    def digest(self, lo: int, hi: int) -> Digest:
        total = self.total(lo, hi)
        return Digest(fingerprint(total, hi - lo), hi - lo, total & SUM_MASK)

    def bound_before(self, i: int) -> Bound:
        """The shortest bound above item i-1 and at or below item i."""
        b, j = self._at(i)
        block = self._blocks[b]
        key, prev = block[j], block[j - 1] if j else self._blocks[b - 1][-1]
        ts = int.from_bytes(key[:TS_BYTES], "big")
        if key[:TS_BYTES] != prev[:TS_BYTES]:
            return Bound(ts)
        id_ = key[TS_BYTES:]
        return Bound(ts, id_[: _common_prefix(prev[TS_BYTES:], id_) + 1])

    # -- single differences and prefixes --------------------------------------------------------

    def single(self, lo: int, hi: int, low_bits: int, peer: bytes) -> int | None:
        """The index of our item in [lo, hi) whose id has these low 64 bits and without which
        our range has the peer's fingerprint ``peer``; None if there is none. The candidates
        come from the set's index of ids by head, so a digest over a large range (a peer may
        send one over our whole set) costs O(log n), not a scan of the range."""
        m = hi - lo
        if m <= 0:
            return None
        if m <= SINGLE_SCAN_MAX_ITEMS:
            # A frame can hold 2048 such digests over small ranges: the range's running sums
            # read once (a slice, when the range falls in one block) and scanned, instead of a
            # search for each candidate.
            offsets = self._offsets
            b = bisect_right(offsets, lo) - 1
            j = lo - offsets[b]
            runs = self._runs[b]
            if j + m < len(runs):
                sums = runs[j : j + m + 1]
            else:
                sums = list(accumulate(self.values(lo, hi), initial=0))
            total = sums[-1] - sums[0]
            for i, (before, after) in enumerate(pairwise(sums), lo):
                value = after - before
                if value & SUM_MASK == low_bits and fingerprint(total - value, m - 1) == peer:
                    return i
            return None
        found = self._by_head.get(low_bits & HEAD_MASK)
        if found is None:
            return None
        total = self.total(lo, hi)
        blocks, firsts, offsets = self._blocks, self._firsts, self._offsets
        for key in sorted(found) if isinstance(found, tuple) else (found,):
            value = _value(key)
            if value & SUM_MASK != low_bits:
                continue
            # Where the key is in this snapshot (it may be only in the live set).
            b = bisect_right(firsts, key) - 1
            if b < 0:
                continue
            block = blocks[b]
            j = bisect_left(block, key)
            if j == len(block) or block[j] != key:
                continue
            i = offsets[b] + j
            if lo <= i < hi and fingerprint(total - value, hi - lo - 1) == peer:
                return i
        return None

    def list_width(self, lo: int, hi: int) -> int:
        """PREFIX_BYTES, or more if two of our own ids in the range would share a prefix."""
        heads = self.heads(lo, hi)
        if len(set(heads)) == len(heads):
            return PREFIX_BYTES  # the usual case, without sorting
        ids = sorted(self.ids(lo, hi))
        longest = max((_common_prefix(a, b) for a, b in pairwise(ids)), default=0)
        return min(ID_BYTES, max(PREFIX_BYTES, longest + 1))

    def extra_width(self, extras: Sequence[bytes]) -> int:
        """Shortest prefix width (at least PREFIX_BYTES) that tells each of these ids apart
        from every other id we hold, so that 'the item starting with it' names one item."""
        crowded = self.crowded
        if not crowded:
            return PREFIX_BYTES
        heads = crowded.keys() & {id_[:PREFIX_BYTES] for id_ in extras}
        if not heads:
            return PREFIX_BYTES
        return max(
            (self.unique_width(id_) for id_ in extras if id_[:PREFIX_BYTES] in heads),
            default=PREFIX_BYTES,
        )

    def unique_width(self, id_: bytes) -> int:
        """The shortest prefix of our id ``id_`` (at least PREFIX_BYTES) no other id of ours
        starts with."""
        group = self.crowded.get(id_[:PREFIX_BYTES])
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
