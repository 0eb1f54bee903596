"""``stig node --tor`` / ``--tor-only`` when tor cannot be used: one line in plain words that
says what to do, exit 1, and no node left running (issue 15). The runs over a real Tor network
are in tests/tor/test_tor_mesh.py."""

from __future__ import annotations

import socket
from pathlib import Path

from stig.cli.options import bootstrap_addresses
from stig.net.peer_invite import peer_invite
from stig.net.tor.onion_key import OnionKey
from tests.cli.running import fails, stig


def home_with(path: Path, config: str) -> Path:
    stig(path, "init", "-q")
    (path / "config.toml").write_text(config)
    (path / "config.toml").chmod(0o600)
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_control_port_with_no_tor_says_so(tmp_path: Path) -> None:
    port = closed_port()
    home = home_with(tmp_path / "h", f'[tor]\ncontrol = "127.0.0.1:{port}"\n')
    message = fails(home, "node", "--tor-only")
    assert f"no tor control port at 127.0.0.1:{port}" in message
    assert "let stig start its own tor" in message
    assert not (home / "addrs").exists() and not (home / "control.sock").exists()


def test_without_tor_installed_the_message_says_how_to_get_it(tmp_path: Path) -> None:
    home = home_with(tmp_path / "h", "")
    message = fails(home, "node", "--tor", env={"PATH": str(tmp_path / "nothing")})
    assert "tor is not installed" in message and "apt-get install tor" in message


def test_tor_only_refuses_the_lan_and_clearnet_peers(tmp_path: Path) -> None:
    home = home_with(tmp_path / "h", "")
    assert "mDNS" in fails(home, "node", "--tor-only", "--lan")
    peer = "/ip4/127.0.0.1/tcp/4737/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
    assert "dials onion addresses only" in fails(home, "node", "--tor-only", "--bootstrap", peer)
    assert "onion service only" in fails(
        home, "relay", "--tor-only", "--listen", "/ip4/127.0.0.1/tcp/0"
    )


PEER = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
CLEARNET = f"/ip4/127.0.0.1/tcp/4737/p2p/{PEER}"


def test_bootstrap_takes_an_invite_code_and_a_tor_only_node_its_onions() -> None:
    onion = OnionKey.generate().multiaddr(4737) + f"/p2p/{PEER}"
    code = peer_invite([onion, CLEARNET])
    assert bootstrap_addresses(code, tor_only=False) == [onion, CLEARNET]
    assert bootstrap_addresses(code, tor_only=True) == [onion]
    assert bootstrap_addresses(CLEARNET, tor_only=True) == [CLEARNET]  # checked later


def test_tor_only_refuses_an_invite_with_no_onion(tmp_path: Path) -> None:
    home = home_with(tmp_path / "h", "")
    message = fails(home, "node", "--tor-only", "--bootstrap", peer_invite([CLEARNET]))
    assert "this invite carries no onion address" in message and "--tor" in message


def test_tor_only_takes_the_onion_of_an_invite_and_goes_on_to_tor(tmp_path: Path) -> None:
    """A relay's invite (its onion and its TCP address) is accepted; the node goes on to
    reach tor, which is not there in this test, and says so."""
    onion = OnionKey.generate().multiaddr(4737) + f"/p2p/{PEER}"
    port = closed_port()
    home = home_with(tmp_path / "h", f'[tor]\ncontrol = "127.0.0.1:{port}"\n')
    message = fails(home, "node", "--tor-only", "--bootstrap", peer_invite([onion, CLEARNET]))
    assert f"no tor control port at 127.0.0.1:{port}" in message
