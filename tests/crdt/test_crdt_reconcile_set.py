"""The set a session reconciles, kept current (stig/crdt/reconcile/items.py).

The law: after any sequence of adds and removes, a ``ReconcileSet``'s snapshot answers every
query a session asks (ranges, sums, fingerprints, digests, bounds, single differences, prefix
widths) exactly as the snapshot of a set built at once from the same items, and as a plain
sorted list of keys says it should. Small blocks make splits and merges happen in small
examples; ids drawn from few heads make prefixes collide.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt.reconcile import ID_BYTES, PREFIX_BYTES, Bound, Item, fingerprint
from stig.crdt.reconcile.items import ReconcileSet, Snapshot, item_key
from stig.crdt.reconcile.wire import SUM_MASK, TS_BYTES

HEADS = [bytes([h, 0, 0, 0]) for h in range(3)]
"""Few heads, so that ids share them (the crowded index) and long prefixes."""

items_st = st.builds(
    Item,
    st.integers(0, 6),
    st.one_of(
        st.binary(min_size=ID_BYTES, max_size=ID_BYTES),
        st.builds(
            lambda head, middle, tail: head + middle + tail,
            st.sampled_from(HEADS),
            st.sampled_from([bytes(20), b"\x01" * 20, bytes(19) + b"\x01"]),
            st.binary(min_size=8, max_size=8),
        ),
    ),
)
ops_st = st.lists(st.tuples(st.booleans(), items_st), max_size=120)


def oracle_keys(items: set[Item]) -> list[bytes]:
    return sorted(item_key(x.timestamp, x.id) for x in items)


def assert_answers_as(view: Snapshot, items: set[Item]) -> None:
    """Every query of ``view`` against a rebuilt set and a sorted list of keys."""
    rebuilt = ReconcileSet(items).snapshot()
    keys = oracle_keys(items)
    n = len(keys)
    vals = [int.from_bytes(k[TS_BYTES:], "little") for k in keys]
    assert len(view) == len(rebuilt) == n
    assert view.keys(0, n) == rebuilt.keys(0, n) == keys
    assert view.crowded == rebuilt.crowded
    for lo in range(n + 1):
        for hi in range(lo, n + 1):
            total = sum(vals[lo:hi])
            assert view.total(lo, hi) == rebuilt.total(lo, hi) == total
            assert view.fingerprint(lo, hi) == fingerprint(total, hi - lo)
            assert view.digest(lo, hi) == rebuilt.digest(lo, hi)
            assert view.keys(lo, hi) == keys[lo:hi]
            assert view.values(lo, hi) == vals[lo:hi]
            assert view.heads(lo, hi) == [
                k[TS_BYTES : TS_BYTES + PREFIX_BYTES] for k in keys[lo:hi]
            ]
            assert view.list_width(lo, hi) == rebuilt.list_width(lo, hi)
            for i in range(lo, hi):
                low = vals[i] & SUM_MASK
                peer = fingerprint(total - vals[i], hi - lo - 1)
                first = vals.index(vals[i], lo)  # one id may come at two timestamps
                assert view.single(lo, hi, low, peer) == rebuilt.single(lo, hi, low, peer)
                assert view.single(lo, hi, low, peer) == first
    for i in range(n):
        assert view.id(i) == keys[i][TS_BYTES:] and view.value(i) == vals[i]
        if i:
            bound = view.bound_before(i)
            assert bound == rebuilt.bound_before(i)
            assert keys[i - 1] < bound.key <= keys[i]
        assert view.unique_width(keys[i][TS_BYTES:]) == rebuilt.unique_width(keys[i][TS_BYTES:])
    ids = [k[TS_BYTES:] for k in keys]
    assert view.extra_width(ids) == rebuilt.extra_width(ids)
    for ts in range(8):
        for head in (b"", *HEADS, b"\xff"):
            bound = Bound(ts, head)
            for lo in (0, n // 2):
                expected = max(lo, bisect_left(keys, bound.key))
                assert view.locate(bound, lo) == rebuilt.locate(bound, lo) == expected


@settings(max_examples=150, deadline=None)
@given(ops_st, st.sampled_from([4, 5, 8]))
def test_kept_current_answers_as_rebuilt(ops: list[tuple[bool, Item]], block: int) -> None:
    live = ReconcileSet(block_items=block)
    model: set[Item] = set()
    for adding, item in ops:
        if adding:
            assert live.add(item) == (item not in model)
            model.add(item)
        else:
            assert live.remove(item) == (item in model)
            model.discard(item)
    assert_answers_as(live.snapshot(), model)
    assert all(item in live for item in model)


@settings(max_examples=60, deadline=None)
@given(st.lists(items_st, max_size=40), ops_st)
def test_snapshot_stands_still(start: list[Item], ops: list[tuple[bool, Item]]) -> None:
    """A snapshot answers as the set stood when it was taken, however the set changes later
    (copy-on-write blocks): what lets a session read it while traces are stored."""
    live = ReconcileSet(start, block_items=4)
    before = live.snapshot()
    for adding, item in ops:
        live.update(added=[item] if adding else [], removed=[] if adding else [item])
    then = set(start)
    # single() may miss an item removed since (docs in items.py): only where none was removed.
    if all(x in live for x in then):
        assert_answers_as(before, then)
    else:
        rebuilt = ReconcileSet(then).snapshot()
        n = len(then)
        assert before.keys(0, n) == rebuilt.keys(0, n)
        assert [before.total(0, i) for i in range(n + 1)] == [
            rebuilt.total(0, i) for i in range(n + 1)
        ]


def test_blocks_split_and_merge_over_a_long_run() -> None:
    """Thousands of adds and removes through small blocks: sums stay exact."""
    rng = random.Random(7)
    live = ReconcileSet(block_items=8)
    model: set[Item] = set()
    pool = [Item(rng.randrange(50), rng.randbytes(ID_BYTES)) for _ in range(600)]
    for _ in range(5_000):
        item = rng.choice(pool)
        if rng.random() < 0.55:
            live.add(item)
            model.add(item)
        else:
            live.remove(item)
            model.discard(item)
    view = live.snapshot()
    keys = oracle_keys(model)
    vals = [int.from_bytes(k[TS_BYTES:], "little") for k in keys]
    assert view.keys(0, len(keys)) == keys
    for lo, hi in pairwise(sorted(rng.sample(range(len(keys) + 1), 40))):
        assert view.total(lo, hi) == sum(vals[lo:hi])
