"""The SQLite adapter of the store port (WAL, FTS5, a connection on its own thread).

Each row keeps a trace's canonical bytes (compressed when that is shorter, schema 5:
stig/store/packed.py; every read gives back the canonical bytes) and indexed columns; the
derived columns (``hidden``, ``eff_expires``, ``heat``) are computed by stig.crdt.views on the
trace's *neighbourhood* — the trace, what references it, and the retracts and burns that decide
whether those are hidden — and recomputed whenever that neighbourhood changes. So the feed is one
index scan, and what it shows is what the pure views say (tests/store/test_store_agrees.py).

Reads rank what they return from those columns: one query fetches the referrers' kind, author,
times and derived columns (copied into refs), and the views rank from them (``views.standing``:
the store restates no rule), so a feed page decodes only its own traces. What the referrers say
of a trace is kept in memory until a write touches them or one of them expires; the feed index
holds what checks that (``referred``, schema 6), so a page whose standings all hold reads no
table row. Full-text indexing is not part of ingest: rows are indexed before the next search or
collection.

Deleted means gone from the files, not only from answers (docs/threat-model.md): every connection
runs with ``secure_delete`` (SQLite overwrites what it deletes with zeros), the full-text index
runs with FTS5's ``secure-delete`` option (schema 3: an FTS5 'delete' removes the row's entries
from the index segments in place, instead of adding a tombstone that only a merge of the whole
index would clear), and a transaction that removed text ends with a TRUNCATE checkpoint, so no
older copy of a page stays in the ``-wal`` file while a node keeps the store open. So a purge
costs what it purges, not what the index holds (docs/performance.md, "Purging").

SQLite is not the one linked into Python's ``sqlite3`` (3.40 on Debian 12, without FTS5
secure-delete, which needs 3.42) but the one of the ``sqlean.py`` package (module ``sqlean``,
the sqlite3 API over its own SQLite), opened on the connection's own thread
(stig/store/connection.py; docs/architecture.md, "Why sqlean"). Its errors are ``sqlean``'s
classes, not ``sqlite3``'s.

A write of traces (``add``) is one trip to that thread: the whole transaction — begin, what is
there, the inserts, the derived columns, commit — runs there at once (``Connection.run``), while
the loop goes on with other work (docs/performance.md, "One trip per store batch"). What this
object keeps in memory is then written from that thread too, while the loop may read it: the
burns are replaced, never changed in place; the kept standings and their generation change under
``_memory``; the rest is written only inside write transactions, one at a time (``_writing``).

sqlean errors never leave this module: they become StoreError with a message that says what to
do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Collection,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgpack
import sqlean  # type: ignore[import-untyped]  # SQLite 3.50 with the sqlite3 API

from stig.crdt import kinds
from stig.crdt.bounds import DAY, INTENSITY_HALF_LIFE, LIFE_CAP
from stig.crdt.codec import body_and_tags, decode, decode_trusted
from stig.crdt.contour import PLACE_PREFIX, Contour, assemble, window
from stig.crdt.trace import Trace
from stig.crdt.views import (
    NO_MUTES,
    FeedFilter,
    Mutes,
    Ranked,
    Referrer,
    Standing,
    TraceSet,
    columns,
    feed_order,
    heat_of,
    standing,
)
from stig.errors import InvalidTrace, StoreError
from stig.store.connection import Connection
from stig.store.packed import pack, unpack
from stig.store.port import (
    Added,
    Collected,
    ExportFilter,
    Hidden,
    ItemChange,
    ItemWatcher,
    Thread,
)
from stig.store.schema import (
    COUNTED,
    MIGRATIONS,
    PACK_FUNCTION,
    PACKED_SINCE,
    SCHEMA_VERSION,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_CHUNK = 500  # ids per IN (...) list: far below SQLite's parameter limit
_HEAT_SLACK = 1e-6  # far above the rounding error of heat (~1e-11) and of intensity
_INDEX_STEP = 20_000  # rows per transaction when indexing for full-text search
_CACHE_KIB = 64 * 1024  # page cache per connection (SQLite's default is 2 MiB)
_PAGE_BYTES = 16384  # page size of a new store (SQLite's default is 4096)
# A tag on fewer traces than this drives a tag-filtered feed from the tags table; a commoner
# one is checked per trace while scanning the feed index (docs/performance.md §2).
_RARE_TAG = 2000
_STANDINGS = 4096  # traces whose standing (views.Standing) a store keeps in memory at most
_ITER_CHUNK = 64  # rows per trip when iterating a query (export)
_FILE_MODE = 0o600  # the store holds what reached this device: for this user only
_CHECKPOINT_TRIES = 20  # a TRUNCATE checkpoint waits for readers (busy_timeout) this many times
_SQLITE_AT_LEAST = (3, 42, 0)  # FTS5 secure-delete (schema 3)
# What ranking needs of each referrer (views.Referrer, in its field order): its copy of the
# source's row in refs.
_REFERRER = (
    "source_kind, source_author, source_created, source_expires, source_hidden, source_eff_expires"
)


# What a store keeps in memory of the file, read in one statement (one trip to the connection's
# thread: a feed right after another process wrote pays for it, and a trip costs more than
# these index seeks): data_version, refreshed_until, the next end of a supporter's own life
# after it, and the burns (how many, and the greatest rowid: a burn added raises it, one
# removed lowers the count).
_CATCH_UP = (
    "SELECT data_version, (SELECT value FROM meta WHERE key = 'refreshed_until'), "
    "(SELECT min(source_expires) FROM refs WHERE supports = 1 AND source_expires > "
    "(SELECT value FROM meta WHERE key = 'refreshed_until')), "
    "(SELECT count(*) || ' ' || coalesce(max(rowid), 0) FROM traces "
    "WHERE kind = 'burn' AND raw IS NOT NULL) FROM pragma_data_version"
)


# _arriving's first statement: a row tagged _CAUGHT, the columns of _CATCH_UP (4) and the last
# rowid, then one row per id of the batch stored already (_STORED) and per id some stored trace
# refers to (_REFERRED), padded to the same width.
_CAUGHT, _STORED, _REFERRED = 0, 1, 2
_CAUGHT_UP = (
    f"SELECT {_CAUGHT}, *, (SELECT value FROM meta WHERE key = 'last_rowid') FROM ({_CATCH_UP})"
)
_PAD = ", NULL" * 4


# How far out a neighbourhood reaches, as kind filters per level of referrers (None: any kind).
# Ranking needs the referrers, their own supporters (their effective expiry decides whether
# they are visible) and the retracts that may hide those. (Derived columns need less, and read
# it from the copies in refs: _columns_of.)
_FOR_RANKING: tuple[frozenset[str] | None, ...] = (None, None, frozenset({kinds.RETRACT}))


class SqliteStore:
    """The store, in one SQLite file. Open with ``await SqliteStore.open(path)``."""

    def __init__(self, db: Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._burns: dict[bytes, Trace] = {}
        self._burns_seen = ""  # the burns of the file when last read (_CATCH_UP)
        # One connection serves every task of the node (push ingest, sync sessions, refresh):
        # their transactions must not interleave on it.
        self._writing = asyncio.Lock()
        # What _refresh needs, in memory so that a read does not go to meta: everything up to
        # `_refreshed_until` is refreshed, and the next supporter whose own life ends does so
        # at `_next_support_end` (None: no such supporter). Both, and the burns, are loaded
        # again whenever another connection has written (`PRAGMA data_version`, _catch_up).
        self._data_version = -1
        self._refreshed_until = 0
        self._next_support_end: int | None = None
        # What the referrers of recently ranked traces say of them, until a write touches
        # them (_forget) or the time comes when one of those referrers expires. `_generation`
        # counts forgettings: a standing read while one happened is not kept.
        self._standings: dict[bytes, tuple[Standing, tuple[int, int]]] = {}
        self._generation = 0
        # Both are changed by writes on the connection's thread (module doc) while a read on
        # the loop may be about to keep a standing: the generation's check and the keeping are
        # one step under this lock, and so is a forgetting.
        self._memory = threading.Lock()
        # Set by a transaction that removed text (_purge, _delete): after its commit, the WAL
        # is checkpointed and truncated (_scrub_wal).
        self._scrub_due = False
        # What sync reconciles changed (watch_items): the changes of the open transaction,
        # told to the watcher once it commits.
        self._watcher: ItemWatcher | None = None
        self._item_changes: list[ItemChange] = []

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        with _mapped(path, "open"):
            if sqlean.sqlite_version_info < _SQLITE_AT_LEAST:
                raise StoreError(
                    f"this SQLite ({sqlean.sqlite_version}) has no FTS5 secure-delete; "
                    "install the sqlean.py version that pyproject.toml asks for"
                )
            db = await Connection.open(lambda: sqlean.connect(str(path), isolation_level=None))
            try:
                # SQLite creates -wal and -shm with the mode of the database file: set it
                # before any of them exists, whatever the umask.
                os.chmod(path, _FILE_MODE)
                store = cls(db, path)
                await store._prepare()
            except BaseException:
                await db.close()
                raise
            return store

    async def _prepare(self) -> None:
        db = self._db
        # Another process (a CLI command beside a running node) may hold the write lock.
        await db.execute("PRAGMA busy_timeout = 10000")
        # Deleted rows, freed pages and index segments are overwritten with zeros, not left
        # for anyone with the file to read. Explicit: a build may default it to off.
        await db.execute("PRAGMA secure_delete = ON")
        (secure,) = await self._one("PRAGMA secure_delete")
        if secure != 1:
            raise StoreError(
                f"this SQLite cannot overwrite deleted data (secure_delete) in {self.path}; "
                "use a build of SQLite without SQLITE_SECURE_DELETE disabled"
            )
        # Before the first table exists (a no-op on a store that has them): rows of 1-2 KiB
        # fill 16 KiB pages far better than 4 KiB ones (a 4 KiB page holds two and wastes
        # a quarter of itself), docs/performance.md "Disk".
        await db.execute(f"PRAGMA page_size = {_PAGE_BYTES}")
        # Also before the first table (or applied by the VACUUM of migration 5): lets
        # _index_pending give back the pages that merging the full-text index's segments
        # frees (~35-80 B per trace were left free after indexing, docs/performance.md "Disk").
        await db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        (version,) = await self._one("PRAGMA user_version")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {self.path} was written by a newer stig (schema {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade stig"
            )
        await db.create_function(PACK_FUNCTION, 1, pack, deterministic=True)
        for step in range(version, SCHEMA_VERSION):
            if step + 1 == PACKED_SINCE and version > 0:
                log.warning(
                    "migrating %s to schema %d: compressing every stored trace and compacting "
                    "the file (once; a store of a million traces takes minutes)",
                    self.path,
                    PACKED_SINCE,
                )
            # executescript commits first, so the migration's transaction lives in the script.
            await db.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[step]}; PRAGMA user_version = {step + 1}; COMMIT;"
            )
        if 0 < version < PACKED_SINCE:
            # The compressed rows fill a fraction of their pages: give the rest back (VACUUM
            # rewrites the file; it cannot run inside a transaction).
            await db.execute("VACUUM")
        await self._catch_up()

    async def _catch_up(self, seen: Sequence[Any] | None = None) -> None:
        """Load what this object keeps in memory again if another connection (another
        process: a CLI command beside a running node) has written since it was loaded.
        ``seen``: the row of _CATCH_UP if the caller read it already (the feed statement)."""
        version, since, end, burns_seen = seen or await self._one(_CATCH_UP)
        if version == self._data_version:
            return
        if self._watcher is not None and self._data_version != -1:
            self._watcher.lost_track()  # another process wrote: we cannot tell what
        # Kept standings stay: each one is checked against its row's (rowid, referred) when
        # it is used, which every change to the trace's referrers moves, whoever wrote (schema
        # 4). Burns are not referrers: a new or collected burn forgets them all.
        if burns_seen != self._burns_seen:
            rows = await self._rows(
                "SELECT raw FROM traces WHERE kind = 'burn' AND raw IS NOT NULL"
            )
            burns: dict[bytes, Trace] = {}
            for (raw,) in rows:
                burn = _stored(raw)
                burns[burn.id] = burn
            if burns.keys() != self._burns.keys():
                self._forget_all()
            self._burns = burns
            self._burns_seen = burns_seen
        if self._data_version < 0:
            self._forget_all()
        self._refreshed_until = since
        self._next_support_end = None if end is None else int(end)
        self._data_version = version

    async def _support_end_after(self, since: int) -> int | None:
        (end,) = await self._one(
            "SELECT min(source_expires) FROM refs WHERE supports = 1 AND source_expires > ?",
            (since,),
        )
        return None if end is None else int(end)

    def _forget(self, ids: Iterable[bytes]) -> None:
        with self._memory:
            self._generation += 1
            for tid in ids:
                self._standings.pop(tid, None)

    def _forget_all(self) -> None:
        with self._memory:
            self._generation += 1
            self._standings.clear()

    async def close(self) -> None:
        with _mapped(self.path, "close"):
            await self._db.close()

    # -- writing ---------------------------------------------------------------------------

    async def add(self, traces: Sequence[Trace], now: int) -> Added:
        with _mapped(self.path, "store traces"):
            return await self._write(lambda: self._insert(traces, now))

    async def add_durable(self, trace: Trace, now: int) -> Added:
        with _mapped(self.path, "store a trace"):
            return await self._write(lambda: self._insert([trace], now), durable=True)

    async def _write(
        self, body: Callable[[], Coroutine[Any, Any, _T]], *, durable: bool = False
    ) -> _T:
        """A whole write transaction — BEGIN, ``body()``, COMMIT — in one trip to the
        connection's thread (``Connection.run``: ``body`` awaits nothing but statements, and
        catches up with other processes itself, as _insert does in its first statement). What
        it changed is told to the watcher once it committed. A task cancelled meanwhile waits
        for the trip to end — committed or rolled back, never left open — and then takes its
        cancellation (what it stored stays stored)."""
        async with self._writing:
            trip = self._db.run(self._atomically(body, durable))
            try:
                result = await asyncio.shield(trip)
            except asyncio.CancelledError:
                await asyncio.wait({trip})
                self._tell_watcher()  # what it committed (none if it rolled back)
                raise
            self._tell_watcher()
            if self._scrub_due:
                await self._scrub_wal()
        return result

    def _rolled_back(self) -> None:
        """Forget what a transaction that is being rolled back made this object keep: standings
        may have been read from its rows, and its item changes never happened."""
        self._forget_all()
        self._item_changes = []

    def _tell_watcher(self) -> None:
        """Tell the watcher what the transaction that just ended committed."""
        changes, self._item_changes = self._item_changes, []
        if changes and self._watcher is not None:
            self._watcher.changed(changes)

    async def _atomically(self, body: Callable[[], Coroutine[Any, Any, _T]], durable: bool) -> _T:
        """_write's transaction, on the connection's thread: rolled back if anything fails."""
        db = self._db
        if durable:
            # synchronous=FULL makes this commit survive power loss, not just a crash.
            await db.execute("PRAGMA synchronous = FULL")
        try:
            await db.execute("BEGIN IMMEDIATE")
            try:
                result = await body()
                await db.execute("COMMIT")
            except BaseException:
                self._rolled_back()
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
        finally:
            if durable:
                await db.execute("PRAGMA synchronous = NORMAL")
        return result

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction at a time on the connection, a statement per trip (collection,
        eviction, refresh: rarer than ``add``, whose transaction is one trip, _write). It starts
        by catching up with other processes' writes (_catch_up)."""
        async with self._writing:
            try:
                await self._surely("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                # The BEGIN ran on the connection's thread all the same: a transaction left
                # open would make the next write fail ("within a transaction").
                await self._surely("ROLLBACK")
                raise
            try:
                await self._catch_up()
                yield
            except BaseException:
                self._rolled_back()
                await self._surely("ROLLBACK")
                raise
            await self._surely("COMMIT")
            self._tell_watcher()
            if self._scrub_due:
                await self._scrub_wal()

    async def _surely(self, sql: str) -> None:
        """Run a statement that must not be abandoned half-way: a task cancelled while awaiting
        it (a Textual worker replaced by a newer one) still waits for the connection's thread to
        finish it, then takes its cancellation."""
        statement = asyncio.ensure_future(self._db.execute(sql))
        try:
            await asyncio.shield(statement)
        except asyncio.CancelledError:
            await statement
            raise

    async def _scrub_wal(self) -> None:
        """Checkpoint the WAL into the database and truncate it to nothing: the frames that
        still hold removed text (the page before the purge, the original insert) go with it.

        Without this, a node that keeps the store open would keep them in ``store.db-wal``
        until it stops. A checkpoint cannot finish while another connection reads an older
        snapshot; it is tried again (busy_timeout waits each time), and a failure to finish is
        logged, not raised: the next purge or collection tries again."""
        self._scrub_due = False
        for _ in range(_CHECKPOINT_TRIES):
            (busy, _, _) = await self._one("PRAGMA wal_checkpoint(TRUNCATE)")
            if not busy:
                return
            await asyncio.sleep(0.05)
        self._scrub_due = True
        log.warning("the WAL of %s is in use by another reader; it is truncated later", self.path)

    async def _insert(self, traces: Sequence[Trace], now: int) -> Added:
        """Store ``traces`` (inside a transaction that has not caught up yet: the first
        statement here does it). Each trip to the connection's thread costs more than most of
        these statements (docs/performance.md, "Gossip CPU per message"), so a batch makes as
        few as it can: one to learn what is there, one per table written, and the derived
        columns' own."""
        unique = {t.id: t for t in traces}
        if not unique:
            return Added([], 0)
        top, present, referred = await self._arriving(list(unique))
        new = [t for tid, t in unique.items() if tid not in present]
        duplicates = len(traces) - len(new)
        if not new:
            return Added([], duplicates)
        rowid = {t.id: top + 1 + i for i, t in enumerate(new)}
        await self._db.execute(
            "UPDATE meta SET value = ? WHERE key = 'last_rowid'", (top + len(new),)
        )
        db = self._db
        await db.executemany(
            "INSERT INTO traces (rowid, id, kind, author, created, expires, place, listed, "
            "hidden, eff_expires, heat, received, raw) VALUES (?,?,?,?,?,?,?,?,0,?,?,?,?)",
            [
                (
                    rowid[t.id], t.id, t.kind, t.author, t.created, t.expires, t.place,
                    int(t.kind not in kinds.META_KINDS), min(t.created + LIFE_CAP, t.expires),
                    heat_of([t.created]), now, pack(t.encoded),
                )
                for t in new
            ],
        )  # fmt: skip
        ref_rows = [
            (
                ref, rowid[t.id], int(t.kind in kinds.SUPPORT_KINDS), t.expires, t.kind,
                t.author, t.created, min(t.created + LIFE_CAP, t.expires),
            )
            for t in new
            for ref in t.refs
        ]  # fmt: skip
        if ref_rows:  # (a trip saved for the many traces that refer to nothing)
            await db.executemany("INSERT INTO refs VALUES (?,?,?,?,?,?,?,0,?)", ref_rows)
        tag_rows = [
            (tag, rowid[t.id], t.created // DAY, t.kind, min(t.created + LIFE_CAP, t.expires))
            for t in new
            for tag in t.tags
        ]
        if tag_rows:
            await db.executemany(
                "INSERT INTO tags (tag, trace, day, kind, hidden, eff_expires) "
                "VALUES (?,?,?,?,0,?)",
                tag_rows,
            )
        if self._watcher is not None:
            self._item_changes.extend(
                (t.created, t.id, min(t.created + LIFE_CAP, t.expires)) for t in new
            )
        # Each new row was inserted with the columns of a trace alone: not hidden, its own
        # expiry, its author's term only. That is what the views say of it unless something
        # references it (a supporter or a retract, stored before or in this batch: refs are in
        # already) or a burn hides it; only those, and what the new traces point at, are
        # recomputed.
        self._forget(ref for t in new for ref in t.refs)
        # New rows that something references: a trace stored before (``referred``, read before
        # these refs went in) or one of this batch.
        fresh = {t.id for t in new}
        dirty = referred & fresh
        dirty.update(ref for t in new for ref in t.refs if ref in fresh)
        for t in new:
            if t.kind in kinds.SUPPORT_KINDS and t.refs and t.expires > self._refreshed_until:
                end = self._next_support_end
                self._next_support_end = t.expires if end is None else min(end, t.expires)
            if t.kind in kinds.SUPPORT_KINDS or t.kind == kinds.RETRACT:
                dirty.update(t.refs)
            if t.kind == kinds.BURN:
                self._forget_all()
                self._burns = {**self._burns, t.id: t}  # replaced: the loop may be reading it
                burned = await self._rows(
                    "SELECT id FROM traces WHERE author = ? AND created <= ? AND hidden = 0",
                    (t.author, t.created),
                )
                dirty.update(row[0] for row in burned)
        if self._burns:
            burned_until: dict[bytes, int] = {}
            for burn in self._burns.values():
                burned_until[burn.author] = max(burned_until.get(burn.author, -1), burn.created)
            dirty.update(t.id for t in new if burned_until.get(t.author, -1) >= t.created)
        await self._recompute(dirty, now)
        return Added([t.id for t in new], duplicates)

    async def _arriving(self, ids: list[bytes]) -> tuple[int, set[bytes], set[bytes]]:
        """What storing ``ids`` needs to know first, in one statement for up to _CHUNK ids:
        catch up with other processes (_catch_up), the store's last rowid, which of ``ids`` are
        stored already, and which of them stored traces refer to. Inside the transaction."""
        top: int | None = None
        present: set[bytes] = set()
        referred: set[bytes] = set()
        for chunk in _chunks(ids):
            marks = _marks(chunk)
            sql = (
                f"SELECT {_STORED}, id{_PAD} FROM traces WHERE id IN ({marks}) "
                f"UNION ALL SELECT DISTINCT {_REFERRED}, target{_PAD} FROM refs "
                f"WHERE target IN ({marks})"
            )
            if top is None:
                sql = f"{_CAUGHT_UP} UNION ALL {sql}"
            for row in await self._rows(sql, [*chunk, *chunk]):
                if row[0] == _STORED:
                    present.add(row[1])
                elif row[0] == _REFERRED:
                    referred.add(row[1])
                else:
                    await self._catch_up(row[1:-1])
                    top = int(row[-1])
        assert top is not None, "_chunks yields at least one chunk of a batch"
        return top, present, referred

    async def _recompute(self, dirty: set[bytes], now: int) -> None:
        """Bring hidden/eff_expires/heat of ``dirty`` up to date; purge what became hidden.

        Each trace's columns are ``views.columns`` of its own row and its refs rows (the
        copies of its referrers' columns), read without decoding anything. A supporter that
        becomes hidden stops supporting its targets, so they are recomputed in turn; that is
        also what keeps this exact when a trace and its supporter are recomputed in the same
        round (the supporter's copy still says "not hidden" there, and its target is dirty
        again in the next). This ends because a trace becomes hidden at most once.
        """
        burned_until: dict[bytes, int] = {}
        for burn in self._burns.values():
            burned_until[burn.author] = max(burned_until.get(burn.author, -1), burn.created)
        while dirty:
            own, referrers, targets = await self._columns_of(dirty)
            # Their columns, and so the copies in refs (refs_follow_source), may change.
            self._forget(dirty)
            self._forget(ref for refs in targets.values() for ref in refs)
            updates: list[tuple[int, int, float, bytes]] = []
            newly_hidden: list[tuple[bytes, str]] = []
            for tid, (kind, author, created, expires, was_hidden, eff, heat) in own.items():
                now_columns = columns(
                    author,
                    created,
                    expires,
                    referrers.get(tid, ()),
                    now,
                    burned_until.get(author, -1),
                )
                hidden = int(now_columns.hidden)
                if self._watcher is not None:  # (purged ones are told again, as gone)
                    self._item_changes.append((created, tid, now_columns.effective_expiry))
                if (hidden, now_columns.effective_expiry, now_columns.heat) != (
                    was_hidden,
                    eff,
                    heat,
                ):
                    updates.append((hidden, now_columns.effective_expiry, now_columns.heat, tid))
                if hidden and not was_hidden:
                    newly_hidden.append((tid, kind))
            if updates:
                await self._db.executemany(
                    "UPDATE traces SET hidden = ?, eff_expires = ?, heat = ? WHERE id = ?",
                    updates,
                )
            purged = [tid for tid, kind in newly_hidden if kind not in kinds.PINNED_LIFE_KINDS]
            if purged:  # (rare: a retract or a burn) what they said is read to remove it
                found = await self._neighbourhood(purged, ())
                await self._purge(t for tid in purged if (t := found.get(tid)) is not None)
            dirty = {
                ref
                for tid, kind in newly_hidden
                if kind in kinds.SUPPORT_KINDS
                for ref in targets.get(tid, ())
            }

    async def _columns_of(
        self, ids: Collection[bytes]
    ) -> tuple[
        dict[bytes, tuple[str, bytes, int, int, int, int, float]],
        dict[bytes, list[Referrer]],
        dict[bytes, list[bytes]],
    ]:
        """What recomputing the derived columns of ``ids`` reads, in one statement per _CHUNK
        ids: the own columns of each one still holding its bytes (kind, author, created,
        expires, and hidden, eff_expires, heat as stored), its referrers as its refs rows copy
        them, and the ids each one refers to (whose copies change with it)."""
        own: dict[bytes, tuple[str, bytes, int, int, int, int, float]] = {}
        referrers: dict[bytes, list[Referrer]] = {}
        targets: dict[bytes, list[bytes]] = {}
        for chunk in _chunks(ids):
            marks = _marks(chunk)
            rows = await self._rows(
                "SELECT 0, id, kind, author, created, expires, hidden, eff_expires, heat "
                f"FROM traces WHERE raw IS NOT NULL AND id IN ({marks}) "
                f"UNION ALL SELECT 1, target, {_REFERRER}, NULL FROM refs "
                f"WHERE target IN ({marks}) "
                "UNION ALL SELECT 2, t.id, r.target, NULL, NULL, NULL, NULL, NULL, NULL "
                "FROM traces t JOIN refs r ON r.source = t.rowid "
                f"WHERE t.id IN ({marks})",
                [*chunk, *chunk, *chunk],
            )
            for part, tid, *values in rows:
                if part == 0:
                    own[tid] = tuple(values)
                elif part == 1:
                    referrers.setdefault(tid, []).append(Referrer(*values[:6]))
                else:
                    targets.setdefault(tid, []).append(values[0])
        return own, referrers, targets

    async def _purge(self, traces: Iterable[Trace]) -> None:
        """Drop everything a retracted trace said — body, bytes, tags, place — and keep only
        its id, kind, author and times, so it is never accepted again and its retract still
        applies.

        The row leaves search results at once (an FTS5 'delete'), and with the index's
        ``secure-delete`` option (schema 3) its words leave the index segments in the same
        statement: the leaf pages that held them are rewritten in place (and, with
        ``secure_delete``, their old content zeroed), so the cost is that of the purged row,
        not of the index (docs/performance.md, "Purging"). Rows not indexed yet (ingest does
        not index) need no 'delete' at all."""
        chosen = list(traces)
        if not chosen:
            return
        indexed_until = await self._indexed_until()
        for trace in chosen:
            row = await self._rows("SELECT rowid FROM traces WHERE id = ?", (trace.id,))
            for (rowid,) in row:
                if rowid <= indexed_until:  # a row not indexed yet never will be: raw is NULL
                    await self._db.execute(
                        "INSERT INTO search (search, rowid, body, tags) VALUES ('delete', ?, ?, ?)",
                        (rowid, *_searchable(trace)),
                    )
                await self._db.execute(
                    "UPDATE traces SET raw = NULL, place = '' WHERE rowid = ?", (rowid,)
                )
                self._item_changes.append((trace.created, trace.id, None))
                await self._db.execute("DELETE FROM tags WHERE trace = ?", (rowid,))
        self._scrub_due = True

    async def _neighbourhood(
        self,
        ids: Collection[bytes],
        levels: Sequence[frozenset[str] | None],
        known: dict[bytes, Trace] | None = None,
    ) -> TraceSet:
        """The traces ``ids``, their referrers level by level, and every burn (module doc),
        decoded from this store's own bytes (_trusted)."""
        known = known or {}
        found: dict[bytes, Trace] = {tid: known[tid] for tid in ids if tid in known}
        missing = [tid for tid in ids if tid not in known]
        for chunk in _chunks(missing):
            rows = await self._rows(
                f"SELECT id, raw FROM traces WHERE raw IS NOT NULL AND id IN ({_marks(chunk)})",
                chunk,
            )
            found.update((tid, _trusted(raw, tid)) for tid, raw in rows)
        frontier: Collection[bytes] = list(ids)
        for only in levels:
            level: dict[bytes, Trace] = {}
            kind_clause = f"AND t.kind IN ({_marks(only)})" if only else ""
            for chunk in _chunks(frontier):
                rows = await self._rows(
                    "SELECT t.id, t.raw FROM refs r JOIN traces t ON t.rowid = r.source "
                    f"WHERE t.raw IS NOT NULL {kind_clause} AND r.target IN ({_marks(chunk)})",
                    [*(sorted(only) if only else []), *chunk],
                )
                for tid, raw in rows:
                    if tid not in found and tid not in level:
                        level[tid] = known.get(tid) or _trusted(raw, tid)
            found.update(level)
            frontier = list(level)
        return TraceSet([*found.values(), *self._burns.values()])

    async def _refresh(self, now: int, *, catch_up: bool = True) -> bool:
        """Recompute the heat of traces whose supporters' own life ended since the last call:
        their terms leave the sum (views.support_times), so the stored order stays exact.

        Most calls (a screen refreshing every second) find that no supporter's life ended and
        return without a write transaction, or any query but ``PRAGMA data_version`` — none
        with ``catch_up=False``, for a caller that checks data_version itself (feed). True if
        it recomputed anything (what was read before it may be out of date)."""
        if catch_up:
            await self._catch_up()
        end = self._next_support_end
        if now <= self._refreshed_until or end is None or now < end:
            return False
        recomputed = False
        async with self._transaction():
            (since,) = await self._one("SELECT value FROM meta WHERE key = 'refreshed_until'")
            if now > since:  # else another task or process refreshed while we waited
                rows = await self._rows(
                    "SELECT DISTINCT target FROM refs "
                    "WHERE supports = 1 AND source_expires > ? AND source_expires <= ?",
                    (since, now),
                )
                await self._recompute({row[0] for row in rows}, now)
                await self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'refreshed_until'", (now,)
                )
                since = now
                recomputed = True
            self._refreshed_until = since
            self._next_support_end = await self._support_end_after(since)
        return recomputed

    async def collect(self, now: int) -> Collected:
        with _mapped(self.path, "collect expired traces"):
            await self._refresh(now)
            await self._index_pending()
            async with self._transaction():
                removed = await self._delete(
                    "SELECT rowid FROM traces WHERE eff_expires <= ?", (now,)
                )
                # Inside the transaction: no write on the connection's thread replaces the
                # burns meanwhile.
                self._burns = {b: burn for b, burn in self._burns.items() if burn.expires > now}
            return Collected(expired=removed)

    async def _indexed_until(self) -> int:
        (value,) = await self._one("SELECT value FROM meta WHERE key = 'search_indexed_until'")
        return int(value)

    async def _index_pending(self) -> None:
        """Add the rows stored since the last call to the full-text index, in transactions of
        at most _INDEX_STEP rows (a backlog of a million rows takes a minute: other writers
        get their turn in between, and the WAL stays small).

        Ingest does not index (it would double its cost, docs/performance.md): rows up to
        ``search_indexed_until`` are in the index, later ones are not yet, and reads that use
        the index (search, collect) call this first. A row purged before it was indexed has no
        bytes left, so it is never indexed; deleting a row not yet indexed needs no FTS
        'delete' (one would corrupt the index's statistics).
        """
        (top,) = await self._one("SELECT value FROM meta WHERE key = 'last_rowid'")
        while True:
            async with self._transaction():
                indexed_until = await self._indexed_until()
                if indexed_until >= top:
                    return
                until = min(indexed_until + _INDEX_STEP, top)
                rows = await self._rows(
                    "SELECT rowid, raw FROM traces "
                    "WHERE rowid > ? AND rowid <= ? AND raw IS NOT NULL",
                    (indexed_until, until),
                )
                await self._db.executemany(
                    "INSERT INTO search (rowid, body, tags) VALUES (?, ?, ?)",
                    [(rowid, *_searchable_bytes(raw)) for rowid, raw in rows],
                )
                await self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'search_indexed_until'", (until,)
                )
                # The segments FTS5 merged while adding these rows left their pages free:
                # return them to the file system (a no-op on a store made before schema 5
                # and not migrated by VACUUM, whose auto_vacuum is off).
                # (A statement that steps once per page: run to its end before the commit.)
                await self._rows("PRAGMA incremental_vacuum")

    async def _delete(self, chosen: str, params: Sequence[Any]) -> int:
        """Delete the rows that the query ``chosen`` (selecting rowids) picks, with their refs,
        tags and full-text entries. Inside a transaction."""
        db = self._db
        self._forget_all()
        doomed = [row[0] for row in await self._rows(chosen, params)]
        indexed_until = await self._indexed_until() if doomed else 0
        for start in range(0, len(doomed), _CHUNK):
            chunk = doomed[start : start + _CHUNK]
            marks = _marks(chunk)
            if self._watcher is not None:
                gone = await self._rows(
                    f"SELECT created, id FROM traces WHERE raw IS NOT NULL AND rowid IN ({marks})",
                    chunk,
                )
                self._item_changes.extend((created, tid, None) for created, tid in gone)
            rows = await self._rows(
                "SELECT rowid, raw FROM traces "
                f"WHERE raw IS NOT NULL AND rowid <= ? AND rowid IN ({marks})",
                [indexed_until, *chunk],
            )
            await db.executemany(
                "INSERT INTO search (search, rowid, body, tags) VALUES ('delete', ?, ?, ?)",
                [(rowid, *_searchable_bytes(raw)) for rowid, raw in rows],
            )
            await db.execute(f"DELETE FROM tags WHERE trace IN ({marks})", chunk)
            await db.execute(f"DELETE FROM refs WHERE source IN ({marks})", chunk)
            await db.execute(f"DELETE FROM traces WHERE rowid IN ({marks})", chunk)
        if doomed:
            self._scrub_due = True
        return len(doomed)

    # -- reading ---------------------------------------------------------------------------

    async def get(self, trace_id: bytes) -> Trace | None:
        with _mapped(self.path, "read a trace"):
            rows = await self._rows(
                "SELECT raw FROM traces WHERE id = ? AND raw IS NOT NULL", (trace_id,)
            )
            return _stored(rows[0][0]) if rows else None

    async def resolve(self, prefix: str) -> list[bytes]:
        low, high = _prefix_range(prefix)
        with _mapped(self.path, "look up an id"):
            rows = await self._rows(
                "SELECT id FROM traces WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 10", (low, high)
            )
            return [row[0] for row in rows]

    async def reinforced_until(self, targets: Sequence[Trace]) -> dict[bytes, int]:
        authors = {t.id: t.author for t in targets}
        until: dict[bytes, int] = {}
        with _mapped(self.path, "read supporters"):
            for chunk in _chunks(list(authors)):
                rows = await self._rows(
                    "SELECT r.target, t.author, t.expires FROM refs r "
                    "JOIN traces t ON t.rowid = r.source "
                    f"WHERE r.supports = 1 AND t.hidden = 0 AND r.target IN ({_marks(chunk)})",
                    chunk,
                )
                for target, author, expires in rows:
                    if author != authors[target]:
                        until[target] = max(until.get(target, 0), expires)
        return until

    async def feed(
        self, now: int, where: FeedFilter, limit: int, mutes: Mutes = NO_MUTES
    ) -> list[Ranked]:
        with _mapped(self.path, "read the feed"):
            if limit <= 0:
                await self._refresh(now)
                return []
            clauses = ["hidden = 0", "eff_expires > ?"]
            params: list[Any] = [now]
            _exclude(mutes, clauses, params, "traces.rowid", "author")
            if not where.kinds or not where.kinds & kinds.META_KINDS:
                clauses.append("listed = 1")  # lets the planner use the traces_feed index
            if where.kinds:
                clauses.append(f"kind IN ({_marks(where.kinds)})")
                params.extend(sorted(where.kinds))
            if where.author is not None:
                clauses.append("author = ?")
                params.append(where.author)
            if where.place:
                if await self._rare_place(where.place):  # few rows: start from them
                    clauses.append(
                        "traces.rowid IN (SELECT rowid FROM traces WHERE place != '' "
                        "AND place >= ? AND place < ?)"
                    )
                    params.extend(_text_prefix_range(where.place))
                clauses.append("substr(place, 1, ?) = ?")
                params.extend([len(where.place), where.place])
            rare = await self._rare_tag(where.tags)
            for tag in sorted(where.tags):
                if tag == rare:  # few rows: start from them (and sort them)
                    clauses.append("traces.rowid IN (SELECT trace FROM tags WHERE tag = ?)")
                else:  # many: scan the feed index, hottest first, and look each one up
                    clauses.append(
                        "EXISTS (SELECT 1 FROM tags WHERE tag = ? AND trace = traces.rowid)"
                    )
                params.append(tag)
            condition = " AND ".join(clauses)
            # Heat and intensity round differently, so traces of (nearly) equal intensity may
            # come out of the index in another order than feed_order: besides the first
            # `limit` by heat, take every one near the cut, and rank them all exactly, so the
            # page is the one the pure views give.
            # (Those above the cut are all on the page: only the cut's neighbours are looked
            # up again.) One statement — one trip to SQLite's thread — returns those traces (0)
            # and what _CATCH_UP reads (2): whether another connection wrote since this one
            # last looked, and what to catch up with if so (then _refresh may have work to do,
            # and if it does the statement runs again).
            # With muted authors, stored heat counts their support and intensity as shown here
            # does not: a trace's shown intensity is at most what its heat says, so the page
            # grows until the last trace on it is at least as intense as any heat left out can
            # be (row 1: the cut's heat and the page's size).
            # The page and the cut are each built once (MATERIALIZED), the cut's neighbours are
            # found by a join with it rather than through two scalar subqueries, and the page's
            # size comes with the cut: ~30 µs less inside SQLite per call at 1M for the same
            # rows (docs/performance.md "The feed right after a write: one account").
            # Since schema 6 the feed index holds all that rows 0 give (no `raw`: NULL, which
            # tells _rank_rows to read the bytes of the traces it ranks anew), so the statement
            # reads no table row: after another connection's commit it does not read the
            # page's rows again. A neighbour of the cut that is also on the page comes twice;
            # _rank_rows keys its rows by id.
            sql = (
                "WITH page AS MATERIALIZED (SELECT id, eff_expires, rowid AS chosen, referred, "
                f"heat FROM traces WHERE {condition} ORDER BY heat DESC, created DESC, id "
                "LIMIT ?), "
                "cut AS MATERIALIZED (SELECT min(heat) AS heat, count(*) AS size FROM page) "
                "SELECT 0, id, NULL, eff_expires, chosen, referred FROM page "
                "UNION ALL SELECT 0, traces.id, NULL, traces.eff_expires, traces.rowid, "
                f"traces.referred FROM cut, traces WHERE {condition} "
                "AND traces.heat BETWEEN cut.heat - ? AND cut.heat "
                "UNION ALL SELECT 1, heat, size, NULL, NULL, NULL FROM cut "
                f"UNION ALL SELECT 2, *, NULL FROM ({_CATCH_UP})"
            )
            fetch = limit
            while True:
                sql_params = [*params, fetch, *params, _HEAT_SLACK]
                await self._refresh(now, catch_up=False)
                rows = await self._rows(sql, sql_params)
                # Another connection wrote: catch up with it from row 2, read in the same
                # statement. The rows just read show what it wrote, and stand unless this
                # store's own refresh then changes some.
                seen = next(row[1:5] for row in rows if row[0] == 2)
                if seen[0] != self._data_version:
                    await self._catch_up(seen)
                    if await self._refresh(now, catch_up=False):
                        rows = await self._rows(sql, sql_params)
                ranked = await self._rank_rows(rows, now, mutes.authors)
                ranked.sort(key=feed_order)
                cut, size = next((row[1], row[2]) for row in rows if row[0] == 1)
                if not mutes.authors or size < fetch:  # exact, or every match is ranked
                    return ranked[:limit]
                bound = 2.0 ** (cut - now / INTENSITY_HALF_LIFE)
                if len(ranked) >= limit and ranked[limit - 1].intensity >= bound:
                    return ranked[:limit]
                fetch *= 4

    async def contour(
        self, now: int, days: int, top_tags: int, top_places: int, mutes: Mutes = NO_MUTES
    ) -> Contour:
        """``contour.contour`` of the stored set at ``now``, from two scans of the contour
        indexes (schema.py): the visible rows are those with ``eff_expires > now``, hidden
        and uncounted kinds are not in the indexes at all (tests/store/test_store_contour.py
        holds it equal to the pure view)."""
        first_day, today = window(now, days, top_tags, top_places)
        counted = f"{COUNTED} AND eff_expires > ?"
        # Muted traces are not counted: tag rows by their trace, trace rows by their own rowid.
        by_trace: list[str] = []
        by_trace_params: list[Any] = []
        _exclude(mutes, by_trace, by_trace_params, "tags.trace", None)
        if mutes.authors:
            by_trace.append(
                f"tags.trace NOT IN (SELECT rowid FROM traces WHERE author IN "
                f"({_marks(mutes.authors)}))"
            )
            by_trace_params += sorted(mutes.authors)
        by_row: list[str] = []
        by_row_params: list[Any] = []
        _exclude(mutes, by_row, by_row_params, "traces.rowid", "author")
        tag_filter = "".join(f" AND {c}" for c in by_trace)
        row_filter = "".join(f" AND {c}" for c in by_row)
        with _mapped(self.path, "read the contour"):
            # Tag rows per (day, tag) of the window, for the top tags only; a day after
            # today (created a little in the future) goes in today's column (below).
            tag_days = await self._rows(
                f"WITH per AS MATERIALIZED (SELECT tag, day, count(*) AS n FROM tags "
                f"WHERE {counted} AND day >= ?{tag_filter} GROUP BY day, tag), "
                "best AS (SELECT tag FROM per GROUP BY tag ORDER BY sum(n) DESC, tag LIMIT ?) "
                "SELECT tag, day - ?, n FROM per WHERE tag IN best",
                (now, first_day, *by_trace_params, top_tags, first_day),
            )
            # Traces per (day, place prefix), every visible day: by day for the window (0),
            # by place for the top places (1).
            day = f"created / {DAY}"
            cell = f"substr(place, 1, {PLACE_PREFIX})"
            rows = await self._rows(
                f"WITH per AS MATERIALIZED (SELECT {day} AS day, {cell} AS cell, "
                f"count(*) AS n FROM traces WHERE {counted}{row_filter} GROUP BY {day}, {cell}) "
                "SELECT 0, day - ?, sum(n) FROM per WHERE day >= ? GROUP BY day "
                "UNION ALL SELECT * FROM (SELECT 1, cell, sum(n) AS total FROM per "
                "WHERE cell != '' GROUP BY cell ORDER BY total DESC, cell LIMIT ?)",
                (now, *by_row_params, first_day, first_day, top_places),
            )
        last = today - first_day
        return assemble(
            days,
            first_day,
            [(tag, min(col, last), n) for tag, col, n in tag_days],
            {cell: n for part, cell, n in rows if part == 1},
            [(min(col, last), n) for part, col, n in rows if part == 0],
            top_tags,
            top_places,
        )

    async def _rare_tag(self, tags: frozenset[str]) -> str | None:
        """The rarest of ``tags`` if fewer than _RARE_TAG traces carry it, found by counting
        at most that many entries of the tags index per tag.

        Driving the query from a common tag's rows reads and sorts all of them (tens of
        thousands); scanning the feed index for a rare tag's rows reads the whole index.
        """
        if not tags:
            return None
        ordered = sorted(tags)
        counts = await self._one(
            "SELECT "
            + ", ".join(
                ["(SELECT count(*) FROM (SELECT 1 FROM tags WHERE tag = ? LIMIT ?))"] * len(ordered)
            ),
            [value for tag in ordered for value in (tag, _RARE_TAG)],
        )
        fewest, tag = min(zip(counts, ordered, strict=True))
        return tag if fewest < _RARE_TAG else None

    async def _rare_place(self, place: str) -> bool:
        """Whether fewer than _RARE_TAG traces have a place starting with ``place``, counted
        on at most that many entries of traces_place (as _rare_tag counts a tag): then the
        feed starts from those rows, instead of scanning the feed index for them (a place
        nobody uses would read all of it). Places are ASCII geohashes (normal_form): any
        other text is left to the scan."""
        if not place.isascii():
            return False
        (count,) = await self._one(
            "SELECT count(*) FROM (SELECT 1 FROM traces WHERE place != '' "
            "AND place >= ? AND place < ? LIMIT ?)",
            [*_text_prefix_range(place), _RARE_TAG],
        )
        return int(count) < _RARE_TAG

    async def _rank_rows(
        self, rows: Sequence[Any], now: int, muted: frozenset[bytes] = frozenset()
    ) -> list[Ranked]:
        """Ranked forms of visible traces given as rows (0, id, raw, eff_expires, rowid,
        referred), in the order of their first rows (a trace may come twice): views.standing
        of their referrers' columns in refs, decoding only the traces themselves. What those
        columns say of a trace is kept for the next call while it holds: until the time it
        ends, while the row's (rowid, referred) is the same — whichever connection wrote
        meanwhile (schema 4) — and no write of this one forgot it. Where they do not settle a
        trace's ranking exactly, it is ranked from its decoded neighbourhood instead (_ranked).

        A row's raw may be None (the feed reads its rows from the feed index alone, schema 6):
        the bytes of those ranked anew are read with their referrers, in the same query, and
        with them the row's eff_expires, rowid and referred again (one snapshot with the
        referrers read); a trace whose row no longer holds bytes then is left out."""
        generation = self._generation
        standings: dict[bytes, Standing | None] = {}
        missing: dict[bytes, tuple[bytes | None, int, tuple[int, int]]] = {}
        for row in rows:
            if row[0] != 0 or row[1] in standings:
                continue
            stamp = (row[4], row[5])
            kept, kept_stamp = (None, None) if muted else self._standings.get(row[1], (None, None))
            if (
                kept is not None
                and kept_stamp == stamp
                and kept.since <= now < kept.until
                and kept.effective_expiry == row[3]
            ):
                standings[row[1]] = kept
            else:
                standings[row[1]] = None
                missing[row[1]] = (row[2], row[3], stamp)
        if missing:
            referrers: dict[bytes, list[Referrer]] = {tid: [] for tid in missing}
            for chunk in _chunks(missing):
                sql = f"SELECT 0, target, {_REFERRER} FROM refs WHERE target IN ({_marks(chunk)})"
                params: list[Any] = list(chunk)
                unread = [missing[tid][2][0] for tid in chunk if missing[tid][0] is None]
                if unread:
                    sql += (
                        " UNION ALL SELECT 1, id, raw, eff_expires, rowid, referred, NULL, NULL "
                        f"FROM traces WHERE rowid IN ({_marks(unread)})"
                    )
                    params += unread
                for row in await self._rows(sql, params):
                    if row[0] == 0:
                        referrers[row[1]].append(Referrer(*row[2:]))
                    elif row[2] is not None:
                        missing[row[1]] = (row[2], row[3], (row[4], row[5]))
            read = {t: (raw, e, s) for t, (raw, e, s) in missing.items() if raw is not None}
            for tid in missing.keys() - read.keys():
                del standings[tid]  # its row is gone, or purged, since the feed statement
            burned_until: dict[bytes, int] = {}
            for burn in self._burns.values():
                burned_until[burn.author] = max(burned_until.get(burn.author, -1), burn.created)
            for tid, (raw, eff_expires, _) in read.items():
                trace = _trusted(raw, tid)
                settled = standing(
                    trace, referrers[tid], now, burned_until.get(trace.author, -1), muted
                )
                # A stored effective expiry that is not the one the referrers give means the
                # stored columns are behind (a retract or burn not reflected yet): the exact path.
                if settled is not None and settled.effective_expiry != eff_expires:
                    settled = None
                standings[tid] = settled
            # Kept for the next call while nothing was written meanwhile (and only standings
            # of everyone's support: muted ones are this call's alone).
            with self._memory:
                if self._generation == generation and not muted:
                    if len(self._standings) > _STANDINGS:
                        self._standings.clear()
                    self._standings.update(
                        (t, (k, read[t][2])) for t in read if (k := standings[t]) is not None
                    )
        ranked: dict[bytes, Ranked] = {}
        for tid, kept_or_new in standings.items():
            if kept_or_new is not None:
                ranked[tid] = kept_or_new.rank(now)
        unsettled = [tid for tid, settled in standings.items() if settled is None]
        if unsettled:
            ranked.update((r.trace.id, r) for r in await self._ranked(unsettled, now, muted))
        return [ranked[tid] for tid in standings if tid in ranked]

    async def _ranked(
        self, ids: list[bytes], now: int, muted: frozenset[bytes] = frozenset()
    ) -> list[Ranked]:
        """The exact path: rank each trace from its decoded neighbourhood."""
        around = await self._neighbourhood(ids, _FOR_RANKING)
        return [
            around.rank(t, now, muted) for t in (around.get(tid) for tid in ids) if t is not None
        ]

    async def search(
        self, query: str, now: int, limit: int, mutes: Mutes = NO_MUTES
    ) -> list[Ranked]:
        with _mapped(self.path, "search"):
            await self._refresh(now)
            (pending,) = await self._one(
                "SELECT (SELECT value FROM meta WHERE key = 'last_rowid') "
                "> (SELECT value FROM meta WHERE key = 'search_indexed_until')"
            )
            if pending:
                await self._index_pending()
            clauses: list[str] = []
            excluded: list[Any] = []
            _exclude(mutes, clauses, excluded, "t.rowid", "t.author")
            sql = (
                "SELECT t.id, t.raw, t.eff_expires, t.rowid, t.referred FROM search "
                "JOIN traces t ON t.rowid = search.rowid "
                "WHERE search MATCH ? AND t.hidden = 0 AND t.eff_expires > ? "
                + "".join(f"AND {c} " for c in clauses)
                + "ORDER BY search.rank LIMIT ?"
            )
            try:
                rows = await self._rows(sql, (query, now, *excluded, limit))
            except sqlean.OperationalError:
                # Not FTS5 query syntax (a stray quote, a dash): search the words as typed.
                rows = await self._rows(sql, (_as_phrases(query), now, *excluded, limit))
            return await self._rank_rows([(0, *row) for row in rows], now, mutes.authors)

    async def thread(
        self, trace_id: bytes, now: int, mutes: Mutes = NO_MUTES
    ) -> Thread | Hidden | None:
        with _mapped(self.path, "read a thread"):
            await self._refresh(now)
            rows = await self._rows(
                "SELECT kind, author, created, hidden, raw FROM traces "
                "WHERE id = ? AND eff_expires > ?",
                (trace_id, now),
            )
            if not rows:
                return None  # not here, or expired: invisible at once, not only after collect
            kind, author, created, hidden, raw = rows[0]
            if hidden:
                return Hidden(trace_id, kind, author, created)
            trace = _stored(raw)
            muted = mutes.authors
            first = await self._neighbourhood([trace_id], _FOR_RANKING)
            answer_ids = [a.id for a in first.answers(trace, now, muted) if not mutes.hides(a)]
            around = await self._neighbourhood([trace_id, *trace.refs, *answer_ids], _FOR_RANKING)
            answers_to: list[tuple[bytes, Ranked | None]] = []
            for ref in trace.refs:
                target = around.get(ref)
                shown = (
                    target is not None
                    and around.is_visible(target, now)
                    and not mutes.hides(target)
                )
                answers_to.append(
                    (ref, around.rank(target, now, muted) if target and shown else None)
                )
            return Thread(
                ranked=around.rank(trace, now, muted),
                answers_to=answers_to,
                answers=[
                    around.rank(a, now, muted)
                    for a in around.answers(trace, now, muted)
                    if not mutes.hides(a)
                ],
            )

    async def authors_starting(self, prefix: str) -> list[bytes]:
        low, high = _prefix_range(prefix)
        with _mapped(self.path, "look an author up"):
            rows = await self._rows(
                "SELECT DISTINCT author FROM traces WHERE author BETWEEN ? AND ? "
                "ORDER BY author LIMIT 10",
                (low, high),
            )
        return [row[0] for row in rows]

    async def mutes_by(self, authors: Collection[bytes], now: int) -> list[Trace]:
        if not authors:
            return []
        with _mapped(self.path, "read published mutes"):
            await self._refresh(now)
            found: list[Trace] = []
            for chunk in _chunks(authors):
                rows = await self._rows(
                    "SELECT id, raw FROM traces WHERE kind = ? AND hidden = 0 "
                    f"AND eff_expires > ? AND raw IS NOT NULL AND author IN ({_marks(chunk)})",
                    [kinds.MUTE, now, *chunk],
                )
                found += [_trusted(raw, tid) for tid, raw in rows]
            return sorted(found, key=lambda t: t.id)

    async def export(self, now: int, where: ExportFilter) -> AsyncIterator[bytes]:
        clauses = ["raw IS NOT NULL", "eff_expires > ?", "created >= ?"]
        params: list[Any] = [now, where.since]
        if where.kinds:
            clauses.append(f"kind IN ({_marks(where.kinds)})")
            params.extend(sorted(where.kinds))
        for tag in sorted(where.tags):
            clauses.append("rowid IN (SELECT trace FROM tags WHERE tag = ?)")
            params.append(tag)
        with _mapped(self.path, "export"):
            async for (raw,) in self._db.rows(
                f"SELECT raw FROM traces WHERE {' AND '.join(clauses)} ORDER BY created, id",
                params,
                _ITER_CHUNK,
            ):
                yield _canonical(raw)

    async def count(self) -> int:
        with _mapped(self.path, "count traces"):
            (n,) = await self._one("SELECT count(*) FROM traces")
            return int(n)

    async def live_count(self, now: int) -> int:
        with _mapped(self.path, "count live traces"):
            (n,) = await self._one("SELECT count(*) FROM traces WHERE eff_expires > ?", (now,))
            return int(n)

    # -- for the mesh ------------------------------------------------------------------------

    async def live_items(self, now: int) -> list[tuple[int, bytes]]:
        """(created, id) of every live trace whose bytes we hold: what sync reconciles."""
        with _mapped(self.path, "list traces for sync"):
            rows = await self._rows(
                "SELECT created, id FROM traces WHERE raw IS NOT NULL AND eff_expires > ?",
                (now,),
            )
            return [(created, tid) for created, tid in rows]

    def watch_items(self, watcher: ItemWatcher) -> None:
        """Tell ``watcher`` of every change to ``live_items`` made through this object once it
        commits (inserts, life extended or cut, purges, deletions), and that it lost track when
        another process wrote (noticed at this object's next write, read of the feed or
        ``expired_between``)."""
        self._watcher = watcher

    async def expired_between(self, since: int, now: int) -> list[tuple[int, bytes]]:
        with _mapped(self.path, "list expired traces for sync"):
            await self._catch_up()
            rows = await self._rows(
                "SELECT created, id FROM traces "
                "WHERE raw IS NOT NULL AND eff_expires > ? AND eff_expires <= ?",
                (since, now),
            )
            return [(created, tid) for created, tid in rows]

    async def fetch(self, keys: Sequence[bytes], now: int) -> list[bytes]:
        """Bytes of live traces whose id is, or starts with, one of ``keys`` (sync may ask by
        id prefix: every match is sent, and the receiver validates each)."""
        found: dict[bytes, bytes] = {}
        with _mapped(self.path, "read traces for a peer"):
            for key in keys:
                low, high = key + bytes(32 - len(key)), key + b"\xff" * (32 - len(key))
                rows = await self._rows(
                    "SELECT id, raw FROM traces WHERE id BETWEEN ? AND ? "
                    "AND raw IS NOT NULL AND eff_expires > ? LIMIT 16",
                    (low, high, now),
                )
                found.update((tid, _canonical(raw)) for tid, raw in rows)
        return list(found.values())

    async def stored_after(self, cursor: int, limit: int) -> tuple[int, list[bytes]]:
        """Traces stored after ``cursor`` (by this or another process), oldest first, and the
        cursor to pass next time. Start from ``await store.cursor()``."""
        with _mapped(self.path, "read new traces"):
            rows = await self._rows(
                "SELECT rowid, raw FROM traces WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (cursor, limit),
            )
        if not rows:
            return cursor, []
        return rows[-1][0], [_canonical(raw) for _, raw in rows if raw is not None]

    async def cursor(self) -> int:
        with _mapped(self.path, "read the store cursor"):
            (value,) = await self._one("SELECT value FROM meta WHERE key = 'last_rowid'")
            return int(value)

    async def evict(self, keep: int, now: int) -> int:
        """Relay policy: drop the coldest listed traces until at most ``keep`` remain."""
        with _mapped(self.path, "evict traces"):
            (count,) = await self._one("SELECT count(*) FROM traces")
            if count <= keep:
                return 0  # the common case, without taking the write lock
            chosen = (
                "SELECT rowid FROM traces WHERE kind NOT IN ('retract', 'burn') "
                "ORDER BY hidden DESC, heat ASC LIMIT ?"
            )
            async with self._transaction():
                # Counted again under the lock: two sessions ending together must not both
                # evict the same excess.
                (count,) = await self._one("SELECT count(*) FROM traces")
                excess = count - keep
                if excess <= 0:
                    return 0
                # Unlike expired traces, evicted ones may still support live ones: those lose
                # the support here, so their derived columns are recomputed.
                supported = await self._rows(
                    f"SELECT DISTINCT target FROM refs WHERE source IN ({chosen})", (excess,)
                )
                removed = await self._delete(chosen, (excess,))
                await self._recompute({row[0] for row in supported}, now)
                return removed

    async def author_live_count(self, author: bytes, now: int) -> int:
        with _mapped(self.path, "count an author's traces"):
            (count,) = await self._one(
                "SELECT count(*) FROM traces WHERE author = ? AND eff_expires > ?", (author, now)
            )
            return int(count)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._db.fetchall(sql, params)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return rows[0]


