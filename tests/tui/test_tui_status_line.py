"""The status line never says a green "online" for a node that is alone on the mesh."""

from __future__ import annotations

from stig.node.live import ONLINE, LiveStatus, PeerState
from stig.tui.widgets.status_line import status_text

NOW = 1_800_000_000.0


def line(status: LiveStatus) -> str:
    return status_text(status, "ana", NOW).plain


def test_alone_with_failing_addresses_says_so() -> None:
    text = line(LiveStatus(mode=ONLINE, queued=0, failing=2))
    assert text.startswith("○ 0 peers — 2 addresses failing (p for details)")
    assert "online" not in text
    assert line(LiveStatus(mode=ONLINE, queued=0, failing=1)).startswith(
        "○ 0 peers — 1 address failing"
    )
    assert "nobody to dial yet" in line(LiveStatus(mode=ONLINE, queued=0))


def connected_peer() -> PeerState:
    """A peer that is connected and has done nothing yet."""
    return PeerState(
        peer="12D3KooW",
        connected=True,
        last_sync=None,
        last_sync_result="",
        bytes_in=0,
        bytes_out=0,
        accepted=0,
        rejected={},
        banned=False,
        ban_reason="",
    )


def test_online_only_with_a_peer() -> None:
    peer = connected_peer()
    assert line(LiveStatus(mode=ONLINE, queued=0, peers=(peer,))).startswith("● online · 1 peer")


def test_online_with_failing_addresses_still_says_how_many() -> None:
    peer = connected_peer()
    text = line(LiveStatus(mode=ONLINE, queued=0, peers=(peer,), failing=2))
    assert text.startswith("● online · 1 peer · 2 addresses failing (p)")
