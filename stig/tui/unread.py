"""Unread: the traces that arrived since the person last looked, marked in the feed and counted
on the status line ("3 new"); the mark survives a restart.

Every store has an insertion cursor (``Store.cursor``, ``stored_after``): a space (public, or a
group's store) is *seen up to* a cursor, and the traces opened since are *read*. Both are kept
per space in ``<home>/seen.json`` (``Home.seen_file``; erased by a wipe, never sent). A trace
is new if it was stored after that cursor, is of a kind the feed lists, was not posted from this
device, is not muted here, and was not opened since; ``r`` in the feed moves the cursor to now
(all read). The first time a space is looked at, all it holds counts as seen: a new home, or a
newly joined group, starts with nothing new rather than everything.

A retraction or a burn that arrives later takes what it retracts out of the new traces.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from stig.crdt import kinds
from stig.crdt.codec import decode_trusted
from stig.crdt.trace import Trace
from stig.node.mute_list import MuteList
from stig.store.port import Store

SCAN_BATCH = 1000
"""Traces read from the store at a time when looking for new ones."""
MAX_READ = 2000
"""Traces remembered as opened above a space's cursor; the oldest are forgotten (and show as
new again) past it. ``r`` clears them."""

PUBLIC_KEY = "public"


def space_key(group: str | None) -> str:
    return PUBLIC_KEY if group is None else f"group:{group}"


@dataclass
class Seen:
    upto: int
    """Everything stored up to this cursor was seen."""
    read: list[str] = field(default_factory=list)
    """Hex ids of traces opened since, oldest first."""


@dataclass
class _Arrived:
    cursor: int
    """How far the store was looked at."""
    traces: dict[bytes, Trace] = field(default_factory=dict)


class Unread:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = _load(path)
        self._arrived: dict[str, _Arrived] = {}

    async def catch_up(self, key: str, store: Store, own: frozenset[bytes]) -> None:
        """Look at what ``store`` (space ``key``) stored since the last look."""
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = Seen(await store.cursor())
            self._save()
        arrived = self._arrived.setdefault(key, _Arrived(seen.upto))
        while True:
            cursor, raws = await store.stored_after(arrived.cursor, SCAN_BATCH)
            if cursor == arrived.cursor:
                return
            arrived.cursor = cursor
            for raw in raws:
                _take(arrived.traces, decode_trusted(raw), own)

    def new(self, key: str, now: int, mutes: MuteList) -> frozenset[bytes]:
        """The ids of the new traces of space ``key`` at ``now``."""
        arrived = self._arrived.get(key)
        seen = self._seen.get(key)
        if arrived is None or seen is None:
            return frozenset()
        read = set(seen.read)
        return frozenset(
            trace_id
            for trace_id, trace in arrived.traces.items()
            if trace.expires > now
            and trace_id.hex() not in read
            and trace.author not in mutes.authors
            and not mutes.tags.intersection(trace.tags)
        )

    def saw(self, key: str, trace_id: bytes) -> bool:
        """Trace ``trace_id`` was opened; True if it was new."""
        seen = self._seen.get(key)
        arrived = self._arrived.get(key)
        if seen is None or arrived is None or trace_id not in arrived.traces:
            return False
        if trace_id.hex() in seen.read:
            return False
        seen.read = [*seen.read, trace_id.hex()][-MAX_READ:]
        self._save()
        return True

    def saw_all(self, key: str) -> None:
        """Everything in space ``key`` looked at so far is seen."""
        arrived = self._arrived.get(key)
        if arrived is None:
            return
        self._seen[key] = Seen(arrived.cursor)
        arrived.traces.clear()
        self._save()

    def _save(self) -> None:
        data = {key: {"upto": seen.upto, "read": seen.read} for key, seen in self._seen.items()}
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(data, indent=1))
            os.replace(temporary, self.path)
        except OSError:
            pass  # the home is being wiped, or read-only: the marks last this session


def _take(traces: dict[bytes, Trace], trace: Trace, own: frozenset[bytes]) -> None:
    if trace.kind == kinds.RETRACT:
        for ref in trace.refs:
            if ref in traces and traces[ref].author == trace.author:
                del traces[ref]
    elif trace.kind == kinds.BURN:
        for trace_id, earlier in list(traces.items()):
            if earlier.author == trace.author and earlier.created <= trace.created:
                del traces[trace_id]
    elif trace.kind not in kinds.META_KINDS and trace.author not in own:
        traces[trace.id] = trace


def _load(path: Path) -> dict[str, Seen]:
    """What seen.json holds; a missing or damaged file is nothing seen yet (not an error: at
    worst, marks are lost)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    seen = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict) and type(value.get("upto")) is int:
                read = [r for r in value.get("read", []) if isinstance(r, str)]
                seen[str(key)] = Seen(value["upto"], read[-MAX_READ:])
    return seen
