"""SqliteStore on real files: what the pure views cannot say about it (stig/store/sqlite.py).

The file format (WAL, schema version, migrations), errors mapped to StoreError, the feed as one
index scan, full-text search, purging retracted bodies from the file, burns, duplicates,
durability, id prefixes, and garbage collection of every table. Where a number is checked, the
expected value comes from ``TraceSet`` over the same traces.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import sqlean  # type: ignore[import-untyped]

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, MINUTE
from stig.crdt.trace import Trace
from stig.crdt.views import FeedFilter, Mutes, TraceSet
from stig.errors import StoreError
from stig.store import Added, Collected, ExportFilter, Hidden, MemoryStore, SqliteStore, Thread
from stig.store.packed import MAGIC, pack, unpack
from stig.store.schema import SCHEMA_VERSION
from tests.crdt.strategies import ANA, BEN, CY, DEE, T0, callouts_with_echoes, forge, post

# -- helpers -------------------------------------------------------------------------------

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
stig.store.packed.unpack, registered on the connection by ``downgrade``)."""

UNDO_SCHEMA_4 = """
    DROP TRIGGER refs_added;
    DROP TRIGGER refs_removed;
    DROP TRIGGER refs_changed;
    DROP INDEX traces_place;
    ALTER TABLE traces DROP COLUMN referred;
"""
"""Schema 4 back to schema 3 (before the migrations that go further back)."""


@contextmanager
def raw_db(path: Path) -> Iterator[sqlean.Connection]:
    """The store file through plain SQL (the SQLite the store uses), as a person with the file
    would see it."""
    with closing(sqlean.connect(path, isolation_level=None)) as con:
        yield con


def downgrade(con: sqlean.Connection, script: str) -> None:
    con.create_function("stig_unpack", 1, unpack)
    con.executescript(script)


def file_size(path: Path) -> int:
    return path.stat().st_size


def file_bytes(*paths: Path) -> bytes:
    return b"".join(p.read_bytes() for p in paths)


def one(con: sqlean.Connection, sql: str, params: tuple[object, ...] = ()) -> object:
    return con.execute(sql, params).fetchone()[0]


def ids(items: list) -> list[bytes]:  # type: ignore[type-arg]
    return [r.trace.id for r in items]


async def exported(store: SqliteStore, now: int) -> list[bytes]:
    return [raw async for raw in store.export(now, ExportFilter())]


# -- the file ------------------------------------------------------------------------------


async def test_open_turns_on_wal_and_sets_the_schema_version(path: Path) -> None:
    opened = await SqliteStore.open(path)
    await opened.close()
    with raw_db(path) as con:
        assert one(con, "PRAGMA journal_mode") == "wal"
        assert one(con, "PRAGMA user_version") == SCHEMA_VERSION
        assert one(con, "PRAGMA page_size") == 16384  # a new store: docs/performance.md "Disk"
        assert one(con, "PRAGMA auto_vacuum") == 2  # incremental: indexing returns freed pages
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    assert {"traces", "refs", "tags", "search", "meta", "traces_feed"} <= tables


async def test_a_store_made_with_4_kib_pages_keeps_them_and_works(path: Path) -> None:
    """The page size of an existing store is not changed (that would take a VACUUM of the
    whole file): it opens, stores and reads as before."""
    with raw_db(path) as con:
        con.execute("PRAGMA page_size = 4096")
        con.execute("PRAGMA journal_mode = WAL")
    opened = await SqliteStore.open(path)
    try:
        trace = post(ANA, kinds.NOTE, 0, body="small pages")
        await opened.add([trace], T0)
        assert ids(await opened.search("small", T0 + 1, 5)) == [trace.id]
    finally:
        await opened.close()
    with raw_db(path) as con:
        assert one(con, "PRAGMA page_size") == 4096


async def test_reopening_keeps_everything_and_does_not_migrate_again(path: Path) -> None:
    note = post(ANA, kinds.NOTE, 0, body="kept across restarts")
    burn = post(BEN, kinds.BURN, 0)
    first = await SqliteStore.open(path)
    try:
        await first.add([note, burn], T0)
    finally:
        await first.close()
    with raw_db(path) as con:
        schema = sorted(con.execute("SELECT type, name, sql FROM sqlite_master"))

    late = post(BEN, kinds.NOTE, -HOUR, body="from before the burn")
    for round_ in range(3):  # a migration that ran again would fail on CREATE TABLE
        again = await SqliteStore.open(path)
        try:
            assert await again.count() == (2 if round_ == 0 else 3)
            assert await again.get(note.id) == note
            assert [r.trace for r in await again.feed(T0, FeedFilter(), 10)] == [note]
            # Burns are reloaded on open: a late trace from before BEN's burn is hidden.
            await again.add([late], T0)
            assert await again.thread(late.id, T0) == Hidden(
                late.id, late.kind, BEN.public_key, late.created
            )
        finally:
            await again.close()
        with raw_db(path) as con:
            assert one(con, "PRAGMA user_version") == SCHEMA_VERSION
            assert sorted(con.execute("SELECT type, name, sql FROM sqlite_master")) == schema


async def test_a_store_from_a_newer_stig_is_refused(path: Path) -> None:
    opened = await SqliteStore.open(path)
    await opened.close()
    with raw_db(path) as con:
        con.execute("PRAGMA user_version = 99")

    with pytest.raises(StoreError, match="newer") as caught:
        await SqliteStore.open(path)
    assert "99" in str(caught.value)
    with raw_db(path) as con:  # refused, not touched
        assert one(con, "PRAGMA user_version") == 99


@pytest.mark.parametrize(
    "garbage",
    [b"this is not a database, just some text\n" * 200, bytes(range(256)) * 64],
    ids=["text", "binary"],
)
async def test_a_file_that_is_not_a_store_is_a_store_error(path: Path, garbage: bytes) -> None:
    with path.open("wb") as out:
        out.write(garbage)
    with pytest.raises(StoreError, match="damaged or not a stig store") as caught:
        await SqliteStore.open(path)
    assert not isinstance(caught.value, sqlean.Error)
    assert isinstance(caught.value.__cause__, sqlean.DatabaseError)
    assert str(path) in str(caught.value)
    assert file_bytes(path) == garbage  # never overwritten


# -- the feed ------------------------------------------------------------------------------


