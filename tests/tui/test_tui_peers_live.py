"""The Peers page of a node on a live mesh: peers reached directly, through a punched hole and
through a relay, and a bootstrap address that fails (its error in plain words, the next try).
The mesh is the in-memory twin on a stepped clock (stig.net.memory_clock) — every peer a real
MeshNode over a real SQLite home — and the app, its mesh and the twin read that one clock, so
the page is the same on every run. Snapshots at 80×24 and 120×36; after an intended change of
look, review the new pictures and run ``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion
from textual.widgets import DataTable, Static

from stig.net.circuit import HopLimits
from stig.net.hole_punch import NO_NAT, PORT_KEEPING, PORT_RANDOMISING, PUNCH_AFTER, PUNCH_TAKES
from stig.net.memory_clock import SteppedClock
from stig.net.memory_net import MemoryHub, MemoryNetwork
from stig.node.config import Config, NetworkConfig
from stig.node.home import Home
from stig.node.mesh import MeshNode
from stig.store.sqlite import SqliteStore
from stig.tui.app import StigApp
from stig.tui.screens.peers import PeersScreen, short_peer
from tests.tui.homes import NOW, fill, make_home, story
from tests.tui.test_tui_flows import settle, until

pytestmark = pytest.mark.timeout(120)

QUIET = NetworkConfig(sync_interval=3600)
"""One sync per new connection, none after: what the page shows does not move."""


class Peer:
    """A real mesh node on the twin, over a real SQLite home that holds what the page's node
    holds (so every sync finds nothing to move, and says so in the same bytes every run)."""

    def __init__(self, root: Path, net: MemoryNetwork, bootstrap: tuple[str, ...] = ()) -> None:
        self.root = root
        self.net = net
        self.bootstrap = bootstrap
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.store: SqliteStore | None = None
        self.mesh: MeshNode | None = None

    async def start(self, clock: SteppedClock) -> MeshNode:
        home = Home(self.root)
        home.create()
        await fill(home, story())
        self.store = await SqliteStore.open(home.store)
        config = Config(NetworkConfig(bootstrap=self.bootstrap, sync_interval=3600))
        self.mesh = MeshNode(home, self.store, self.net, config, clock=clock.now)
        self.task = asyncio.get_running_loop().create_task(self.mesh.run(self.stop))
        return self.mesh

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 10)
        if self.store is not None:
            await self.store.close()


def reached(app: StigApp, peer: MemoryNetwork) -> str:
    """The page's "reached" cell for ``peer``."""
    table = app.screen.query_one("#peers", DataTable)
    if peer.peer_id not in table.rows:
        return ""
    return str(table.get_row(peer.peer_id)[1])


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_the_peers_page_of_a_node_with_live_peers(
    tmp_path: Path, snapshot: SnapshotAssertion, size: tuple[int, int]
) -> None:
    clock = SteppedClock(float(NOW))
    hub = MemoryHub(clock=clock)
    me = hub.network("me", nat=PORT_KEEPING)
    relay = hub.network("relay", nat=NO_NAT, hop=HopLimits())
    public = hub.network("public", nat=NO_NAT)
    keeping = hub.network("keeping", nat=PORT_KEEPING)
    randomising = hub.network("randomising", nat=PORT_RANDOMISING)
    nowhere = hub.network("nowhere", nat=PORT_KEEPING)  # up, behind NAT, and with no relay
    on_relay = (relay.addresses()[0],)
    peers = [
        Peer(tmp_path / "relay", relay),
        Peer(tmp_path / "public", public),
        Peer(tmp_path / "keeping", keeping, on_relay),
        Peer(tmp_path / "randomising", randomising, on_relay),
    ]
    home = make_home(tmp_path / "home")
    await fill(home, story())
    config = Config(NetworkConfig(bootstrap=(nowhere.addresses()[0],), sync_interval=3600))
    app = StigApp(
        home, network=me, config=config, clock=lambda: int(clock.now()), mesh_clock=clock.now
    )
    await nowhere.start()  # before this node's first dial
    try:
        async with app.run_test(size=size) as pilot:
            meshes = [await peer.start(clock) for peer in peers]
            await until(pilot, lambda: all(m.started.is_set() for m in meshes), "the peers")
            await until(pilot, lambda: app.live.mesh is not None, "this node's mesh")
            mesh = app.live.mesh
            assert mesh is not None
            await until(pilot, mesh.started.is_set, "this node's mesh to start")
            for net in (keeping, randomising):
                await until(pilot, lambda n=net: n.reach().relays != (), "a slot on the relay")  # type: ignore[misc]
            # This node dials as it does a peer added on this page (MeshNode.dial).
            for address in (
                relay.addresses()[0],
                public.addresses()[0],
                keeping.reach().advertised[0],
                randomising.reach().advertised[0],
            ):
                assert await mesh.dial(address) is not None

            def synced() -> bool:
                status = app.session.status
                return status.connected == 4 and all(p.last_sync for p in status.peers)

            await until(pilot, synced, "a sync with each peer")
            clock.advance(PUNCH_AFTER + PUNCH_TAKES)  # the punch through port-keeping NATs
            clock.advance(1.0)
            await pilot.press("p")
            assert isinstance(app.screen, PeersScreen)
            await until(pilot, lambda: reached(app, keeping) == "hole-punched, 1s", "the punch")
            assert reached(app, randomising) == f"via relay {short_peer(relay.peer_id)}, 4s"
            assert reached(app, public) == reached(app, relay) == "direct, 4s"
            failing = str(app.screen.query_one("#failing", Static).render())
            assert nowhere.addresses()[0] in failing
            assert "a firewall or NAT drops the connection" in failing
            assert "failing for 4s (1 try); next try in 1s" in failing
            await settle(pilot)
            await pilot.wait_for_scheduled_animations()
            await settle(pilot)
            assert snapshot.use_extension(SVGImageExtension) == app.export_screenshot()
    finally:
        for peer in peers:
            await peer.close()
        await nowhere.stop()
