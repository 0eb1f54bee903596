"""One side of one reconciliation session: the state machine of docs/sync.md §4 (what to
answer to every range of a frame). Pure: no sockets, no clock, no randomness."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import not_
from typing import NamedTuple

from stig.crdt.reconcile.cost import (
    MAX_BRANCHES,
    MULTI_DIFFERENCES,
    branches,
    estimate_density,
    expected_differences,
)
from stig.crdt.reconcile.items import HEAD_OF, ID_OF, ReconcileSet, Snapshot
from stig.crdt.reconcile.wire import (
    FINGERPRINT_BYTES,
    ID_BYTES,
    INFINITY,
    LOWEST,
    MAX_FRAME_BYTES,
    MAX_FRAME_RANGES,
    MAX_ROUNDS,
    MIN_FRAME_BYTES,
    PREFIX_BYTES,
    SUM_BYTES,
    SUM_MASK,
    TS_BYTES,
    Bound,
    Claim,
    Digest,
    Fingerprint,
    Found,
    IdList,
    IdReply,
    Item,
    Payload,
    Range,
    Skip,
    SyncError,
    SyncReason,
    decode_frame,
    encode_payload,
    fingerprint,
    protocol_error,
)
from stig.crdt.reconcile.writer import RANGES_RESERVE, Mark, Writer

FIRST_BRANCHES = 64
"""Fingerprint ranges in the initiator's first frame: 64 take about 830 bytes, so two identical
sets are confirmed in one round trip with a first frame under 1 KB."""

FIRST_RANGE_MIN_ITEMS = 16
"""For small sets the first frame has fewer ranges, none smaller than this."""

FIRST_LIST_MAX_ITEMS = 32
"""A set this small is listed whole in the first frame (reconciled in one round trip)."""

LIST_MAX_ITEMS = 256
"""The initiator lists a differing range of at most this many of its items (4 bytes each, about
1 KB) rather than splitting it, which would cost another round trip."""

CLUSTER_MAX_BRANCHES = 16
"""... but the responder splits a differing range into at most this many sub-ranges for that
reason (the cost model may ask for more). In a set of a million items the first frame's ranges
hold 15,625 items: keeping their sub-ranges listable meant 62 digests per differing range,
13.8 of the 14.9 KB of a session with 10 differences; with 16, 4.6 KB, still in 2 round trips
(and 18.5 KB instead of 23.7 KB in 3 for 1,000 differences of the last hour). Sets up to
4,096 x 64 items are split as before (docs/sync.md §4.5)."""

DENSE_LIST_RATIO = 8
"""... and also a larger range if at least one item in this many is estimated to differ."""

LIST_MERGE_MAX_RANGES = 16
"""Adjacent differing ranges are merged into one id list (one bound, one reply, one check), at
most this many, so that a merged reply stays well inside a frame."""

LIST_MERGE_MAX_ITEMS = 1024
"""... and at most this many items on either side in one merged list. Only lists that answer
digests are merged: a digest tells how many items the peer holds there, so a merged list never
asks for a reply larger than a frame (the responder would split it again, and the initiator
merge it again, forever)."""

FULL_LIST_MAX_ITEMS = 4
"""The responder sends the full ids of a differing range of at most this many items: it ends
the range at once, where a split would need two more frames."""

CLAIM_FULL_LIST_MAX_ITEMS = LIST_MAX_ITEMS
"""... and of a range of at most this many items whose claim turned out wrong. A wrong claim is
rare (the range holds three or more differences) and full ids end the range without another
round trip; the responder's own splits keep ranges this small (see _differs)."""

CLAIM_MAX_DIFFERENCES = 1.2
"""A digest whose count is one short is claimed only if ranges of its size hold at most this
many differences on average: with mu of them, half on each side, the count is one short
because of a single item with probability about 1 / (1 + mu^2 / 8), 85 % at 1.2. Beyond, a
claim is likely wrong (and answered with full ids): the initiator lists the range instead."""


