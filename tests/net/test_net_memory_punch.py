"""Hole punching in the in-memory twin (stig.net.hole_punch), on a stepped clock: fast and
deterministic, before the namespace tests (tests/net/test_net_nat.py) check the same promises
with real NATs and real libp2p. What DCUtR does there, the twin does here: a relayed pair tries
PUNCH_AFTER seconds after it meets; through port-keeping NATs the route becomes ``hole-punched``
and the relayed connection is closed RELAYED_KEPT_FOR later, so the relay may go; through a
port-randomising NAT the pair keeps its circuit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stig.net.circuit import HopLimits
from stig.net.hole_punch import (
    NAT_KINDS,
    NO_NAT,
    PORT_KEEPING,
    PORT_RANDOMISING,
    PUNCH_AFTER,
    PUNCH_RETRY,
    PUNCH_TAKES,
    PUNCH_TRIES,
    RELAYED_KEPT_FOR,
    punch_succeeds,
)
from stig.net.memory_clock import SteppedClock
from stig.net.memory_net import MemoryHub, MemoryNetwork
from stig.net.network import BEHIND_NAT, HOLE_PUNCHED, RELAYED, PeerDown, PeerUp, Route
from tests.net.test_net_port import ECHO, TOPIC, Events, echo, rejects_bad

pytestmark = pytest.mark.timeout(60)

START = 1_795_000_000.0
PUNCHED_AT = PUNCH_AFTER + PUNCH_TAKES
"""Seconds after a circuit comes up that a punch that works has replaced it."""


class Scene:
    """Nodes on one hub whose clock moves only when told."""

    def __init__(self) -> None:
        self.clock = SteppedClock(START)
        self.hub = MemoryHub(clock=self.clock)
        self.nets: list[MemoryNetwork] = []

    async def node(self, name: str, nat: str = NO_NAT, *, relay: bool = False) -> MemoryNetwork:
        net = self.hub.network(name, nat=nat, hop=HopLimits() if relay else None)
        net.set_validator(TOPIC, rejects_bad)
        net.set_stream_handler(ECHO, echo)
        await net.subscribe(TOPIC)
        await net.start()
        self.nets.append(net)
        return net

    async def reserve(self, net: MemoryNetwork, *relays: MemoryNetwork) -> None:
        for relay in relays:
            await net.dial(relay.addresses()[0], within=5)
        assert net.reach().relays == tuple(sorted(r.peer_id for r in relays))

    async def meet(
        self, dialer: MemoryNetwork, target: MemoryNetwork, relay: MemoryNetwork
    ) -> None:
        """``dialer`` reaches ``target`` at its circuit address on ``relay``."""
        (circuit,) = [a for a in target.reach().advertised if relay.peer_id in a]
        assert await dialer.dial(circuit, within=5) == target.peer_id

    async def close(self) -> None:
        for net in self.nets:
            await net.stop()


@pytest.fixture
async def scene() -> AsyncIterator[Scene]:
    made = Scene()
    try:
        yield made
    finally:
        await made.close()


def kind(net: MemoryNetwork, peer: MemoryNetwork) -> tuple[str, str | None] | None:
    route = net.route(peer.peer_id)
    return None if route is None else (route.kind, route.relay)


async def crosses(a: MemoryNetwork, b: MemoryNetwork) -> bool:
    """Whether a stream from ``a`` reaches ``b`` and comes back."""
    stream = await a.open_stream(b.peer_id, ECHO, within=5)
    await stream.send(b"punch")
    answer = await stream.receive()
    await stream.close()
    return answer == b"hcnup"


@pytest.mark.parametrize(
    ("nat_a", "nat_b", "direct"),
    [
        (PORT_KEEPING, PORT_KEEPING, True),
        (PORT_KEEPING, PORT_RANDOMISING, False),
        (PORT_RANDOMISING, PORT_KEEPING, False),
        (PORT_RANDOMISING, PORT_RANDOMISING, False),
        (PORT_RANDOMISING, NO_NAT, True),  # the public dialer takes the NATed one's dial
    ],
)
async def test_a_relayed_pair_punches_through_where_both_nats_allow_it(
    scene: Scene, nat_a: str, nat_b: str, direct: bool
) -> None:
    r = await scene.node("r", relay=True)
    a, b = await scene.node("a", nat_a), await scene.node("b", nat_b)
    await scene.reserve(a, r)
    await scene.meet(b, a, r)
    for one, other in ((a, b), (b, a)):
        assert kind(one, other) == (RELAYED, r.peer_id)
    assert r.circuits() == [(b.peer_id, a.peer_id)]

    scene.clock.advance(PUNCHED_AT - 0.1)
    assert kind(b, a) == (RELAYED, r.peer_id)  # not before DCUtR has had its time
    scene.clock.advance(0.1 + PUNCH_RETRY * PUNCH_TRIES)
    expected = (HOLE_PUNCHED, None) if direct else (RELAYED, r.peer_id)
    for one, other in ((a, b), (b, a)):
        assert kind(one, other) == expected
    assert scene.hub.punches_tried == (1 if direct else PUNCH_TRIES)
    assert scene.hub.punches_made == (1 if direct else 0)
    if direct:
        assert b.route(a.peer_id) == Route(HOLE_PUNCHED, START + PUNCHED_AT)
    assert await crosses(b, a) and await crosses(a, b)

    # The relayed connection stays beside the direct one for a while, then is closed (or,
    # with no punch, stays for good).
    assert r.circuits() == [(b.peer_id, a.peer_id)]
    scene.clock.advance(RELAYED_KEPT_FOR)
    assert r.circuits() == ([] if direct else [(b.peer_id, a.peer_id)])
    assert kind(b, a) == expected


async def test_after_a_punch_the_relay_may_stop_and_the_pair_stays(scene: Scene) -> None:
    r = await scene.node("r", relay=True)
    a, b = await scene.node("a", PORT_KEEPING), await scene.node("b", PORT_KEEPING)
    events_b = Events(b)
    try:
        await scene.reserve(a, r)
        await scene.reserve(b, r)
        await scene.meet(b, a, r)
        scene.clock.advance(PUNCHED_AT)
        assert kind(b, a) == (HOLE_PUNCHED, None)
        assert r.circuits() == [(b.peer_id, a.peer_id)]  # still open beside the punched one

        await r.stop()
        assert r.circuits() == []
        assert a.reach().state == BEHIND_NAT and a.reach().relays == ()
        assert not a.reach().reachable  # nobody new reaches it now: it has no relay left
        assert a.peers() == [b.peer_id] and b.peers() == [a.peer_id]
        assert kind(a, b) == kind(b, a) == (HOLE_PUNCHED, None)
        scene.clock.advance(RELAYED_KEPT_FOR)  # the timer of a circuit already gone: harmless
        assert kind(b, a) == (HOLE_PUNCHED, None)
        assert await crosses(a, b)
        await a.publish(TOPIC, b"after the relay went")
        pushed = await events_b.wait(lambda e: getattr(e, "data", None) == b"after the relay went")
        assert getattr(pushed, "via", None) == a.peer_id
        assert PeerDown(a.peer_id) not in events_b.seen
    finally:
        await events_b.close()


async def test_a_relay_that_stops_before_the_punch_ends_the_pair(scene: Scene) -> None:
    r = await scene.node("r", relay=True)
    a, b = await scene.node("a", PORT_KEEPING), await scene.node("b", PORT_KEEPING)
    events_b = Events(b)
    try:
        await scene.reserve(a, r)
        await scene.meet(b, a, r)
        scene.clock.advance(PUNCH_AFTER)  # tried; the direct connection is not up yet
        await r.stop()
        await events_b.wait(lambda e: e == PeerDown(a.peer_id))
        assert b.route(a.peer_id) is None and a.peers() == []
        scene.clock.advance(PUNCH_TAKES + RELAYED_KEPT_FOR)
        assert b.route(a.peer_id) is None and a.peers() == []  # no punch for a circuit gone
        assert scene.hub.punches_made == 0
    finally:
        await events_b.close()


async def test_a_timer_of_an_earlier_circuit_does_not_punch_a_later_one(scene: Scene) -> None:
    r = await scene.node("r", relay=True)
    a, b = await scene.node("a", PORT_KEEPING), await scene.node("b", PORT_KEEPING)
    await scene.reserve(a, r)
    await scene.meet(b, a, r)
    scene.clock.advance(PUNCH_AFTER + PUNCH_TAKES / 2)  # the first punch is under way
    await b.hang_up(a.peer_id)
    assert r.circuits() == []
    await scene.meet(b, a, r)
    scene.clock.advance(PUNCH_TAKES)  # the first punch would land now: it must not
    assert kind(b, a) == (RELAYED, r.peer_id)
    scene.clock.advance(PUNCHED_AT)
    assert kind(b, a) == (HOLE_PUNCHED, None)
    assert b.route(a.peer_id) == Route(HOLE_PUNCHED, START + PUNCH_AFTER + PUNCHED_AT + 0.5)


async def test_several_nated_nodes_two_relays_and_one_relay_stopping(scene: Scene) -> None:
    """Six nodes behind NAT, half of each kind, every one with a slot on both relays; each
    reaches every other through the first relay. The port-keeping pairs punch through; every
    pair with a port-randomising end stays relayed, and is cut when that relay stops — then
    reaches again through the second relay, and keeps that circuit."""
    r1, r2 = await scene.node("r1", relay=True), await scene.node("r2", relay=True)
    keeping = [await scene.node(f"k{i}", PORT_KEEPING) for i in range(3)]
    randomising = [await scene.node(f"x{i}", PORT_RANDOMISING) for i in range(3)]
    nodes = keeping + randomising
    for net in nodes:
        await scene.reserve(net, r1, r2)
    pairs = [(p, q) for i, p in enumerate(nodes) for q in nodes[i + 1 :]]
    for p, q in pairs:
        await scene.meet(p, q, r1)
    assert len(r1.circuits()) == len(pairs) == 15
    scene.clock.advance(PUNCHED_AT + PUNCH_RETRY * PUNCH_TRIES)

    def punchable(p: MemoryNetwork, q: MemoryNetwork) -> bool:
        return p in keeping and q in keeping

    for p, q in pairs:
        expected = (HOLE_PUNCHED, None) if punchable(p, q) else (RELAYED, r1.peer_id)
        assert kind(p, q) == kind(q, p) == expected, (p.peer_id, q.peer_id)
    assert scene.hub.punches_made == 3

    await r1.stop()
    for p, q in pairs:
        if punchable(p, q):
            assert kind(p, q) == (HOLE_PUNCHED, None)
        else:
            assert kind(p, q) is None
    for net in nodes:
        assert net.reach().relays == (r2.peer_id,)

    cut = [(p, q) for p, q in pairs if not punchable(p, q)]
    for p, q in cut:
        await scene.meet(p, q, r2)
    assert len(r2.circuits()) == len(cut) == 12
    scene.clock.advance(PUNCHED_AT + PUNCH_RETRY * PUNCH_TRIES + RELAYED_KEPT_FOR)
    for p, q in cut:
        assert kind(p, q) == (RELAYED, r2.peer_id)
    assert len(r2.circuits()) == 12 and scene.hub.punches_made == 3
    for p, q in pairs:
        assert await crosses(p, q)


async def test_a_nated_node_is_not_dialed_at_its_own_address(scene: Scene) -> None:
    a = await scene.node("a", PORT_RANDOMISING)
    b = await scene.node("b")
    events_a = Events(a)
    try:
        with pytest.raises(Exception, match="behind NAT"):
            await b.dial(a.addresses()[0], within=5)
        assert await a.dial(b.addresses()[0], within=5) == b.peer_id  # out is fine
        await events_a.wait(lambda e: e == PeerUp(b.peer_id))
    finally:
        await events_a.close()


def test_nat_kinds_are_checked() -> None:
    hub = MemoryHub()
    with pytest.raises(ValueError, match="nat must be one of"):
        hub.network("a", nat="full-cone")
    with pytest.raises(ValueError, match="nat must be one of"):
        hub.network("a", behind_nat=True, nat=NO_NAT)
    assert hub.network("b", behind_nat=True).nat == PORT_KEEPING
    with pytest.raises(ValueError, match="NAT kind must be one of"):
        punch_succeeds(PORT_KEEPING, "full-cone")


@given(st.sampled_from(NAT_KINDS), st.sampled_from(NAT_KINDS))
def test_a_punch_does_not_depend_on_who_starts_it(one: str, other: str) -> None:
    assert punch_succeeds(one, other) == punch_succeeds(other, one)
    assert punch_succeeds(one, NO_NAT)
    assert punch_succeeds(one, other) <= (
        PORT_RANDOMISING not in (one, other) or NO_NAT in (one, other)
    )


def test_a_stepped_clock_fires_timers_in_order_of_time() -> None:
    clock = SteppedClock(10.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(2.0, lambda: fired.append(("b", clock.now())))
    clock.call_later(1.0, lambda: fired.append(("a", clock.now())))
    clock.call_later(1.0, lambda: clock.call_later(0.5, lambda: fired.append(("c", clock.now()))))
    clock.advance(1.0)
    assert fired == [("a", 11.0)] and clock.pending() == 2
    clock.advance(5.0)
    assert fired == [("a", 11.0), ("c", 11.5), ("b", 12.0)]
    assert clock.now() == 16.0 and clock.pending() == 0
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)


def test_a_node_that_moves_changes_its_kind_of_nat() -> None:
    net = MemoryHub().network("a", nat=PORT_RANDOMISING)
    net.behind_nat = True  # still behind NAT: the kind it had stays
    assert net.nat == PORT_RANDOMISING
    net.behind_nat = False
    assert net.nat == NO_NAT and net.reach().state == "public"
    net.behind_nat = True
    assert net.nat == PORT_KEEPING and net.reach().state == BEHIND_NAT