async def test_the_feed_is_a_scan_of_the_feed_index(store: SqliteStore, path: Path) -> None:
    traces = callouts_with_echoes(40)
    await store.add(traces, T0)

    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    try:
        page = await store.feed(T0 + HOUR, FeedFilter(), 5)
    finally:
        await store._db.set_trace_callback(None)  # type: ignore[arg-type]
    assert page == TraceSet(traces).feed(T0 + HOUR, FeedFilter(), 5)

    feed_queries = [
        s for s in statements if s.lstrip().startswith(("SELECT", "WITH")) and "heat" in s
    ]
    assert any("ORDER BY heat DESC" in s for s in feed_queries), statements
    with raw_db(path) as con:
        for sql in feed_queries:
            steps = [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}")]
            plan = " | ".join(steps)
            reads = [step for step in steps if step.startswith(("SCAN traces", "SEARCH traces"))]
            assert reads, (sql, plan)
            # The index is scanned (never the table), and rows are read only by rowid: those
            # chosen from the index (and the burns alone, through their partial index, for
            # what the statement also reads to catch up with other connections: _CATCH_UP).
            assert all(
                "INDEX traces_feed" in step
                or step.endswith("INTEGER PRIMARY KEY (rowid=?)")
                or step == "SCAN traces USING INDEX traces_burns"
                for step in reads
            ), (sql, plan)
            assert "TEMP B-TREE" not in plan, (sql, plan)
            if "ORDER BY heat DESC" in sql:  # the scan itself never reads a row
                assert "SCAN traces USING COVERING INDEX traces_feed" in plan, (sql, plan)
                # Nor does the rest of the feed statement (schema 6): the page and the cut's
                # neighbours come from the index alone, no row is read by rowid.
                assert all(
                    "USING COVERING INDEX traces_feed" in step
                    or step == "SCAN traces USING INDEX traces_burns"
                    for step in reads
                ), (sql, plan)
                assert "raw" not in sql.split("UNION ALL SELECT 2")[0], sql


async def test_equal_intensities_at_the_cut_are_ordered_as_the_pure_views_order_them(
    store: SqliteStore,
) -> None:
    """1 support at t + half-life and 2 supports at t have the same intensity in exact
    arithmetic; heat and intensity round it differently. The page must still be the one that
    feed_order picks (found by tests/store/test_store_agrees.py)."""
    now = T0 + 2 * DAY + 10 * MINUTE + 17
    for i in range(20):
        one = post(ANA, kinds.CALLOUT, 0, body=f"one {i}")
        two = post(ANA, kinds.CALLOUT, 0, body=f"two {i}")
        traces = [
            one,
            two,
            post(BEN, kinds.ECHO, 2 * DAY, refs=(one,)),
            post(CY, kinds.ECHO, DAY, refs=(two,)),
            post(DEE, kinds.ECHO, DAY, refs=(two,)),
        ]
        await store.add(traces, now)
    full = TraceSet(await _all(store))
    for limit in (1, 2, 3, 7, 20, 39, 40, 41):
        assert await store.feed(now, FeedFilter(), limit) == full.feed(now, FeedFilter(), limit)


@pytest.mark.parametrize("writer", ["this connection", "another connection"])
async def test_ranking_follows_every_change_to_a_trace_s_referrers(
    store: SqliteStore, path: Path, writer: str
) -> None:
    """A feed page is ranked from what the referrers' columns say, and what they say of a
    trace is kept between reads (views.standing in SqliteStore._rank_rows): every write that
    touches a referrer, and every expiry of one, must show at the next read, exactly as the
    pure views say. Each step reads twice at the same time and once a second later, so kept
    standings are used. The writes are made by the reading store, or by another connection to
    the same file (another process: the reader keeps its standings across those writes, and
    must see which of them the writes touched)."""
    async with contextlib.AsyncExitStack() as stack:
        if writer == "this connection":
            writing = store
        else:
            writing = await SqliteStore.open(path)
            stack.push_async_callback(writing.close)
        await _follow_every_change(store, writing)


async def _follow_every_change(store: SqliteStore, writing: SqliteStore) -> None:
    memory = MemoryStore()
    now = T0

    async def add(*traces: Trace) -> None:
        assert await writing.add(traces, now) == await memory.add(traces, now)

    async def check(step: str) -> None:
        for at in (now, now, now + 1):
            for where in (FeedFilter(), FeedFilter(kinds=frozenset(kinds.KNOWN_KINDS))):
                got = await store.feed(at, where, 20)
                assert got == await memory.feed(at, where, 20), (step, at, where)
        assert await store.search("root", now, 5) == await memory.search("root", now, 5), step

    root = post(ANA, kinds.CALLOUT, 0, body="root", ttl=20 * DAY)
    other = post(BEN, kinds.NOTE, 0, body="other root", ttl=20 * DAY)
    await add(root, other)
    await check("two traces")
    reply = post(CY, kinds.NOTE, MINUTE, body="a reply", refs=(root,), ttl=10 * DAY)
    await add(reply)  # an answer, not a supporter: only its target's counts change
    await check("reply")
    dispute = post(CY, kinds.DISPUTE, MINUTE, refs=(root,), ttl=HOUR)
    own = post(ANA, kinds.NOTE, MINUTE, body="the author answers", refs=(root,), ttl=HOUR + 60)
    echo = post(BEN, kinds.ECHO, MINUTE, refs=(root, reply), ttl=2 * HOUR)
    confirm = post(DEE, kinds.CONFIRM, MINUTE, refs=(root,), ttl=3 * HOUR)
    await add(echo, confirm)
    await check("echo and confirm")
    await add(dispute, own)
    await check("dispute and the author's own answer")
    # Expiries with no write in between: only the time says the counts changed.
    now = dispute.expires - 1
    await check("before the dispute expires")
    now = dispute.expires
    await check("dispute expired")
    now = own.expires
    await check("own answer expired")
    # Earlier than the last read (a clock set back): what was kept then is not used now.
    for at in (own.expires, own.expires - 1, dispute.expires - 1):
        for where in (FeedFilter(), FeedFilter(kinds=frozenset(kinds.KNOWN_KINDS))):
            assert await store.feed(at, where, 20) == await memory.feed(at, where, 20), at
    now = echo.expires  # a supporter's own life ends: its term and its count go
    await check("echo expired")
    now = confirm.expires + 1
    await check("confirm expired")
    await add(post(CY, kinds.RETRACT, now - T0, refs=(reply,)))  # an answer is retracted
    await check("reply retracted")
    short = post(BEN, kinds.REPORT, now - T0, body="short answer", refs=(root,), ttl=HOUR)
    await add(short)
    await check("short answer")
    await add(post(CY, kinds.ECHO, now - T0, refs=(short,), ttl=5 * HOUR))  # it lives longer
    now += 2 * HOUR  # past the short answer's own expiry, not its effective one
    await check("short answer kept alive by its echo")
    await add(post(DEE, kinds.BURN, now - T0))  # hides the confirm: the supporter was DEE's
    await check("burn")
    now += 4 * HOUR
    await check("short answer expired")
    assert await writing.collect(now) == await memory.collect(now)
    await check("collected")
    await add(post(BEN, kinds.ECHO, now - T0, refs=(root,), ttl=DAY))
    await check("echo after collection")
    assert await writing.evict(await writing.count() - 1, now) == 1
    await memory.evict(await memory.count() - 1, now)
    await check("evicted")