MAX_COLLIDED_RANGES = 1024
"""Ranges remembered as having hidden a prefix collision (listed with full ids from then on).
An honest session sees one only when an adversary ground a 32-bit collision; a peer that
answers range after range with a wrong check would make the list grow by every round, so past
this many the initiator lists everything with full ids (larger, never wrong)."""


_COMPARED = (Fingerprint, Digest, Claim)
"""Payloads that carry the peer's fingerprint of the range (a tuple: isinstance of a union of
types is slower, and this runs for every range of a frame)."""


class Span(NamedTuple):
    """A range of the frame being answered: its bounds, and where our items in it are (indices
    [lo, hi) of the sorted keys). What a range's answer is worked out from."""

    lower: Bound
    upper: Bound
    lo: int
    hi: int


@dataclass(slots=True)
class _Open:
    """The id list last written to the frame, which the next adjacent one may be merged into."""

    mark: Mark
    span: Span  # the ranges merged into it, as one
    ranges: int
    peer_items: int  # the peer's items in the merged ranges, from their digests
    list: IdList  # what was written
    shorts: set[bytes] | None = None  # its entries, when they are PREFIX_BYTES long


# -- the state machine ---------------------------------------------------------------------------


class Reconciler:
    """One side of one reconciliation session over a fixed set of items.

    The initiator calls ``initiate()`` and sends the frame; each side passes every frame it
    receives to ``receive()`` and sends what it returns. The responder always answers; the
    initiator's ``receive()`` returns None when it knows both differences, which ends the
    session (the node then closes the stream).

    Afterwards, on the initiator, ``have`` holds the full ids of every item it holds that the
    responder lacks, and ``need`` holds, for every item the responder holds that it lacks, an id
    prefix (4 to 32 bytes) that starts the id of that item and of no other item the responder
    holds. The fetch phase asks the responder for the item starting with each prefix.
    The responder learns what the protocol shows it: ``have`` holds full ids of its items that
    the initiator lacks, ``need`` prefixes of the initiator's items it lacks; both may be
    incomplete (the initiator's view is the complete one) but never hold a wrong entry.

    ``frame_limit`` bounds the frames this side sends (work that does not fit is deferred to
    the next round); it accepts frames up to ``max(frame_limit, MAX_FRAME_BYTES)``.
    """

    def __init__(
        self,
        items: Iterable[Item] | ReconcileSet | Snapshot,
        *,
        initiator: bool,
        frame_limit: int = MAX_FRAME_BYTES,
    ) -> None:
        if frame_limit < MIN_FRAME_BYTES:
            raise ValueError(f"frame_limit must be at least {MIN_FRAME_BYTES} bytes")
        if not isinstance(items, Snapshot):
            items = (items if isinstance(items, ReconcileSet) else ReconcileSet(items)).snapshot()
        self._set = items
        self._initiator = initiator
        self._limit = frame_limit
        self._accept = max(frame_limit, MAX_FRAME_BYTES)
        self._started = False
        self._done = False
        self._failed = False
        self._received = 0
        self._open: _Open | None = None
        self._max_split = MAX_BRANCHES  # most sub-ranges per split in the frame being answered
        # The sums of the differing digest ranges of the frame being answered, by (lo, hi):
        # read once for the comparison, used again to decode the digest.
        self._sums: dict[tuple[int, int], int] = {}
        # Ranges (as key intervals) whose short-prefix list collided with the peer's ids: from
        # then on they are listed with full ids, even if a frame limit splits them first. Kept
        # as the sorted starts and ends of disjoint intervals, so that a list asks in O(log)
        # whether it overlaps one (a scan of all of them per list was quadratic in the rounds);
        # None once there were more than MAX_COLLIDED_RANGES: every range counts as collided.
        self._collided: tuple[list[bytes], list[bytes]] | None = ([], [])
        self.have: set[bytes] = set()
        self.need: set[bytes] = set()

    # -- public API -------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the session is over: on the initiator when ``receive()`` returned None; on
        the responder when its last frame was empty (which always ends the initiator's side)."""
        return self._done

    def initiate(self) -> bytes:
        """The initiator's first frame: the whole set as fingerprinted ranges (listed if small)."""
        if not self._initiator:
            raise RuntimeError("only the initiator starts a session")
        if self._started:
            raise RuntimeError("initiate() was already called")
        self._started = True
        writer = Writer(self._limit)
        n = len(self._set)
        if n <= FIRST_LIST_MAX_ITEMS and self._list(writer, Span(LOWEST, INFINITY, 0, n), None):
            return writer.frame()
        k = max(2, min(FIRST_BRANCHES, n // FIRST_RANGE_MIN_ITEMS))
        # Plain fingerprints: a digest is twice the size, and only pays where ranges differ.
        while not self._split(writer, Span(LOWEST, INFINITY, 0, n), k, plain=True):
            if k <= 2:
                raise AssertionError("the first frame does not fit")  # see MIN_FRAME_BYTES
            k //= 2
        return writer.frame()

    def receive(self, frame: bytes) -> bytes | None:
        """Process the peer's frame; return the frame to send back, or None (initiator only)
        when reconciliation is complete. Raises SyncError for a frame that cannot be accepted;
        the session is then over."""
        if self._initiator and not self._started:
            raise RuntimeError("call initiate() first")
        if self._failed:
            raise RuntimeError("this session already failed")
        try:
            return self._receive(frame)
        except SyncError:
            self._failed = True
            raise

    # -- rounds -----------------------------------------------------------------------------------

    def _receive(self, frame: bytes) -> bytes | None:
        if self._done:
            raise protocol_error("frame after the end of the session")
        if len(frame) > self._accept:
            raise SyncError(SyncReason.FRAME_TOO_LARGE, f"{len(frame)} bytes, limit {self._accept}")
        self._received += 1
        if self._received > MAX_ROUNDS:
            raise SyncError(SyncReason.TOO_MANY_ROUNDS, f"more than {MAX_ROUNDS} rounds")
        writer = self._answer(decode_frame(frame))
        if self._initiator and writer.work == 0:
            self._done = True
            return None
        if not self._initiator:
            self._done = writer.work == 0
        return writer.frame()

    def _answer(self, ranges: list[Range]) -> Writer:
        n = len(self._set)
        # Resolve every range to the indices of our items in it and compare fingerprints first:
        # how many of our items lie in equal ranges, and how large the differing ranges are,
        # estimates how dense the differences are. Skip ranges count as equal: the peer found
        # them equal to what we sent (and skips are coalesced, so only their size is known).
        spans: list[tuple[Bound, int, int, bool]] = []
        lower, lo = LOWEST, 0
        equal_items = 0
        differing: list[int] = []
        self._sums = sums = {}
        for r in ranges:
            hi = self._set.locate(r.upper, lo)
            p = r.payload
            self._check_move(p, hi - lo)
            settled = isinstance(p, Skip)
            if isinstance(p, _COMPARED):
                total = self._set.total(lo, hi)
                settled = fingerprint(total, hi - lo) == p.value
                if not isinstance(p, Claim) and not settled:
                    differing.append(hi - lo)
                    if isinstance(p, Digest):
                        sums[lo, hi] = total
            if settled:
                equal_items += hi - lo
            spans.append((lower, lo, hi, settled))
            lower, lo = r.upper, hi
        density = estimate_density(equal_items, differing)
        # Share MAX_FRAME_RANGES among the ranges to answer (each may need a skip before it),
        # so that splits fit in this frame rather than defer a part of it by a round trip.
        to_answer = sum(1 for span in spans if not span[3])
        self._max_split = max(2, (MAX_FRAME_RANGES - RANGES_RESERVE) // max(1, to_answer) - 1)

        writer = Writer(self._limit)
        self._open = None
        for r, (lower, lo, hi, settled) in zip(ranges, spans, strict=True):
            if settled:
                continue
            if not self._handle(writer, Span(lower, r.upper, lo, hi), r.payload, density):
                # Out of room: defer everything from here on. The fingerprint of the rest makes
                # the peer split it again next round (stateless, as Negentropy's frame limit).
                rest = Fingerprint(self._set.fingerprint(lo, n))
                if not writer.add(lower, INFINITY, rest, reserve=0):
                    raise AssertionError("FRAME_RESERVE too small")
                break
        return writer

    def _check_move(self, payload: Payload, ours: int) -> None:
        """Refuse what the peer's role may not send (docs/sync.md §4.7), before any work: a
        frame is accepted or refused as a whole."""
        if self._initiator:
            if isinstance(payload, IdList) and payload.width != ID_BYTES:
                raise protocol_error("the responder sent an id list of prefixes")
            if isinstance(payload, IdReply) and payload.count != ours:
                raise protocol_error(f"id reply for {payload.count} items, we hold {ours} there")
        elif isinstance(payload, IdReply | Found):
            raise protocol_error(f"the initiator may not send {type(payload).__name__} ranges")

    def _handle(
        self,
        writer: Writer,
        span: Span,
        payload: Payload,
        density: float,
    ) -> bool:
        """Answer one range that needs work; False if the answer does not fit in this frame."""
        lower, upper, lo, hi = span
        m = hi - lo
        if isinstance(payload, Fingerprint):  # one that differs from ours
            return self._differs(writer, span, density * m, 1)
        if isinstance(payload, Digest):
            return self._take_digest(writer, span, payload, density)
        if isinstance(payload, Claim):
            low_bits = int.from_bytes(payload.prefix, "little")
            index = self._set.single(lo, hi, low_bits, payload.value)
            if index is not None:
                return self._holds_single(writer, span, index)
            return self._wrong_claim(writer, span)
        if isinstance(payload, Found):  # on the initiator (_check_move)
            self.need.add(payload.prefix)
            return True
        if isinstance(payload, IdList):
            if self._initiator:
                self._take_full_list(lo, hi, payload)
                return True
            return self._reply(writer, span, payload)
        if isinstance(payload, IdReply):  # on the initiator (_check_move)
            if self._take_reply(lo, hi, payload):
                return True
            # A prefix collision hid a difference: list this range again with full ids.
            self._collide(lower.key, upper.key)
            return self._list(writer, span, ID_BYTES) or (
                not writer.work and self._split_fitting(writer, span, 2, 2)
            )
        raise AssertionError(payload)  # skips are settled by the caller

    def _differs(
        self,
        writer: Writer,
        span: Span,
        mu: float,
        min_k: int,
        peer_items: int | None = None,
    ) -> bool:
        """A range that differs and that we could not settle: list it or split it.

        ``mu`` is the expected number of differences in it before we knew it differs. ``min_k``
        is 2 when the peer already sent a digest of this very range that did not decode: a
        split must then make progress, or both sides could send each other one digest forever.
        ``peer_items`` is the peer's count from its digest, if any (a list may then be merged).
        """
        m = span.hi - span.lo
        expected = expected_differences(mu)
        if self._initiator:
            if m <= LIST_MAX_ITEMS or expected * DENSE_LIST_RATIO >= m:
                if self._list(writer, span, None, peer_items=peer_items):
                    return True
                if writer.work:
                    return False
        elif m <= FULL_LIST_MAX_ITEMS:
            # Full ids end the range at once: the initiator needs no more from us here.
            if self._list(writer, span, ID_BYTES):
                return True
            if writer.work:
                return False
        k = branches(m, max(mu, 1e-6), min_k)
        if not self._initiator:
            # Differences cluster (a node offline for an hour lacks that hour) far more than
            # the model's Poisson process says: keep every sub-range small enough for the
            # initiator to list at once if it turns out dense, rather than split it again —
            # up to CLUSTER_MAX_BRANCHES sub-ranges (a large set's ranges are split coarser).
            k = max(k, min(-(-m // LIST_MAX_ITEMS), CLUSTER_MAX_BRANCHES))
        if k > self._max_split and -(-m // self._max_split) <= LIST_MAX_ITEMS:
            # Fewer, larger sub-ranges, so the frame's splits all fit; only while each stays
            # small enough to be listed next round (else deferring the rest costs less).
            k = max(min_k, self._max_split)
        return self._split_fitting(writer, span, k, min_k)

    def _wrong_claim(self, writer: Writer, span: Span) -> bool:
        """The peer's claim does not hold: the range differs by more than one item."""
        lower, upper, lo, hi = span
        if self._initiator:
            return self._differs(writer, span, MULTI_DIFFERENCES, 2)
        # Answer so that the initiator settles the range in its next frame whatever it holds:
        # with full ids if they are few, else with a fingerprint, which it answers with a list.
        if hi - lo <= CLAIM_FULL_LIST_MAX_ITEMS and self._list(writer, span, ID_BYTES):
            return True
        return writer.add(lower, upper, Fingerprint(self._set.fingerprint(lo, hi)))

    # -- digests, claims and found ranges ---------------------------------------------------------

    def _take_digest(
        self,
        writer: Writer,
        span: Span,
        digest: Digest,
        density: float,
    ) -> bool:
        """A differing digest: if the range differs by one item, name it (docs/sync.md §4.3)."""
        lower, upper, lo, hi = span
        excess = (hi - lo) - digest.count
        total = self._sums.get((lo, hi))
        if total is None:
            total = self._set.total(lo, hi)
        delta = (total - digest.sum) & SUM_MASK
        if excess == 1:
            # We hold one more item: if it is the only difference, delta is its id's low bits.
            index = self._set.single(lo, hi, delta, digest.value)
            if index is not None:
                return self._holds_single(writer, span, index)
        elif excess == -1 and (
            not self._initiator
            or density * (hi - lo) <= CLAIM_MAX_DIFFERENCES
            or hi - lo > LIST_MAX_ITEMS
        ):
            # The peer holds one more: it alone can check that (-delta) names one of its ids.
            prefix = (-delta & SUM_MASK).to_bytes(SUM_BYTES, "little")
            return writer.add(lower, upper, Claim(prefix, fingerprint(total, hi - lo)))
        mu = max(density * (hi - lo), MULTI_DIFFERENCES)
        return self._differs(writer, span, mu, 2, digest.count)

    def _holds_single(self, writer: Writer, span: Span, index: int) -> bool:
        """We hold item ``index`` and the peer lacks it, and that is the range's only difference.
        The initiator now knows all it needs; the responder tells the initiator which item."""
        lower, upper, _, _ = span
        id_ = self._set.id(index)
        if not self._initiator:
            found = Found(id_[: self._set.extra_width([id_])])
            if not writer.add(lower, upper, found):
                return False
        self.have.add(id_)
        return True

    # -- range primitives -----------------------------------------------------------------------

    def _split_fitting(
        self,
        writer: Writer,
        span: Span,
        k: int,
        min_k: int,
        *,
        plain: bool = False,
    ) -> bool:
        """Split into k digested sub-ranges; if this is the first work of the frame and it does
        not fit, into fewer (two always fit, see MIN_FRAME_BYTES)."""
        if span.hi - span.lo < min_k:
            return False  # nothing to split: such ranges are listed
        while True:
            if self._split(writer, span, k, plain=plain):
                return True
            if writer.work or k <= min_k:
                return False
            k = max(min_k, k // 2)

    def _split(
        self,
        writer: Writer,
        span: Span,
        k: int,
        *,
        plain: bool = False,
    ) -> bool:
        """Write [lo, hi) as k sub-ranges of (nearly) equal size, each with its digest (or only
        its fingerprint, if ``plain``). k = 1 answers a fingerprint with a digest."""
        lower, upper, lo, hi = span
        m = hi - lo
        k = max(1, min(k, m))
        mark = writer.mark()
        start, sub_lower = lo, lower
        for j in range(1, k + 1):
            end = lo + (j * m) // k
            sub_upper = upper if j == k else self._set.bound_before(end)
            payload: Payload
            if plain:
                payload = Fingerprint(self._set.fingerprint(start, end))
            else:
                payload = self._set.digest(start, end)
            if not writer.add(sub_lower, sub_upper, payload):
                writer.rollback(mark)
                return False
            start, sub_lower = end, sub_upper
        return True

    # -- id lists and replies ---------------------------------------------------------------------

    def _list(
        self,
        writer: Writer,
        span: Span,
        width: int | None,
        *,
        peer_items: int | None = None,
    ) -> bool:
        """Write our items in [lo, hi) as an id list (``width`` None: the shortest safe prefix).
        With ``peer_items`` (the peer's count there), extend the id list just written if it
        ends where this range begins (LIST_MERGE_MAX_RANGES, LIST_MERGE_MAX_ITEMS)."""
        lower, upper, lo, hi = span
        opened = self._open
        if (
            peer_items is not None
            and opened is not None
            and opened.span.upper == lower
            and writer.upper == lower
            and opened.ranges < LIST_MERGE_MAX_RANGES
            and hi - opened.span.lo <= LIST_MERGE_MAX_ITEMS
            and opened.peer_items + peer_items <= LIST_MERGE_MAX_ITEMS
        ):
            together = Span(opened.span.lower, upper, opened.span.lo, hi)
            merged = self._merged(opened, span)
            writer.rollback(opened.mark)
            if merged is not None and writer.add(together.lower, upper, merged[0]):
                assert opened.shorts is not None  # _merged checked
                opened.shorts.update(merged[1])
                self._open = _Open(
                    opened.mark,
                    together,
                    opened.ranges + 1,
                    opened.peer_items + peer_items,
                    merged[0],
                    opened.shorts,
                )
                return True
            total = opened.peer_items + peer_items
            # (Not merged again inside: the open list ends above the merged span's lower bound.)
            if merged is None and self._list(writer, together, None, peer_items=total):
                assert self._open is not None  # _list just opened it
                self._open.ranges = opened.ranges + 1
                return True
            # The merged list does not fit: put the previous one back as it was.
            if not writer.add(opened.span.lower, opened.span.upper, opened.list):
                raise AssertionError("a list that fitted no longer fits")
            self._open = opened
            return False
        heads = None
        if width is None:
            if self._has_collided(lower.key, upper.key):
                w = ID_BYTES
            else:
                # The heads read once: they are the list when they tell our items apart.
                heads = self._set.heads(lo, hi)
                w = PREFIX_BYTES if len(set(heads)) == len(heads) else self._set.list_width(lo, hi)
        else:
            w = width
        mark = writer.mark()
        if w == PREFIX_BYTES:
            payload = IdList(w, tuple(self._set.heads(lo, hi) if heads is None else heads))
        else:
            end = TS_BYTES + w
            payload = IdList(w, tuple(k[TS_BYTES:end] for k in self._set.keys(lo, hi)))
        if not writer.add(lower, upper, payload):
            return False
        if peer_items is not None and width is None:
            shorts = set(payload.ids) if w == PREFIX_BYTES else None
            self._open = _Open(mark, span, 1, peer_items, payload, shorts)
        else:
            self._open = None
        return True

    def _merged(self, opened: _Open, span: Span) -> tuple[IdList, list[bytes]] | None:
        """The open list of short prefixes extended by our items in [lo, hi) without listing
        the open part again (merging used to re-list it for every range merged in), if the
        short prefixes still tell every item apart; None if the merged list needs working out
        afresh (longer prefixes, or a range that collided before)."""
        _, upper, lo, hi = span
        shorts = opened.shorts
        if shorts is None or self._has_collided(opened.span.lower.key, upper.key):
            return None
        added = self._set.heads(lo, hi)
        if not shorts.isdisjoint(added) or len(set(added)) != len(added):
            return None
        return IdList(PREFIX_BYTES, opened.list.ids + tuple(added)), added

    def _collide(self, low: bytes, high: bytes) -> None:
        """Remember the key interval [low, high) as collided, merged with those it touches."""
        if self._collided is None:
            return
        starts, ends = self._collided
        # Intervals i..j-1 overlap or touch [low, high) (end >= low, start <= high).
        i = bisect_left(ends, low)
        j = bisect_right(starts, high)
        if i < j:
            low, high = min(low, starts[i]), max(high, ends[j - 1])
        starts[i:j], ends[i:j] = [low], [high]
        if len(starts) > MAX_COLLIDED_RANGES:
            self._collided = None

    def _has_collided(self, low: bytes, high: bytes) -> bool:
        """Whether [low, high) overlaps a range remembered as collided."""
        if self._collided is None:
            return True
        starts, ends = self._collided
        # The first interval ending after low is the only candidate: it overlaps if it starts
        # before high (the intervals are disjoint and sorted).
        i = bisect_right(ends, low)
        return i < len(ends) and starts[i] < high

    def _take_full_list(self, lo: int, hi: int, payload: IdList) -> None:
        """The responder's full ids of a small range: both differences of the range are known."""
        theirs = set(payload.ids)
        ours = self._set.ids(lo, hi)
        if theirs.isdisjoint(ours):
            # The usual case (they hold none of ours here), and the one a peer can make cover
            # our whole set: no set of ours built, each id hashed once.
            self.have.update(ours)
            self.need |= theirs
            return
        mine = set(ours)
        self.have |= mine - theirs
        self.need |= theirs - mine

    def _reply(self, writer: Writer, span: Span, listed: IdList) -> bool:
        """The responder's answer to an id list (docs/sync.md §4.4)."""
        lower, upper, lo, hi = span
        if not listed.ids and hi > lo and self._reply_in_chunks(writer, span):
            return True
        w = listed.width
        if (hi - lo - len(listed.ids)) * PREFIX_BYTES > writer.room():
            # More of our items than entries, by more extras than the frame has room for: the
            # reply cannot fit, so do not read the range (it may hold our whole set) to find out.
            if writer.work:
                return False
            return self._split_reply(writer, span, (hi - lo - len(listed.ids)) * PREFIX_BYTES)
        entries = set(listed.ids)
        keys = self._set.keys(lo, hi)
        if w == PREFIX_BYTES:
            prefixes = self._set.heads(lo, hi)  # kept per block: slices, no cutting
        else:
            end = TS_BYTES + w
            prefixes = [k[TS_BYTES:end] for k in keys]
        if entries.isdisjoint(prefixes):
            # None of the entries is ours (a new node's list, or a hostile one): every item of
            # ours here is an extra and every entry is missing. The usual shape of a large
            # reply, so it takes no per-item work beyond cutting the ids.
            listed_here: list[bool] | None = None
            matched = 0
        else:
            listed_here = list(map(entries.__contains__, prefixes))
            matched = listed_here.count(True)
        # The shortest the reply can be; if even that does not fit, do not work out what cannot
        # be sent (a fresh peer's empty list may face all our items, a hostile list of 65,000
        # prefixes none of ours).
        least = (
            (len(listed.ids) + 7) // 8
            + (hi - lo - matched) * min(w, PREFIX_BYTES)
            + FINGERPRINT_BYTES
        )
        if least > writer.room():
            if writer.work:
                return False
            return self._split_reply(writer, span, least)
        if listed_here is None:
            total = 0
            extras = list(map(ID_OF, keys))
            missing: Sequence[int] = range(len(listed.ids))
            unlisted: list[bool] | None = None
        else:
            # Every item of ours listed (the peer holds the range and more): the range's sum,
            # without reading its values.
            total = (
                self._set.total(lo, hi)
                if matched == hi - lo
                else sum(compress(self._set.values(lo, hi), listed_here))
            )
            unlisted = list(map(not_, listed_here))
            extras = list(map(ID_OF, compress(keys, unlisted)))
            present = set(prefixes)
            missing = tuple(i for i, p in enumerate(listed.ids) if p not in present)
        extra_width = ID_BYTES if w == ID_BYTES else self._set.extra_width(extras)
        if extra_width == PREFIX_BYTES and w == PREFIX_BYTES:
            # The heads, already cut.
            shown = tuple(prefixes if unlisted is None else compress(prefixes, unlisted))
        else:
            shown = tuple(id_[:extra_width] for id_ in extras)
        reply = IdReply.of(
            w, len(listed.ids), missing, extra_width, shown, fingerprint(total, matched)
        )
        if not writer.add(lower, upper, reply):
            if writer.work:
                return False
            # Even alone the reply is too large (we hold many items the initiator lacks).
            return self._split_reply(writer, span, len(encode_payload(reply)))
        self.have.update(extras)
        self.need.update(listed.ids[i] for i in missing)
        return True

    def _split_reply(self, writer: Writer, span: Span, size: int) -> bool:
        """A reply of ``size`` bytes that cannot fit even alone: split the range into plain
        fingerprint ranges (the initiator never merges the lists that answer them back into
        one), enough for each reply to take half a frame at most."""
        k = min(MAX_BRANCHES, -(-size * 2 // self._limit))
        return self._split_fitting(writer, span, max(k, 2), 2, plain=True)

    def _reply_in_chunks(self, writer: Writer, span: Span) -> bool:
        """Answer an empty id list (a peer that holds nothing here, e.g. a new node) with as
        many replies over consecutive parts of the range as fit, then our fingerprint of the
        rest, which the peer answers with another empty list: every round trip carries a full
        frame of prefixes. False if not even one part fits."""
        lower, upper, lo, hi = span
        start, sub_lower = lo, lower
        while start < hi:
            # A first guess of how many extras fit, halved until they do. Two reserves stay
            # free: one for the fingerprint of the rest, one for deferring later ranges.
            count = min(hi - start, max(1, writer.room() // (PREFIX_BYTES + 1)))
            # A chunk has one prefix width: an id that needs a longer prefix than
            # PREFIX_BYTES gets a chunk of its own rather than widening thousands.
            width = self._set.unique_width(self._set.id(start))
            if width > PREFIX_BYTES:
                count = 1
            elif self._set.crowded:
                crowded = self._set.crowded
                heads = self._set.heads(start + 1, start + count)
                first = next((j for j, h in enumerate(heads, start + 1) if h in crowded), None)
                if first is not None:
                    count = first - start
            while count:
                end = start + count
                sub_upper = upper if end == hi else self._set.bound_before(end)
                keys = self._set.keys(start, end)
                ids = list(map(ID_OF, keys))
                extras = (
                    tuple(map(HEAD_OF, keys))
                    if width == PREFIX_BYTES
                    else tuple(id_[:width] for id_ in ids)
                )
                reply = IdReply(PREFIX_BYTES, 0, b"", width, extras, fingerprint(0, 0))
                if writer.add(sub_lower, sub_upper, reply, reserve=2):
                    break
                count //= 2
            if not count:
                break
            self.have.update(ids)
            start, sub_lower = end, sub_upper
        if start == lo:
            return False
        if start < hi:
            rest = Fingerprint(self._set.fingerprint(start, hi))
            if not writer.add(sub_lower, upper, rest):
                raise AssertionError("a reserve was kept for it")
        return True

    def _take_reply(self, lo: int, hi: int, reply: IdReply) -> bool:
        """Check and record the responder's answer to our id list; False asks for a retry with
        full ids (a prefix collision hid a difference)."""
        # count == hi - lo (_check_move): expanding the bitmap costs what our range holds.
        missing = reply.missing
        # (At most one read of the range's values and one of its keys: a range of a snapshot
        # is gathered, and per-index reads cost a search each.)
        if len(missing) == hi - lo:
            total = 0  # all of ours are missing there: nothing to read
        elif missing:
            values = self._set.values(lo, hi)
            total = sum(values) - sum(values[i] for i in missing)
        else:
            total = self._set.total(lo, hi)
        if fingerprint(total, hi - lo - len(missing)) != reply.check:
            if reply.width == ID_BYTES:
                # With full ids nothing can collide: the peer is broken or lying.
                raise protocol_error("id reply inconsistent with full ids")
            return False
        if missing:
            keys = self._set.keys(lo, hi)
            self.have.update(keys[i][TS_BYTES:] for i in missing)
        self.need.update(reply.extras)
        return True
