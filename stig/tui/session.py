"""The session: what the screens of one terminal UI share, handed down to each of them.

A screen depends on this, not on the app: the node (its public API: ``node`` for reading and
the lists this device keeps, ``live`` for posting and the network's status), the persona that
signs, the space shown, the clock, and what is new (stig.tui.unread). A screen may change the
persona, the space or what was seen here, then posts a message (stig.tui.messages) so that the
app shows it (status line, title); the app writes the status it reads from the node.

All time in screens and widgets is ``clock()``: the wall clock when stig runs, a fixed one in
tests (so that snapshots are the same on every run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.errors import StigError
from stig.node.authors import Authors
from stig.node.home import Home
from stig.node.live import LiveNode, LiveStatus
from stig.node.local import LocalNode
from stig.tui.unread import Unread, space_key


class Session:
    def __init__(self, live: LiveNode, home: Home, clock: Callable[[], int]) -> None:
        self.live = live
        self.node: LocalNode = live.local
        self.home = home
        self.clock = clock
        self.persona_name = self.node.keyring.default or ""
        """The persona that signs what is posted ("" while this device has none)."""
        self.group: str | None = None
        """The space shown and posted to by default: None is public, else a group's name."""
        self.status = LiveStatus(mode="offline", queued=0)
        """The node's status as last read (the app reads it)."""
        self.last_mute: bytes | None = None
        """The author muted last in this session, for undo (stig.tui.muting)."""
        self.rooms_lock = asyncio.Lock()
        """Held while group envelopes are opened, and while a group is left."""
        self.unread = Unread(home.seen_file)
        self.new_count = 0
        """Traces new in the space shown, for the status line."""
        self._unlocked: dict[str, Persona] = {}

    # -- who signs ---------------------------------------------------------------------------

    def unlocked(self, name: str) -> Persona | None:
        """Persona ``name`` if it was unlocked (or loaded) in this session."""
        return self._unlocked.get(name)

    def keep_unlocked(self, persona: Persona) -> None:
        self._unlocked[persona.name] = persona

    # -- who wrote (stig.node.authors) -------------------------------------------------------

    def authors(self) -> Authors:
        """The names this device has for authors, read now (a damaged names.json: none)."""
        try:
            return self.node.authors()
        except StigError:
            return Authors(own=self.node.keyring.owners())

    def author_of(self, group: str | None) -> Callable[[Trace], str]:
        """How the author of a trace read in ``group`` (None: public) reads, names read once."""
        authors, rooms = self.authors(), self.node.rooms

        def describe(trace: Trace) -> str:
            anonymous = group is not None and rooms.is_anonymous(group, trace)
            return authors.describe(trace.author, anonymous_in=group if anonymous else None)

        return describe

    def describe(self, key: bytes) -> str:
        """Author ``key`` as it reads here."""
        return self.authors().describe(key)

    # -- what is new (stig.tui.unread) -------------------------------------------------------

    async def catch_up_unread(self) -> bool:
        """Look for new traces in the space shown; True if their count changed."""
        node = self.node
        try:
            store = node.store if self.group is None else await node.rooms.store(self.group)
            own = frozenset(node.keyring.owners())
            await self.unread.catch_up(space_key(self.group), store, own)
        except StigError:  # the group was left meanwhile: nothing new there
            pass
        return self.recount()

    def new_traces(self) -> frozenset[bytes]:
        """The ids of the traces new in the space shown (the feed marks them)."""
        return self.unread.new(space_key(self.group), self.clock(), self.node.mute_list())

    def recount(self) -> bool:
        """Count the new traces again; True if the count changed."""
        count = len(self.new_traces())
        changed = count != self.new_count
        self.new_count = count
        return changed

    def saw(self, trace_id: bytes, group: str | None) -> bool:
        """A trace was opened: it is no longer new. True if the count changed."""
        return self.unread.saw(space_key(group), trace_id) and self.recount()

    def saw_all(self) -> bool:
        """Everything in the space shown is seen (``r`` in the feed)."""
        self.unread.saw_all(space_key(self.group))
        return self.recount()

    # -- where -------------------------------------------------------------------------------

    def choose_group(self, group: str | None) -> None:
        """Show ``group`` (None: the public space) and post to it by default."""
        self.group = group
        self.recount()  # what is new there so far; the feed's reload looks for more