async def test_another_connection_s_unrelated_write_keeps_what_the_reader_ranked(
    store: SqliteStore, path: Path
) -> None:
    """After another connection stores a trace, the reader ranks again only what that write
    touched (its rows' ``referred`` moved, schema 4); every other page entry keeps its
    standing, so a feed right after such a write costs what a steady one does."""
    roots = [post(ANA, kinds.CALLOUT, i, body=f"root {i}") for i in range(6)]
    echoes = [post(BEN, kinds.ECHO, 10 + i, refs=(root,)) for i, root in enumerate(roots)]
    await store.add([*roots, *echoes], T0)
    now = T0 + HOUR
    await store.feed(now, FeedFilter(), 10)
    kept = dict(store._standings)
    assert set(kept) == {r.id for r in roots}
    other = await SqliteStore.open(path)
    try:
        await other.add([post(CY, kinds.ECHO, 100, refs=(roots[0],))], now)
        await other.add([post(DEE, kinds.NOTE, 100, body="unrelated")], now)
    finally:
        await other.close()
    full = TraceSet([*await _all(store)])
    assert await store.feed(now, FeedFilter(), 10) == full.feed(now, FeedFilter(), 10)
    for root in roots[1:]:
        assert store._standings[root.id] is kept[root.id]  # not ranked again
    assert store._standings[roots[0].id] is not kept[roots[0].id]  # its echo came


async def test_a_feed_right_after_another_connection_s_write_is_a_fresh_store_s_feed(
    store: SqliteStore, path: Path
) -> None:
    """The feed statement reads the feed index alone (schema 6): a trace's bytes are read only
    when it is ranked anew, with its referrers. Right after another connection (another
    process) stores an echo of a trace on the page, and then a trace that touches nothing on
    it, the reader's page is what a store opened afresh on the file gives, and what the views
    give; after the unrelated write it reads neither refs nor any trace's bytes."""
    roots = [post((ANA, BEN)[i % 2], kinds.CALLOUT, i, body=f"root {i}") for i in range(12)]
    echoes = [post(CY, kinds.ECHO, 20 + i, refs=(root,)) for i, root in enumerate(roots[::2])]
    await store.add([*roots, *echoes], T0)
    now = T0 + HOUR
    await store.feed(now, FeedFilter(), 8)

    async def read_after(write: Trace) -> list[str]:
        writer = await SqliteStore.open(path)
        try:
            await writer.add([write], now)
        finally:
            await writer.close()
        statements: list[str] = []
        await store._db.set_trace_callback(statements.append)
        try:
            got = await store.feed(now, FeedFilter(), 8)
        finally:
            await store._db.set_trace_callback(None)  # type: ignore[arg-type]
        fresh = await SqliteStore.open(path)
        try:
            assert got == await fresh.feed(now, FeedFilter(), 8)
        finally:
            await fresh.close()
        assert got == TraceSet(await _all(store)).feed(now, FeedFilter(), 8)
        return statements

    page = await store.feed(now, FeedFilter(), 8)
    echoed = page[-1].trace  # the echo lifts it: it is ranked anew, its bytes read again
    statements = await read_after(post(DEE, kinds.ECHO, 100, refs=(echoed,)))
    assert any("FROM refs WHERE target" in s and "raw" in s for s in statements), statements
    assert (await store.feed(now, FeedFilter(), 8))[0].trace == echoed
    # An older note: below the page and far from its cut (a new one would top the page).
    statements = await read_after(post(DEE, kinds.NOTE, -2 * HOUR, body="unrelated"))
    assert not any("FROM refs WHERE target" in s for s in statements), statements
    # (The catch-up the feed statement ends with counts the burns' rows that hold bytes.)
    assert not any("raw" in s.split("UNION ALL SELECT 2")[0] for s in statements), statements


async def test_a_page_entry_whose_row_is_gone_before_its_bytes_are_read_is_left_out(
    store: SqliteStore, path: Path
) -> None:
    """The feed statement reads the index alone; the bytes of a trace ranked anew are read by
    the next query. If another connection deleted the row in between, the trace is left out
    (as if the statement had come after the delete), and the others are ranked as usual."""
    gone, kept = post(ANA, kinds.NOTE, 0, body="gone"), post(BEN, kinds.NOTE, 1, body="kept")
    await store.add([gone, kept], T0)
    with raw_db(path) as con:
        rows = con.execute(
            "SELECT 0, id, NULL, eff_expires, rowid, referred FROM traces ORDER BY rowid"
        ).fetchall()
    writer = await SqliteStore.open(path)
    try:
        assert await writer.evict(1, T0) == 1  # the oldest: gone
    finally:
        await writer.close()
    now = T0 + HOUR
    assert await store._rank_rows(rows, now) == TraceSet([kept]).feed(now, FeedFilter(), 5)


async def test_a_store_of_schema_5_is_migrated_to_a_feed_index_with_referred(path: Path) -> None:
    """Migration 5 -> 6 rebuilds traces_feed with ``referred``: the feed gives what it gave
    before, and follows later writes as the views do."""
    roots = [post((ANA, BEN, CY)[i % 3], kinds.CALLOUT, i, body=f"root {i}") for i in range(30)]
    later = [post(DEE, kinds.ECHO, 50 + i, refs=(r,)) for i, r in enumerate(roots[::4])]
    traces = [*roots, *(post(BEN, kinds.ECHO, 40, refs=(r,)) for r in roots[::3])]
    traces.append(post(CY, kinds.CONFIRM, 41, refs=(roots[1],)))
    now = T0 + HOUR
    wheres = (FeedFilter(), FeedFilter(kinds=frozenset(kinds.KNOWN_KINDS)))
    opened = await SqliteStore.open(path)
    try:
        await opened.add(traces, T0)
        before = [await opened.feed(now, where, limit) for where in wheres for limit in (5, 50)]
    finally:
        await opened.close()
    feed_index = "SELECT sql FROM sqlite_schema WHERE name = 'traces_feed'"
    with raw_db(path) as con:
        downgrade(con, UNDO_SCHEMA_6 + "PRAGMA user_version = 5;")
        assert "referred" not in str(one(con, feed_index))

    migrated = await SqliteStore.open(path)
    try:
        assert await migrated._one("PRAGMA user_version") == (SCHEMA_VERSION,) == (6,)
        after = [await migrated.feed(now, where, limit) for where in wheres for limit in (5, 50)]
        assert after == before
        assert before[0] == TraceSet(traces).feed(now, FeedFilter(), 5)
        await migrated.add(later, T0)
        full = TraceSet([*traces, *later])
        for where in wheres:
            assert await migrated.feed(now, where, 50) == full.feed(now, where, 50)
    finally:
        await migrated.close()
    with raw_db(path) as con:
        assert "referred" in str(one(con, feed_index))