def _searchable(trace: Trace) -> tuple[str, str]:
    """The values a trace is indexed with for full-text search: its body and its tags."""
    return trace.body, " ".join(trace.tags)


def _searchable_bytes(raw: bytes) -> tuple[str, str]:
    """``_searchable`` of the trace this store stored as ``raw``, without building it."""
    try:
        body, tags = body_and_tags(_canonical(raw))
    except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
        raise StoreError(f"a stored trace no longer decodes ({exc}); the store is damaged") from exc
    return body, " ".join(tags)


def _canonical(raw: bytes) -> bytes:
    """The canonical bytes of a trace from the value of its ``raw`` column (stig/store/packed.py:
    compressed since schema 5)."""
    try:
        return unpack(raw)
    except ValueError as exc:
        raise StoreError(f"{exc}; the store is damaged") from exc


def _trusted(raw: bytes, trace_id: bytes) -> Trace:
    """A trace from bytes this store validated when it stored them, for ranking and derived
    columns: unpacked, but neither re-encoded and compared nor hashed again (the stored id is
    its id), which would cost more than the rest of a feed call. What ``get`` and ``thread``
    return as the trace asked for is checked in full (_stored)."""
    try:
        return decode_trusted(_canonical(raw), trace_id)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StoreError(f"a stored trace no longer decodes ({exc}); the store is damaged") from exc


