"""The stig terminal UI: the app holds the live node and the chosen persona; screens do the rest.

Store and network work runs in Textual workers; the app polls the store's cursor twice a second
so that traces arriving from the mesh (or posted from another terminal) appear by themselves,
and exits when the home is wiped (its store is gone, or its mesh was asked to stop). When it
moves, envelopes for this device's affinity groups are opened into their stores first.
The app also holds the space shown: public, or one group (``group``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen

from stig.crypto.persona import Persona
from stig.node import clock
from stig.node.clock import wall_clock
from stig.node.config import Config
from stig.node.home import Home
from stig.node.live import LiveNode, LiveStatus
from stig.node.network import Network
from stig.tui.idle_gc import YOUNG_EVERY, IdleCollector
from stig.tui.muting import undo_mute
from stig.tui.screens.contour import ContourScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.groups import GroupsScreen
from stig.tui.screens.help import HelpScreen
from stig.tui.screens.identities import IdentitiesScreen
from stig.tui.screens.mutes import MutesScreen
from stig.tui.screens.passphrase import PassphraseScreen
from stig.tui.screens.peers import PeersScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.widgets.status_line import StatusLine

POLL = 0.5
"""Seconds between looks at the store's cursor (one indexed read)."""


class Changed(Message):
    """Something was stored: screens showing traces refresh."""


class StigApp(App[None]):
    CSS_PATH = Path(__file__).parent / "stig.tcss"
    TITLE = "stig"
    SUB_TITLE = "traces that fade"
    BINDINGS = [
        Binding("f", "feed", "Feed"),
        Binding("slash", "search", "Search"),
        Binding("p", "peers", "Peers"),
        Binding("o", "contour", "Contour"),
        Binding("i", "identities", "Identities"),
        Binding("G", "groups", "Groups"),
        Binding("M", "mutes", "Mutes", show=False),
        Binding("ctrl+z", "undo_mute", "Undo the last mute", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        home: Home,
        *,
        offline: bool = False,
        network: Network | None = None,
        config: Config | None = None,
        clock: Callable[[], int] = wall_clock,
    ) -> None:
        super().__init__()
        self.config = config
        self.home = home
        self.offline = offline
        self.network = network
        self.clock = clock
        self._resources = AsyncExitStack()
        self._collector = IdleCollector()
        self.live: LiveNode
        self.persona_name = ""
        self._unlocked: dict[str, Persona] = {}
        self._cursor = -1
        self.status = LiveStatus(mode="offline", queued=0)
        self.group: str | None = None
        """The space shown and posted to by default: None is public, else a group's name."""
        self.rooms_lock = asyncio.Lock()
        """Held while group envelopes are opened, and while a group is left."""
        self.last_mute: bytes | None = None
        """The author muted last in this session, for undo (stig.tui.muting)."""

    # -- life ------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        self.live = await self._resources.enter_async_context(
            LiveNode.open(self.home, clock=self.clock, config=self.config)
        )
        self.persona_name = self.live.local.keyring.default or ""
        self._cursor = await self.live.changes()
        await self.push_screen(FeedScreen())
        self.set_interval(POLL, self._poll)
        self._collector.start()
        self.set_interval(YOUNG_EVERY, self._collector.tick)
        if not self.offline:
            self._join()

    @work(exclusive=True, group="mesh")
    async def _join(self) -> None:
        await self.live.go_online(self.network)
        await self._refresh_status()

    async def on_unmount(self) -> None:
        self._collector.stop()
        await self._resources.aclose()

    def on_key(self) -> None:
        self._collector.key_pressed()

    async def _poll(self) -> None:
        if self.live.asked_to_stop or not self.home.exists():
            # `stig wipe` (or a stop request on the control socket): what this app shows is
            # gone from the disk, and must go from the screen too.
            self.exit()
            return
        cursor = await self.live.changes()
        if cursor != self._cursor:
            self._cursor = cursor
            if self.live.local.groups.names():
                self._open_envelopes()
            else:
                self.screen.post_message(Changed())
        await self._refresh_status()

    @work(group="rooms")
    async def _open_envelopes(self) -> None:
        """Open what arrived for this device's groups, then let the screens refresh."""
        async with self.rooms_lock:
            await self.live.local.rooms.catch_up()
        self.screen.post_message(Changed())

    async def _refresh_status(self) -> None:
        self.status = await self.live.status()
        for line in self.screen.query(StatusLine):
            line.show(self.status, self.persona_name or "(none)", clock.now(), self.group)

    def changed(self) -> None:
        """Called after this app stored something: refresh at once, not at the next poll."""
        self.call_later(self._poll)

    def mutes_changed(self) -> None:
        """Called after this device's mutes changed: the store's cursor did not move, so the
        poll would not notice; the visible screen reloads now (those under it, when shown),
        not a dialog still closing over it."""
        pages = [screen for screen in self.screen_stack if not isinstance(screen, ModalScreen)]
        if pages:
            pages[-1].post_message(Changed())

    # -- who signs ---------------------------------------------------------------------------

    async def signer(self) -> Persona | None:
        """The chosen persona, asking for its passphrase once per session if it has one.
        Call from a worker (it may wait for a screen)."""
        name = self.persona_name
        if not name:
            self.notify("no persona yet: press i to create one", severity="error")
            return None
        if name in self._unlocked:
            return self._unlocked[name]
        keyring = self.live.local.keyring
        if keyring.is_locked(name):
            persona = await self.push_screen_wait(PassphraseScreen(name, keyring))
            if persona is None:
                return None
        else:
            persona = keyring.load(name)
        self._unlocked[name] = persona
        return persona

    def choose_persona(self, name: str) -> None:
        self.persona_name = name
        self.call_later(self._refresh_status)

    # -- where ------------------------------------------------------------------------------

    def choose_group(self, group: str | None) -> None:
        """Show ``group`` (None: the public space) in the feed and search, and post to it by
        default."""
        if group == self.group:
            return
        self.group = group
        self.sub_title = self.SUB_TITLE if group is None else f"in group {group}"
        self.call_later(self._refresh_status)

    # -- screens -----------------------------------------------------------------------------

    def _open(self, screen_type: type) -> None:
        if isinstance(self.screen, (screen_type, ModalScreen)):
            return
        # Keep one stack: the feed at the bottom, at most one other top-level screen above it.
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if not isinstance(self.screen, FeedScreen):
            self.pop_screen()
        if screen_type is not FeedScreen:
            self.push_screen(screen_type())

    def action_feed(self) -> None:
        self._open(FeedScreen)

    def action_search(self) -> None:
        self._open(SearchScreen)

    def action_peers(self) -> None:
        self._open(PeersScreen)

    def action_contour(self) -> None:
        self._open(ContourScreen)

    def action_identities(self) -> None:
        self._open(IdentitiesScreen)

    def action_groups(self) -> None:
        self._open(GroupsScreen)

    def action_mutes(self) -> None:
        self._open(MutesScreen)

    @work(group="mutes")
    async def action_undo_mute(self) -> None:
        await undo_mute(self)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
