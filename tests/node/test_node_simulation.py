"""Many MeshNodes on the in-memory network, as benchmarks/propagation.py --memory runs them, at a
size the suite can afford: every post reaches every node by push, and a relay keeps the
connections its config allows.

Not timing tests: every wait is bounded only so that a broken mesh fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.crdt.mutes import mute_body
from stig.crypto.persona import Persona
from stig.net.memory_net import Link, MemoryHub, MemoryNetwork
from stig.node.config import DEFAULT_MAX_CONNECTIONS, Config, NetworkConfig, RelayPolicy
from stig.node.home import Home
from stig.node.mesh import REDIAL_INTERVAL, TURN_AWAY_GRACE, MeshNode
from stig.store.memory import MemoryStore

pytestmark = pytest.mark.timeout(120)

ANA = Persona("ana", bytes([1]) * 32)
QUIET = 3600.0  # no periodic sync: what arrives after the mesh formed came by push
LINK = Link(latency=0.005)


@dataclass
class Node:
    mesh: MeshNode
    store: MemoryStore
    network: MemoryNetwork


class Simulation:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hub = MemoryHub(default_link=LINK, seed=7)
        self.nodes: list[Node] = []
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, bootstrap: tuple[str, ...], max_connections: int) -> Node:
        name = f"n{len(self.nodes)}"
        home = Home(self.root / name)
        home.root.mkdir()
        store = MemoryStore()
        network = self.hub.network(name)
        config = Config(
            NetworkConfig(bootstrap=bootstrap, sync_interval=QUIET, max_connections=max_connections)
        )
        mesh = MeshNode(home, store, network, config)
        self.tasks.append(asyncio.get_running_loop().create_task(mesh.run(self.stop)))
        await asyncio.wait_for(mesh.started.wait(), 10)
        node = Node(mesh, store, network)
        self.nodes.append(node)
        return node

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 60)


@pytest.fixture
async def simulation(tmp_path: Path) -> AsyncIterator[Simulation]:
    created = Simulation(tmp_path)
    try:
        yield created
    finally:
        await created.close()


async def until(condition: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


async def test_every_post_reaches_every_one_of_200_nodes(simulation: Simulation) -> None:
    rng = random.Random(1)
    for _ in range(200):
        earlier = [n.network.addresses()[0] for n in simulation.nodes]
        bootstrap = tuple(rng.sample(earlier, min(3, len(earlier))))
        await simulation.start(bootstrap, DEFAULT_MAX_CONNECTIONS)
    nodes = simulation.nodes

    async def connected() -> bool:
        return all(n.network.peers() for n in nodes)

    await until(connected, "every node has a peer", 30)
    posts = []
    for seq in range(3):
        trace = compose(ANA, kinds.NOTE, f"post {seq}", now=int(time.time()))
        await rng.choice(nodes).store.add_durable(trace, int(time.time()))
        posts.append(trace)

    async def everywhere() -> bool:
        held = [await n.store.get(t.id) for n in nodes for t in posts]
        return all(h is not None for h in held)

    await until(everywhere, "every post at every node", 60)


async def test_a_relay_keeps_the_connections_its_config_allows(simulation: Simulation) -> None:
    relay = await simulation.start((), max_connections=60)
    address = (relay.network.addresses()[0],)
    for _ in range(40):
        await simulation.start(address, DEFAULT_MAX_CONNECTIONS)

    async def all_in() -> bool:
        return len(relay.network.peers()) == 40

    await until(all_in, "40 peers connected to the relay", 30)
    # A node over its cap hangs up on a newcomer TURN_AWAY_GRACE after it came; this one is not.
    await asyncio.sleep(TURN_AWAY_GRACE + 0.5)
    assert len(relay.network.peers()) == 40


async def test_an_ordinary_node_turns_away_peers_beyond_its_cap(simulation: Simulation) -> None:
    hub_node = await simulation.start((), max_connections=DEFAULT_MAX_CONNECTIONS)
    address = (hub_node.network.addresses()[0],)
    for _ in range(40):
        await simulation.start(address, DEFAULT_MAX_CONNECTIONS)

    async def capped() -> bool:
        return len(hub_node.network.peers()) <= DEFAULT_MAX_CONNECTIONS

    await until(capped, f"at most {DEFAULT_MAX_CONNECTIONS} peers", 30)


class CountingNetwork(MemoryNetwork):
    """The in-memory adapter, counting the dials its node makes to each peer."""

    def __init__(self, hub: MemoryHub, name: str) -> None:
        super().__init__(hub, name)
        self.dials: Counter[str] = Counter()

    async def dial(self, address: str, within: float) -> str:
        self.dials[address.rsplit("/p2p/", 1)[-1]] += 1
        return await super().dial(address, within)


async def test_a_node_turned_away_does_not_dial_that_peer_again_soon(
    simulation: Simulation,
) -> None:
    full = await simulation.start((), max_connections=1)
    roomy = await simulation.start((full.network.addresses()[0],), DEFAULT_MAX_CONNECTIONS)
    home = Home(simulation.root / "late")
    home.root.mkdir()
    late = CountingNetwork(simulation.hub, "late")
    # It starts from both: once turned away it still has a peer (a node with none dials even
    # a peer that turned it away: the next test).
    bootstrap = (full.network.addresses()[0], roomy.network.addresses()[0])
    config = Config(NetworkConfig(bootstrap=bootstrap, sync_interval=QUIET))
    # A clock that stands still: how fast this loop runs (a loaded machine) cannot stretch the
    # few seconds between the connection and the hang-up past TURNED_AWAY_WITHIN.
    frozen = time.time()
    node = MeshNode(home, MemoryStore(), late, config, clock=lambda: frozen)
    simulation.tasks.append(asyncio.get_running_loop().create_task(node.run(simulation.stop)))

    full_id = full.network.peer_id

    async def turned_away() -> bool:
        return late.dials[full_id] >= 1 and full_id not in late.peers()

    await until(turned_away, "the full node hangs up on the newcomer", 10)
    # The newcomer has fewer than MAX_PEERS peers, so it would redial its bootstrap peer at its
    # next round (REDIAL_INTERVAL); it remembers that this one turned it away.
    await asyncio.sleep(REDIAL_INTERVAL + 1)
    assert late.peers() == [roomy.network.peer_id]
    assert late.dials[full_id] == 1


async def test_a_node_every_peer_turned_away_dials_its_bootstrap_peer_again(
    simulation: Simulation,
) -> None:
    """Its bootstrap peer is full and turns the newcomer away; the one peer that one knows is
    full too: the newcomer has no peer left. Once the bootstrap peer has room, the newcomer
    gets in at a next round of redials, though that peer turned it away less than
    TURNED_AWAY_FOR ago (it waited that long before)."""
    full = await simulation.start((), max_connections=1)
    other = await simulation.start((full.network.addresses()[0],), max_connections=1)
    home = Home(simulation.root / "late")
    home.root.mkdir()
    late = CountingNetwork(simulation.hub, "late")
    config = Config(NetworkConfig(bootstrap=(full.network.addresses()[0],), sync_interval=QUIET))
    frozen = time.time()  # as above: the hang-ups are read as turning away, whatever the load
    node = MeshNode(home, MemoryStore(), late, config, clock=lambda: frozen)
    simulation.tasks.append(asyncio.get_running_loop().create_task(node.run(simulation.stop)))
    full_id, other_id = full.network.peer_id, other.network.peer_id

    async def alone() -> bool:
        return late.dials[full_id] >= 1 and not late.peers() and full.network.peers() == [other_id]

    await until(alone, "both full nodes turn the newcomer away", 15)
    full.mesh.config = Config(NetworkConfig(sync_interval=QUIET, max_connections=2))

    async def let_in() -> bool:
        return full_id in late.peers()

    await until(let_in, "the newcomer dials its bootstrap peer again", 3 * REDIAL_INTERVAL)
    await asyncio.sleep(TURN_AWAY_GRACE + 0.5)  # and it stays: there is room now
    assert full_id in late.peers()


async def test_mutes_followed_by_a_reloaded_policy_apply(simulation: Simulation) -> None:
    """A node that follows no one's mutes does not refresh them on a timer; a new policy that
    follows someone (a SIGHUP's reload: apply_policy) takes effect all the same."""
    node = await simulation.start((), DEFAULT_MAX_CONNECTIONS)
    friend, spammer = Persona("friend", bytes([5]) * 32), Persona("spam", bytes([6]) * 32)
    mute = compose(friend, kinds.MUTE, mute_body(spammer.public_key), now=int(time.time()))
    await node.store.add([mute], int(time.time()))
    assert node.mesh.admission.muted == frozenset()
    node.mesh.apply_policy(RelayPolicy(follow_mutes=frozenset({friend.public_key})))

    async def muted() -> bool:
        return node.mesh.admission.muted == frozenset({spammer.public_key})

    await until(muted, "the followed persona's mute applies", 10)