def _stored(raw: bytes) -> Trace:
    """Decode bytes this store wrote after validating them; a failure means the file changed
    under us, which is a damaged store, not bad input."""
    try:
        return decode(_canonical(raw))
    except InvalidTrace as exc:
        raise StoreError(f"a stored trace no longer decodes ({exc}); the store is damaged") from exc


@contextmanager
def _mapped(path: Path, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlean.OperationalError as exc:  # locked, disk full, read-only: not damage
        raise StoreError(f"cannot {doing} in the store at {path}: {exc}") from exc
    except sqlean.DatabaseError as exc:
        raise StoreError(
            f"cannot {doing}: the store at {path} is damaged or not a stig store ({exc}); "
            "move it aside and run `stig init`, or restore it from a backup"
        ) from exc
    except sqlean.Error as exc:
        raise StoreError(f"cannot {doing} in the store at {path}: {exc}") from exc


def _exclude(
    mutes: Mutes, clauses: list[str], params: list[Any], rowid: str, author: str | None
) -> None:
    """Add the conditions that leave out what ``mutes`` hides: rows whose ``author`` column is
    muted, and rows whose trace (``rowid``) carries a muted tag."""
    if author is not None and mutes.authors:
        clauses.append(f"{author} NOT IN ({_marks(mutes.authors)})")
        params.extend(sorted(mutes.authors))
    if mutes.tags:
        clauses.append(
            f"NOT EXISTS (SELECT 1 FROM tags m WHERE m.trace = {rowid} "
            f"AND m.tag IN ({_marks(mutes.tags)}))"
        )
        params.extend(sorted(mutes.tags))


def _chunks(items: Collection[bytes]) -> Iterator[list[bytes]]:
    listed = list(items)
    for start in range(0, len(listed), _CHUNK):
        yield listed[start : start + _CHUNK]


def _marks(items: Collection[Any]) -> str:
    return ",".join("?" * len(items))


def _prefix_range(prefix: str) -> tuple[bytes, bytes]:
    """The id range that a hex prefix covers (odd lengths too)."""
    text = prefix.strip().lower()
    try:
        low = bytes.fromhex((text + "0" * 64)[:64])
        high = bytes.fromhex((text + "f" * 64)[:64])
    except ValueError as exc:
        raise ValueError(f"{prefix!r} is not a hexadecimal id") from exc
    return low, high


def _text_prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) of the texts that start with ``prefix`` (not empty), in SQLite's BINARY
    order (that of the UTF-8 bytes, which code points keep)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _as_phrases(query: str) -> str:
    """Each word as a quoted FTS5 phrase: matches the words, whatever punctuation they hold."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