@pytest.mark.parametrize("rare", [True, False])
async def test_a_place_filter_gives_what_the_views_give_rare_or_common(
    store: SqliteStore, rare: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A place filter starts from traces_place when few traces match (a place nobody uses
    reads nothing else), and scans the feed index otherwise: the same page either way."""
    if not rare:
        monkeypatch.setattr("stig.store.sqlite._RARE_TAG", 1)  # every place counts as common
    places = ("u09t", "u09", "u0d", "gcpv", "", "")
    traces = [
        post((ANA, BEN, CY)[i % 3], kinds.CALLOUT, i, body=f"at {i}", place=places[i % 6])
        for i in range(30)
    ]
    traces += [post(DEE, kinds.ECHO, 40 + i, refs=(t,)) for i, t in enumerate(traces[::4])]
    await store.add(traces, T0)
    full = TraceSet(traces)
    now = T0 + HOUR
    for place in ("u09", "u09t", "u0", "gcpv", "g", "zzz", "u09tx"):
        where = FeedFilter(place=place)
        assert await store.feed(now, where, 8) == full.feed(now, where, 8), place
        where = FeedFilter(place=place, kinds=frozenset({kinds.ECHO, kinds.CALLOUT}))
        assert await store.feed(now, where, 50) == full.feed(now, where, 50), place


@pytest.mark.parametrize("rare", [True, False])
async def test_tag_place_and_mute_filters_give_what_the_views_give_rare_or_common(
    store: SqliteStore, rare: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed statement joins the cut with traces to find the cut's neighbours, so every
    filter clause there names ``traces.rowid``: a rare tag (rows from tags), a common one
    (checked per trace), a place, and muted authors and tags give the views' page."""
    if not rare:
        monkeypatch.setattr("stig.store.sqlite._RARE_TAG", 1)  # every tag and place is common
    tagsets = (("food",), ("food", "rent"), ("rent",), (), ("j20", "food"))
    places = ("u09t", "u09", "", "gcpv", "u0d")
    traces = [
        post(
            (ANA, BEN, CY)[i % 3],
            kinds.CALLOUT,
            i,
            body=f"at {i}",
            tags=tagsets[i % 5],
            place=places[i % 5],
        )
        for i in range(40)
    ]
    # Echoes at equal times give equal heats near any cut.
    traces += [post(DEE, kinds.ECHO, 50, refs=(t,)) for t in traces[::3]]
    await store.add(traces, T0)
    full = TraceSet(traces)
    now = T0 + HOUR
    mutes = (Mutes(), Mutes(authors=frozenset({BEN.public_key})), Mutes(tags=frozenset({"rent"})))
    for where in (
        FeedFilter(tags=frozenset({"food"})),
        FeedFilter(tags=frozenset({"food", "rent"})),
        FeedFilter(tags=frozenset({"nosuchtag"})),
        FeedFilter(tags=frozenset({"food"}), place="u0"),
        FeedFilter(place="u09"),
    ):
        for muted in mutes:
            for limit in (3, 7, 50):
                got = await store.feed(now, where, limit, muted)
                assert got == full.feed(now, where, limit, muted), (where, muted, limit)
    assert len(await store.feed(now, FeedFilter(tags=frozenset({"food"})), 50)) > 10


async def _all(store: SqliteStore) -> list[Trace]:
    from stig.crdt.codec import decode

    return [decode(raw) async for raw in store.export(0, ExportFilter())]


# -- search --------------------------------------------------------------------------------


async def test_search_finds_words_in_bodies_and_tags_whatever_the_accents(
    store: SqliteStore,
) -> None:
    cafe = post(ANA, kinds.CALLOUT, 0, body="Soup kitchen at the café tonight", tags=("housing",))
    plain = post(BEN, kinds.NOTE, 0, body="the cafe on the corner is closed", tags=("j20",))
    other = post(CY, kinds.REPORT, 0, body="nothing to see here", tags=("food",))
    await store.add([cafe, plain, other], T0)
    now = T0 + MINUTE

    async def found(query: str) -> set[bytes]:
        return {r.trace.id for r in await store.search(query, now, 10)}

    assert await found("kitchen") == {cafe.id}
    assert await found("housing") == {cafe.id}  # a tag
    assert await found("j20") == {plain.id}
    assert await found("cafe") == {cafe.id, plain.id}
    assert await found("café") == {cafe.id, plain.id}
    assert await found("CAFÉ") == {cafe.id, plain.id}
    assert await found("soup café") == {cafe.id}
    assert await found("elephant") == set()
    ranked = await store.search("kitchen", now, 10)
    assert ranked == [TraceSet([cafe, plain, other]).rank(cafe, now)]


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "foo -", "-", '"', "(", "NEAR(", "*", "a OR", "AND", "body:", "^", "x AND ("],
)
async def test_a_query_in_broken_search_syntax_does_not_raise(
    store: SqliteStore, query: str
) -> None:
    note = post(ANA, kinds.NOTE, 0, body="an unbalanced budget, foo bar")
    await store.add([note], T0)
    found = await store.search(query, T0 + 1, 10)
    assert all(r.trace == note for r in found)
    if query == '"unbalanced':
        assert ids(found) == [note.id]  # searched as the words typed


async def test_search_forgets_retracted_and_collected_traces(
    store: SqliteStore, path: Path
) -> None:
    secret = post(ANA, kinds.CALLOUT, 0, body="meet at the zeppelin hangar", ttl=7 * DAY)
    brief = post(BEN, kinds.NOTE, 0, body="a fleeting walrus sighting", ttl=HOUR)
    kept = post(CY, kinds.NOTE, 0, body="walrus and zeppelin, still here", ttl=7 * DAY)
    await store.add([secret, brief, kept], T0)
    assert {r.trace.id for r in await store.search("zeppelin", T0 + 1, 10)} == {
        secret.id,
        kept.id,
    }
    assert {r.trace.id for r in await store.search("walrus", T0 + 1, 10)} == {brief.id, kept.id}

    await store.add([post(ANA, kinds.RETRACT, MINUTE, refs=(secret,))], T0 + MINUTE)
    assert ids(await store.search("zeppelin", T0 + 2 * MINUTE, 10)) == [kept.id]
    assert ids(await store.search("hangar", T0 + 2 * MINUTE, 10)) == []

    assert await store.collect(T0 + 2 * HOUR) == Collected(expired=1)
    assert ids(await store.search("walrus", T0 + 2 * HOUR, 10)) == [kept.id]
    assert ids(await store.search("fleeting", T0 + 2 * HOUR, 10)) == []

    with raw_db(path) as con:
        con.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if not
        con.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, 'search', 'row')")
        words = {row[0] for row in con.execute("SELECT term FROM temp.words")}
    assert {"walrus", "zeppelin", "still"} <= words
    assert not words & {"hangar", "meet", "fleeting", "sighting"}


def search_files(path: Path) -> bytes:
    return file_bytes(*(q for q in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if q.exists()))


