"""MeshNode on the in-memory network: push, pull, relay policy, penalties, peer exchange.

Every node here is a real MeshNode over a real SQLite store file in tmp_path; only the network
is the in-memory adapter (MemoryHub), so each test runs in a second or two. The same behaviour
over real libp2p processes is tested in tests/mesh.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgpack
import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR
from stig.crdt.codec import unsigned_bytes
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.crypto.pow import work_bits
from stig.net.memory_net import MemoryHub, MemoryNetwork
from stig.net.network import PeerId, Stream
from stig.node import control, sync
from stig.node.config import Config, NetworkConfig, RelayPolicy, TorConfig
from stig.node.home import Home
from stig.node.ledger import PENALTY_THRESHOLD
from stig.node.mesh import PEERS_PROTOCOL, MeshNode
from stig.node.sync import MAX_FRAME, SYNC_PROTOCOL, TRACES
from stig.node.topics import PUBLIC_TOPIC
from stig.store.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(30)

ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)
CY = Persona("cy", bytes([3]) * 32)
QUIET = 3600.0  # a sync interval no test reaches: only on-connect and explicit syncs run


def now() -> int:
    return int(time.time())


def note(
    body: str, *, by: Persona = ANA, age: int = 0, tags: tuple[str, ...] = (), pow_bits: int = 0
) -> Trace:
    return compose(by, kinds.NOTE, body, now=now() - age, tags=tags, pow_bits=pow_bits)


class RecordingNetwork(MemoryNetwork):
    """The in-memory adapter, remembering what its node published."""

    def __init__(self, hub: MemoryHub, name: str) -> None:
        super().__init__(hub, name)
        self.published: list[bytes] = []

    async def publish(self, topic: str, data: bytes) -> None:
        self.published.append(data)
        await super().publish(topic, data)


@dataclasses.dataclass
class Running:
    node: MeshNode
    store: SqliteStore
    network: RecordingNetwork
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def peer_id(self) -> PeerId:
        return self.network.peer_id

    @property
    def address(self) -> str:
        return self.node.addresses[0]

    @property
    def home(self) -> Home:
        return self.node.home

    async def holds(self, trace: Trace) -> bool:
        return await self.store.get(trace.id) is not None

    async def post(self, *traces: Trace) -> None:
        """Store traces in this node's store, as a local post does."""
        await self.store.add(list(traces), now())


