"""The in-memory network's gossip mesh (stig.net.memory_net): the behaviour of GossipSub's mesh
that the simulations rely on, beyond what the port check (test_net_port.py) asks of every
adapter."""

from __future__ import annotations

import asyncio

from stig.net.memory_net import MESH_DEGREE_HIGH, MemoryHub, MemoryNetwork
from stig.net.network import Pushed

TOPIC = "t"


async def started(hub: MemoryHub, name: str) -> MemoryNetwork:
    net = hub.network(name)
    await net.subscribe(TOPIC)
    await net.start()
    return net


async def test_a_node_whose_mesh_peers_hang_up_grafts_a_peer_still_connected() -> None:
    hub = MemoryHub(mesh_degree=MESH_DEGREE_HIGH)
    # R is full: its mesh has MESH_DEGREE_HIGH peers, so it takes no graft from a node that
    # already has MESH_DEGREE_LOW mesh peers.
    r = await started(hub, "r")
    for i in range(MESH_DEGREE_HIGH):
        f = await started(hub, f"f{i}")
        await f.dial(r.addresses()[0], 1.0)
    assert len(r.mesh_peers(TOPIC)) == MESH_DEGREE_HIGH
    x = await started(hub, "x")
    p, q = await started(hub, "p"), await started(hub, "q")
    await x.dial(p.addresses()[0], 1.0)
    await x.dial(q.addresses()[0], 1.0)
    await x.dial(r.addresses()[0], 1.0)
    assert set(x.mesh_peers(TOPIC)) == {p.peer_id, q.peer_id}  # R was full

    # P and Q turn X away: R is X's only peer, and X must take it into its mesh (and R X).
    await p.hang_up(x.peer_id)
    await q.hang_up(x.peer_id)
    assert x.peers() == [r.peer_id]
    assert x.mesh_peers(TOPIC) == [r.peer_id]
    assert x.peer_id in r.mesh_peers(TOPIC)

    await r.publish(TOPIC, b"a push from R")
    events = x.events()
    while True:
        event = await asyncio.wait_for(anext(events), 5.0)
        if isinstance(event, Pushed):
            break
    assert event.data == b"a push from R"