async def test_the_index_deletes_in_place_without_a_merge(store: SqliteStore, path: Path) -> None:
    """FTS5 secure-delete (schema 3): a retract's FTS 'delete' takes the body's words out of
    the index segments by itself; no 'optimize' runs, and the rest of the index stays as it
    was (its other segments are not rewritten)."""
    filler = [
        post(p, kinds.NOTE, i, body=f"ordinary words number{i} of the mesh {p.name}")
        for i in range(60)
        for p in (BEN, CY)
    ]
    secret = post(ANA, kinds.NOTE, 0, body="quixotryx is where we meet", tags=("zorblat",))
    # Several batches indexed apart: several segments, as in a store indexed over time.
    await store.add(filler[:60], T0)
    await store.search("ordinary", T0 + 1, 1)
    await store.add([secret], T0)
    await store.search("ordinary", T0 + 1, 1)
    await store.add(filler[60:], T0)
    await store.search("ordinary", T0 + 1, 1)
    assert ids(await store.search("quixotryx", T0 + 1, 10)) == [secret.id]
    with raw_db(path) as con:
        assert one(con, "SELECT v FROM search_config WHERE k = 'secure-delete'") == 1
        segments_before = con.execute("SELECT id FROM search_data ORDER BY id").fetchall()
    assert b"quixotryx" in search_files(path)

    sent: list[str] = []
    execute = store._db.execute

    def recording(sql: str, *args: object) -> object:
        sent.append(sql)
        return execute(sql, *args)

    store._db.execute = recording  # type: ignore[assignment,method-assign]
    await store.add([post(ANA, kinds.RETRACT, MINUTE, refs=(secret,))], T0 + MINUTE)
    assert sent and not [sql for sql in sent if "optimize" in sql]
    assert ids(await store.search("quixotryx", T0 + 2 * MINUTE, 10)) == []
    on_disk = search_files(path)
    assert b"quixotryx" not in on_disk
    assert b"zorblat" not in on_disk
    with raw_db(path) as con:
        con.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if not
        # No merge: the index still holds the same segments' pages (a merge makes new ones).
        assert con.execute("SELECT id FROM search_data ORDER BY id").fetchall() == segments_before
    assert len(await store.search("ordinary", T0 + 2 * MINUTE, 200)) == 120


async def test_a_trace_is_stored_compressed_and_read_back_as_its_canonical_bytes(
    store: SqliteStore, path: Path
) -> None:
    """Schema 5 (stig/store/packed.py): the row keeps ``pack(encoded)``; whatever leaves the
    store (get, export, fetch for a peer, stored_after for the mesh) is the canonical bytes."""
    long = post(ANA, kinds.NOTE, 0, body="the pump at the corner works again; " * 12)
    short = post(BEN, kinds.ECHO, MINUTE, refs=(long,))
    await store.add([long, short], T0)
    with raw_db(path) as con:
        rows = dict(con.execute("SELECT id, raw FROM traces").fetchall())
    assert rows == {long.id: pack(long.encoded), short.id: pack(short.encoded)}
    assert rows[long.id].startswith(MAGIC) and len(rows[long.id]) < len(long.encoded) // 2
    assert rows[short.id] == short.encoded  # DEFLATE would not shrink it: kept as it is
    now = T0 + 2 * MINUTE
    assert await store.get(long.id) == long
    assert sorted(await exported(store, now)) == sorted([long.encoded, short.encoded])
    assert await store.fetch([long.id, short.id[:4]], now) == [long.encoded, short.encoded]
    assert (await store.stored_after(0, 10))[1] == [long.encoded, short.encoded]
    assert ids(await store.search("pump", now, 5)) == [long.id]


async def test_a_damaged_stored_value_is_a_store_error(store: SqliteStore, path: Path) -> None:
    trace = post(ANA, kinds.NOTE, 0, body="the pump at the corner works again; " * 12)
    await store.add([trace], T0)
    with raw_db(path) as con:
        stored = one(con, "SELECT raw FROM traces")
        assert isinstance(stored, bytes)
        con.execute("UPDATE traces SET raw = ?", (stored[:-5],))
    with pytest.raises(StoreError, match="damaged"):
        await store.get(trace.id)


async def test_a_store_of_schema_4_is_migrated_to_compressed_bytes_and_shrinks(path: Path) -> None:
    """Every row is compressed by the migration and the file compacted once; reads give what
    they gave before."""
    words = ("rent", "pump", "tenants", "meeting", "bread", "court", "depot", "garden")
    traces = [
        post(
            (ANA, BEN, CY)[i % 3],
            kinds.NOTE,
            i,
            body=" ".join(f"{words[(i * k) % len(words)]}{k % 7}" for k in range(150)),
        )
        for i in range(200)
    ]
    traces.append(post(DEE, kinds.ECHO, 300, refs=(traces[0],)))
    now = T0 + 400
    opened = await SqliteStore.open(path)
    try:
        await opened.add(traces, T0)
        feed = await opened.feed(now, FeedFilter(), 50)
        found = await opened.search("pump3 OR court5", now, 50)
    finally:
        await opened.close()
    with raw_db(path) as con:
        downgrade(con, UNDO_SCHEMA_6 + UNDO_SCHEMA_5 + "PRAGMA user_version = 4;")
        con.execute("PRAGMA auto_vacuum = 0")  # as in a store made before schema 5
        con.execute("VACUUM")
        assert one(con, "PRAGMA auto_vacuum") == 0
        assert one(con, "SELECT count(*) FROM traces WHERE substr(raw, 1, 1) = x'00'") == 0
    size_before = file_size(path)

    migrated = await SqliteStore.open(path)
    try:
        assert await migrated._one("PRAGMA user_version") == (SCHEMA_VERSION,)
        assert await migrated.feed(now, FeedFilter(), 50) == feed
        assert await migrated.search("pump3 OR court5", now, 50) == found
        assert [await migrated.get(t.id) for t in traces] == traces
    finally:
        await migrated.close()
    with raw_db(path) as con:
        rows = dict(con.execute("SELECT id, raw FROM traces").fetchall())
        assert one(con, "PRAGMA auto_vacuum") == 2  # turned on by the migration's VACUUM
    assert rows == {t.id: pack(t.encoded) for t in traces}
    assert file_size(path) < 0.8 * size_before, (file_size(path), size_before)


async def test_a_store_of_schema_2_is_migrated_to_secure_delete(path: Path) -> None:
    """Schema 2 had plain FTS5 deletes (tombstones, merged later): the migration turns
    secure-delete on, and merges once, so a tombstoned row's words leave the file too."""
    opened = await SqliteStore.open(path)
    old = post(ANA, kinds.NOTE, 0, body="pterodactyl sightings downtown")
    kept = post(BEN, kinds.NOTE, 0, body="pigeons sightings downtown")
    await opened.add([old, kept], T0)
    await opened.search("pigeons", T0 + 1, 1)
    await opened.close()
    with raw_db(path) as con:
        # What a schema-2 store looks like after an eviction: a plain delete left a tombstone
        # (the row itself is overwritten, as the store does).
        con.execute("PRAGMA secure_delete = ON")
        con.execute("INSERT INTO search (search, rank) VALUES ('secure-delete', 0)")
        con.execute(
            "INSERT INTO search (search, rowid, body, tags) VALUES ('delete', 1, ?, '')",
            ("pterodactyl sightings downtown",),
        )
        con.execute("DELETE FROM traces WHERE rowid = 1")
        downgrade(con, UNDO_SCHEMA_6 + UNDO_SCHEMA_5 + UNDO_SCHEMA_4)
        con.execute("PRAGMA user_version = 2")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"pterodactyl" in search_files(path)

    migrated = await SqliteStore.open(path)
    try:
        assert await migrated._one("PRAGMA user_version") == (SCHEMA_VERSION,)
        assert ids(await migrated.search("downtown", T0 + 1, 10)) == [kept.id]
    finally:
        await migrated.close()
    assert b"pterodactyl" not in search_files(path)
    with raw_db(path) as con:
        assert one(con, "SELECT v FROM search_config WHERE k = 'secure-delete'") == 1
        con.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if not


