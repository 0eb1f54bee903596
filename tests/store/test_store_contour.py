"""The contour from the stores: SqliteStore counts it with SQL aggregates over copied columns
and partial indexes (schema.py, migration 1 -> 2), MemoryStore calls the pure view; both must
give exactly ``stig.crdt.contour.contour`` of the same set, dict order included.

tests/store/test_store_agrees.py compares the contour too, on its stories (ASCII tags); here
the histories of tests/crdt/test_crdt_contour.py bring non-ASCII tags (SQLite must break ties
by name as Python does), and the cases the agreement tests do not have: eviction, a store
migrated from schema 1, and LocalNode.contour.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlean  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR
from stig.crdt.codec import decode
from stig.crdt.contour import Contour, contour
from stig.crdt.trace import Trace
from stig.crdt.views import TraceSet
from stig.node.home import Home
from stig.node.local import Draft, LocalNode, create_store
from stig.store import ExportFilter, MemoryStore, SqliteStore
from stig.store.packed import unpack
from stig.store.schema import SCHEMA_VERSION
from tests.crdt.strategies import ANA, BEN, T0
from tests.crdt.test_crdt_contour import ALL, tagged_histories
from tests.store.test_store_agrees import deliveries, interesting_nows

SIZES = st.tuples(
    st.sampled_from([1, 2, 14, 120]), st.sampled_from([0, 1, 2, ALL]), st.sampled_from([1, ALL])
)
"""(days, top_tags, top_places)."""


def ordered(c: Contour) -> tuple[Contour, list[str], list[str]]:
    return c, list(c.by_tag), list(c.by_place)


def run(body: Callable[[SqliteStore, Path], Awaitable[None]]) -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stig.db"
            sql = await SqliteStore.open(path)
            try:
                await body(sql, path)
            finally:
                await sql.close()

    asyncio.run(main())


async def stored_set(sql: SqliteStore, now: int) -> TraceSet:
    """What the store can still show at ``now``: every live trace it holds the bytes of (the
    hidden ones it purged show nothing, and support nothing)."""
    return TraceSet([decode(raw) async for raw in sql.export(now, ExportFilter())])


@settings(max_examples=60, deadline=None)
@given(tagged_histories(max_size=14), st.data())
def test_sqlite_and_memory_give_the_pure_contour(traces: list[Trace], data: st.DataObject) -> None:
    """Batches in any order, with duplicates, read and collected at nondecreasing times."""
    batches = data.draw(deliveries(traces), label="batches")
    candidates = interesting_nows(traces)
    times = sorted(data.draw(st.lists(st.sampled_from(candidates), min_size=len(batches) * 2)))
    collects = data.draw(st.lists(st.booleans(), min_size=len(batches), max_size=len(batches)))

    async def body(sql: SqliteStore, _: Path) -> None:
        mem = MemoryStore()
        ref = TraceSet()
        clock = iter(times)
        for batch, collect in zip(batches, collects, strict=True):
            now = next(clock)
            await sql.add(batch, now)
            await mem.add(batch, now)
            ref = ref.merge(batch)
            now = next(clock)
            if collect:
                await sql.collect(now)
                await mem.collect(now)
                ref = ref.collect(now)
            days, top_tags, top_places = data.draw(SIZES, label="sizes")
            expected = ordered(contour(ref, now, days, top_tags, top_places))
            assert ordered(await sql.contour(now, days, top_tags, top_places)) == expected
            assert ordered(await mem.contour(now, days, top_tags, top_places)) == expected

    run(body)


@settings(max_examples=30, deadline=None)
@given(tagged_histories(max_size=14), st.data())
def test_eviction_keeps_the_copied_columns_right(traces: list[Trace], data: st.DataObject) -> None:
    """Evicted supporters stop extending their targets' life: the tag rows' copies of
    eff_expires must follow (tags_follow_trace), as the traces' own do."""
    now = data.draw(st.sampled_from(interesting_nows(traces)), label="now")
    keep = data.draw(st.integers(0, len(traces)), label="keep")

    async def body(sql: SqliteStore, _: Path) -> None:
        await sql.add(traces, T0 - DAY)
        await sql.evict(keep, now)
        expected = contour(await stored_set(sql, now), now, 120, ALL, ALL)
        assert ordered(await sql.contour(now, 120, ALL, ALL)) == ordered(expected)

    run(body)


