"""The store's connection thread (stig/store/connection.py) and SqliteStore's one-trip writes on
it, on real files: a write is one trip and stores what a write of statements one by one stored;
a write that fails or is cancelled leaves no transaction open and nothing half-stored; reads on
the loop while writes run on the thread answer what the pure views say.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlean  # type: ignore[import-untyped]

from stig.crdt import kinds
from stig.crdt.bounds import HOUR, MINUTE
from stig.crdt.trace import Trace
from stig.crdt.views import FeedFilter, TraceSet
from stig.errors import StoreError
from stig.store import SqliteStore
from stig.store.connection import Connection
from stig.store.port import ItemChange
from tests.crdt.strategies import ANA, T0, callouts_with_echoes, post


def stored_ids(path: Path) -> set[bytes]:
    with sqlean.connect(str(path)) as con:
        return {row[0] for row in con.execute("SELECT id FROM traces")}


# -- the connection ------------------------------------------------------------------------


async def test_a_coroutine_of_statements_runs_in_one_trip(path: Path) -> None:
    conn = await Connection.open(lambda: sqlean.connect(str(path), isolation_level=None))
    try:
        await conn.execute("CREATE TABLE t (x INTEGER)")
        before = conn.trips

        async def body() -> list[int]:
            await conn.execute("BEGIN")
            await conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
            rows = await conn.fetchall("SELECT x FROM t ORDER BY x")
            await conn.execute("COMMIT")
            return [row[0] for row in rows]

        assert await conn.run(body()) == [0, 1, 2, 3, 4]
        assert conn.trips == before + 1
        # Statements from the loop still make a trip each.
        assert await conn.fetchall("SELECT count(*) FROM t") == [(5,)]
        assert conn.trips == before + 2
    finally:
        await conn.close()
        await conn.close()  # a second close does nothing


async def test_a_coroutine_that_waits_for_anything_else_is_refused(path: Path) -> None:
    conn = await Connection.open(lambda: sqlean.connect(str(path), isolation_level=None))
    try:
        cleaned: list[bool] = []

        async def body() -> None:
            try:
                await asyncio.sleep(0)
            finally:
                cleaned.append(True)

        with pytest.raises(RuntimeError, match="waited for something other than"):
            await conn.run(body())
        assert cleaned == [True]  # closed on the thread: its finally ran
        assert await conn.fetchall("SELECT 1") == [(1,)]  # and the connection still serves
    finally:
        await conn.close()


# -- one-trip writes -------------------------------------------------------------------------


async def test_an_add_is_one_trip_and_stores_what_the_views_say(
    store: SqliteStore, path: Path
) -> None:
    batch = callouts_with_echoes(30)
    before = store._db.trips
    added = await store.add(batch, T0)
    assert store._db.trips == before + 1
    assert set(added.accepted) == {t.id for t in batch}
    assert stored_ids(path) == {t.id for t in batch}
    assert await store.feed(T0 + HOUR, FeedFilter(), 50) == TraceSet(batch).feed(
        T0 + HOUR, FeedFilter(), 50
    )
    # Durable adds take the same path, with synchronous=FULL for their commit only.
    one = post(ANA, kinds.NOTE, 31 * MINUTE, body="durable")
    before = store._db.trips
    assert (await store.add_durable(one, T0)).accepted == [one.id]
    assert store._db.trips == before + 1
    assert await store._db.fetchall("PRAGMA synchronous") == [(1,)]  # NORMAL again


async def test_a_failed_add_rolls_back_all_of_its_batch(
    store: SqliteStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add(callouts_with_echoes(3), T0)
    kept = stored_ids(path)

    async def broken(dirty: set[bytes], now: int) -> None:
        raise sqlean.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(store, "_recompute", broken)
    with pytest.raises(StoreError, match="injected"):
        await store.add(callouts_with_echoes(6, start=3), T0)
    assert stored_ids(path) == kept
    assert not store._db.in_transaction
    monkeypatch.undo()
    later = callouts_with_echoes(6, start=3)
    assert len((await store.add(later, T0)).accepted) == len(later)
    assert stored_ids(path) == kept | {t.id for t in later}


class Watcher:
    """An ItemWatcher that keeps the ids it was told of."""

    def __init__(self) -> None:
        self.told: set[bytes] = set()

    def changed(self, changes: Sequence[ItemChange]) -> None:
        self.told.update(change[1] for change in changes)

    def lost_track(self) -> None:
        raise AssertionError("no other process writes here")


async def test_a_cancelled_add_leaves_its_batch_whole_and_no_transaction_open(
    store: SqliteStore, path: Path
) -> None:
    watcher = Watcher()
    store.watch_items(watcher)
    batches = [callouts_with_echoes(20, start=20 * k) for k in range(6)]
    for batch in batches:
        task = asyncio.ensure_future(store.add(batch, T0))
        await asyncio.sleep(0)  # the trip has been handed to the thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not store._db.in_transaction
        # All of the batch or none of it: a write is one transaction, never abandoned midway;
        # and what it committed is told to the watcher all the same.
        ids = stored_ids(path)
        assert {t.id for t in batch} <= ids or not {t.id for t in batch} & ids
        assert watcher.told == ids
    everything = [t for batch in batches for t in batch]
    await store.add(everything, T0)
    assert stored_ids(path) == {t.id for t in everything}


async def test_reads_on_the_loop_while_writes_run_on_the_thread_agree_with_the_views(
    store: SqliteStore,
) -> None:
    batches = [callouts_with_echoes(10, start=10 * k) for k in range(8)]
    added: list[Trace] = []

    async def write() -> None:
        for batch in batches:
            await store.add(batch, T0)
            added.extend(batch)

    async def read() -> None:
        for _ in range(20):
            await store.feed(T0 + HOUR, FeedFilter(), 20)

    await asyncio.gather(write(), read(), read())
    # Standings kept by those reads while writes forgot others still rank exactly.
    assert await store.feed(T0 + HOUR, FeedFilter(), 40) == TraceSet(added).feed(
        T0 + HOUR, FeedFilter(), 40
    )


async def test_a_store_closed_while_a_write_is_under_way_keeps_that_write(path: Path) -> None:
    store = await SqliteStore.open(path)
    batch = callouts_with_echoes(30)
    writing = asyncio.ensure_future(store.add(batch, T0))
    await asyncio.sleep(0)  # the write has been handed to the connection's thread
    await store.close()  # queued behind it on that thread: the write commits first
    assert len((await writing).accepted) == len(batch)
    assert stored_ids(path) == {t.id for t in batch}
    reopened = await SqliteStore.open(path)
    try:
        assert await reopened.count() == len(batch)
    finally:
        await reopened.close()
