"""The set this node reconciles, kept current between sync sessions (docs/sync.md §6).

A ``ReconcileSet`` (stig.crdt.reconcile) of the store's live items — ``(created, id)`` of every
trace whose bytes are held and whose effective expiry is still to come — built once from the
store, then kept current from what the store tells (``Store.watch_items``): traces stored,
their life extended or cut, retracted (purged), evicted or collected. Expiry by the passing of
time is applied when a session asks for the set (``snapshot(now)``): the traces whose
effective expiry fell in ``(until, now]`` leave it, read from the store's expiry index.

So, for every trace, the set follows the last change the store told of it: present iff its
bytes are held and its effective expiry is after ``until``, the time up to which expiry was
applied. Changes with an expiry at or before ``until`` remove the item at once.

When the store cannot tell what changed (another process wrote to it: a CLI command beside a
running node, or the in-memory twin, which tells nothing finer), the set is read again from the
store before the next session — the one full read, as at start-up.

Concurrency: everything here runs on the node's event loop. While the set is read from the
store, or expiry is read, changes keep arriving; each read's rows are overridden by the changes
that arrived during it (``_touched``), which are newer. A session reads a ``Snapshot``, which
stays as it was however the set changes afterwards (stig/crdt/reconcile/items.py), so a session
may answer a frame on a worker thread while traces are stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from stig.crdt.reconcile import Item, ReconcileSet, Snapshot
from stig.store.port import ItemChange, Store

BUILD_INLINE_BELOW = 4096
"""A set of fewer items than this is built on the loop's thread: the hand-off to a worker
costs more than the sort (a wake-up of the worker, then up to the interpreter's switch interval,
5 ms, before either thread has the GIL back), and a new node's first read is of an empty store."""


class SyncSet:
    """The node's reconciliation set. Call ``snapshot(now)`` for each session."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._set = ReconcileSet()
        self._until = 0  # expiry applied up to this time
        self._stale = True  # the set must be read from the store (at first, or lost track)
        self._touched: dict[bytes, ItemChange] | None = None  # changes during a read
        self._turn = asyncio.Lock()  # one read of the store at a time
        self.reads = 0
        """How many times the whole set was read from the store (once, unless track was lost)."""
        store.watch_items(self)

    # -- what the store tells (ItemWatcher) --------------------------------------------------------

    def changed(self, changes: Sequence[ItemChange]) -> None:
        touched = self._touched
        for change in changes:
            self._apply(change)
            if touched is not None:
                touched[change[1]] = change

    def lost_track(self) -> None:
        self._stale = True

    def _apply(self, change: ItemChange) -> None:
        created, tid, expiry = change
        item = Item(created, tid)
        if expiry is not None and expiry > self._until:
            self._set.add(item)
        else:
            self._set.remove(item)

    # -- for sessions ------------------------------------------------------------------------------

    async def snapshot(self, now: int) -> Snapshot:
        """The live items at ``now`` (expiry applied), as a snapshot for one session."""
        async with self._turn:
            if not self._stale and now > self._until:
                await self._expire(now)  # (which may find that another process wrote)
            if self._stale:
                await self._read(now)
            return self._set.snapshot()

    def __len__(self) -> int:
        return len(self._set)

    async def _read(self, now: int) -> None:
        """Read the whole set from the store (at start-up, or after losing track)."""
        self._stale = False  # a loss of track during the read makes it stale again
        self.reads += 1
        touched: dict[bytes, ItemChange] = {}
        self._touched = touched
        try:
            rows = await self._store.live_items(now)
            # Sorting a million items takes seconds: off the event loop (nothing else holds
            # the new set yet; ``touched`` is only read there, and what it gains meanwhile is
            # applied below).
            if len(rows) < BUILD_INLINE_BELOW:
                fresh = _built(rows, touched)
            else:
                fresh = await asyncio.to_thread(_built, rows, touched)
        except BaseException:  # (a session's timeout, a store error): read it next time
            self._stale = True
            raise
        finally:
            self._touched = None
        self._set, self._until = fresh, now
        # Changes told during the read are newer than its rows, and were applied to the old
        # set (and any during the sort, to the old set too): apply the latest of each again.
        for change in touched.values():
            self._apply(change)

    async def _expire(self, now: int) -> None:
        since, self._until = self._until, now  # changes told meanwhile are judged against now
        self._touched = {}
        try:
            expired = await self._store.expired_between(since, now)
        finally:
            touched, self._touched = self._touched, None
        for created, tid in expired:
            if tid not in touched:  # else a newer change said where it stands
                self._set.remove(Item(created, tid))


def _built(rows: list[tuple[int, bytes]], touched: dict[bytes, ItemChange]) -> ReconcileSet:
    return ReconcileSet(Item(created, tid) for created, tid in rows if tid not in touched)