async def test_a_trace_is_searchable_right_after_add_and_a_retracted_one_never_is(
    store: SqliteStore, path: Path
) -> None:
    """Ingest does not index bodies; search indexes what is pending first. A trace retracted
    before it was indexed is never indexed, and gets no FTS 'delete' (one would corrupt the
    contentless index: SQLite then reports the file as malformed)."""
    first = post(ANA, kinds.NOTE, 0, body="lighthouse keepers meet")
    await store.add([first], T0)
    assert ids(await store.search("lighthouse", T0 + 1, 10)) == [first.id]

    # Retracted in the batch that brought it, in a later batch, and after it was indexed.
    same_batch = post(BEN, kinds.NOTE, 0, body="marmalade one")
    later = post(CY, kinds.NOTE, 0, body="marmalade two", tags=("food",))
    indexed = post(DEE, kinds.NOTE, 0, body="marmalade three")
    await store.add([same_batch, post(BEN, kinds.RETRACT, 1, refs=(same_batch,)), later], T0)
    await store.add([indexed], T0)
    assert ids(await store.search("three", T0 + 1, 10)) == [indexed.id]
    second = post(ANA, kinds.NOTE, 2, body="lighthouse again")
    await store.add(
        [
            post(CY, kinds.RETRACT, 3, refs=(later,)),
            post(DEE, kinds.RETRACT, 3, refs=(indexed,)),
            second,
        ],
        T0 + 3,
    )
    now = T0 + 4
    assert ids(await store.search("marmalade", now, 10)) == []
    assert ids(await store.search("food", now, 10)) == []
    assert set(ids(await store.search("lighthouse", now, 10))) == {first.id, second.id}

    # Collection of a trace that expired before it was ever indexed.
    brief = post(BEN, kinds.NOTE, 0, body="ephemeral narwhal", ttl=HOUR)
    await store.add([brief], T0 + 5)
    assert await store.collect(T0 + 2 * HOUR) == Collected(expired=1)
    assert ids(await store.search("narwhal", T0 + 2 * HOUR, 10)) == []
    # Eviction of traces never indexed (evict, unlike collect, does not index first).
    cold = [post(p, kinds.NOTE, -DAY, body=f"chilly okapi {p.name}") for p in (ANA, BEN)]
    await store.add(cold, T0 + 2 * HOUR)
    rows = await store.count()  # the 3 retracted notes go first, then the 2 coldest
    assert await store.evict(rows - 5, T0 + 2 * HOUR) == 5
    assert ids(await store.search("okapi", T0 + 2 * HOUR, 10)) == []
    with raw_db(path) as con:
        con.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if not
        con.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, 'search', 'row')")
        words = {row[0] for row in con.execute("SELECT term FROM temp.words")}
    assert {"lighthouse", "keepers", "again"} <= words
    assert not words & {"marmalade", "one", "two", "three", "food", "narwhal", "okapi"}


