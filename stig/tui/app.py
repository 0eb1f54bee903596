"""The stig terminal UI: the app opens the live node, makes the session its pages share
(stig.tui.session), and shows one page at a time.

Each page is a Textual mode (feed, search, peers, contour, identities, groups, mutes), with its
own stack: a thread opened from the feed stays over the feed. Store and network work runs in
Textual workers; the app polls the store's cursor twice a second so that traces arriving from
the mesh (or posted from another terminal) appear by themselves, tells the page shown to
reload, and exits when the home is wiped (its store is gone, or its mesh was asked to stop).
When it moves, envelopes for this device's affinity groups are opened into their stores first.
Pages post messages up (stig.tui.messages); the app handles them here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen

from stig.errors import StigError
from stig.net.network import Network
from stig.node.clock import now, wall_clock
from stig.node.config import Config
from stig.node.home import Home
from stig.node.live import LiveNode
from stig.node.local import wipe
from stig.node.notices import Noticing
from stig.tui.commands import StigCommands
from stig.tui.dialogs.wiping import WipingScreen
from stig.tui.idle_gc import YOUNG_EVERY, IdleCollector
from stig.tui.messages import ListsChanged, SessionChanged, ShowPage, Stored
from stig.tui.muting import undo_mute
from stig.tui.panic import ask_to_wipe, burn
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.contour import ContourScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.groups import GroupsScreen
from stig.tui.screens.help import HelpScreen
from stig.tui.screens.identities import IdentitiesScreen
from stig.tui.screens.mutes import MutesScreen
from stig.tui.screens.page import FEED, Page
from stig.tui.screens.peers import PeersScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.session import Session
from stig.tui.watching import watch_words
from stig.tui.widgets.status_line import StatusLine

POLL = 0.5
"""Seconds between looks at the store's cursor (one indexed read)."""

PAGES: dict[str, type[Page]] = {
    FEED: FeedScreen,
    "search": SearchScreen,
    "peers": PeersScreen,
    "contour": ContourScreen,
    "identities": IdentitiesScreen,
    "groups": GroupsScreen,
    "mutes": MutesScreen,
}
"""The app's modes, each a page made with the session (so added when the node is open)."""


