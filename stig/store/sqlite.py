"""The SQLite adapter of the store port (aiosqlite, WAL, FTS5).

Each row keeps a trace's canonical bytes and indexed columns; the derived columns (``hidden``,
``eff_expires``, ``heat``) are computed by stig.crdt.views on the trace's *neighbourhood* — the
trace, what references it, and the retracts and burns that decide whether those are hidden —
and recomputed whenever that neighbourhood changes. So the feed is one index scan, and what it
shows is what the pure views say (tests/store/test_store_agrees.py).

sqlite3 errors never leave this module: they become StoreError with a message that says what to
do.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from stig.crdt import kinds
from stig.crdt.codec import decode
from stig.crdt.trace import Trace
from stig.crdt.views import FeedFilter, Ranked, TraceSet, feed_order, heat_of
from stig.errors import InvalidTrace, StoreError
from stig.store.port import Added, Collected, ExportFilter, Hidden, Thread
from stig.store.schema import MIGRATIONS, SCHEMA_VERSION

_CHUNK = 500  # ids per IN (...) list: far below SQLite's parameter limit
_HEAT_SLACK = 1e-6  # far above the rounding error of heat (~1e-11) and of intensity

# How far out a neighbourhood reaches, as kind filters per level of referrers (None: any kind).
# Derived columns need the referrers and the retracts that may hide them; ranking also needs
# the referrers' own supporters (their effective expiry decides whether they are visible).
_FOR_COLUMNS: tuple[frozenset[str] | None, ...] = (None, frozenset({kinds.RETRACT}))
_FOR_RANKING: tuple[frozenset[str] | None, ...] = (None, None, frozenset({kinds.RETRACT}))


class SqliteStore:
    """The store, in one SQLite file. Open with ``await SqliteStore.open(path)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._burns: dict[bytes, Trace] = {}
        # One connection serves every task of the node (push ingest, sync sessions, refresh):
        # their transactions must not interleave on it.
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        with _mapped(path, "open"):
            db = await aiosqlite.connect(path, isolation_level=None)
            try:
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
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        (version,) = await self._one("PRAGMA user_version")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {self.path} was written by a newer stig (schema {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade stig"
            )
        for step in range(version, SCHEMA_VERSION):
            # executescript commits first, so the migration's transaction lives in the script.
            await db.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[step]}; PRAGMA user_version = {step + 1}; COMMIT;"
            )
        rows = await self._rows("SELECT raw FROM traces WHERE kind = 'burn' AND raw IS NOT NULL")
        for (raw,) in rows:
            burn = decode(raw)
            self._burns[burn.id] = burn

    async def close(self) -> None:
        with _mapped(self.path, "close"):
            await self._db.close()

    # -- writing ---------------------------------------------------------------------------

    async def add(self, traces: Sequence[Trace], now: int) -> Added:
        with _mapped(self.path, "store traces"):
            async with self._transaction():
                return await self._insert(traces, now)

    async def add_durable(self, trace: Trace, now: int) -> Added:
        with _mapped(self.path, "store a trace"):
            async with self._transaction(durable=True):
                return await self._insert([trace], now)

    @asynccontextmanager
    async def _transaction(self, *, durable: bool = False) -> AsyncIterator[None]:
        async with self._writing:
            if durable:
                # synchronous=FULL makes this commit survive power loss, not just a crash.
                await self._db.execute("PRAGMA synchronous = FULL")
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
                await self._db.execute("COMMIT")
            finally:
                if durable:
                    await self._db.execute("PRAGMA synchronous = NORMAL")

    async def _insert(self, traces: Sequence[Trace], now: int) -> Added:
        unique = {t.id: t for t in traces}
        present = await self._present(unique)
        new = [t for tid, t in unique.items() if tid not in present]
        duplicates = len(traces) - len(new)
        if not new:
            return Added([], duplicates)
        (top,) = await self._one("SELECT value FROM meta WHERE key = 'last_rowid'")
        rowid = {t.id: top + 1 + i for i, t in enumerate(new)}
        await self._db.execute(
            "UPDATE meta SET value = ? WHERE key = 'last_rowid'", (top + len(new),)
        )
        db = self._db
        await db.executemany(
            "INSERT INTO traces VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?,?,?)",
            [
                (
                    rowid[t.id], t.id, t.kind, t.author, t.created, t.expires, t.place,
                    " ".join(t.tags), t.body, t.encoded, int(t.kind not in kinds.META_KINDS),
                    t.expires, heat_of([t.created]), now,
                )
                for t in new
            ],
        )  # fmt: skip
        await db.executemany(
            "INSERT INTO refs VALUES (?,?,?,?)",
            [
                (ref, rowid[t.id], int(t.kind in kinds.SUPPORT_KINDS), t.expires)
                for t in new
                for ref in t.refs
            ],
        )
        await db.executemany(
            "INSERT INTO tags VALUES (?,?)", [(tag, rowid[t.id]) for t in new for tag in t.tags]
        )
        await db.executemany(
            "INSERT INTO search (rowid, body, tags) VALUES (?,?,?)",
            [(rowid[t.id], t.body, " ".join(t.tags)) for t in new],
        )
        dirty = set(rowid)
        for t in new:
            if t.kind in kinds.SUPPORT_KINDS or t.kind == kinds.RETRACT:
                dirty.update(t.refs)
            if t.kind == kinds.BURN:
                self._burns[t.id] = t
                burned = await self._rows(
                    "SELECT id FROM traces WHERE author = ? AND created <= ? AND hidden = 0",
                    (t.author, t.created),
                )
                dirty.update(row[0] for row in burned)
        await self._recompute(dirty, now, {t.id: t for t in new})
        return Added([t.id for t in new], duplicates)

    async def _present(self, ids: Collection[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for chunk in _chunks(ids):
            rows = await self._rows(f"SELECT id FROM traces WHERE id IN ({_marks(chunk)})", chunk)
            found.update(row[0] for row in rows)
        return found

    async def _recompute(self, dirty: set[bytes], now: int, known: dict[bytes, Trace]) -> None:
        """Bring hidden/eff_expires/heat of ``dirty`` up to date; purge what became hidden.

        A supporter that becomes hidden stops supporting its targets, so they are recomputed
        in turn; this ends because a trace becomes hidden at most once.
        """
        while dirty:
            was_hidden = await self._hidden_flags(dirty)
            around = await self._neighbourhood(dirty, _FOR_COLUMNS, known)
            updates: list[tuple[int, int, float, bytes]] = []
            newly_hidden: list[Trace] = []
            for tid in dirty:
                trace = around.get(tid)
                if trace is None or tid not in was_hidden:
                    continue  # not stored here, or already purged
                hidden = around.is_hidden(trace)
                updates.append(
                    (int(hidden), around.effective_expiry(trace), around.heat(trace, now), tid)
                )
                if hidden and not was_hidden[tid]:
                    newly_hidden.append(trace)
            await self._db.executemany(
                "UPDATE traces SET hidden = ?, eff_expires = ?, heat = ? WHERE id = ?", updates
            )
            await self._purge(t for t in newly_hidden if t.kind not in kinds.PINNED_LIFE_KINDS)
            dirty = {ref for t in newly_hidden if t.kind in kinds.SUPPORT_KINDS for ref in t.refs}

    async def _hidden_flags(self, ids: Collection[bytes]) -> dict[bytes, bool]:
        flags: dict[bytes, bool] = {}
        for chunk in _chunks(ids):
            rows = await self._rows(
                f"SELECT id, hidden FROM traces WHERE raw IS NOT NULL AND id IN ({_marks(chunk)})",
                chunk,
            )
            flags.update((row[0], bool(row[1])) for row in rows)
        return flags

    async def _purge(self, traces: Iterable[Trace]) -> None:
        """Drop everything a retracted trace said — body, bytes, tags, place — and keep only
        its id, kind, author and times, so it is never accepted again and its retract still
        applies."""
        purged = False
        for trace in traces:
            row = await self._rows("SELECT rowid, body, tags FROM traces WHERE id = ?", (trace.id,))
            for rowid, body, tags in row:
                await self._db.execute(
                    "INSERT INTO search (search, rowid, body, tags) VALUES ('delete', ?, ?, ?)",
                    (rowid, body, tags),
                )
                await self._db.execute(
                    "UPDATE traces SET body = NULL, raw = NULL, tags = '', place = '' "
                    "WHERE rowid = ?",
                    (rowid,),
                )
                await self._db.execute("DELETE FROM tags WHERE trace = ?", (rowid,))
                purged = True
        if purged:
            # An FTS5 'delete' only adds a tombstone: the body's words stay in the index
            # segments until they are merged. Merge them now, so the words leave the file.
            await self._db.execute("INSERT INTO search (search) VALUES ('optimize')")

    async def _neighbourhood(
        self,
        ids: Collection[bytes],
        levels: Sequence[frozenset[str] | None],
        known: dict[bytes, Trace] | None = None,
    ) -> TraceSet:
        """The traces ``ids``, their referrers level by level, and every burn (module doc)."""
        known = known or {}
        found: dict[bytes, Trace] = {tid: known[tid] for tid in ids if tid in known}
        missing = [tid for tid in ids if tid not in known]
        for chunk in _chunks(missing):
            rows = await self._rows(
                f"SELECT id, raw FROM traces WHERE raw IS NOT NULL AND id IN ({_marks(chunk)})",
                chunk,
            )
            found.update((tid, _stored(raw)) for tid, raw in rows)
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
                        level[tid] = known.get(tid) or _stored(raw)
            found.update(level)
            frontier = list(level)
        return TraceSet([*found.values(), *self._burns.values()])

    async def _refresh(self, now: int) -> None:
        """Recompute the heat of traces whose supporters' own life ended since the last call:
        their terms leave the sum (views.support_times), so the stored order stays exact."""
        (since,) = await self._one("SELECT value FROM meta WHERE key = 'refreshed_until'")
        if now <= since:
            return  # the common case, without taking the write lock
        async with self._transaction():
            (since,) = await self._one("SELECT value FROM meta WHERE key = 'refreshed_until'")
            if now <= since:
                return  # another task refreshed while we waited
            rows = await self._rows(
                "SELECT DISTINCT target FROM refs "
                "WHERE supports = 1 AND source_expires > ? AND source_expires <= ?",
                (since, now),
            )
            await self._recompute({row[0] for row in rows}, now, {})
            await self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'refreshed_until'", (now,)
            )

    async def collect(self, now: int) -> Collected:
        with _mapped(self.path, "collect expired traces"):
            await self._refresh(now)
            async with self._transaction():
                removed = await self._delete(
                    "SELECT rowid FROM traces WHERE eff_expires <= ?", (now,)
                )
            for bid, burn in list(self._burns.items()):
                if burn.expires <= now:
                    del self._burns[bid]
            return Collected(expired=removed)

    async def _delete(self, chosen: str, params: Sequence[Any]) -> int:
        """Delete the rows that the query ``chosen`` (selecting rowids) picks, with their refs,
        tags and full-text entries. Inside a transaction."""
        db = self._db
        doomed = [row[0] for row in await self._rows(chosen, params)]
        for start in range(0, len(doomed), _CHUNK):
            chunk = doomed[start : start + _CHUNK]
            marks = _marks(chunk)
            rows = await self._rows(
                "SELECT rowid, body, tags FROM traces "
                f"WHERE body IS NOT NULL AND rowid IN ({marks})",
                chunk,
            )
            await db.executemany(
                "INSERT INTO search (search, rowid, body, tags) VALUES ('delete', ?, ?, ?)", rows
            )
            await db.execute(f"DELETE FROM tags WHERE trace IN ({marks})", chunk)
            await db.execute(f"DELETE FROM refs WHERE source IN ({marks})", chunk)
            await db.execute(f"DELETE FROM traces WHERE rowid IN ({marks})", chunk)
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

    async def feed(self, now: int, where: FeedFilter, limit: int) -> list[Ranked]:
        with _mapped(self.path, "read the feed"):
            await self._refresh(now)
            clauses = ["hidden = 0", "eff_expires > ?"]
            params: list[Any] = [now]
            if not where.kinds or not where.kinds & kinds.META_KINDS:
                clauses.append("listed = 1")  # lets the planner use the traces_feed index
            if where.kinds:
                clauses.append(f"kind IN ({_marks(where.kinds)})")
                params.extend(sorted(where.kinds))
            if where.author is not None:
                clauses.append("author = ?")
                params.append(where.author)
            if where.place:
                clauses.append("substr(place, 1, ?) = ?")
                params.extend([len(where.place), where.place])
            for tag in sorted(where.tags):
                clauses.append("rowid IN (SELECT trace FROM tags WHERE tag = ?)")
                params.append(tag)
            select = f"SELECT id, heat FROM traces WHERE {' AND '.join(clauses)}"
            rows = await self._rows(
                f"{select} ORDER BY heat DESC, created DESC, id LIMIT ?", [*params, limit]
            )
            if rows and len(rows) == limit:
                # Heat and intensity round differently, so traces of (nearly) equal intensity
                # may come out of the index in another order than feed_order: rank every one
                # near the cut, so the page is the one the pure views give.
                rows = await self._rows(
                    f"{select} AND heat >= ?", [*params, rows[-1][1] - _HEAT_SLACK]
                )
            ranked = await self._ranked([row[0] for row in rows], now, feed_order)
            return ranked[:limit]

    async def _ranked(self, ids: list[bytes], now: int, order: Any = None) -> list[Ranked]:
        around = await self._neighbourhood(ids, _FOR_RANKING)
        ranked = [around.rank(t, now) for t in (around.get(tid) for tid in ids) if t is not None]
        if order is not None:
            ranked.sort(key=order)
        return ranked

    async def search(self, query: str, now: int, limit: int) -> list[Ranked]:
        with _mapped(self.path, "search"):
            await self._refresh(now)
            sql = (
                "SELECT t.id FROM search JOIN traces t ON t.rowid = search.rowid "
                "WHERE search MATCH ? AND t.hidden = 0 AND t.eff_expires > ? "
                "ORDER BY search.rank LIMIT ?"
            )
            try:
                rows = await self._rows(sql, (query, now, limit))
            except sqlite3.OperationalError:
                # Not FTS5 query syntax (a stray quote, a dash): search the words as typed.
                rows = await self._rows(sql, (_as_phrases(query), now, limit))
            return await self._ranked([row[0] for row in rows], now)

    async def thread(self, trace_id: bytes, now: int) -> Thread | Hidden | None:
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
            first = await self._neighbourhood([trace_id], _FOR_RANKING)
            answer_ids = [a.id for a in first.answers(trace, now)]
            around = await self._neighbourhood([trace_id, *trace.refs, *answer_ids], _FOR_RANKING)
            answers_to: list[tuple[bytes, Ranked | None]] = []
            for ref in trace.refs:
                target = around.get(ref)
                visible = target is not None and around.is_visible(target, now)
                answers_to.append((ref, around.rank(target, now) if target and visible else None))
            return Thread(
                ranked=around.rank(trace, now),
                answers_to=answers_to,
                answers=[around.rank(a, now) for a in around.answers(trace, now)],
            )

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
            async with self._db.execute(
                f"SELECT raw FROM traces WHERE {' AND '.join(clauses)} ORDER BY created, id",
                params,
            ) as cursor:
                async for (raw,) in cursor:
                    yield raw

    async def count(self) -> int:
        with _mapped(self.path, "count traces"):
            (n,) = await self._one("SELECT count(*) FROM traces")
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
                found.update((tid, raw) for tid, raw in rows)
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
        return rows[-1][0], [raw for _, raw in rows if raw is not None]

    async def cursor(self) -> int:
        with _mapped(self.path, "read the store cursor"):
            (value,) = await self._one("SELECT value FROM meta WHERE key = 'last_rowid'")
            return int(value)

    async def evict(self, keep: int, now: int) -> int:
        """Relay policy: drop the coldest listed traces until at most ``keep`` remain."""
        with _mapped(self.path, "evict traces"):
            (count,) = await self._one("SELECT count(*) FROM traces")
            excess = count - keep
            if excess <= 0:
                return 0
            chosen = (
                "SELECT rowid FROM traces WHERE kind NOT IN ('retract', 'burn') "
                "ORDER BY hidden DESC, heat ASC LIMIT ?"
            )
            async with self._transaction():
                # Unlike expired traces, evicted ones may still support live ones: those lose
                # the support here, so their derived columns are recomputed.
                supported = await self._rows(
                    f"SELECT DISTINCT target FROM refs WHERE source IN ({chosen})", (excess,)
                )
                removed = await self._delete(chosen, (excess,))
                await self._recompute({row[0] for row in supported}, now, {})
                return removed

    async def author_live_count(self, author: bytes, now: int) -> int:
        with _mapped(self.path, "count an author's traces"):
            (count,) = await self._one(
                "SELECT count(*) FROM traces WHERE author = ? AND eff_expires > ?", (author, now)
            )
            return int(count)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return rows[0]


def _stored(raw: bytes) -> Trace:
    """Decode bytes this store wrote after validating them; a failure means the file changed
    under us, which is a damaged store, not bad input."""
    try:
        return decode(raw)
    except InvalidTrace as exc:
        raise StoreError(f"a stored trace no longer decodes ({exc}); the store is damaged") from exc


@contextmanager
def _mapped(path: Path, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:  # locked, disk full, read-only: not damage
        raise StoreError(f"cannot {doing} in the store at {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"cannot {doing}: the store at {path} is damaged or not a stig store ({exc}); "
            "move it aside and run `stig init`, or restore it from a backup"
        ) from exc
    except sqlite3.Error as exc:
        raise StoreError(f"cannot {doing} in the store at {path}: {exc}") from exc


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


def _as_phrases(query: str) -> str:
    """Each word as a quoted FTS5 phrase: matches the words, whatever punctuation they hold."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