UNDO_SCHEMA_6 = """
    DROP INDEX traces_feed;
    CREATE INDEX traces_feed
        ON traces (heat, created, id DESC, eff_expires, kind, place, hidden, listed)
        WHERE hidden = 0 AND listed = 1;
"""
"""Schema 6 back to schema 5: the feed index without ``referred``."""

UNDO_SCHEMA_5 = """
    UPDATE traces SET raw = stig_unpack(raw) WHERE raw IS NOT NULL;
"""
"""Schema 5 back to schema 4: the canonical bytes as they are (``stig_unpack`` is
stig.store.packed.unpack, registered on the connection)."""

UNDO_SCHEMA_4 = """
    DROP TRIGGER refs_added;
    DROP TRIGGER refs_removed;
    DROP TRIGGER refs_changed;
    DROP INDEX traces_place;
    ALTER TABLE traces DROP COLUMN referred;
"""
"""Schema 4 back to schema 3 (before the migrations that go further back)."""


DOWNGRADE = (
    UNDO_SCHEMA_6
    + UNDO_SCHEMA_5
    + UNDO_SCHEMA_4
    + """
    DROP TRIGGER tags_follow_trace;
    DROP INDEX tags_contour;
    DROP INDEX traces_contour;
    ALTER TABLE tags DROP COLUMN day;
    ALTER TABLE tags DROP COLUMN kind;
    ALTER TABLE tags DROP COLUMN hidden;
    ALTER TABLE tags DROP COLUMN eff_expires;
    PRAGMA user_version = 1;
"""
)
"""Schema 2 back to schema 1: what a store written before the contour looks like."""


@settings(max_examples=20, deadline=None)
@given(tagged_histories(max_size=14), st.data())
def test_a_store_from_before_the_contour_is_migrated(
    traces: list[Trace], data: st.DataObject
) -> None:
    nows = interesting_nows(traces)
    now = data.draw(st.sampled_from(nows), label="now")
    cut = data.draw(st.integers(0, len(traces)), label="stored before the migration")

    async def body(sql: SqliteStore, path: Path) -> None:
        await sql.add(traces[:cut], T0 - DAY)
        await sql.close()
        with sqlean.connect(path) as db:
            db.create_function("stig_unpack", 1, unpack)
            db.executescript(DOWNGRADE)
        db.close()
        migrated = await SqliteStore.open(path)
        try:
            (version,) = await migrated._one("PRAGMA user_version")
            assert version == SCHEMA_VERSION == 6
            expected = contour(TraceSet(traces[:cut]), now, 120, ALL, ALL)
            assert ordered(await migrated.contour(now, 120, ALL, ALL)) == ordered(expected)
            # Later traces (retracts, echoes) change the migrated rows through the trigger.
            await migrated.add(traces[cut:], T0 - DAY)
            expected = contour(TraceSet(traces), now, 120, ALL, ALL)
            assert ordered(await migrated.contour(now, 120, ALL, ALL)) == ordered(expected)
        finally:
            await migrated.close()

    run(body)


async def test_local_node_reads_the_contour_at_its_clock(tmp_path: Path) -> None:
    now = T0 + 2 * DAY
    home = Home(tmp_path / "home")
    home.create()
    await create_store(home)
    async with LocalNode.open(home, clock=lambda: now) as node:
        node.clock = lambda: T0
        callout = await node.post(Draft(kinds.CALLOUT, "water", ("flood",), "u09t"), ANA)
        node.clock = lambda: T0 + DAY
        await node.respond(callout.id, Draft(kinds.ECHO, tags=("flood", "j20")), BEN)
        node.clock = lambda: T0 + DAY + HOUR
        mine = await node.post(Draft(kinds.NOTE, "x", ("flood",), "gcpv"), BEN)
        await node.respond(mine.id, Draft(kinds.RETRACT), BEN)
        node.clock = lambda: now
        got = await node.contour(days=3)
        assert got.first_day == now // DAY - 2
        assert got.total == (1, 1, 0)
        assert list(got.by_tag.items()) == [("flood", (1, 1, 0)), ("j20", (0, 1, 0))]
        assert got.by_place == {"u09": 1}
        assert got == await node.contour(3)
        assert (await node.contour()).days == 14
