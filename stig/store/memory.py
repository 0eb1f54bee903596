"""The in-memory twin of the store port: the pure views over a TraceSet, nothing else.

For fast tests and large simulations. It answers like SqliteStore because both are the views of
stig.crdt.views; tests/store/test_store_agrees.py holds them to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence

from stig.crdt import kinds
from stig.crdt.contour import Contour, contour
from stig.crdt.trace import Trace
from stig.crdt.views import NO_MUTES, FeedFilter, Mutes, Ranked, TraceSet, feed_order
from stig.store.port import Added, Collected, ExportFilter, Hidden, ItemWatcher, Thread


class MemoryStore:
    def __init__(self) -> None:
        self._set = TraceSet()
        self._log: list[Trace] = []  # in storing order: the cursor is an index into it
        # Told after every write that it must read live_items again: the twin does not work
        # out which traces each write changed (SqliteStore does).
        self._watcher: ItemWatcher | None = None

    def _changed(self) -> None:
        if self._watcher is not None:
            self._watcher.lost_track()

    async def add(self, traces: Sequence[Trace], now: int) -> Added:
        fresh: dict[bytes, Trace] = {}
        for t in traces:
            if t.id not in self._set:
                fresh.setdefault(t.id, t)
        self._set = self._set.merge(fresh.values())
        self._log.extend(fresh.values())
        if fresh:
            self._changed()
        return Added(list(fresh), len(traces) - len(fresh))

    async def add_durable(self, trace: Trace, now: int) -> Added:
        return await self.add([trace], now)

    def _readable(self, trace: Trace) -> bool:
        """What SqliteStore keeps the bytes of: all but hidden traces (pinned kinds stay)."""
        return trace.kind in kinds.PINNED_LIFE_KINDS or not self._set.is_hidden(trace)

    async def get(self, trace_id: bytes) -> Trace | None:
        trace = self._set.get(trace_id)
        return trace if trace is not None and self._readable(trace) else None

    async def resolve(self, prefix: str) -> list[bytes]:
        text = prefix.strip().lower()
        return sorted(tid for tid in self._set.ids() if tid.hex().startswith(text))[:10]

    async def reinforced_until(self, targets: Sequence[Trace]) -> dict[bytes, int]:
        until: dict[bytes, int] = {}
        for target in targets:
            for r in self._set.referrers(target.id):
                if (
                    r.kind in kinds.SUPPORT_KINDS
                    and r.author != target.author
                    and not self._set.is_hidden(r)
                ):
                    until[target.id] = max(until.get(target.id, 0), r.expires)
        return until

    async def feed(
        self, now: int, where: FeedFilter, limit: int, mutes: Mutes = NO_MUTES
    ) -> list[Ranked]:
        return self._set.feed(now, where, limit, mutes)

    async def search(
        self, query: str, now: int, limit: int, mutes: Mutes = NO_MUTES
    ) -> list[Ranked]:
        words = query.casefold().split()
        found = [
            self._set.rank(t, now, mutes.authors)
            for t in self._set
            if self._set.is_visible(t, now)
            and not mutes.hides(t)
            and all(w in f"{t.body} {' '.join(t.tags)}".casefold() for w in words)
        ]
        return sorted(found, key=feed_order)[:limit]

    async def contour(
        self, now: int, days: int, top_tags: int, top_places: int, mutes: Mutes = NO_MUTES
    ) -> Contour:
        return contour(self._set, now, days, top_tags, top_places, mutes)

    async def authors_starting(self, prefix: str) -> list[bytes]:
        text = prefix.strip().lower()
        return sorted({t.author for t in self._set if t.author.hex().startswith(text)})[:10]

    async def mutes_by(self, authors: Collection[bytes], now: int) -> list[Trace]:
        return sorted(
            (
                t
                for t in self._set
                if t.kind == kinds.MUTE and t.author in authors and self._set.is_visible(t, now)
            ),
            key=lambda t: t.id,
        )

    async def thread(
        self, trace_id: bytes, now: int, mutes: Mutes = NO_MUTES
    ) -> Thread | Hidden | None:
        trace = self._set.get(trace_id)
        if trace is None or self._set.effective_expiry(trace) <= now:
            return None
        if self._set.is_hidden(trace):
            return Hidden(trace.id, trace.kind, trace.author, trace.created)
        answers_to: list[tuple[bytes, Ranked | None]] = []
        for ref in trace.refs:
            target = self._set.get(ref)
            shown = (
                target is not None and self._set.is_visible(target, now) and not mutes.hides(target)
            )
            answers_to.append(
                (ref, self._set.rank(target, now, mutes.authors) if target and shown else None)
            )
        muted = mutes.authors
        return Thread(
            ranked=self._set.rank(trace, now, muted),
            answers_to=answers_to,
            answers=[
                self._set.rank(a, now, muted)
                for a in self._set.answers(trace, now, muted)
                if not mutes.hides(a)
            ],
        )

    async def export(self, now: int, where: ExportFilter) -> AsyncIterator[bytes]:
        chosen = [
            t
            for t in self._set
            if self._readable(t)
            and self._set.effective_expiry(t) > now
            and t.created >= where.since
            and (not where.kinds or t.kind in where.kinds)
            and where.tags.issubset(t.tags)
        ]
        for t in sorted(chosen, key=lambda t: (t.created, t.id)):
            yield t.encoded

    async def collect(self, now: int) -> Collected:
        before = len(self._set)
        self._set = self._set.collect(now)
        self._changed()
        return Collected(expired=before - len(self._set))

    async def count(self) -> int:
        return len(self._set)

    async def live_count(self, now: int) -> int:
        return sum(1 for t in self._set if self._set.effective_expiry(t) > now)

    async def live_items(self, now: int) -> list[tuple[int, bytes]]:
        return [
            (t.created, t.id)
            for t in self._set
            if self._readable(t) and self._set.effective_expiry(t) > now
        ]

    def watch_items(self, watcher: ItemWatcher) -> None:
        self._watcher = watcher

    async def expired_between(self, since: int, now: int) -> list[tuple[int, bytes]]:
        return [
            (t.created, t.id)
            for t in self._set
            if self._readable(t) and since < self._set.effective_expiry(t) <= now
        ]

    async def fetch(self, keys: Sequence[bytes], now: int) -> list[bytes]:
        return [
            t.encoded
            for t in self._set
            if any(t.id.startswith(key) for key in keys)
            and self._readable(t)
            and self._set.effective_expiry(t) > now
        ]

    async def cursor(self) -> int:
        return len(self._log)

    async def stored_after(self, cursor: int, limit: int) -> tuple[int, list[bytes]]:
        chosen = self._log[cursor : cursor + limit]
        return cursor + len(chosen), [t.encoded for t in chosen if t.id in self._set]

    async def evict(self, keep: int, now: int) -> int:
        excess = len(self._set) - keep
        if excess <= 0:
            return 0
        coldest = sorted(
            (t for t in self._set if t.kind not in kinds.PINNED_LIFE_KINDS),
            key=lambda t: (not self._set.is_hidden(t), self._set.heat(t, now)),
        )[:excess]
        doomed = {t.id for t in coldest}
        self._set = TraceSet(t for t in self._set if t.id not in doomed)
        self._changed()
        return len(doomed)

    async def author_live_count(self, author: bytes, now: int) -> int:
        return sum(
            1 for t in self._set if t.author == author and self._set.effective_expiry(t) > now
        )

    async def close(self) -> None:
        return None
