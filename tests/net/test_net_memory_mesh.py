"""The in-memory network's gossip mesh (stig.net.memory_net): the behaviour of GossipSub's mesh
that the simulations rely on, beyond what the port check (test_net_port.py) asks of every
adapter."""

from __future__ import annotations

import asyncio
import gc
import weakref

from stig.net.memory_net import MESH_DEGREE_HIGH, MemoryHub, MemoryNetwork
from stig.net.network import PeerId, Pushed, Stream

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


async def test_a_stream_closed_at_both_ends_is_freed_without_the_cyclic_collector() -> None:
    """The two ends of an in-memory stream refer to each other until each is closed: the
    10,000-node simulation runs with the cyclic collector off, and each stream pair it left
    behind was garbage it kept."""
    hub = MemoryHub()
    a, b = await started(hub, "a"), await started(hub, "b")
    done = asyncio.Event()
    ends: list[weakref.ref[object]] = []

    async def echo(_: PeerId, stream: Stream) -> None:
        ends.append(weakref.ref(stream))
        frame = await stream.receive()
        assert frame is not None
        await stream.send(frame)
        await stream.close()
        done.set()

    b.set_stream_handler("/echo", echo)
    await a.dial(b.addresses()[0], 1.0)
    stream = await a.open_stream(b.peer_id, "/echo", 1.0)
    await stream.send(b"ping")
    assert await asyncio.wait_for(stream.receive(), 5.0) == b"ping"
    await asyncio.wait_for(done.wait(), 5.0)
    assert await asyncio.wait_for(stream.receive(), 5.0) is None  # b closed its end
    await stream.close()
    await asyncio.sleep(0.1)  # the handler's task is done with its end
    ends.append(weakref.ref(stream))
    gc.disable()
    try:
        del stream
        assert [end() for end in ends] == [None, None]
    finally:
        gc.enable()


async def test_peers_follow_each_connection_and_hang_up_and_are_the_caller_s_own_list() -> None:
    """MemoryNetwork keeps its sorted peer list between changes: it must still change with
    every connection and hang-up, on both sides, and a caller's list is its own."""
    hub = MemoryHub()
    a, b, c = await started(hub, "a"), await started(hub, "b"), await started(hub, "c")
    assert a.peers() == []
    await a.dial(b.addresses()[0], 1.0)
    await c.dial(a.addresses()[0], 1.0)
    assert a.peers() == sorted([b.peer_id, c.peer_id])
    assert b.peers() == [a.peer_id]
    mine = a.peers()
    mine.clear()
    assert a.peers() == sorted([b.peer_id, c.peer_id])
    await b.hang_up(a.peer_id)
    assert a.peers() == [c.peer_id]
    assert b.peers() == []
    await a.hang_up(c.peer_id)
    assert a.peers() == [] and c.peers() == []
