"""The Peers screen's words for a node over tor (stig.tui.screens.peers.guidance), the tor
line the status carries (stig.net.tor.modes.describe), and a peer's row (how it is reached)."""

from __future__ import annotations

from dataclasses import replace

from stig.net.tor.modes import describe
from stig.node.live import ONLINE, LiveStatus, PeerState
from stig.tui.screens.peers import guidance, last_sync, reached, short_peer

NOW = 1_800_000_000.0
ONION = "/onion3/5vesrrri2hbmn2xjam4jawmvmeuvsjz2lrr7snrwyfdbjlehg7iuvmyd:4737"


def test_the_tor_line_says_the_mode_the_onion_and_whose_tor() -> None:
    own = {"mode": "tor-only", "onion": ONION, "own_tor": True, "control": "127.0.0.1:1"}
    assert (
        describe(own)
        == f"tor-only (onion only, nothing but tor) as {ONION}, through stig's own tor"
    )
    attached = {**own, "mode": "tor", "own_tor": False}
    assert describe(attached).endswith("through the tor at 127.0.0.1:1")
    assert "onion and clearnet" in describe(attached)
    assert describe({"mode": "off"}) == "off (clearnet only)"


def test_a_tor_only_node_is_not_told_to_turn_on_mdns() -> None:
    tor_only = LiveStatus(mode=ONLINE, queued=0, tor=describe({"mode": "tor-only", "onion": ONION}))
    words = guidance(tor_only, "/home").plain
    assert "--lan" not in words and "onion" in words
    assert "--lan" in guidance(LiveStatus(mode=ONLINE, queued=0), "/home").plain


def test_a_peer_row_says_how_it_is_reached_or_why_not() -> None:
    base = PeerState(
        peer="12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE",
        connected=True,
        last_sync=NOW - 65,
        last_sync_result="ok: 3 in, 1 out, 2 round trips",
        bytes_in=0,
        bytes_out=0,
        accepted=0,
        rejected={},
        banned=False,
        ban_reason="",
        route="direct",
        route_since=NOW - 5,
    )
    assert short_peer(base.peer) == "12D3KooWPa…LZxmVE"
    assert reached(base, NOW) == "direct, 5s"
    assert reached(replace(base, onion=True), NOW) == "direct over tor (onion), 5s"
    relayed = replace(base, route=f"via relay {base.peer}")
    assert reached(relayed, NOW) == f"via relay {short_peer(base.peer)}, 5s"
    assert reached(replace(base, connected=False), NOW) == "gone"
    assert reached(replace(base, banned=True, ban_reason="sync:bad_frame"), NOW).startswith("cut")
    assert last_sync(base, NOW) == "1m ago (3 in, 1 out)"
    assert last_sync(replace(base, last_sync_result="failed: timeout"), NOW) == (
        "1m ago (failed: timeout)"
    )
    assert last_sync(replace(base, last_sync=None), NOW) == "—"
