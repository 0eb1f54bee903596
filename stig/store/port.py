"""The store port: what the node needs from local storage (STYLE.md: ports with in-memory twins).

Two adapters implement it: ``SqliteStore`` (the real one, on its own connection thread) and
``MemoryStore`` (a twin over the pure ``TraceSet``, for fast tests). Both answer every read with
the views of ``stig.crdt.views``, so they agree by construction; tests/store checks that they do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from stig.crdt.contour import Contour
from stig.crdt.trace import Trace
from stig.crdt.views import NO_MUTES, FeedFilter, Mutes, Ranked


@dataclass(frozen=True)
class Added:
    """What an ingest did: ids newly stored, and how many were already there."""

    accepted: list[bytes] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class Hidden:
    """What is left of a trace its author retracted or burned: the body is purged."""

    id: bytes
    kind: str
    author: bytes
    created: int


@dataclass(frozen=True)
class Thread:
    """A visible trace in its context, for ``stig show``."""

    ranked: Ranked
    answers_to: list[tuple[bytes, Ranked | None]]  # each ref, and the trace if visible here
    answers: list[Ranked]


@dataclass(frozen=True)
class ExportFilter:
    kinds: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    since: int = 0


@dataclass(frozen=True)
class Collected:
    """What garbage collection removed."""

    expired: int = 0


ItemChange = tuple[int, bytes, int | None]
"""A change to what sync reconciles: a trace's ``(created, id, effective expiry)`` now, the
expiry None once its bytes are gone (retracted, evicted, collected)."""


class ItemWatcher(Protocol):
    """Told of every change to what ``live_items`` returns, apart from the passing of time (a
    trace leaves it when its effective expiry comes: ``expired_between``). stig.node.sync_set
    keeps the reconciliation set current with it."""

    def changed(self, changes: Sequence[ItemChange]) -> None:
        """Changes made by this store object, in order, once they are committed."""

    def lost_track(self) -> None:
        """Changes this store object cannot tell were made (another process wrote to the
        store): ``live_items`` must be read again."""


class Store(Protocol):
    async def add(self, traces: Sequence[Trace], now: int) -> Added:
        """Store valid traces in one transaction (the batched ingest path)."""

    async def add_durable(self, trace: Trace, now: int) -> Added:
        """Store one trace and make it durable before returning (the local post path)."""

    async def get(self, trace_id: bytes) -> Trace | None:
        """The trace if stored with its bytes (not purged)."""

    async def resolve(self, prefix: str) -> list[bytes]:
        """Ids starting with a hex prefix (for ``stig show 3fa9c1``)."""

    async def reinforced_until(self, targets: Sequence[Trace]) -> dict[bytes, int]:
        """For each target, the latest ``expires`` of stored, non-hidden supporters by other
        authors (validate's ``extended_until``); targets without support are absent."""

    async def feed(
        self, now: int, where: FeedFilter, limit: int, mutes: Mutes = NO_MUTES
    ) -> list[Ranked]:
        """``TraceSet.feed``: what is not muted, ranked as shown here."""

    async def thread(
        self, trace_id: bytes, now: int, mutes: Mutes = NO_MUTES
    ) -> Thread | Hidden | None:
        """The trace and its thread; Hidden if retracted; None if not stored here or expired.
        Muted answers and refs are left out, muted support not counted (the trace itself is
        returned even if muted: the caller decides)."""

    async def search(
        self, query: str, now: int, limit: int, mutes: Mutes = NO_MUTES
    ) -> list[Ranked]: ...

    async def contour(
        self, now: int, days: int, top_tags: int, top_places: int, mutes: Mutes = NO_MUTES
    ) -> Contour:
        """Activity by tag x day and by place at ``now``: ``stig.crdt.contour.contour`` of the
        stored set (who is never part of it). ValueError if ``days`` < 1 or a top is < 0."""

    async def authors_starting(self, prefix: str) -> list[bytes]:
        """Author keys of stored traces that start with a hex prefix (at most 10, sorted)."""

    async def mutes_by(self, authors: Collection[bytes], now: int) -> list[Trace]:
        """Visible traces of kind ``mute`` by these authors, by id (stig.crdt.mutes)."""

    def export(self, now: int, where: ExportFilter) -> AsyncIterator[bytes]:
        """Canonical bytes of every live trace that passes the filter, oldest first."""

    async def collect(self, now: int) -> Collected:
        """Garbage-collect what can never be visible again."""

    async def count(self) -> int: ...

    async def live_count(self, now: int) -> int:
        """How many stored traces have not expired at ``now`` — a retracted trace's husk
        counts until its expiry — for a relay's stats. Read from an index (SqliteStore): 2 ms
        at 200k traces, where counting only those with bytes (``live_items``) reads every row,
        0.4 s, on the connection the node ingests through."""

    # -- for the mesh ----------------------------------------------------------------------

    async def live_items(self, now: int) -> list[tuple[int, bytes]]:
        """(created, id) of every live trace whose bytes are held: what sync reconciles."""

    def watch_items(self, watcher: ItemWatcher) -> None:
        """Tell ``watcher`` of every later change to ``live_items`` but expiry (one watcher)."""

    async def expired_between(self, since: int, now: int) -> list[tuple[int, bytes]]:
        """(created, id) of traces whose bytes are held and whose effective expiry is in
        ``(since, now]``: what left ``live_items`` by the passing of time."""

    async def fetch(self, keys: Sequence[bytes], now: int) -> list[bytes]:
        """Bytes of live traces whose id is, or starts with, one of ``keys``."""

    async def cursor(self) -> int:
        """A position after everything stored so far (see ``stored_after``)."""

    async def stored_after(self, cursor: int, limit: int) -> tuple[int, list[bytes]]:
        """Traces stored after ``cursor`` — by this process or another — and the next cursor."""

    async def evict(self, keep: int, now: int) -> int:
        """Drop the coldest traces until at most ``keep`` remain; how many went."""

    async def author_live_count(self, author: bytes, now: int) -> int: ...

    async def close(self) -> None: ...
