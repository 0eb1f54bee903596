"""Reach through a relay, on the in-memory twin (fast): nodes behind NAT that know only a relay
find each other's circuit addresses by peer exchange, meet through the relay, and say so; then
punch through where their NATs allow it (the twin's DCUtR on a stepped clock), as the
namespace tests (tests/net/test_net_nat.py) check with kernel NAT and real processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stig.crdt.compose import compose
from stig.crypto.persona import Persona
from stig.net.circuit import HopLimits
from stig.net.hole_punch import (
    PORT_KEEPING,
    PORT_RANDOMISING,
    PUNCH_AFTER,
    PUNCH_RETRY,
    PUNCH_TAKES,
    PUNCH_TRIES,
    RELAYED_KEPT_FOR,
)
from stig.net.memory_clock import SteppedClock
from stig.net.memory_net import MemoryHub
from stig.net.network import BEHIND_NAT, HOLE_PUNCHED, PUBLIC, RELAYED
from stig.node.clock import now
from stig.node.config import Config, NetworkConfig
from stig.node.home import Home
from stig.node.mesh import MeshNode
from stig.store.sqlite import SqliteStore
from tests.net.test_net_port import until

pytestmark = pytest.mark.timeout(60)


class Nodes:
    """Mesh nodes on one hub; the hub and every node read one stepped clock (it moves when a
    test says: the twin's hole punching waits for it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = SteppedClock(now())
        self.hub = MemoryHub(clock=self.clock)
        self.stops: dict[MeshNode, tuple[asyncio.Event, asyncio.Task[None], SqliteStore]] = {}

    async def start(
        self,
        name: str,
        *,
        behind_nat: bool = False,
        nat: str | None = None,
        hop: bool = False,
        bootstrap: str = "",
    ) -> MeshNode:
        home = Home(self.root / name)
        home.create()
        store = await SqliteStore.open(home.store)
        network = self.hub.network(
            name, behind_nat=behind_nat, nat=nat, hop=HopLimits() if hop else None
        )
        config = Config(NetworkConfig(bootstrap=(bootstrap,) if bootstrap else (), sync_interval=1))
        node = MeshNode(home, store, network, config, clock=self.clock.now)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(node.run(stop))
        self.stops[node] = (stop, task, store)
        await until(node.started.is_set, f"{name} to start")
        return node

    async def stop(self, node: MeshNode) -> None:
        stop, task, store = self.stops.pop(node)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        await store.close()

    async def close(self) -> None:
        for node in reversed(list(self.stops)):
            await self.stop(node)


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Nodes]:
    made = Nodes(tmp_path)
    try:
        yield made
    finally:
        await made.close()


async def test_nodes_behind_nat_meet_through_the_relay_they_share(nodes: Nodes) -> None:
    relay = await nodes.start("r", hop=True)
    a = await nodes.start("a", behind_nat=True, bootstrap=relay.addresses[0])
    b = await nodes.start("b", behind_nat=True, bootstrap=relay.addresses[0])
    a_id = a.network.peer_id

    assert relay.status()["reach"]["state"] == PUBLIC
    await until(lambda: a.status()["reach"]["relays"] == [relay.network.peer_id], "a's slot")
    reach = a.status()["reach"]
    assert reach["state"] == BEHIND_NAT and reach["reachable"]
    assert a.advertised() == [f"{relay.addresses[0]}/p2p-circuit/p2p/{a_id}"]
    await until(  # what stig addr and invites read follows within REACH_POLL
        lambda: a.home.addresses_file.read_text().split() == a.advertised(), "the addrs file"
    )

    # B asks R whom it knows at each periodic sync; R learnt A's circuit address the same way.
    await until(lambda: b.network.route(a_id) is not None, "b to reach a through r", 30)
    route = b.network.route(a_id)
    assert route is not None and (route.kind, route.relay) == (RELAYED, relay.network.peer_id)
    shown = {p["peer"]: p for p in b.status()["peers"]}
    assert shown[a_id]["route"]["kind"] == RELAYED

    trace = compose(
        Persona.generate("ana"), "note", "through the relay", now=int(nodes.clock.now())
    )
    await a.store.add([trace], nodes.clock.now())
    await until(lambda: b.ledger.record(a_id).accepted + b.ledger.record(
        relay.network.peer_id).accepted > 0, "the trace to reach b", 30)  # fmt: skip


@pytest.mark.parametrize(("nat", "punched"), [(PORT_KEEPING, True), (PORT_RANDOMISING, False)])
async def test_behind_two_nats_a_pair_punches_through_where_the_nats_allow(
    nodes: Nodes, nat: str, punched: bool
) -> None:
    """tests/net/test_net_nat.py's promise, on the twin: behind port-keeping NATs A and B end
    up directly connected and R may go; behind port-randomising NATs they keep the circuit.
    Traces cross either way."""
    relay = await nodes.start("r", hop=True)
    a = await nodes.start("a", nat=nat, bootstrap=relay.addresses[0])
    b = await nodes.start("b", nat=nat, bootstrap=relay.addresses[0])
    a_id, r_id = a.network.peer_id, relay.network.peer_id
    await until(lambda: b.network.route(a_id) is not None, "b to reach a through r", 30)
    assert b.status()["reach"]["relays"] == [r_id]

    nodes.clock.advance(PUNCH_AFTER + PUNCH_TAKES + PUNCH_RETRY * PUNCH_TRIES)
    shown = {p["peer"]: p for p in b.status()["peers"]}
    route = shown[a_id]["route"]
    assert (route["kind"], route["relay"]) == ((HOLE_PUNCHED, None) if punched else (RELAYED, r_id))

    persona = Persona.generate("ana")
    first = compose(persona, "note", f"behind {nat} NATs", now=int(nodes.clock.now()))
    await a.store.add([first], nodes.clock.now())
    await until(lambda: b.ledger.record(a_id).accepted + b.ledger.record(
        r_id).accepted > 0, "a's post to reach b", 30)  # fmt: skip
    if not punched:
        return
    nodes.clock.advance(RELAYED_KEPT_FOR)  # the relayed connection is closed
    await nodes.stop(relay)
    await until(lambda: not a.status()["reach"]["relays"], "a's slot to end with r")
    assert [p["peer"] for p in b.status()["peers"] if p["connected"]] == [a_id]
    assert getattr(b.network.route(a_id), "kind", None) == HOLE_PUNCHED
    before = b.ledger.record(a_id).accepted
    later = compose(persona, "note", "after the relay went away", now=int(nodes.clock.now()))
    await a.store.add([later], nodes.clock.now())
    await until(lambda: b.ledger.record(a_id).accepted > before, "a post across the hole", 30)