async def test_a_backlog_is_indexed_in_steps(
    store: SqliteStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search indexes what ingest left pending a few rows per transaction; rows retracted or
    collected meanwhile are skipped, whichever step they fall in."""
    monkeypatch.setattr("stig.store.sqlite._INDEX_STEP", 3)
    notes = [post(ANA, kinds.NOTE, i, body=f"pelican {i}", ttl=DAY) for i in range(10)]
    await store.add(notes, T0)
    await store.add([post(ANA, kinds.RETRACT, 20, refs=(notes[4],))], T0)
    expected = {n.id for i, n in enumerate(notes) if i != 4}
    assert set(ids(await store.search("pelican", T0 + MINUTE, 20))) == expected
    with raw_db(path) as con:
        indexed = one(con, "SELECT value FROM meta WHERE key = 'search_indexed_until'")
        assert indexed == one(con, "SELECT value FROM meta WHERE key = 'last_rowid'")
        # Every trace whose bytes are kept is indexed: the notes and the retract itself.
        assert one(con, "SELECT count(*) FROM search_docsize") == len(expected) + 1


# -- retraction and burning ----------------------------------------------------------------


@pytest.mark.parametrize("searched_first", [True, False], ids=["indexed", "not-yet-indexed"])
async def test_a_retract_purges_the_body_and_bytes_from_the_file(
    store: SqliteStore, path: Path, searched_first: bool
) -> None:
    """Whether the secret reached the full-text index before its retract (a search indexes
    what is pending) or not."""
    body = (
        "qwertzuiopx: the secret meeting is behind the old mill. Come after dark, come alone, "
        "and bring the list of the tenants of the block; the meeting starts when the bell of "
        "the mill rings twice, and the list goes back with whoever brought it."
    )  # long enough to be stored compressed (stig/store/packed.py)
    secret = post(ANA, kinds.CALLOUT, 0, body=body, tags=("food",), ttl=7 * DAY)
    other = post(BEN, kinds.NOTE, 0, body="plain bread for everyone")
    echo = post(CY, kinds.ECHO, MINUTE, refs=(secret,))
    await store.add([secret, other, echo], T0)
    if searched_first:
        assert ids(await store.search("qwertzuiopx", T0 + MINUTE, 10)) == [secret.id]
    # The row keeps the bytes deflated (schema 5): the body's words are not in the file as
    # text, so the check below looks for the stored value itself too (and can fail).
    stored = pack(secret.encoded)
    assert stored.startswith(MAGIC)
    assert stored in file_bytes(*(p for p in path.parent.glob(f"{path.name}*")))
    retract = post(ANA, kinds.RETRACT, HOUR, refs=(secret,))
    await store.add([retract], T0 + HOUR)
    now = T0 + 2 * HOUR

    with raw_db(path) as con:
        assert con.execute(
            "SELECT raw, place, hidden FROM traces WHERE id = ?", (secret.id,)
        ).fetchall() == [(None, "", 1)]
        rowid = one(con, "SELECT rowid FROM traces WHERE id = ?", (secret.id,))
        assert one(con, "SELECT count(*) FROM tags WHERE trace = ?", (rowid,)) == 0
        assert one(con, "SELECT count(*) FROM traces WHERE raw IS NOT NULL") == 3
    assert await store.get(secret.id) is None
    assert await store.get(retract.id) == retract  # the retract itself is kept and relayed
    assert await store.thread(secret.id, now) == Hidden(
        secret.id, kinds.CALLOUT, ANA.public_key, secret.created
    )
    assert secret.encoded not in await exported(store, now)
    assert retract.encoded in await exported(store, now)
    assert secret.id not in ids(await store.feed(now, FeedFilter(), 10))
    assert ids(await store.search("qwertzuiopx", now, 10)) == []  # out of search at once
    assert ids(await store.search("bread", now, 10)) == [other.id]

    # The words leave the full-text index file at the next collection (SqliteStore._purge),
    # which must keep everything that is still alive.
    assert await store.collect(now) == Collected(expired=0)
    assert ids(await store.search("bread", now, 10)) == [other.id]
    with raw_db(path) as con:
        con.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if not
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
    data = file_bytes(*(p for p in path.parent.glob(f"{path.name}*")))
    assert b"plain bread" in data  # what was not retracted is there, so the check can fail
    for leak in (body, "qwertzuiopx", "secret meeting", "old mill"):
        assert leak.encode() not in data, leak
    assert secret.signature not in data
    assert secret.encoded not in data
    assert stored not in data
    assert pack(other.encoded) in data


async def test_a_burn_hides_everything_its_author_posted_before_it_and_nothing_after(
    store: SqliteStore,
) -> None:
    a1 = post(ANA, kinds.NOTE, 0, body="ana one")
    a2 = post(ANA, kinds.CALLOUT, HOUR, body="ana two", tags=("food",))
    b1 = post(BEN, kinds.CALLOUT, 0, body="ben one", ttl=DAY)
    support = post(ANA, kinds.ECHO, 2 * HOUR, refs=(b1,), ttl=7 * DAY)
    burn = post(ANA, kinds.BURN, 3 * HOUR)
    a3 = post(ANA, kinds.NOTE, 4 * HOUR, body="ana after the burn")
    await store.add([a1, a2, b1, support], T0 + 3 * HOUR)
    now = T0 + 5 * HOUR
    before = await store.feed(now, FeedFilter(), 10)
    assert set(ids(before)) == {a1.id, a2.id, b1.id}

    await store.add([burn], T0 + 3 * HOUR)
    await store.add([a3], T0 + 4 * HOUR)
    late = post(ANA, kinds.NOTE, 2 * HOUR, body="arrives late, made before the burn")
    await store.add([late], T0 + 4 * HOUR)

    full = TraceSet([a1, a2, b1, support, burn, a3, late])
    page = await store.feed(now, FeedFilter(), 10)
    assert page == full.feed(now, FeedFilter(), 10)
    assert set(ids(page)) == {b1.id, a3.id}
    for gone in (a1, a2, support, late):
        assert await store.thread(gone.id, now) == Hidden(
            gone.id, gone.kind, ANA.public_key, gone.created
        )
        assert await store.get(gone.id) is None
    # ANA's echo no longer keeps BEN's callout alive or warm.
    ranked_b1 = next(r for r in page if r.trace.id == b1.id)
    assert ranked_b1.effective_expiry == b1.expires
    assert ranked_b1.counts.echoes == 0
    assert await store.reinforced_until([b1]) == {}
    assert ids(await store.feed(T0 + DAY + 1, FeedFilter(), 10)) == [a3.id]
    assert await store.get(burn.id) == burn  # kept and relayed, though it hides itself too
    assert burn.encoded in await exported(store, now)


# -- writing -------------------------------------------------------------------------------


async def test_add_counts_duplicates_within_and_across_batches(store: SqliteStore) -> None:
    a, b, c = (post(p, kinds.NOTE, 0, body=p.name) for p in (ANA, BEN, CY))
    assert await store.add([a, a, b], T0) == Added([a.id, b.id], 1)
    assert await store.add([a, c, c, b], T0) == Added([c.id], 3)
    assert await store.add([], T0) == Added([], 0)
    assert await store.add([b, b, b], T0) == Added([], 3)
    assert await store.count() == 3
    assert set(await exported(store, T0)) == {a.encoded, b.encoded, c.encoded}


async def test_a_batch_larger_than_one_statement_s_ids_finds_duplicates_and_supporters(
    store: SqliteStore,
) -> None:
    """SqliteStore reads what a batch needs to know 500 ids at a time (the first statement also
    catches up): duplicates in any slice are found, and a supporter in a later slice of the
    same batch as its target, or stored before it, still counts."""
    notes = [post(ANA, kinds.NOTE, i, body=f"note {i}") for i in range(1200)]
    early = post(BEN, kinds.ECHO, 1300, refs=(notes[1100],))  # stored before its target
    assert await store.add([early], T0) == Added([early.id], 0)
    late = post(CY, kinds.ECHO, 1300, refs=(notes[3],))  # after its target, same batch
    added = await store.add([*notes[:700], late, *notes[:700], *notes[700:]], T0)
    assert sorted(added.accepted) == sorted([*(n.id for n in notes), late.id])
    assert added.duplicates == 700
    again = await store.add([*notes[600:], *notes[:600]], T0)
    assert again == Added([], 1200)
    # The feed's first page is read in the order of the stored heat: the supported notes first.
    expected = TraceSet([*notes, early, late]).feed(T0, FeedFilter(), 2)
    assert {r.trace.id for r in expected} == {notes[3].id, notes[1100].id}
    assert await store.feed(T0, FeedFilter(), 2) == expected


async def test_add_durable_stores_one_trace_and_commits_it(store: SqliteStore, path: Path) -> None:
    mine = post(ANA, kinds.CALLOUT, 0, body="posted here")
    assert await store.add_durable(mine, T0) == Added([mine.id], 0)
    assert await store.add_durable(mine, T0) == Added([], 1)
    assert await store.get(mine.id) == mine
    with raw_db(path) as con:  # visible to another connection: committed
        assert one(con, "SELECT count(*) FROM traces WHERE id = ?", (mine.id,)) == 1
    # The store is still usable for batches afterwards.
    other = post(BEN, kinds.NOTE, 0)
    assert await store.add([other, mine], T0) == Added([other.id], 1)


async def test_resolve_finds_ids_by_any_hex_prefix(store: SqliteStore) -> None:
    traces = [post(ANA, kinds.NOTE, i, body=f"note {i}") for i in range(60)]
    await store.add(traces, T0)
    all_ids = sorted(t.id for t in traces)
    for tid in all_ids[::7]:
        text = tid.hex()
        for length in (1, 2, 3, 5, 7, 8, 63, 64):
            prefix = text[:length]
            expected = [i for i in all_ids if i.hex().startswith(prefix)][:10]
            assert await store.resolve(prefix) == expected, prefix
            assert tid in await store.resolve(prefix) or len(expected) == 10
        assert await store.resolve(f"  {text[:5].upper()} ") == await store.resolve(text[:5])
    assert await store.resolve("") == all_ids[:10]
    unused = next(
        p
        for p in (f"{n:03x}" for n in range(4096))
        if not any(i.hex().startswith(p) for i in all_ids)
    )
    assert await store.resolve(unused) == []
    memory = MemoryStore()
    await memory.add(traces, T0)
    for prefix in ("a", "b3", "c0f", "7", "ff", unused):
        assert await store.resolve(prefix) == await memory.resolve(prefix)


async def test_reinforced_until_counts_only_visible_supporters_by_other_authors(
    store: SqliteStore,
) -> None:
    target = post(ANA, kinds.CALLOUT, 0, ttl=DAY)
    unsupported = post(ANA, kinds.NOTE, 0, ttl=DAY)
    echo = post(BEN, kinds.ECHO, HOUR, refs=(target,), ttl=3 * DAY)
    action = post(CY, kinds.ACTION, HOUR, refs=(target,), ttl=5 * DAY)
    own_echo = post(ANA, kinds.ECHO, HOUR, refs=(target,), ttl=30 * DAY)
    confirm = post(DEE, kinds.CONFIRM, HOUR, refs=(target,), ttl=20 * DAY)
    retract_confirm = post(DEE, kinds.RETRACT, 2 * HOUR, refs=(confirm,))
    dispute = post(BEN, kinds.DISPUTE, HOUR, refs=(target, unsupported), ttl=25 * DAY)
    note = post(CY, kinds.NOTE, HOUR, refs=(target, unsupported), ttl=29 * DAY)
    traces = [target, unsupported, echo, action, own_echo, confirm, dispute, note]
    await store.add(traces, T0)
    assert await store.reinforced_until([target, unsupported]) == {
        target.id: max(confirm.expires, action.expires)
    }
    await store.add([retract_confirm], T0 + 2 * HOUR)
    until = await store.reinforced_until([target, unsupported])
    assert until == {target.id: action.expires}

    memory = MemoryStore()
    await memory.add([*traces, retract_confirm], T0)
    assert until == await memory.reinforced_until([target, unsupported])
    full = TraceSet([*traces, retract_confirm])
    assert full.effective_expiry(target) == action.expires
    (ranked,) = await store.feed(
        T0 + 3 * HOUR, FeedFilter(author=ANA.public_key, tags=frozenset()), 1
    )
    assert ranked.trace == target
    assert ranked.effective_expiry == action.expires


async def test_a_trace_whose_echoes_arrived_first_gets_their_life_and_warmth(
    store: SqliteStore,
) -> None:
    trace = post(BEN, kinds.CALLOUT, 0, body="needs hands", ttl=DAY)
    echo_ana = post(ANA, kinds.ECHO, HOUR, refs=(trace,), ttl=7 * DAY)
    echo_cy = post(CY, kinds.ECHO, 2 * HOUR, refs=(trace,), ttl=3 * DAY)
    full = TraceSet([trace, echo_ana, echo_cy])

    await store.add([echo_ana], T0 + HOUR)
    await store.add([echo_cy], T0 + 2 * HOUR)
    assert await store.feed(T0 + 2 * HOUR, FeedFilter(), 10) == []
    await store.add([trace], T0 + 3 * HOUR)

    for now in (T0 + 3 * HOUR, T0 + 2 * DAY, T0 + 3 * DAY + 3 * HOUR, T0 + 6 * DAY):
        (ranked,) = await store.feed(now, FeedFilter(), 10)
        assert ranked == full.rank(trace, now)
        assert ranked.effective_expiry == echo_ana.expires
        assert ranked.intensity == full.intensity(trace, now) > 0
    # Before CY's echo expires, three authors warm it; after, two.
    assert full.rank(trace, T0 + 3 * HOUR).counts.echoes == 2
    assert len(full.support_times(trace, T0 + 3 * DAY + 3 * HOUR)) == 2
    assert await store.feed(echo_ana.expires, FeedFilter(), 10) == []


async def test_collect_removes_expired_rows_from_every_table(
    store: SqliteStore, path: Path
) -> None:
    long = post(BEN, kinds.CALLOUT, 0, body="durable giraffe", tags=("housing",), ttl=7 * DAY)
    short = post(
        ANA, kinds.NOTE, 0, body="ephemeral zebra", tags=("food", "j20"), refs=(long,), ttl=HOUR
    )
    echo = post(CY, kinds.ECHO, 0, refs=(short,), ttl=2 * HOUR)
    await store.add([long, short, echo], T0)
    assert await store.collect(T0 + HOUR) == Collected(expired=0)  # the echo keeps it alive
    assert set(ids(await store.feed(T0 + HOUR, FeedFilter(), 10))) == {long.id, short.id}

    assert await store.collect(T0 + 2 * HOUR) == Collected(expired=2)
    assert await store.count() == 1
    assert await store.thread(short.id, T0 + 2 * HOUR) is None
    assert ids(await store.search("zebra", T0 + 2 * HOUR, 10)) == []
    with raw_db(path) as con:
        assert [r[0] for r in con.execute("SELECT id FROM traces")] == [long.id]
        assert one(con, "SELECT count(*) FROM refs") == 0
        assert [r[0] for r in con.execute("SELECT tag FROM tags")] == ["housing"]
        con.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if not
        con.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, 'search', 'row')")
        words = {row[0] for row in con.execute("SELECT term FROM temp.words")}
    assert words == {"durable", "giraffe", "housing"}
    assert await store.collect(T0 + 2 * HOUR) == Collected(expired=0)
    # Collection did not change what is visible.
    assert await store.feed(T0 + 2 * HOUR, FeedFilter(), 10) == TraceSet([long]).feed(
        T0 + 2 * HOUR, FeedFilter(), 10
    )


async def test_thread_of_a_stored_trace_matches_the_memory_twin(store: SqliteStore) -> None:
    root = post(ANA, kinds.CALLOUT, 0, body="root", ttl=DAY)
    reply = post(BEN, kinds.NOTE, HOUR, refs=(root,), body="reply")
    confirm = post(CY, kinds.CONFIRM, HOUR, refs=(root,))
    dispute = post(DEE, kinds.DISPUTE, HOUR, refs=(reply,))
    traces = [root, reply, confirm, dispute]
    await store.add(traces, T0)
    memory = MemoryStore()
    await memory.add(traces, T0)
    now = T0 + 2 * HOUR
    for trace in traces:
        got = await store.thread(trace.id, now)
        assert isinstance(got, Thread)
        assert got == await memory.thread(trace.id, now)
    root_thread = await store.thread(root.id, now)
    assert isinstance(root_thread, Thread)
    assert ids(root_thread.answers) == [reply.id]
    assert root_thread.ranked.counts.confirms == 1
    reply_thread = await store.thread(reply.id, now)
    assert isinstance(reply_thread, Thread)
    assert reply_thread.answers_to == [(root.id, root_thread.ranked)]


async def test_a_write_cancelled_at_its_begin_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A Textual worker cancelled by a newer one may be waiting on BEGIN: the store must not be
    left inside a transaction (the next write failed: 'cannot start a transaction within a
    transaction')."""
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        for i, delay in enumerate((0, 0, 0.0005, 0.001, 0.002)):
            note = forge(ANA, body=f"cancelled {i}")
            task = asyncio.create_task(store.add([note], T0))
            if delay:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            after = forge(ANA, body=f"after {i}")
            assert (await store.add([after], T0)).accepted == [after.id]
    finally:
        await store.close()
