"""Peers: who this node talks to, this node's invite (its code and QR code, to give in person),
and a field to add a peer from its code or address — effective at once (stig.node.joining, the
same path as ``stig invite`` and ``stig connect``)."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Static

from stig.errors import StigError
from stig.node.joining import ABOUT, Invite, addresses_of, invite_of
from stig.node.live import (
    ELSEWHERE,
    FAILED,
    OFFLINE,
    STARTING,
    FailingAddress,
    LiveStatus,
    PeerState,
)
from stig.readable import plural, span
from stig.tui.screens.page import Page
from stig.tui.session import Session
from stig.tui.widgets.qr import qr_text

REFRESH = 1.0

ADD_PLACEHOLDER = "a stig-peer1-… code, or an address /ip4/…/tcp/…/p2p/12D3KooW… — Enter"


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n //= 1000
    return f"{n} TB"


SHORT_PEER = 20
"""Peer ids longer than this (libp2p's are 52 characters) are shown by their two ends in the
table, so that its columns fit 80 columns; the full id is on the row's key and in ``stig peers``."""


def short_peer(peer: str) -> str:
    return f"{peer[:10]}…{peer[-6:]}" if len(peer) > SHORT_PEER else peer


def reached(peer: PeerState, now: float) -> str:
    """How a peer is reached, and for how long ("via relay 12D3KooWAb…x9Yz7Q, 3m",
    "hole-punched over tor, 5s"), or why it is not ("gone", "cut off: …")."""
    if peer.banned:
        return f"cut off: {peer.ban_reason}"
    if not peer.connected:
        return "gone"
    if not peer.route:
        return "connected over tor (onion)" if peer.onion else "connected"
    words = " ".join(short_peer(word) for word in peer.route.split(" "))
    if peer.onion:
        words += " over tor (onion)"
    if peer.route_since is not None:
        words += f", {span(int(now - peer.route_since))}"
    return words


def last_sync(peer: PeerState, now: float) -> str:
    """When the last sync was and how it went, short: "4s ago (3 in, 0 out)"."""
    if not peer.last_sync:
        return "—"
    ago = f"{span(int(now - peer.last_sync))} ago"
    result = peer.last_sync_result
    if result.startswith("ok: "):
        moved = ", ".join(result.removeprefix("ok: ").split(", ")[:2])  # not the round trips
        return f"{ago} ({moved})"
    return f"{ago} ({result[:40]})" if result else ago


def failing_words(dialing: tuple[FailingAddress, ...], now: float) -> Text:
    """The addresses this node dials and cannot reach: why, since when, and the next try."""
    text = Text()
    if not dialing:
        return text
    text.append(plural(len(dialing), "address", "addresses") + " not reached", style="bold yellow")
    text.append("  (kept in config.toml, dialed again and again)", style="dim")
    for failing in dialing:
        text.append(f"\n{failing.address}\n")
        text.append(f"  {failing.error}\n", style="yellow")
        tries = plural(failing.failures, "try", "tries")
        since = span(int(now - failing.failing_since)) if failing.failing_since else ""
        words = f"failing for {since} ({tries})" if since else f"{tries} failed"
        if failing.next_try is not None:
            ahead = failing.next_try - now
            words += f"; next try in {span(round(ahead))}" if ahead > 0 else "; next try now"
        text.append(f"  {words}", style="dim")
    return text


def about_me(status: LiveStatus) -> Text:
    """This node: its peer id and how others reach it, when it is on the mesh."""
    text = Text()
    if status.peer_id:
        text.append("this node  ", style="dim")
        text.append(status.peer_id)
    if status.reach:
        text.append("\nreach      ", style="dim")
        text.append(status.reach, style="bold")
    if status.peer_id and status.tor:
        text.append("\ntor        ", style="dim")
        text.append(status.tor)
    return text


def no_invite(status: LiveStatus, problem: str) -> Text:
    """Why there is no invite to show."""
    text = Text()
    text.append("Your invite  ", style="bold")
    if status.mode == OFFLINE:
        text.append("none while this node is offline (started with --offline): an invite ")
        text.append("carries the addresses a node on the mesh is reachable at.")
    elif status.mode == FAILED:
        text.append("none: the network did not start.")
    elif status.mode == STARTING or not status.addresses:
        text.append("none yet: joining the mesh…")
    else:
        text.append(f"none: {problem}")
    return text


def invite_words(invite: Invite) -> Text:
    text = Text()
    text.append("Your invite", style="bold")
    text.append("  (c copies the code; another node adds it on its Peers page, or runs ")
    text.append("stig connect CODE", style="bold")
    text.append(")\n")
    text.append(invite.code + "\n", style="bold")
    for address in invite.addresses:
        text.append(f"  {address}\n", style="dim")
    text.append(ABOUT, style="italic")
    return text


def guidance(status: LiveStatus, home: str) -> Text:
    """What to do when no peer is connected, in the words a person needs."""
    text = Text()
    if status.mode == OFFLINE:
        text.append("This node is offline (started with --offline): ", style="bold")
        text.append("traces you post are kept here and spread at the next sync. ")
        text.append("Restart without --offline to join the mesh.\n")
    elif status.mode == FAILED:
        text.append(f"The network did not start: {status.problem}\n", style="bold red")
    elif status.mode == STARTING:
        text.append("Joining the mesh…\n", style="yellow")
    else:
        text.append("No peer is connected yet.\n", style="bold")
    text.append("\nTo reach another node, add its code (from ")
    text.append("stig invite", style="bold")
    text.append(" or the Peers page there) or its address above, or run ")
    text.append("stig connect CODE_OR_ADDRESS", style="bold")
    text.append(" in a terminal: it is kept in ")
    text.append(f"{home}/config.toml", style="bold")
    text.append(" and dialed at once. Or start with ")
    text.append("stig tui --bootstrap ADDRESS", style="bold")
    if status.tor.startswith("tor-only"):
        text.append(".\nOver tor only, a peer's address is an onion one (/onion3/…); LAN ")
        text.append("discovery stays off: it would announce this device's IP address.")
    else:
        text.append(".\nTo find nodes on this LAN by mDNS, set ")
        text.append("lan = true", style="bold")
        text.append(" under [network] (or start with ")
        text.append("--lan", style="bold")
        text.append(")" + (" — LAN discovery is on." if status.lan else "."))
    if status.mode == ELSEWHERE:
        text.append("\nThe mesh runs in another stig process for this home.")
    return text


def add_hint(status: LiveStatus) -> str:
    """What adding a peer does now, said under the field before anything is added."""
    if status.mode == OFFLINE:
        return (
            "Offline: a peer added here is kept in config.toml and dialed when stig starts "
            "without --offline."
        )
    if status.mode == FAILED:
        return "The network did not start: a peer added here is kept in config.toml."
    return "A peer added here is kept in config.toml and dialed now."


class PeersScreen(Page):
    BINDINGS = [
        Binding("c", "copy_invite", "Copy the invite code"),
        Binding("a", "add_peer", "Add a peer"),
    ]
    AUTO_FOCUS = ""
    """Nothing focused at first: ``c`` and ``a`` are keys, not letters typed in the field."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.invite: Invite | None = None
        """This node's invite, once made from the addresses it is reachable at."""
        self._invite_for: tuple[str, ...] | None = None
        self._invite_problem = ""
        self._said = False

    def body(self) -> ComposeResult:
        with VerticalScroll(id="peers-page"):
            # What is done most first (on 80x24, the invite's QR code is scrolled to).
            yield Static("", id="me")
            yield DataTable(id="peers", cursor_type="row", zebra_stripes=True)
            yield Static("", id="failing")
            yield Static(Text("Add a peer", style="bold"), id="add-title")
            yield Input(placeholder=ADD_PLACEHOLDER, id="add-peer")
            yield Static("", id="add-said", classes="hint")
            with Horizontal(id="my-invite"):
                yield Static("", id="my-invite-words")
                yield Static("", id="my-invite-qr")
            yield Static("", id="guidance")

    def on_mount(self) -> None:
        table = self.query_one("#peers", DataTable)
        # What matters most first: on 80 columns, the byte and trace counts scroll into view.
        for label in ("peer", "reached", "last sync", "in", "out", "accepted", "rejected"):
            table.add_column(label, key=label)
        self.show()
        self.set_interval(REFRESH, self.show)

    def reload(self) -> None:
        self.show()

    # -- the invite ----------------------------------------------------------------------------

    def action_copy_invite(self) -> None:
        if self.invite is None:
            self.app.notify("no invite to copy: " + self._no_invite_reason(), severity="warning")
            return
        self.app.copy_to_clipboard(self.invite.code)
        self.app.notify("invite code copied to the clipboard (if the terminal allows it)")

    def _no_invite_reason(self) -> str:
        if self.session.status.mode == OFFLINE:
            return "this node is offline"
        return self._invite_problem or "this node has no address yet"

    @work(exclusive=True, group="invite")
    async def _make_invite(self, addresses: tuple[str, ...]) -> None:
        # In a thread: the first invite imports libp2p's peer ids (about a second).
        try:
            invite: Invite | None = await asyncio.to_thread(invite_of, addresses)
            problem = ""
        except StigError as exc:
            invite, problem = None, str(exc)
        self.invite, self._invite_problem = invite, problem
        self._show_invite()

    def _show_invite(self) -> None:
        words = self.query_one("#my-invite-words", Static)
        qr = self.query_one("#my-invite-qr", Static)
        if self.invite is None:
            words.update(no_invite(self.session.status, self._invite_problem))
            qr.display = False
            return
        words.update(invite_words(self.invite))
        qr.update(qr_text(self.invite.code))
        qr.display = True

    # -- adding a peer -------------------------------------------------------------------------

    def action_add_peer(self) -> None:
        self.query_one("#add-peer", Input).focus()

    def action_back(self) -> None:
        field = self.query_one("#add-peer", Input)
        if field.has_focus:  # Esc leaves the field first, then the page
            self.set_focus(None)
            return
        super().action_back()

    @on(Input.Submitted, "#add-peer")
    def submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.add_peer(event.value)

    @work(exclusive=True, group="add-peer")
    async def add_peer(self, given: str) -> None:
        said = self.query_one("#add-said", Static)
        self._said = True
        try:
            addresses = addresses_of(given, "add a peer")
        except StigError as exc:
            said.update(Text(str(exc), style="bold red"))
            return
        said.update("adding…")
        try:
            joined = await self.session.live.add_peers(addresses)
        except (StigError, OSError) as exc:
            said.update(Text(f"not added: {exc}", style="bold red"))
            return
        said.update("\n".join(j.describe() for j in joined))
        self.query_one("#add-peer", Input).clear()
        self.show()

    # -- what is shown -------------------------------------------------------------------------

    def show(self) -> None:
        status = self.session.status
        now = self.session.clock()
        self.query_one("#me", Static).update(about_me(status))
        if status.addresses != self._invite_for:
            self._invite_for = status.addresses
            self.invite, self._invite_problem = None, ""
            if status.addresses:
                self._make_invite(status.addresses)
        self._show_invite()
        if not self._said:
            self.query_one("#add-said", Static).update(add_hint(status))
        table = self.query_one("#peers", DataTable)
        table.clear()
        for p in sorted(status.peers, key=lambda p: (not p.connected, p.peer)):
            rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(p.rejected.items()))
            table.add_row(
                short_peer(p.peer),
                reached(p, now),
                last_sync(p, now),
                _bytes(p.bytes_in),
                _bytes(p.bytes_out),
                str(p.accepted),
                rejected or "—",
                key=p.peer,
            )
        table.display = bool(status.peers)
        failing = self.query_one("#failing", Static)
        failing.update(failing_words(status.dialing, now))
        failing.display = bool(status.dialing)
        guide = self.query_one("#guidance", Static)
        guide.update("" if status.connected else guidance(status, str(self.session.home.root)))