class StigApp(App[None]):
    CSS_PATH = Path(__file__).parent / "stig.tcss"
    COMMANDS = App.COMMANDS | {StigCommands}
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
        mesh_clock: Callable[[], float] = now,
    ) -> None:
        super().__init__()
        self.config = config
        self.home = home
        self.offline = offline
        self.network = network
        self.clock = clock
        self.mesh_clock = mesh_clock
        """The mesh's clock; a test pins it with ``clock`` and the in-memory network's."""
        self._resources = AsyncExitStack()
        self._collector = IdleCollector()
        self.live: LiveNode
        self.session: Session
        self._cursor = -1
        self.wiping = False
        self.noticing: Noticing

    # -- life ------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        self.live = await self._resources.enter_async_context(
            LiveNode.open(
                self.home, clock=self.clock, config=self.config, mesh_clock=self.mesh_clock
            )
        )
        self.session = Session(self.live, self.home, self.clock)
        self._cursor = await self.live.changes()
        await self.session.catch_up_unread()
        self.noticing = Noticing()
        await self.look_for_watched()  # the first look only marks where news starts
        for mode, page in PAGES.items():
            self.add_mode(mode, partial(page, self.session))
        await self.switch_mode(FEED)
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

    @work(exclusive=True, group="panic")
    async def action_wipe(self) -> None:
        """Wipe this device after its typed word (stig.tui.panic), then exit. An app worker,
        not a screen's: the screens go before the store does."""
        if not await ask_to_wipe(self, self.home):
            return
        self.wiping = True
        await self.push_screen(WipingScreen())
        # The node first (off the mesh, the store closed), so nothing is written again after.
        await self._resources.aclose()
        try:
            await asyncio.to_thread(wipe, self.home)
        except StigError as exc:
            self.exit(return_code=1, message=f"stig: the wipe is incomplete — {exc}")
            return
        self.exit(message=f"stig: wiped {self.home.root}")

    @work(exclusive=True, group="panic")
    async def action_burn(self) -> None:
        """Burn the persona in use, after its typed word (stig.tui.panic)."""
        if not self.session.persona_name:
            self.notify("no persona to burn", severity="error")
            return
        await burn(self.screen, self.session, self.session.persona_name)

    def on_key(self) -> None:
        self._collector.key_pressed()

    async def _poll(self) -> None:
        if self.wiping:
            return
        if self.live.asked_to_stop or not self.home.exists():
            # `stig wipe` (or a stop request on the control socket): what this app shows is
            # gone from the disk, and must go from the screen too.
            self.exit()
            return
        cursor = await self.live.changes()
        if cursor != self._cursor:
            self._cursor = cursor
            if self.session.node.groups.names():
                self._open_envelopes()
            else:
                await self._arrived()
        await self._refresh_status()

    @work(group="rooms")
    async def _open_envelopes(self) -> None:
        """Open what arrived for this device's groups, then let the page refresh."""
        async with self.session.rooms_lock:
            await self.session.node.rooms.catch_up()
        await self._arrived()

    async def _arrived(self) -> None:
        """Something was stored: count what is new, announce what is watched, reload."""
        await self.session.catch_up_unread()
        await self.look_for_watched()
        self.reload_page()

    async def _refresh_status(self) -> None:
        self.session.status = await self.live.status()
        self._show_status()

    def _show_status(self) -> None:
        if not self.screen_stack:  # closing: the screens went while the node was asked
            return
        for line in self.screen.query(StatusLine):
            line.show_session()

    def reload_page(self) -> None:
        """The page shown (not a dialog over it) reads what it shows again."""
        pages = [screen for screen in self.screen_stack if isinstance(screen, Page)]
        if pages:
            pages[-1].reload()

    # -- what is watched (stig.node.notices) --------------------------------------------------

    async def look_for_watched(self) -> None:
        """Announce traces that match a watch and arrived since the last look, in any space,
        whatever screen is shown: a toast, and the bell unless config.toml's notify.bell is
        false."""
        local = self.session.node
        watches = local.watches()
        own = frozenset(local.keyring.owners())
        for space in (None, *local.groups.names()):
            try:
                store = local.store if space is None else await local.rooms.store(space)
                notices = await self.noticing.look(space, store, watches, local.mutes, own)
            except StigError:  # a group left meanwhile
                continue
            for notice in notices:
                self.notify(notice.text(), title="watched", timeout=15)
                if self.live.config.notify.bell:
                    self.bell()

    # -- what the pages say (stig.tui.messages) ----------------------------------------------

    @on(Stored)
    def stored(self) -> None:
        self.call_later(self._poll)  # at once, not at the next poll

    @on(ListsChanged)
    def lists_changed(self) -> None:
        self.session.recount()  # a muted author's new traces are not counted
        self._show_status()
        self.reload_page()

    @on(SessionChanged)
    def session_changed(self, message: SessionChanged) -> None:
        group = self.session.group
        self.sub_title = self.SUB_TITLE if group is None else f"in group {group}"
        self._show_status()
        if message.reload:
            self.reload_page()

    @on(ShowPage)
    def show_page(self, message: ShowPage) -> None:
        self._show(message.page)

    # -- from the command palette ------------------------------------------------------------

    def action_use_persona(self, name: str) -> None:
        """Use persona ``name``: said, and shown where listed."""
        self.session.persona_name = name
        self.notify(f"now posting as {name}")
        self.post_message(SessionChanged(reload=True))

    def action_show_space(self, group: str | None) -> None:
        """Show ``group`` (None: public) in the feed."""
        if group != self.session.group:
            self.session.choose_group(group)
            self.post_message(SessionChanged())
        self._show(FEED)
        self.call_later(self.reload_page)  # the feed, once the screens above it are gone

    # -- pages -------------------------------------------------------------------------------

    def _show(self, page: str) -> None:
        if self.wiping or isinstance(self.screen, ModalScreen):
            return
        self.switch_mode(page)
        # The page itself, not a thread (or help) opened over it earlier.
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_feed(self) -> None:
        self._show(FEED)

    def action_search(self) -> None:
        self._show("search")

    def action_peers(self) -> None:
        self._show("peers")

    def action_contour(self) -> None:
        self._show("contour")

    def action_identities(self) -> None:
        self._show("identities")

    def action_groups(self) -> None:
        self._show("groups")

    def action_mutes(self) -> None:
        self._show("mutes")

    @work(group="mutes")
    async def action_undo_mute(self) -> None:
        await undo_mute(self.screen, self.session)

    def action_compose(self) -> None:
        if not self.wiping and not isinstance(self.screen, ModalScreen):
            self.push_screen(ComposeScreen(self.session, group=self.session.group))

    @work(group="watch")
    async def action_watch(self) -> None:
        """Watch traces that match words (the command palette's "Watch…")."""
        await watch_words(self.screen, self.session)

    def action_connect(self) -> None:
        """Add a peer (the command palette's "Connect to a peer…"): the Peers page's field."""
        self._show("peers")
        self.call_later(self._focus_add_peer)

    def _focus_add_peer(self) -> None:
        if isinstance(self.screen, PeersScreen):
            self.screen.action_add_peer()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.session, self.BINDINGS))
