"""The Peers screen's words for a node over tor (stig.tui.screens.peers.guidance) and the tor
line the status carries (stig.net.tor.modes.describe)."""

from __future__ import annotations

from stig.net.tor.modes import describe
from stig.node.live import ONLINE, LiveStatus
from stig.tui.screens.peers import guidance

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
