"""The set a node reconciles, kept current from a real SQLite store (stig/node/sync_set.py).

After every kind of change — traces stored in batches (echoes extending lives, retracts and
burns purging), time passing (expiry), eviction, garbage collection, and another process
writing to the same file — the kept set holds exactly what the store says sync reconciles
(``live_items``), read afresh.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt.bounds import DAY
from stig.crdt.reconcile import Item, ReconcileSet
from stig.crdt.views import FeedFilter
from stig.node.sync_set import SyncSet
from stig.store import SqliteStore
from tests.crdt.strategies import ANA, BEN, T0, histories, interesting_nows, post


async def assert_current(kept: SyncSet, store: SqliteStore, now: int) -> None:
    view = await kept.snapshot(now)
    rows = await store.live_items(now)
    expected = ReconcileSet(Item(created, tid) for created, tid in rows).snapshot()
    assert view.keys(0, len(view)) == expected.keys(0, len(expected))
    assert view.total(0, len(view)) == expected.total(0, len(expected))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_kept_set_follows_every_change_to_the_store(data: st.DataObject) -> None:
    traces = data.draw(histories(max_size=14), label="traces")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(traces)), max_size=4), label="cuts"))
    batches = [traces[a:b] for a, b in zip([0, *cuts], [*cuts, len(traces)], strict=True)]
    nows = sorted(data.draw(st.lists(st.sampled_from(interesting_nows(traces)), max_size=4)))
    keep = data.draw(st.integers(0, len(traces)), label="evict down to")

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(Path(tmp) / "stig.db")
            try:
                kept = SyncSet(store)
                await assert_current(kept, store, T0 - DAY)
                for batch in batches:
                    await store.add(batch, T0 - DAY)
                    await assert_current(kept, store, T0 - DAY)
                for now in nows:  # time passes: expiry, and what a refresh recomputes
                    await store.feed(now, FeedFilter(), 1)
                    await assert_current(kept, store, now)
                now = nows[-1] if nows else T0 - DAY
                await store.evict(keep, now)
                await assert_current(kept, store, now)
                await store.collect(now + 30 * DAY)
                await assert_current(kept, store, now + 30 * DAY)
                assert kept.reads == 1  # kept current, never read whole again
            finally:
                await store.close()

    asyncio.run(main())


async def test_another_process_writing_is_read_again(tmp_path: Path) -> None:
    """A CLI command beside a running node writes through its own connection: the node's store
    cannot tell what changed, so the set is read again before the next session."""
    path = tmp_path / "stig.db"
    node_store = await SqliteStore.open(path)
    try:
        kept = SyncSet(node_store)
        first = post(ANA, "note", 0, body="mine")
        await node_store.add([first], T0)
        await assert_current(kept, node_store, T0)
        other = await SqliteStore.open(path)
        try:
            theirs = post(BEN, "note", 10, body="theirs")
            retract = post(ANA, "retract", 20, refs=(first,))
            await other.add([theirs, retract], T0 + 30)
        finally:
            await other.close()
        view = await kept.snapshot(T0 + 40)
        ids = {view.id(i) for i in range(len(view))}
        assert theirs.id in ids and first.id not in ids
        await assert_current(kept, node_store, T0 + 40)
        assert kept.reads == 2
    finally:
        await node_store.close()


async def test_changes_while_the_set_is_read_are_not_lost(tmp_path: Path) -> None:
    """Traces stored while the set is being read from the store (the read awaits) end up in
    it; the snapshot a session holds does not change under it."""
    store = await SqliteStore.open(tmp_path / "stig.db")
    try:
        kept = SyncSet(store)
        early = [post(ANA, "note", i, body=f"early {i}") for i in range(50)]
        await store.add(early, T0 + 60)
        late = [post(BEN, "note", i, body=f"late {i}") for i in range(20)]
        reading = asyncio.ensure_future(kept.snapshot(T0 + 60))
        await asyncio.gather(*(store.add([t], T0 + 60) for t in late))
        held = await reading
        before = held.keys(0, len(held))
        await assert_current(kept, store, T0 + 60)
        await store.add([post(ANA, "note", 99, body="after")], T0 + 100)
        assert held.keys(0, len(held)) == before
        assert len(await kept.snapshot(T0 + 100)) == 71
    finally:
        await store.close()
