"""One conformance check of the network port (stig.net.network), run against both adapters: the
in-memory twin and libp2p (two adapters in this process, on 127.0.0.1). What the node relies on
— dial, peer events, validated pushes, framed streams, hang-up — must hold for either."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Protocol

import pytest

from stig.net.circuit import HopLimits, is_circuit
from stig.net.memory_net import MemoryHub
from stig.net.network import (
    BEHIND_NAT,
    HOLE_PUNCHED,
    PUBLIC,
    RELAYED,
    NetEvent,
    Network,
    NetworkError,
    PeerDown,
    PeerId,
    PeerUp,
    Pushed,
    Stream,
)

pytestmark = pytest.mark.timeout(60)

TOPIC = "conformance"
ECHO = "/stig/test-conformance/1"


class Events:
    """A network's events, consumed in the background, with a wait for one that matches."""

    def __init__(self, net: Network) -> None:
        self.seen: list[NetEvent] = []
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(net))

    async def _run(self, net: Network) -> None:
        async for event in net.events():
            self.seen.append(event)
            self._changed.set()

    async def wait(self, match: Callable[[NetEvent], bool], within: float = 10) -> NetEvent:
        async with asyncio.timeout(within):
            index = 0
            while True:
                for event in self.seen[index:]:
                    if match(event):
                        return event
                index = len(self.seen)
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture(params=["memory", "libp2p"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Network, Network]]:
    if request.param == "memory":
        hub = MemoryHub()
        nets: list[Network] = [hub.network("a"), hub.network("b")]
    else:
        from stig.net.libp2p_net import Libp2pNetwork

        nets = [Libp2pNetwork(bytes([1]) * 32), Libp2pNetwork(bytes([2]) * 32)]
    try:
        yield nets[0], nets[1]
    finally:
        for net in nets:
            await net.stop()


def rejects_bad(peer: PeerId, data: bytes) -> bool:
    return not data.startswith(b"bad")


async def echo(peer: PeerId, stream: Stream) -> None:
    while (frame := await stream.receive()) is not None:
        await stream.send(frame[::-1])
    await stream.close()


async def test_both_adapters_keep_the_port_contract(pair: tuple[Network, Network]) -> None:
    a, b = pair
    events_a, events_b = Events(a), Events(b)
    try:
        for net in (a, b):
            net.set_validator(TOPIC, rejects_bad)
            await net.subscribe(TOPIC)
        b.set_stream_handler(ECHO, echo)
        addresses = await b.start()
        await a.start()
        assert addresses == b.addresses()
        assert all(address.endswith(f"/p2p/{b.peer_id}") for address in addresses)

        assert await a.dial(addresses[0], within=10) == b.peer_id
        await events_a.wait(lambda e: e == PeerUp(b.peer_id))
        await events_b.wait(lambda e: e == PeerUp(a.peer_id))
        assert a.peers() == [b.peer_id]

        # A push the validator rejects is never delivered; one it accepts is, with its sender.
        async with asyncio.timeout(20):
            for i in range(1000):
                await a.publish(TOPIC, b"bad-%d" % i)
                await a.publish(TOPIC, b"good-%d" % i)
                with suppress(TimeoutError):
                    await events_b.wait(lambda e: isinstance(e, Pushed), within=0.2)
                    break
        pushed = [e for e in events_b.seen if isinstance(e, Pushed)]
        assert pushed and all(e.data.startswith(b"good") and e.via == a.peer_id for e in pushed)

        stream = await a.open_stream(b.peer_id, ECHO, within=10)
        await stream.send(b"stig")
        assert await stream.receive() == b"gits"
        await stream.close()
        assert await stream.receive() is None
        with pytest.raises(NetworkError):
            await a.open_stream(b.peer_id, "/stig/nobody-speaks-this/1", within=10)

        await a.hang_up(b.peer_id)
        await events_a.wait(lambda e: e == PeerDown(b.peer_id))
        await events_b.wait(lambda e: e == PeerDown(a.peer_id))
        assert a.peers() == []
    finally:
        await events_a.close()
        await events_b.close()


class Make(Protocol):
    def __call__(self, n: int, *, behind_nat: bool = False, hop: bool = False) -> Network: ...