class Mesh:
    """MeshNodes on one MemoryHub; every node is stopped and every store closed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hub = MemoryHub()
        self.running: list[Running] = []
        self.raw: list[MemoryNetwork] = []

    async def start(
        self,
        name: str,
        *,
        bootstrap: tuple[Running, ...] = (),
        relay: RelayPolicy | None = None,
        sync_interval: float = QUIET,
        tor: str = "off",
    ) -> Running:
        home = Home(self.root / name)
        home.create()
        store = await SqliteStore.open(home.store)
        network = RecordingNetwork(self.hub, name)
        config = Config(
            NetworkConfig(
                bootstrap=tuple(b.address for b in bootstrap), sync_interval=sync_interval
            ),
            relay or RelayPolicy(),
            tor=TorConfig(mode=tor),
        )
        node = MeshNode(home, store, network, config)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(node.run(stop))
        running = Running(node, store, network, stop, task)
        self.running.append(running)
        started = asyncio.get_running_loop().create_task(node.started.wait())
        await asyncio.wait({task, started}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        assert node.started.is_set(), f"{name} did not start"
        if bootstrap:
            await until(lambda: all(b.peer_id in network.peers() for b in bootstrap), f"{name} up")
        return running

    async def stop(self, running: Running) -> None:
        if running in self.running:
            self.running.remove(running)
            running.stop.set()
            try:
                await asyncio.wait_for(running.task, 5)
            finally:
                await running.store.close()

    async def raw_peer(self, name: str, *, topic: bool = False) -> MemoryNetwork:
        """A bare network endpoint, not a MeshNode: it does whatever the test makes it do."""
        network = self.hub.network(name)
        if topic:
            await network.subscribe(PUBLIC_TOPIC)
        await network.start()
        self.raw.append(network)
        return network

    async def close(self) -> None:
        for running in list(reversed(self.running)):
            await self.stop(running)
        for network in self.raw:
            await network.stop()


@pytest.fixture
async def mesh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Mesh]:
    caplog.set_level(logging.WARNING, logger="stig")
    created = Mesh(tmp_path)
    try:
        yield created
    finally:
        await created.close()
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], failures  # no node task died along the way


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, within: float = 5.0
) -> float:
    """Wait for ``condition``; return how long it took."""
    started = time.monotonic()
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.01)


async def all_hold(nodes: list[Running], trace: Trace) -> bool:
    return all([await n.holds(trace) for n in nodes])


def junk_pushes(prefix: str) -> dict[str, bytes]:
    """One push per way of being invalid, keyed by the reason the validator gives."""
    fine = note(f"{prefix} forged")
    flipped = fine.signature[:10] + bytes([fine.signature[10] ^ 1]) + fine.signature[11:]
    return {
        "bad_encoding": b"\xc1" + prefix.encode() + b" garbage",
        "too_large": b"\x00" * 20_000 + prefix.encode(),
        "bad_signature": dataclasses.replace(fine, signature=flipped).encoded,
        "expired": compose(ANA, kinds.NOTE, f"{prefix} old", now=now() - 3 * DAY, ttl=DAY).encoded,
        "from_future": compose(ANA, kinds.NOTE, f"{prefix} soon", now=now() + DAY).encoded,
    }


# -- push and pull -----------------------------------------------------------------------------


async def test_a_post_travels_a_chain_of_five_nodes(mesh: Mesh) -> None:
    chain = [await mesh.start("n0")]
    for i in range(1, 5):
        chain.append(await mesh.start(f"n{i}", bootstrap=(chain[-1],)))
    first, last = note("from the end of the chain"), note("from the start of the chain")
    await chain[-1].post(first)
    await chain[0].post(last)
    await until(lambda: all_hold(chain, first), "the post on n4 to reach every node")
    await until(lambda: all_hold(chain, last), "the post on n0 to reach every node")


async def test_a_stopped_node_catches_up_by_sync_alone(mesh: Mesh) -> None:
    a = await mesh.start("a")
    b = await mesh.start("b", bootstrap=(a,))
    await mesh.stop(b)
    missed = [note(f"while b was away {i}", age=i) for i in range(60)]
    await a.post(*missed)
    await until(lambda: len(a.network.published) == 60, "a to publish (to no one)")
    pushes = mesh.hub.pushes_sent

    back = await mesh.start("b", bootstrap=(a,))
    assert back.peer_id == b.peer_id
    record = back.node.ledger.record(a.peer_id)
    await until(lambda: record.last_sync > 0, "b to sync with a")
    assert await back.store.count() == 60
    assert mesh.hub.pushes_sent == pushes  # nothing was pushed: sync brought it all
    assert back.network.copies_received == 0
    assert record.accepted == 60
    assert record.last_sync_result.startswith("ok: ")


# -- hostile peers -----------------------------------------------------------------------------


def _send_frames(*frames: bytes) -> Callable[[MemoryNetwork, Running], Awaitable[None]]:
    async def attack(hostile: MemoryNetwork, target: Running) -> None:
        stream = await hostile.open_stream(target.peer_id, SYNC_PROTOCOL, 1)
        for frame in frames:
            await stream.send(frame)
        # The node answers by resetting the stream: the hostile side sees it end.
        assert await asyncio.wait_for(stream.receive(), 5) is None

    return attack


async def _answer_junk(hostile: MemoryNetwork, target: Running) -> None:
    async def respond(peer: PeerId, stream: Stream) -> None:
        await stream.receive()
        await stream.send(b"\x99junk")

    hostile.set_stream_handler(SYNC_PROTOCOL, respond)
    assert await target.node.sync_with(hostile.peer_id) is None


ATTACKS = {
    "truncated reconciliation frame": ("sync:bad_frame", b"\x01\xff\xff\xff\xff"),
    "unknown frame type": ("sync:bad_frame", b"\x99junk"),
    "WANT that is not msgpack": ("sync:bad_frame", b"\x10\xc1"),
    "oversize frame": ("sync:frame_too_large", b"\x01" + bytes(MAX_FRAME)),
}


@pytest.mark.parametrize("attack", [*ATTACKS, "junk answer to our session"])
async def test_malformed_sync_frames_get_a_peer_cut_off(mesh: Mesh, attack: str) -> None:
    node = await mesh.start("node")
    honest = await mesh.start("honest", bootstrap=(node,))
    hostile = await mesh.raw_peer("hostile")
    await hostile.dial(node.address, 1)
    await until(lambda: hostile.peer_id in node.network.peers(), "the hostile peer to connect")

    if attack in ATTACKS:
        reason, frame = ATTACKS[attack]
        await (_send_frames(frame))(hostile, node)
    else:
        reason = "sync:bad_version"
        await _answer_junk(hostile, node)

    await until(lambda: hostile.peer_id not in node.network.peers(), "the hang-up")
    record = node.node.ledger.record(hostile.peer_id)
    assert dict(record.rejected) == {reason: 1}
    assert node.node.ledger.is_banned(hostile.peer_id, time.time())
    assert node.peer_id not in hostile.peers()
    # It comes back: it is hung up on again at once.
    await hostile.dial(node.address, 1)
    await until(lambda: hostile.peer_id not in node.network.peers(), "the second hang-up")

    # Meanwhile the node serves the honest peer as before: sync and push.
    await until(lambda: node.node.ledger.record(honest.peer_id).last_sync > 0, "on-connect sync")
    assert await honest.node.sync_with(node.peer_id) is not None
    trace = note("business as usual")
    await honest.post(trace)
    await until(lambda: node.holds(trace), "the honest push to arrive")
    assert not node.node.ledger.is_banned(honest.peer_id, time.time())


async def test_invalid_pushes_are_counted_and_never_forwarded(mesh: Mesh) -> None:
    node = await mesh.start("node")
    hostile = await mesh.raw_peer("hostile", topic=True)
    third = await mesh.raw_peer("third", topic=True)
    reached_third: list[bytes] = []
    third.set_validator(PUBLIC_TOPIC, lambda peer, data: reached_third.append(data) is None)
    for peer in (hostile, third):
        await peer.dial(node.address, 1)
    await until(lambda: len(node.network.peers()) == 2, "both peers to connect")

    junk = junk_pushes("first")
    for data in junk.values():
        await hostile.publish(PUBLIC_TOPIC, data)
    valid = note("a valid push among the junk")
    await hostile.publish(PUBLIC_TOPIC, valid.encoded)
    await until(lambda: node.holds(valid), "the valid push to be stored")
    await until(lambda: reached_third == [valid.encoded], "the valid push to be forwarded")
    record = node.node.ledger.record(hostile.peer_id)
    # Accepted is counted once the batch is stored, just after the store shows it: wait for it.
    await until(lambda: record.accepted == 1, "the valid push to be counted")
    assert dict(record.rejected) == dict.fromkeys(junk, 1)
    assert record.accepted == 1
    assert not node.node.ledger.is_banned(hostile.peer_id, time.time())

    # More junk: past the penalty threshold, the peer is cut off.
    for i in range(PENALTY_THRESHOLD):
        await hostile.publish(PUBLIC_TOPIC, b"\xc1 more garbage %d" % i)
    await until(lambda: hostile.peer_id not in node.network.peers(), "the hostile peer cut off")
    assert node.node.ledger.is_banned(hostile.peer_id, time.time())
    assert record.ban_reason.endswith("invalid messages")
    assert reached_third == [valid.encoded]  # no junk travelled a second hop
    assert await node.store.count() == 1


async def test_a_push_is_verified_once_on_its_way_in(mesh: Mesh) -> None:
    """The validator's verdict travels with the push to ingest (stig/node/verdicts.py): the
    trace is stored, and no verdict is left behind, so ingest took it instead of checking the
    bytes again."""
    source = await mesh.start("source")
    node = await mesh.start("node", bootstrap=(source,))
    traces = [note(f"pushed {i}") for i in range(5)]
    await source.post(*traces)
    for trace in traces:
        await until(lambda t=trace: node.holds(t), "every push to be stored")  # type: ignore[misc]
    # (A sync on connect may store some of them first; their pushes are ingested all the same.)
    await until(lambda: len(node.node.admission.verdicts) == 0, "every verdict to be taken")


# -- relay policy --------------------------------------------------------------------------------


async def _published_to_no_one(source: Running, count: int) -> None:
    """Wait for the source's publisher before a relay starts, so that only the relay's sync
    brings these traces (and counts each refusal once), not a gossip push besides."""
    await until(lambda: len(source.network.published) == count, "the source to publish")


async def _synced(relay: Running, source: Running) -> None:
    await until(lambda: relay.node.ledger.record(source.peer_id).last_sync > 0, "the first sync")


async def test_relay_carries_only_the_tags_it_chose(mesh: Mesh) -> None:
    source = await mesh.start("source")
    kept = [note("housing", tags=("housing",)), note("j20", tags=("j20",))]
    refused = [
        note("housing but spam", tags=("housing", "spam")),
        note("another subject", tags=("garden",)),
        note("no tags at all"),
    ]
    await source.post(*kept, *refused)
    await _published_to_no_one(source, 5)
    policy = RelayPolicy(carry_tags=frozenset({"housing", "j20"}), refuse_tags=frozenset({"spam"}))
    relay = await mesh.start("relay", bootstrap=(source,), relay=policy)
    await _synced(relay, source)
    assert [await relay.holds(t) for t in kept + refused] == [True, True, False, False, False]
    record = relay.node.ledger.record(source.peer_id)
    assert dict(record.rejected) == {"refused_tag": 3}  # counted, but not junk:
    assert not relay.node.ledger.is_banned(source.peer_id, time.time())

    # By push: the validator refuses what the relay does not carry, without a penalty.
    spam, marker = note("spam by push", tags=("spam",)), note("by push", tags=("housing",))
    await source.post(spam)
    await source.post(marker)
    await until(lambda: relay.holds(marker), "the carried push")
    assert not await relay.holds(spam)
    assert not relay.node.ledger.is_banned(source.peer_id, time.time())


def _weak(body: str, bits: int) -> Trace:
    """A trace without proof of work whose hash happens to have fewer than ``bits`` bits."""
    for i in range(100):
        trace = note(f"{body} {i}")
        if work_bits(unsigned_bytes(trace)) < bits:
            return trace
    raise AssertionError("no weak trace in 100 tries")


async def test_relay_asks_for_proof_of_work(mesh: Mesh) -> None:
    source = await mesh.start("source")
    weak, strong = _weak("no work", 8), note("some work", pow_bits=8)
    await source.post(weak, strong)
    await _published_to_no_one(source, 2)
    relay = await mesh.start("relay", bootstrap=(source,), relay=RelayPolicy(min_pow_bits=8))
    await _synced(relay, source)
    assert (await relay.holds(weak), await relay.holds(strong)) == (False, True)
    assert dict(relay.node.ledger.record(source.peer_id).rejected) == {"low_pow": 1}

    weak, strong = _weak("no work by push", 8), note("work by push", pow_bits=8)
    await source.post(weak)
    await source.post(strong)
    await until(lambda: relay.holds(strong), "the push with proof of work")
    assert not await relay.holds(weak)


async def test_relay_over_max_traces_evicts_the_lowest_heat(mesh: Mesh) -> None:
    source = await mesh.start("source")
    old = note("old, but reinforced", age=6 * HOUR)
    echoes = [compose(p, kinds.ECHO, now=now(), refs=[old.id]) for p in (BEN, CY)]
    middle = note("middle-aged, alone", age=3 * HOUR)
    new = note("new", age=0)
    await source.post(old, *echoes, middle, new)
    await _published_to_no_one(source, 5)
    relay = await mesh.start("relay", bootstrap=(source,), relay=RelayPolicy(max_traces=4))
    await _synced(relay, source)
    assert await relay.store.count() == 4
    # The oldest trace stays: two other authors reinforced it. The coldest one goes.
    assert not await relay.holds(middle)
    assert all([await relay.holds(t) for t in (old, *echoes, new)])


async def test_relay_keeps_at_most_its_quota_per_author(mesh: Mesh) -> None:
    source = await mesh.start("source")
    by_ana = [note(f"ana {i}", age=i) for i in range(4)]
    by_ben = note("ben", by=BEN)
    await source.post(*by_ana, by_ben)
    await _published_to_no_one(source, 5)
    relay = await mesh.start("relay", bootstrap=(source,), relay=RelayPolicy(author_quota=2))
    await _synced(relay, source)
    assert await relay.store.author_live_count(ANA.public_key, now()) == 2
    assert await relay.holds(by_ben)
    assert dict(relay.node.ledger.record(source.peer_id).rejected) == {"author_quota": 2}

    # By push: ana is at her quota, ben is not.
    more_ana, more_ben = note("ana again"), note("ben again", by=BEN)
    await source.post(more_ana)
    await source.post(more_ben)
    await until(lambda: relay.holds(more_ben), "ben's push")
    assert not await relay.holds(more_ana)
    assert await relay.store.author_live_count(ANA.public_key, now()) == 2

    # One batch (as gossip delivers them): a copy of a stored trace by ben, who is now at his
    # quota, counts once; of three new traces by cy, two fit.
    by_cy = [note(f"cy {i}", by=CY, age=i) for i in range(3)]
    batch = [more_ben.encoded, *(t.encoded for t in by_cy)]
    report = await relay.node.ingest(source.peer_id, batch, pushed=True)
    assert (report.accepted, report.duplicates, dict(report.rejected)) == (
        2,
        1,
        {"author_quota": 1},
    )
    assert await relay.store.author_live_count(CY.public_key, now()) == 2


# -- publishing ----------------------------------------------------------------------------------


async def test_the_publisher_pushes_local_posts_only(mesh: Mesh) -> None:
    a = await mesh.start("a")
    b = await mesh.start("b", bootstrap=(a,))
    assert mesh.hub.pushes_sent == 0
    taken = note("posted on a")
    await a.post(taken)
    await until(lambda: b.holds(taken), "the push to reach b")
    await asyncio.sleep(0.5)  # five publisher polls on b
    assert mesh.hub.pushes_sent == 1  # a → b, and b did not push it back
    assert b.network.published == []

    # `stig post` beside the running node: another connection writes the store file.
    posted = note("posted with the CLI on b")
    other = await SqliteStore.open(b.home.store)
    try:
        await other.add_durable(posted, now())
    finally:
        await other.close()
    took = await until(lambda: a.holds(posted), "the CLI post to reach a")
    assert took < 1.0
    await asyncio.sleep(0.3)
    assert b.network.published == [posted.encoded]
    assert a.network.published == [taken.encoded]
    assert mesh.hub.pushes_sent == 2


# -- reach ---------------------------------------------------------------------------------------


async def test_peer_exchange_grows_a_star_into_a_mesh(mesh: Mesh) -> None:
    hub = await mesh.start("hub")
    leaves = []
    for i in range(4):
        leaves.append(await mesh.start(f"leaf{i}", bootstrap=(hub,)))
        await until(lambda: len(hub.node._known) == len(leaves), "the hub to learn the leaf")
    await until(
        lambda: all(len(leaf.network.peers()) > 1 for leaf in leaves),
        "every leaf to find a peer beyond the bootstrap one",
    )


async def _asked_for_peers(mesh: Mesh, node: Running) -> tuple[PeerId, list[str]]:
    """(the asker, what ``node`` answered): a bare peer dials it and asks whom it knows."""
    asker = await mesh.raw_peer(f"asker-of-{node.network.peer_id}")
    await asker.dial(node.address, 1)
    stream = await asker.open_stream(node.peer_id, PEERS_PROTOCOL, 1)
    frame = await asyncio.wait_for(stream.receive(), 5)
    assert frame is not None
    shared: list[str] = msgpack.unpackb(frame)
    return asker.peer_id, shared


async def test_a_tor_only_node_hands_out_onion_addresses_only(mesh: Mesh) -> None:
    """docs/protocol.md §8.10: asked whom it knows, a tor-only node names no clearnet address,
    neither its own nor its peers' (the in-memory network's addresses stand for clearnet ones);
    a node in plain mode on the same mesh names both. (That it dials none: it has no TCP
    transport at all, tests/tor/test_tor_mesh.py.)"""
    hidden = await mesh.start("hidden", tor="tor-only")
    leaves = [await mesh.start(f"leaf{i}", bootstrap=(hidden,)) for i in range(2)]
    assert (await _asked_for_peers(mesh, hidden))[1] == []
    plain = await mesh.start("plain", bootstrap=(leaves[0],))
    await until(lambda: len(plain.node._known) == 1, "plain to hear from leaf0")
    assert plain.address in (await _asked_for_peers(mesh, plain))[1]


async def test_status_reports_every_peer(mesh: Mesh) -> None:
    node = await mesh.start("node")
    honest = await mesh.start("honest", bootstrap=(node,))
    hostile = await mesh.raw_peer("hostile")
    await hostile.dial(node.address, 1)
    await until(lambda: hostile.peer_id in node.network.peers(), "the hostile peer to connect")
    await (_send_frames(b"\x99junk"))(hostile, node)
    await until(lambda: node.node.ledger.record(honest.peer_id).last_sync > 0, "a sync")
    await until(lambda: hostile.peer_id not in node.network.peers(), "the hang-up")

    status = node.node.status()
    assert json.loads(json.dumps(status)) == status
    assert set(status) == {
        "peer_id",
        "addresses",
        "reach",
        "peers",
        "dialing",
        "moderation",
        "tor",
    }
    assert status["tor"] == {"mode": "off"}
    assert status["reach"]["state"] == "public"  # the in-memory node is behind no NAT
    assert status["reach"]["advertised"] == [node.address]
    assert status["dialing"] == []  # no address failing
    assert status["moderation"] == {
        "refused_authors": 0,
        "followed_personas": 0,
        "muted_by_followed": 0,
    }
    assert status["peer_id"] == node.peer_id
    assert status["addresses"] == [node.address]
    peers = {p["peer"]: p for p in status["peers"]}
    assert set(peers) == {honest.peer_id, hostile.peer_id}
    keys = {
        "peer",
        "connected",
        "last_sync",
        "last_sync_result",
        "bytes_in",
        "bytes_out",
        "accepted",
        "rejected",
        "banned",
        "ban_reason",
        "route",
    }
    assert all(set(p) == keys for p in status["peers"])
    good, bad = peers[honest.peer_id], peers[hostile.peer_id]
    assert good["connected"] and not good["banned"] and good["ban_reason"] == ""
    assert good["route"]["kind"] == "direct" and good["route"]["relay"] is None
    assert bad["route"] is None  # gone: no route
    assert isinstance(good["last_sync"], float) and good["last_sync_result"].startswith("ok: ")
    assert good["rejected"] == {}
    assert not bad["connected"] and bad["banned"] and bad["last_sync"] is None
    assert bad["rejected"] == {"sync:bad_frame": 1} and "0x99" in bad["ban_reason"]
    assert status["peers"][0]["peer"] == honest.peer_id  # connected peers first

    # The same answer over the control socket, as `stig peers --json` gets it.
    asked = await control.ask_status(node.home.control_socket)
    assert asked["peer_id"] == node.peer_id
    assert {p["peer"]: p["banned"] for p in asked["peers"]} == {
        honest.peer_id: False,
        hostile.peer_id: True,
    }


@pytest.mark.parametrize(
    "request_line",
    [b"[" * 4096 + b"\n", b"\xff\xfe not json\n", b"42\n", b"x" * 200_000 + b"\n"],
    ids=["deeply nested", "not utf-8", "not an object", "over the line limit"],
)
async def test_the_control_socket_answers_junk_with_an_error(
    mesh: Mesh, request_line: bytes
) -> None:
    node = await mesh.start("node")
    reader, writer = await asyncio.open_unix_connection(str(node.home.control_socket))
    writer.write(request_line)
    await writer.drain()
    answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
    writer.close()
    assert "error" in answer
    # And it still answers a good request.
    assert (await control.ask_status(node.home.control_socket))["peer_id"] == node.peer_id


# -- admission: charged as they arrive, never for the receiver's clock -------------------------


def _traces_frame(raws: list[bytes]) -> bytes:
    packed = msgpack.packb(raws, use_bin_type=True)
    return bytes([TRACES]) + packed


async def _hostile_connected(mesh: Mesh, node: Running, *, topic: bool = False) -> MemoryNetwork:
    hostile = await mesh.raw_peer("hostile", topic=topic)
    await hostile.dial(node.address, 1)
    await until(lambda: hostile.peer_id in node.network.peers(), "the hostile peer to connect")
    return hostile


async def test_traces_streamed_without_done_are_charged_as_they_arrive(mesh: Mesh) -> None:
    """A sync session that never sends DONE used to be charged never (rejects were counted on
    DONE), and every record it sent was remembered as taken from the network."""
    node = await mesh.start("node")
    hostile = await _hostile_connected(mesh, node)
    stream = await hostile.open_stream(node.peer_id, SYNC_PROTOCOL, 1)
    for i in range(PENALTY_THRESHOLD // 4 + 1):
        await stream.send(_traces_frame([b"\xc1 junk %d %d" % (i, j) for j in range(4)]))
    # No DONE: the node cuts the peer off on the frame that crosses the threshold.
    assert await asyncio.wait_for(stream.receive(), 5) is None
    await until(lambda: hostile.peer_id not in node.network.peers(), "the hang-up")
    record = node.node.ledger.record(hostile.peer_id)
    assert node.node.ledger.is_banned(hostile.peer_id, time.time())
    assert record.rejected["bad_encoding"] >= PENALTY_THRESHOLD
    assert len(node.node.taken) == 0  # nothing stored, nothing remembered


async def test_only_stored_ids_are_remembered_as_taken(mesh: Mesh) -> None:
    node = await mesh.start("node")
    hostile = await _hostile_connected(mesh, node)
    valid = note("stored once")
    await node.node.ingest(hostile.peer_id, [valid.encoded, b"\xc1 junk"], pushed=False)
    assert len(node.node.taken) <= 1
    await until(lambda: len(node.node.taken) == 0, "the publisher to see the stored trace")
    assert valid.encoded not in node.network.published  # taken from the network: not again
    # A copy of a stored trace is a duplicate, not a taken id.
    await node.node.ingest(hostile.peer_id, [valid.encoded] * 3, pushed=False)
    assert len(node.node.taken) == 0


async def test_a_session_over_its_bounds_is_cut_off(
    mesh: Mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "MAX_SESSION_TRACES", 10)
    node = await mesh.start("node")
    hostile = await _hostile_connected(mesh, node)
    stream = await hostile.open_stream(node.peer_id, SYNC_PROTOCOL, 1)
    same = note("the same valid trace, again and again").encoded
    for _ in range(3):
        await stream.send(_traces_frame([same] * 4))
    assert await asyncio.wait_for(stream.receive(), 5) is None
    await until(lambda: hostile.peer_id not in node.network.peers(), "the hang-up")
    assert node.node.ledger.record(hostile.peer_id).rejected["sync:too_much"] == 1


def clock_edge_pushes(count: int) -> list[bytes]:
    """Valid traces at the edge of a receiver's clock: from the future or just expired, by a
    second or two — valid to a node whose clock differs a little."""
    from stig.crdt.bounds import MAX_FUTURE_SKEW

    edge: list[bytes] = []
    for i in range(count):
        ahead = compose(ANA, kinds.NOTE, f"ahead {i}", now=now() + MAX_FUTURE_SKEW + 2)
        behind = compose(ANA, kinds.NOTE, f"behind {i}", now=now() - HOUR - 1, ttl=HOUR)
        edge += [ahead.encoded, behind.encoded]
    return edge


async def test_clock_verdicts_are_never_the_peers_fault(mesh: Mesh) -> None:
    """An outsider pushing traces at the edge of a node's clock used to get the honest
    neighbours that relay them banned (partition attack)."""
    node = await mesh.start("node")
    hostile = await _hostile_connected(mesh, node, topic=True)
    pushes = clock_edge_pushes(PENALTY_THRESHOLD + 5)
    for data in pushes:
        await hostile.publish(PUBLIC_TOPIC, data)
    record = node.node.ledger.record(hostile.peer_id)
    await until(lambda: sum(record.rejected.values()) >= len(pushes), "every push judged")
    # And by sync, too.
    await node.node.ingest(hostile.peer_id, pushes, pushed=False)
    assert set(record.rejected) == {"from_future", "expired"}
    assert not node.node.ledger.is_banned(hostile.peer_id, time.time())
    assert hostile.peer_id in node.network.peers()
