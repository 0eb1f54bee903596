"""Watched traces arriving while the terminal UI is open: a toast and the bell, on any screen.

The app hands ``look`` each space's store when its cursor moved; what was stored there since the
last look (from the mesh, an import, another process) is checked against this device's watches
(stig.node.notices: not muted, not its own). The first look only takes the cursors: what was
there before the UI opened is not news.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stig.crdt.codec import decode_trusted
from stig.crdt.trace import Trace
from stig.crdt.views import Mutes
from stig.node.notices import BATCH, noticed
from stig.node.watch_list import Watch
from stig.store.port import Store


@dataclass(frozen=True)
class Notice:
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
    cursors: dict[str | None, int] = field(default_factory=dict)

    async def look(
        self,
        space: str | None,
        store: Store,
        watches: list[Watch],
        mutes: Mutes,
        own: frozenset[bytes],
    ) -> list[Notice]:
        """The notices of what ``store`` received since the last look at ``space``."""
        cursor = self.cursors.get(space)
        if cursor is None:
            self.cursors[space] = await store.cursor()
            return []
        found: list[Notice] = []
        while True:
            cursor, raws = await store.stored_after(cursor, BATCH)
            if not raws:
                break
            if watches:
                traces = [decode_trusted(raw) for raw in raws]
                found += [
                    Notice(trace, tuple(matched), space)
                    for trace, matched in noticed(traces, watches, mutes, own)
                ]
        self.cursors[space] = cursor
        return found
