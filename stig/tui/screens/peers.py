"""Peers: who this node talks to; with nobody, how to reach somebody."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from stig.node.live import ELSEWHERE, FAILED, OFFLINE, STARTING, LiveStatus
from stig.readable import span
from stig.tui.screens.page import Page

REFRESH = 1.0


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n //= 1000
    return f"{n} TB"


def guidance(status: LiveStatus, home: str) -> Text:
    """What to do when no peer is connected, in the words a person needs."""
    text = Text()
    if status.mode == OFFLINE:
        text.append("This node is offline (started with --offline).\n", style="bold")
        text.append("Traces you post are kept here and spread at the next sync.\n")
        text.append("Restart without --offline to join the mesh.\n")
    elif status.mode == FAILED:
        text.append(f"The network did not start: {status.problem}\n", style="bold red")
    elif status.mode == STARTING:
        text.append("Joining the mesh…\n", style="yellow")
    else:
        text.append("No peer is connected yet.\n", style="bold")
    if status.addresses:
        text.append("\nThis node's addresses (give one to a friend's node):\n")
        for address in status.addresses:
            text.append(f"  {address}\n", style="bold")
    text.append("\nTo reach another node, run ")
    text.append("stig connect CODE_OR_ADDRESS", style="bold")
    text.append(" in a terminal (a code from ")
    text.append("stig invite", style="bold")
    text.append(" on that node, or its address): it is added to ")
    text.append(f"{home}/config.toml", style="bold")
    text.append(" and dialed at once.\n")
    text.append("stig invite", style="bold")
    text.append(" here prints this node's own code and QR code; or start with ")
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


class PeersScreen(Page):
    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("", id="me")
            yield DataTable(id="peers", cursor_type="row", zebra_stripes=True)
            yield Static("", id="guidance")

    def on_mount(self) -> None:
        table = self.query_one("#peers", DataTable)
        for label in ("peer", "state", "last sync", "in", "out", "accepted", "rejected"):
            table.add_column(label, key=label)
        self.show()
        self.set_interval(REFRESH, self.show)

    def reload(self) -> None:
        self.show()

    def show(self) -> None:
        status = self.session.status
        now = self.session.clock()
        me = self.query_one("#me", Static)
        mine = f"this node  {status.peer_id}" if status.peer_id else ""
        me.update(mine + (f"\ntor        {status.tor}" if mine and status.tor else ""))
        table = self.query_one("#peers", DataTable)
        table.clear()
        for p in sorted(status.peers, key=lambda p: (not p.connected, p.peer)):
            state = "connected" if p.connected else "gone"
            if p.connected and p.onion:
                state = "connected over tor (onion)"
            if p.banned:
                state = f"cut off: {p.ban_reason}"
            rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(p.rejected.items()))
            table.add_row(
                p.peer,
                state,
                f"{span(int(now - p.last_sync))} ago ({p.last_sync_result})"
                if p.last_sync
                else "—",
                _bytes(p.bytes_in),
                _bytes(p.bytes_out),
                str(p.accepted),
                rejected or "—",
                key=p.peer,
            )
        table.display = bool(status.peers)
        guide = self.query_one("#guidance", Static)
        guide.update("" if status.connected else guidance(status, str(self.session.home.root)))
