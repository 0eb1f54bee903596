"""Two py-libp2p hosts in two OS processes, each reachable only as an onion service of the
private Tor network, meet through it: a dial by /onion3 address through tor's SOCKS port, Noise
and Yamux over it, a stream that echoes bytes, GossipSub both ways; and neither process holds a
socket to anything but 127.0.0.1, checked from outside."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from stig.net.tor.onion_key import OnionKey
from tests.tor.loopback import loopback_only
from tests.tor.peer_process import OnionPeer
from tests.tor.private_network import PrivateTorNetwork

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

WITHIN = 90.0
"""Seconds for each step; a bound on a hung test, not a measurement."""


def test_two_onion_only_hosts_meet_over_tor(
    tor_network: PrivateTorNetwork, onion_peers: list[OnionPeer], tmp_path: Path
) -> None:
    host_tor, dial_tor = tor_network.clients
    a_key, b_key = OnionKey.generate(), OnionKey.generate()
    a = OnionPeer(
        tmp_path / "a.log",
        *("--control", str(host_tor.control), "--socks", str(host_tor.socks)),
        *("--seed", a_key.seed.hex()),
    )
    onion_peers.append(a)
    listening = a.wait_for("listening", WITHIN)
    # The host advertises its onion and nothing else, at the address computed from its key,
    # which is the one tor published.
    (address,) = listening["addrs"]
    assert address.startswith(f"/onion3/{a_key.address}:4001/p2p/")
    assert listening["published"] == [a_key.address]

    b = OnionPeer(
        tmp_path / "b.log",
        *("--control", str(dial_tor.control), "--socks", str(dial_tor.socks)),
        *("--seed", b_key.seed.hex(), "--dial", address, "--rounds", "10"),
    )
    onion_peers.append(b)
    (b_address,) = b.wait_for("listening", WITHIN)["addrs"]
    assert b_address.startswith(f"/onion3/{b_key.address}:4001/p2p/")

    connected = b.wait_for("connected", WITHIN)
    assert address.endswith(connected["peer"])
    echo = b.wait_for("echo", WITHIN)
    assert echo["rounds"] == 10 and len(echo["rtt_s"]) == 10
    # A gossip message from b reached a, and a's answer reached b.
    assert a.wait_for("gossip", WITHIN)["data"].startswith("over tor ")
    assert b.wait_for("gossip_ack", WITHIN)["data"].startswith("ack:over tor ")

    # While connected over Tor, each process talks only to its tor on the loopback.
    for peer in (a, b):
        assert psutil.Process(peer.pid).net_connections(kind="inet"), "no sockets at all?"
        assert loopback_only(peer.pid) == []


def test_a_host_on_both_bridges_onion_and_tcp_peers(
    tor_network: PrivateTorNetwork, onion_peers: list[OnionPeer], tmp_path: Path
) -> None:
    """A relay listening as an onion and on TCP (both transports in one host): an onion-only
    peer reaches it through tor, a TCP-only peer directly, and gossip from the onion-only peer
    reaches the TCP-only one through the relay, while the onion-only peer still talks to
    nothing but its tor."""
    relay_tor, onion_tor = tor_network.clients
    relay = OnionPeer(
        tmp_path / "relay.log",
        *("--control", str(relay_tor.control), "--socks", str(relay_tor.socks)),
        *("--seed", OnionKey.generate().seed.hex(), "--also-tcp", "--say", "from the relay"),
    )
    onion_peers.append(relay)
    addrs = relay.wait_for("listening", WITHIN)["addrs"]
    (onion_address,) = [a for a in addrs if a.startswith("/onion3/")]
    (tcp_address,) = [a for a in addrs if a.startswith("/ip4/127.0.0.1/tcp/")]

    clear = OnionPeer(
        tmp_path / "clear.log",
        *("--clearnet", "--dial", tcp_address, "--rounds", "1", "--say", "from tcp"),
    )
    onion_peers.append(clear)
    clear.wait_for("echo", WITHIN)

    hidden = OnionPeer(
        tmp_path / "hidden.log",
        *("--control", str(onion_tor.control), "--socks", str(onion_tor.socks)),
        *("--seed", OnionKey.generate().seed.hex(), "--dial", onion_address),
        *("--rounds", "1", "--say", "from the onion", "--ack-from", "from tcp"),
    )
    onion_peers.append(hidden)
    hidden.wait_for("echo", WITHIN)
    # It publishes until the TCP-only peer's ack comes back through the relay (the relay acks
    # first, maybe before its mesh holds the TCP-only peer: one message might not reach it).
    assert hidden.wait_for("gossip_ack", WITHIN)["data"].endswith(" by from tcp")

    # The TCP-only peer is not connected to the onion-only one: what it hears from it came
    # through the relay.
    heard = clear.wait_for_match("gossip", "from the onion ", WITHIN)
    assert heard["data"].startswith("from the onion ")
    assert loopback_only(hidden.pid) == []


def test_listening_needs_the_key_of_the_address(
    tor_network: PrivateTorNetwork, onion_peers: list[OnionPeer], tmp_path: Path
) -> None:
    """The transport refuses to listen on an onion whose key it does not hold (it would
    advertise an address that leads nowhere)."""
    import trio
    from libp2p.transport.exceptions import OpenConnectionError

    from stig.net.tor.control import TorControl
    from stig.net.tor.transport import OnionTransport, onion_listen_addrs

    client = tor_network.clients[0]

    async def handler(stream: object) -> None:
        raise AssertionError("no connection expected")

    async def attempt() -> None:
        with TorControl.attach(client.control) as control:
            held, other = OnionKey.generate(), OnionKey.generate()
            transport = OnionTransport(("127.0.0.1", client.socks), control=control, keys=[held])
            listener = transport.create_listener(handler)  # type: ignore[arg-type]
            (maddr,) = onion_listen_addrs([other], 4001)
            with pytest.raises(OpenConnectionError, match="no key"):
                await listener.listen(maddr)
            await listener.close()

    trio.run(attempt)
    assert os.getpid()  # the test ran in this process; nothing was started
