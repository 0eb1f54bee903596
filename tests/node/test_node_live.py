"""LiveNode: the local node plus its mesh in one loop, as the TUI uses it — status modes,
queued posts, a network that fails to start, and a mesh already running elsewhere."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from stig.crypto.persona import Persona
from stig.net.memory_net import MemoryHub, MemoryNetwork
from stig.node import outbox
from stig.node.config import Config, NetworkConfig
from stig.node.home import Home
from stig.node.live import ELSEWHERE, FAILED, OFFLINE, ONLINE, LiveNode
from stig.node.local import Draft, LocalNode, initialise
from stig.node.mesh import MeshNode
from stig.store.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(120)

WITHIN = 30.0
"""Seconds to wait for what a test expects before failing, on a loaded machine."""

QUIET = Config(NetworkConfig(sync_interval=3600))
ANA = Persona("ana", bytes([1]) * 32)


def made(root: Path) -> Home:
    home = Home(root)
    initialise(home)
    return home


async def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


class BrokenNetwork(MemoryNetwork):
    async def start(self) -> list[str]:
        raise OSError(98, "Address already in use")


async def test_offline_posts_are_queued(tmp_path: Path) -> None:
    async with LiveNode.open(made(tmp_path / "a"), config=QUIET) as live:
        status = await live.status()
        assert (status.mode, status.queued, status.connected) == (OFFLINE, 0, 0)
        await live.post(Draft(kind="note", body="hello"), ANA)
        assert (await live.status()).queued == 1


async def test_the_queued_count_is_the_homes_and_survives_a_restart(tmp_path: Path) -> None:
    """Posts of this home from any process count, until a sync covers them, across restarts."""
    home = made(tmp_path / "a")
    async with LiveNode.open(home, config=QUIET) as live:
        await live.post(Draft(kind="note", body="from the terminal UI"), ANA)
    async with LocalNode.open(home) as local:  # as `stig post` does, in another process
        await local.post(Draft(kind="note", body="from the command line"), ANA)
    async with LiveNode.open(home, config=QUIET) as live:
        assert (await live.status()).queued == 2
    outbox.acknowledge(home.outbox, home.synced_file, time.time() + 1)
    async with LiveNode.open(home, config=QUIET) as live:
        assert (await live.status()).queued == 0


async def test_queued_posts_leave_at_the_first_sync(tmp_path: Path) -> None:
    hub = MemoryHub()
    async with LiveNode.open(made(tmp_path / "a"), config=QUIET) as live:
        await live.go_online(hub.network("a"))
        assert (await live.status()).mode == ONLINE
        trace = await live.post(Draft(kind="note", body="said alone"), ANA)
        assert (await live.status()).queued == 1

        other_home = Home(tmp_path / "b")
        other_home.create()
        store = await SqliteStore.open(other_home.store)
        config = Config(NetworkConfig(bootstrap=tuple(live.mesh.addresses), sync_interval=3600))
        other = MeshNode(other_home, store, hub.network("b"), config)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(other.run(stop))
        try:
            await until(lambda: other.ledger.records() != [], "a connection")
            holds: list[bool] = [False]

            async def check() -> bool:
                holds[0] = await store.get(trace.id) is not None
                return holds[0]

            deadline = time.monotonic() + WITHIN
            while not await check():
                assert time.monotonic() < deadline, "the queued post never reached the peer"
                await asyncio.sleep(0.05)
            deadline = time.monotonic() + WITHIN
            while (status := await live.status()).queued:
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.05)
            assert status.connected == 1 and status.last_sync is not None
            await live.post(Draft(kind="note", body="said with a peer"), ANA)
            assert (await live.status()).queued == 0
        finally:
            stop.set()
            await asyncio.wait_for(task, WITHIN)
            await store.close()


async def test_a_network_that_cannot_start_is_a_status_not_a_crash(tmp_path: Path) -> None:
    async with LiveNode.open(made(tmp_path / "a"), config=QUIET) as live:
        await live.go_online(BrokenNetwork(MemoryHub(), "a"))
        status = await live.status()
        assert status.mode == FAILED
        assert "Address already in use" in status.problem
        await live.post(Draft(kind="note", body="still works"), ANA)
        assert [r.trace.body for r in await live.local.feed()] == ["still works"]


async def test_a_mesh_running_for_this_home_is_not_started_twice(tmp_path: Path) -> None:
    home = made(tmp_path / "a")
    store = await SqliteStore.open(home.store)
    running = MeshNode(home, store, MemoryHub().network("node"), QUIET)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(running.run(stop))
    try:
        await asyncio.wait_for(running.started.wait(), WITHIN)
        async with LiveNode.open(home, config=QUIET) as live:
            await live.go_online()  # no network given: it would start libp2p if it had to
            status = await live.status()
            assert status.mode == ELSEWHERE
            assert status.peer_id == running.network.peer_id
            await live.post(Draft(kind="note", body="through the store"), ANA)
            # The running node spreads it, but no peer has acknowledged it by sync: queued.
            assert (await live.status()).queued == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, WITHIN)
        await store.close()
