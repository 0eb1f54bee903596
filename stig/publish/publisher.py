"""What a node publishes, gathered from its store, and keeping a published site current.

``gather`` takes the visible public traces that pass the selection, most intense first, with
their threads. ``Publisher.run`` re-renders in the node's own asyncio loop, on the node's store
(through a connection of its own, so that it reads only what is committed, never the middle of
one of the node's write transactions):
when the store's insertion cursor moves (a trace arrived, from the mesh or from another
process — retracts included), when the next published trace's effective expiry passes, and at
least every minute (the "fades in" times, eviction, collection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from stig.crdt import kinds
from stig.crdt.views import FeedFilter, Ranked, feed_order
from stig.errors import StigError, UsageError
from stig.node import clock
from stig.publish.mirror import Mirror, Written
from stig.publish.site import SiteOptions, build_site
from stig.store.port import Store, Thread

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 1000
"""Traces on a site at most (the most intense): a page per trace, re-rendered every minute."""

EVERY = 60.0
"""Longest time between renders, in seconds."""

POLL = 0.5
"""How often the store's cursor is read while waiting."""

SETTLE = 1.0
"""Shortest time between two renders (or twice the last render's time, if longer), so a burst
of arrivals (a sync) costs a few renders."""


@dataclass(frozen=True)
class Selection:
    """Which traces are published: ``kinds`` empty means every kind but the meta kinds; a trace
    with any of ``tags`` (all traces if empty); the ``limit`` most intense."""

    kinds: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        meta = sorted(self.kinds & kinds.META_KINDS)
        if meta:
            raise UsageError(
                f"{', '.join(meta)} traces are about other traces and never get a page; "
                "publish the kinds they respond to (they show as counts)"
            )
        if self.limit < 1:
            raise UsageError("the site must be allowed at least one trace (--limit)")


async def gather(store: Store, now: int, selection: Selection) -> list[Thread]:
    """The threads of the published traces, most intense first."""
    filters = [FeedFilter(kinds=selection.kinds, tags=frozenset({t})) for t in selection.tags]
    found: dict[bytes, Ranked] = {}
    for where in filters or [FeedFilter(kinds=selection.kinds)]:
        for item in await store.feed(now, where, selection.limit):
            found[item.trace.id] = item
    chosen = sorted(found.values(), key=feed_order)[: selection.limit]
    threads: list[Thread] = []
    for item in chosen:
        thread = await store.thread(item.trace.id, now)
        if isinstance(thread, Thread):  # else hidden or gone since the feed was read
            threads.append(thread)
    return threads


def next_change(threads: list[Thread], now: int) -> int | None:
    """When the next trace on the site (or in a shown thread) fades."""
    times = [
        item.effective_expiry
        for thread in threads
        for item in [
            thread.ranked,
            *thread.answers,
            *(target for _, target in thread.answers_to if target),
        ]
        if item.effective_expiry > now
    ]
    return min(times, default=None)


class Publisher:
    def __init__(
        self,
        mirror: Mirror,
        selection: Selection,
        options: SiteOptions,
        clock: Callable[[], int] = clock.wall_clock,
    ) -> None:
        self.mirror = mirror
        self.selection = selection
        self.options = options
        self.clock = clock
        self.renders = 0

    async def render(self, store: Store) -> tuple[list[Thread], Written]:
        """Render once; the site holds exactly the published traces at the clock's now."""
        now = self.clock()
        threads = await gather(store, now, self.selection)

        def build_and_write() -> Written:  # off the event loop: the mesh node shares it
            return self.mirror.write(build_site(threads, now, self.options))

        written = await asyncio.to_thread(build_and_write)
        self.renders += 1
        return threads, written

    async def run(self, store: Store, stop: asyncio.Event) -> None:
        """Keep the site current until ``stop`` is set. A failed render (disk full, store
        busy) is logged and tried again at the next occasion; it never stops the node."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            cursor = await store.cursor()
            wait = EVERY
            try:
                threads, written = await self.render(store)
            except (StigError, OSError) as exc:
                log.warning("publishing into %s failed: %s", self.mirror.root, exc)
            else:
                log.info(
                    "published %d traces into %s (%d files written, %d removed)",
                    len(threads),
                    self.mirror.root,
                    written.written,
                    written.removed,
                )
                fades = next_change(threads, self.clock())
                if fades is not None:
                    # effective expiry is exclusive: the trace is gone once now >= it.
                    wait = min(wait, float(max(fades - self.clock(), 0)))
            took = loop.time() - started
            # A big site takes a while to render: leave the node at least twice that.
            await _sleep(stop, max(SETTLE, 2 * took) - took)
            deadline = started + max(wait, SETTLE)
            while not stop.is_set() and loop.time() < deadline:
                await _sleep(stop, min(POLL, deadline - loop.time()))
                try:
                    if await store.cursor() != cursor:
                        break
                except StigError as exc:
                    log.warning("cannot read the store's cursor: %s", exc)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