@pytest.fixture(params=["memory", "libp2p"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """Networks of one adapter; "behind NAT" is the twin's model, and for libp2p on loopback
    the operator's word (reachability = private): what follows from it is the same."""
    hub = MemoryHub()
    made: list[Network] = []

    def build(n: int, *, behind_nat: bool = False, hop: bool = False) -> Network:
        limits = HopLimits() if hop else None
        net: Network
        if request.param == "memory":
            net = hub.network(f"n{n}", behind_nat=behind_nat, hop=limits)
        else:
            from stig.net.libp2p_net import Libp2pNetwork

            reachability = "private" if behind_nat else "public"
            net = Libp2pNetwork(bytes([n]) * 32, hop=limits, reachability=reachability)
        made.append(net)
        return net

    try:
        yield build
    finally:
        for net in made:
            await net.stop()


async def until(condition: Callable[[], bool], what: str, within: float = 20) -> None:
    """Poll ``condition`` (state, not an event: there is nothing to wait on) until it holds."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    assert condition(), f"waited {within} s for {what}"


async def test_a_node_behind_nat_is_reached_through_its_relay(make: Make) -> None:
    relay, a, b = make(1, hop=True), make(2, behind_nat=True), make(3, behind_nat=True)
    events_b = Events(b)
    try:
        for net in (relay, a, b):
            net.set_validator(TOPIC, rejects_bad)
            await net.subscribe(TOPIC)
            await net.start()
        a.set_stream_handler(ECHO, echo)
        assert relay.reach().state == PUBLIC
        assert a.reach().state == BEHIND_NAT
        assert not a.reach().reachable  # no relay yet: nobody can reach it

        await a.dial(relay.addresses()[0], within=10)
        await until(lambda: a.reach().relays == (relay.peer_id,), "a reservation on the relay")
        (circuit,) = a.reach().advertised
        assert is_circuit(circuit) and circuit.endswith(f"/p2p/{a.peer_id}")
        assert relay.peer_id in circuit

        assert await b.dial(circuit, within=15) == a.peer_id
        # On loopback libp2p may punch through at once (DCUtR, on its own after 2 s): then the
        # route says so; through the relay, it names the relay.
        for net, other in ((b, a), (a, b)):
            await until(lambda n=net, o=other: n.route(o.peer_id) is not None, "a route")  # type: ignore[misc]
            route = net.route(other.peer_id)
            assert route is not None
            assert (route.kind, route.relay) in ((RELAYED, relay.peer_id), (HOLE_PUNCHED, None))

        stream = await b.open_stream(a.peer_id, ECHO, within=10)
        await stream.send(b"through the relay")
        assert await stream.receive() == b"yaler eht hguorht"
        await stream.close()

        await relay.stop()
        await until(lambda: not a.reach().relays, "the reservation to end with its relay")

        # The circuit ends with its relay (docs/architecture.md, trap 9): then A and B are not
        # connected, or connected directly — hole-punched before, or (libp2p on loopback) dialed
        # again by the library's auto-connector at the addresses identify taught it. Never "via"
        # a relay that is gone.
        def circuit_gone() -> bool:
            route = b.route(a.peer_id)
            return route is None or route.kind != RELAYED

        await until(circuit_gone, "the circuit to end with its relay")
    finally:
        await events_b.close()


async def test_a_pair_that_can_punch_moves_off_its_relay_and_outlives_it(make: Make) -> None:
    """DCUtR's promise (docs/protocol.md §8.8), where nothing stands in the way of a punch: the
    twin's port-keeping NATs, and loopback for libp2p. The relayed pair becomes
    ``hole-punched`` on both sides, and stays connected when the relay stops. Which NATs stop
    a punch is checked on the twin (tests/net/test_net_memory_punch.py) and with kernel NAT
    (tests/net/test_net_nat.py)."""
    relay, a, b = make(1, hop=True), make(2, behind_nat=True), make(3, behind_nat=True)
    events_b = Events(b)
    try:
        for net in (relay, a, b):
            net.set_validator(TOPIC, rejects_bad)
            await net.subscribe(TOPIC)
            await net.start()
        a.set_stream_handler(ECHO, echo)
        await a.dial(relay.addresses()[0], within=10)
        await until(lambda: a.reach().relays == (relay.peer_id,), "a reservation on the relay")
        (circuit,) = a.reach().advertised
        assert await b.dial(circuit, within=15) == a.peer_id
        first = b.route(a.peer_id)
        assert first is not None and first.kind in (RELAYED, HOLE_PUNCHED)

        for net, other in ((b, a), (a, b)):
            await until(
                lambda n=net, o=other: getattr(n.route(o.peer_id), "kind", None) == HOLE_PUNCHED,  # type: ignore[misc]
                "the pair to punch through",
                within=30,
            )
        punched = b.route(a.peer_id)
        assert punched is not None and punched.relay is None and punched.since >= first.since

        await relay.stop()
        await until(lambda: not a.reach().relays, "the reservation to end with its relay")
        assert a.peers() == [b.peer_id] and b.peers() == [a.peer_id]
        assert getattr(b.route(a.peer_id), "kind", None) == HOLE_PUNCHED
        assert PeerDown(a.peer_id) not in events_b.seen
        stream = await b.open_stream(a.peer_id, ECHO, within=10)
        await stream.send(b"without the relay")
        assert await stream.receive() == b"yaler eht tuohtiw"
        await stream.close()
    finally:
        await events_b.close()
