"""Circuit relay on py-libp2p with a private-network key (docs/relay.md, "Not an open proxy"):
the circuit's inner connection is pnet too (trap: py-libp2p wraps only inbound relayed
connections; stig.net.libp2p_relay wraps the outbound side), and a node without the key can
neither reserve nor dial through the relay."""

from __future__ import annotations

import pytest

from stig.net.circuit import HopLimits
from stig.net.libp2p_net import Libp2pNetwork
from stig.net.network import NetworkError, PeerId, Stream
from tests.net.test_net_port import until

pytestmark = pytest.mark.timeout(90)

KEY = "33" * 32
OTHER_KEY = "44" * 32
ECHO = "/stig/test-relay-echo/1"


async def echo(peer: PeerId, stream: Stream) -> None:
    while (frame := await stream.receive()) is not None:
        await stream.send(frame)
    await stream.close()


async def test_a_closed_mesh_relays_only_its_own() -> None:
    relay = Libp2pNetwork(bytes([11]) * 32, psk=KEY, hop=HopLimits(), reachability="public")
    a = Libp2pNetwork(bytes([12]) * 32, psk=KEY, reachability="private")
    b = Libp2pNetwork(bytes([13]) * 32, psk=KEY, reachability="private")
    stranger = Libp2pNetwork(bytes([14]) * 32, psk=OTHER_KEY, reachability="private")
    nets = (relay, a, b, stranger)
    try:
        a.set_stream_handler(ECHO, echo)
        for net in nets:
            await net.start()
        await a.dial(relay.addresses()[0], within=10)
        await until(lambda: bool(a.reach().advertised), "a's reservation")
        (circuit,) = a.reach().advertised

        assert await b.dial(circuit, within=20) == a.peer_id
        stream = await b.open_stream(a.peer_id, ECHO, within=10)
        await stream.send(b"closed mesh")
        assert await stream.receive() == b"closed mesh"
        await stream.close()

        with pytest.raises(NetworkError):
            await stranger.dial(relay.addresses()[0], within=3)
        with pytest.raises(NetworkError):
            await stranger.dial(circuit, within=3)
        assert a.peer_id not in stranger.peers()
    finally:
        for net in nets:
            await net.stop()
