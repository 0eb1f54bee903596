"""Noticing what matters as it arrives: traces that match a watch (stig.node.watch_list).

``noticed`` is pure: of the traces that just arrived, those that match a watch, leaving out what
this device muted (views.Mutes) and its own posts. ``Noticing`` follows each space's store by
its insertion cursor — so traces from the mesh, an import or another process count alike — and
turns what arrived since its last look into ``Notice``s: the terminal UI looks whenever a cursor
moved (a toast and the bell), and ``follow`` looks every POLL beside a node (``stig node
--notify``). Watches and mutes are read again every look, so a change made from the CLI applies
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Notice:
    """A watched trace that arrived, the watches it matched, and the space it arrived in."""

    trace: Trace
    watches: tuple[Watch, ...]
    space: str | None  # None: public; else the group's name

    def text(self) -> str:
        head = self.trace.body.splitlines()[0][:100] if self.trace.body else ""
        where = "" if self.space is None else f" in {self.space}"
        words = "; ".join(w.text for w in self.watches)
        return f"{self.trace.kind}{where} ({words}): {head}".rstrip(": ")


@dataclass
class Noticing:
    """Where each space's store was last looked at. The first look at a space only takes its
    cursor: what was there before is not news."""

    cursors: dict[str | None, int] = field(default_factory=dict)

    async def look(
        self,
        space: str | None,
        store: Store,
        watches: Sequence[Watch],
        mutes: Callable[[], Awaitable[Mutes]],
        own: Collection[bytes],
    ) -> list[Notice]:
        """The notices of what ``store`` received since the last look at ``space``. ``mutes``
        (LocalNode.mutes) is asked only when something arrived and a watch may match."""
        cursor = self.cursors.get(space)
        if cursor is None:
            self.cursors[space] = await store.cursor()
            return []
        found: list[Notice] = []
        hidden: Mutes | None = None
        while True:
            cursor, raws = await store.stored_after(cursor, BATCH)
            if not raws:
                break
            if watches:
                hidden = hidden if hidden is not None else await mutes()
                traces = [decode_trusted(raw) for raw in raws]
                found += [
                    Notice(trace, tuple(matched), space)
                    for trace, matched in noticed(traces, watches, hidden, own)
                ]
        self.cursors[space] = cursor
        return found


async def follow(
    store: Store,
    watches: Callable[[], list[Watch]],
    mutes: Callable[[], Awaitable[Mutes]],
    own: Callable[[], Collection[bytes]],
    announce: Callable[[Notice], None],
    stop: asyncio.Event,
) -> None:
    """Announce every noticed trace stored from now on, until ``stop`` is set (``mutes``: the
    Mutes of now, as LocalNode.mutes gives them)."""
    noticing = Noticing()
    await noticing.look(None, store, (), mutes, ())  # from now on
    while not stop.is_set():
        for notice in await noticing.look(None, store, watches(), mutes, own()):
            announce(notice)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL)
