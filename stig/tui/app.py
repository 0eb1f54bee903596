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
from stig.errors import StigError
from stig.node import clock
from stig.node.clock import wall_clock
from stig.node.config import Config
from stig.node.home import Home
from stig.node.live import LiveNode, LiveStatus
from stig.node.local import wipe
from stig.node.network import Network
from stig.node.notices import Noticing
from stig.tui.commands import StigCommands
from stig.tui.dialogs.ask import AskScreen
from stig.tui.dialogs.passphrase import PassphraseScreen
from stig.tui.dialogs.wiping import WipingScreen
from stig.tui.idle_gc import YOUNG_EVERY, IdleCollector
from stig.tui.muting import undo_mute
from stig.tui.panic import ask_to_wipe, burn
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.contour import ContourScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.groups import GroupsScreen
from stig.tui.screens.help import HelpScreen
from stig.tui.screens.identities import IdentitiesScreen
from stig.tui.screens.mutes import MutesScreen
from stig.tui.screens.peers import PeersScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.unread import Unread, space_key
from stig.tui.widgets.status_line import StatusLine

POLL = 0.5
"""Seconds between looks at the store's cursor (one indexed read)."""


class Changed(Message):
    """Something was stored: screens showing traces refresh."""


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
        self.wiping = False
        self.noticing: Noticing
        self.unread: Unread
        self.new_count = 0
        """Traces new in the space shown (stig.tui.unread), for the status line."""

    # -- life ------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        self.live = await self._resources.enter_async_context(
            LiveNode.open(self.home, clock=self.clock, config=self.config)
        )
        self.persona_name = self.live.local.keyring.default or ""
        self._cursor = await self.live.changes()
        self.unread = Unread(self.home.seen_file)
        await self.catch_up_unread()
        self.noticing = Noticing()
        await self.look_for_watched()  # the first look only marks where news starts
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

    @work(exclusive=True, group="panic")
    async def action_wipe(self) -> None:
        """Wipe this device after its typed word (stig.tui.panic), then exit. An app worker,
        not a screen's: the screens go before the store does."""
        if not await ask_to_wipe(self):
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
        if not self.persona_name:
            self.notify("no persona to burn", severity="error")
            return
        await burn(self, self.persona_name)

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
            if self.live.local.groups.names():
                self._open_envelopes()
            else:
                await self.catch_up_unread()
                await self.look_for_watched()
                self.screen.post_message(Changed())
        await self._refresh_status()

    @work(group="rooms")
    async def _open_envelopes(self) -> None:
        """Open what arrived for this device's groups, then let the screens refresh."""
        async with self.rooms_lock:
            await self.live.local.rooms.catch_up()
        await self.catch_up_unread()
        await self.look_for_watched()
        self.screen.post_message(Changed())

    async def _refresh_status(self) -> None:
        self.status = await self.live.status()
        for line in self.screen.query(StatusLine):
            line.show(
                self.status, self.persona_name or "(none)", clock.now(), self.group, self.new_count
            )

    # -- what is watched (stig.node.notices) --------------------------------------------------

    async def look_for_watched(self) -> None:
        """Announce traces that match a watch and arrived since the last look, in any space,
        whatever screen is shown: a toast, and the bell unless config.toml's notify.bell is
        false."""
        local = self.live.local
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

    # -- what is new (stig.tui.unread) -------------------------------------------------------

    async def catch_up_unread(self) -> None:
        """Look for new traces in the space shown, and count them."""
        local = self.live.local
        group = self.group
        try:
            store = local.store if group is None else await local.rooms.store(group)
            own = frozenset(local.keyring.owners())
            await self.unread.catch_up(space_key(group), store, own)
        except StigError:  # the group was left meanwhile: nothing new there
            pass
        self._count_new()

    def new_traces(self) -> frozenset[bytes]:
        """The ids of the traces new in the space shown (the feed marks them)."""
        local = self.live.local
        return self.unread.new(space_key(self.group), self.clock(), local.mute_list())

    def _count_new(self) -> None:
        count = len(self.new_traces())
        if count != self.new_count:
            self.new_count = count
            self.call_later(self._refresh_status)

    def saw(self, trace_id: bytes, group: str | None) -> None:
        """A trace was opened: it is no longer new."""
        if self.unread.saw(space_key(group), trace_id):
            self._count_new()

    def saw_all(self) -> None:
        """Everything in the space shown is seen (``r`` in the feed)."""
        self.unread.saw_all(space_key(self.group))
        self._count_new()

    def changed(self) -> None:
        """Called after this app stored something: refresh at once, not at the next poll."""
        self.call_later(self._poll)

    def mutes_changed(self) -> None:
        """Called after this device's mutes changed: the store's cursor did not move, so the
        poll would not notice; the visible screen reloads now (those under it, when shown),
        not a dialog still closing over it."""
        self._count_new()  # a muted author's new traces are not counted
        self.reload_page()

    def reload_page(self) -> None:
        """The visible page (not a dialog over it) reloads."""
        pages = [screen for screen in self.screen_stack if not isinstance(screen, ModalScreen)]
        if pages:
            pages[-1].post_message(Changed())

    # -- who signs ---------------------------------------------------------------------------

    async def signer(self, name: str | None = None) -> Persona | None:
        """The chosen persona (or persona ``name``), asking for its passphrase once per session
        if it has one. Call from a worker (it may wait for a screen)."""
        name = self.persona_name if name is None else name
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

    def use_persona(self, name: str) -> None:
        """Choose persona ``name`` from the command palette: said, and shown where listed."""
        self.choose_persona(name)
        self.notify(f"now posting as {name}")
        self.call_later(self.reload_page)

    # -- where ------------------------------------------------------------------------------

    def choose_group(self, group: str | None) -> None:
        """Show ``group`` (None: the public space) in the feed and search, and post to it by
        default."""
        if group == self.group:
            return
        self.group = group
        self.sub_title = self.SUB_TITLE if group is None else f"in group {group}"
        # the count of what is new there so far; the feed's reload looks for more
        self._count_new()
        self.call_later(self._refresh_status)

    def show_space(self, group: str | None) -> None:
        """Show ``group`` (None: public) in the feed, from the command palette."""
        self.choose_group(group)
        self.action_feed()
        self.call_later(self.reload_page)  # the feed, once the screens above it are gone

    # -- screens -----------------------------------------------------------------------------

    def _open(self, screen_type: type) -> None:
        if self.wiping or isinstance(self.screen, (screen_type, ModalScreen)):
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

    def action_compose(self) -> None:
        if not self.wiping and not isinstance(self.screen, ModalScreen):
            self.push_screen(ComposeScreen(group=self.group))

    @work(group="connect")
    async def action_connect(self) -> None:
        """Dial a peer by address (what ``--bootstrap`` does at start, once)."""
        address = await self.push_screen_wait(
            AskScreen(
                "Address of the peer to connect to (its multiaddr, from `stig addr` there):",
                placeholder="/ip4/…/tcp/…/p2p/12D3KooW…",
            )
        )
        if not address or not address.strip():
            return
        mesh = self.live.mesh
        if mesh is None or not self.status.on_mesh:
            self.notify(
                "offline: not on the mesh, so nothing to connect with (start without --offline)",
                severity="error",
                timeout=8,
            )
            return
        peer = await mesh.dial(address.strip())
        if peer is None:
            self.notify(f"could not reach {address.strip()}", severity="error", timeout=8)
        else:
            self.notify(f"connected to {peer}; a sync starts now")
        await self._refresh_status()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
