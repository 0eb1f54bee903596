"""Noticing what matters as it arrives: traces that match a watch (stig.node.watch_list).

``noticed`` is pure: of the traces that just arrived, those that match a watch, leaving out what
this device muted (views.Mutes) and its own posts. ``follow`` runs beside a node (``stig node
--notify``) or the terminal UI: it follows the store's insertion cursor — so traces from the
mesh, an import or another process count alike — and hands each noticed trace, with the
watches it matched, to ``announce``. Watches and mutes are read again every round, so a change
made from the CLI applies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence

from stig.crdt.codec import decode_trusted
from stig.crdt.trace import Trace
from stig.crdt.views import Mutes
from stig.node.watch_list import Watch, matching
from stig.store.port import Store

log = logging.getLogger(__name__)

POLL = 0.5
"""Seconds between two looks at the store's cursor."""
BATCH = 500


def noticed(
    traces: Iterable[Trace], watches: Sequence[Watch], mutes: Mutes, own: Collection[bytes]
) -> list[tuple[Trace, list[Watch]]]:
    """The traces worth a notice: they match a watch, are not muted here, and are not this
    device's own posts."""
    out = []
    for trace in traces:
        if trace.author in own or mutes.hides(trace):
            continue
        matched = matching(watches, trace)
        if matched:
            out.append((trace, matched))
    return out


async def follow(
    store: Store,
    watches: Callable[[], list[Watch]],
    mutes: Callable[[], Awaitable[Mutes]],
    own: Callable[[], Collection[bytes]],
    announce: Callable[[Trace, list[Watch]], None],
    stop: asyncio.Event,
) -> None:
    """Announce every noticed trace stored from now on, until ``stop`` is set (``mutes``: the
    Mutes of now, as LocalNode.mutes gives them)."""
    cursor = await store.cursor()
    while not stop.is_set():
        cursor, raws = await store.stored_after(cursor, BATCH)
        if raws:
            current = watches()
            if current:
                hidden = await mutes()
                traces = [decode_trusted(raw) for raw in raws]
                for trace, matched in noticed(traces, current, hidden, own()):
                    announce(trace, matched)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL)
