"""Reach through a relay, on the in-memory twin (fast): nodes behind NAT that know only a relay
find each other's circuit addresses by peer exchange, meet through the relay, and say so."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stig.crdt.compose import compose
from stig.crypto.persona import Persona
from stig.net.circuit import HopLimits
from stig.net.memory_net import MemoryHub
from stig.net.network import BEHIND_NAT, PUBLIC, RELAYED
from stig.node.clock import now
from stig.node.config import Config, NetworkConfig
from stig.node.home import Home
from stig.node.mesh import MeshNode
from stig.store.sqlite import SqliteStore
from tests.net.test_net_port import until

pytestmark = pytest.mark.timeout(60)


class Nodes:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hub = MemoryHub()
        self.stops: list[tuple[asyncio.Event, asyncio.Task[None], SqliteStore]] = []

    async def start(
        self, name: str, *, behind_nat: bool = False, hop: bool = False, bootstrap: str = ""
    ) -> MeshNode:
        home = Home(self.root / name)
        home.create()
        store = await SqliteStore.open(home.store)
        network = self.hub.network(name, behind_nat=behind_nat, hop=HopLimits() if hop else None)
        config = Config(NetworkConfig(bootstrap=(bootstrap,) if bootstrap else (), sync_interval=1))
        node = MeshNode(home, store, network, config)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(node.run(stop))
        self.stops.append((stop, task, store))
        await until(node.started.is_set, f"{name} to start")
        return node

    async def close(self) -> None:
        for stop, task, store in reversed(self.stops):
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
            await store.close()


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

    trace = compose(Persona.generate("ana"), "note", "through the relay", now=int(now()))
    await a.store.add([trace], now())
    await until(lambda: b.ledger.record(a_id).accepted + b.ledger.record(
        relay.network.peer_id).accepted > 0, "the trace to reach b", 30)  # fmt: skip
