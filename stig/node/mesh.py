"""The mesh node: the asyncio service that puts a home's store on the network
(DESIGN.md §3; docs/protocol.md §8).

* **Push** — every stored trace is published on the public topic; pushes that arrive pass the
  validator (full validation, per-peer rate limit and penalties, relay policy) before they are
  forwarded or delivered, then the ingest pipeline before they are stored.
* **Pull** — on every new connection (the peer with the smaller id starts) and every
  ``sync_interval`` (config), a sync session reconciles the two stores and fetches what each lacks.
* **Posts from other processes** — ``stig post`` writes to the store; the node notices new rows
  (``store.stored_after``, every PUBLISH_POLL) and publishes them. A trace the node itself took
  from the network is not published again: gossip already carries it.
* **Reach** — bootstrap addresses are redialled until connected; peer exchange
  (``/stig/peers/1``) shares addresses so a mesh started from one bootstrap peer does not stay a
  tree; every dial is bounded in time.
* **Its operator** — ``report`` answers the control socket (peers, and the stats of
  stig.node.stats); with ``on_stats``, a stats interval is handed over every
  ``relay.stats_interval``; ``apply_policy`` swaps the relay policy of the running node (SIGHUP),
  connections untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import msgpack

from stig.crdt.reconcile import SyncError
from stig.errors import StigError
from stig.node import control, outbox, sync
from stig.node.admission import Admission, Session, Taken
from stig.node.clock import now as clock_now
from stig.node.config import Config, RelayPolicy
from stig.node.dialing import Dialing
from stig.node.groups import Groups
from stig.node.home import Home
from stig.node.ingest import IngestReport
from stig.node.ledger import Ledger
from stig.node.network import Network, NetworkError, PeerDown, PeerId, PeerUp, Pushed, Stream
from stig.node.rooms import collect_groups
from stig.node.stats import Interval, Reporter, Snapshot, disk_use, snapshot_json
from stig.node.sync_set import SyncSet
from stig.node.topics import PUBLIC_TOPIC
from stig.store.port import Store

log = logging.getLogger("stig.node")

PUBLISH_POLL = 0.02
"""How often the node looks for traces another process stored: a post's first hop waits
half of this on average, so it is a direct share of propagation time."""
PUBLISH_BATCH = 500
REDIAL_INTERVAL = 5.0
GC_INTERVAL = 600.0
DIAL_WITHIN = 5.0
STREAM_WITHIN = 5.0
SYNC_WITHIN = 60.0
"""A whole sync session, fetch included, must end within this; a stalling peer is cut off."""
PUSH_BATCH_DELAY = 0.005
"""Pushes are ingested in small batches: one store transaction per batch, not per trace. Each
hop waits this long, so it stays small."""
MAX_PEERS = 8
"""Peer exchange dials new peers only while fewer than this are connected."""
MAX_CONNECTIONS = 32
"""A node keeps at most this many connections; a newcomer beyond it gets the peer exchange
answer (so it can find others) and is then hung up on, so early nodes do not become hubs."""
TURN_AWAY_GRACE = 2.0
PEERS_PROTOCOL = "/stig/peers/1"
MAX_SHARED_ADDRESSES = 32
MUTES_REFRESH = 2.0
"""Seconds between two readings of the published mutes a relay follows."""


class MeshNode:
    def __init__(
        self,
        home: Home,
        store: Store,
        network: Network,
        config: Config,
        *,
        clock: Callable[[], float] = clock_now,
        on_stats: Callable[[Interval], None] | None = None,
    ) -> None:
        self.home = home
        self.store = store
        self.network = network
        self.config = config
        self.policy: RelayPolicy = config.relay
        self.clock = clock
        self.ledger = Ledger()
        self.addresses: list[str] = []
        self._known: dict[PeerId, list[str]] = {}  # addresses peers told us, for peer exchange
        self.taken = Taken()
        # The addresses this node dials (bootstrap, and any dialed by hand), and how that goes.
        self.dialing: dict[str, Dialing] = {}
        self.admission = Admission(self.policy, store, self.ledger, clock, self._cut_off_soon)
        # What sync reconciles, kept current between sessions rather than read and sorted
        # for each one.
        self.sync_set = SyncSet(store)
        self._pushes: asyncio.Queue[tuple[PeerId, bytes]] = asyncio.Queue()
        self._syncing: set[PeerId] = set()
        self._sync_turn = asyncio.Lock()
        # Ingests (push batches, sync sessions) take turns: the author quota is checked against
        # the store, so two ingests side by side could each admit the last free place.
        self.ingest_turn = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started = asyncio.Event()
        self._on_stats = on_stats
        self.reporter = Reporter(
            self.stats, config.monitoring.stats_interval, on_stats or (lambda _: None)
        )

    # -- life --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then stop the network and return."""
        self._loop = asyncio.get_running_loop()
        self.network.set_validator(PUBLIC_TOPIC, self.admission.judge_push)
        self.network.set_stream_handler(sync.SYNC_PROTOCOL, self._serve_sync)
        self.network.set_stream_handler(PEERS_PROTOCOL, self._serve_peers)
        await self.network.subscribe(PUBLIC_TOPIC)
        self.addresses = await self.network.start()
        server = await control.serve(self.home.control_socket, self.report, stop.set)
        try:
            self._write_addresses()
            cursor = await self.store.cursor()
            for job in (
                self.sync_set.snapshot(int(self.clock())),  # read once, before any session
                self._events(),
                self._ingest_pushes(),
                self._publish_from(cursor),
                self._sync_periodically(),
                self._redial(),
                self._collect_periodically(),
                self._follow_mutes(),
            ):
                self._spawn(job)
            if self._on_stats is not None and self.config.monitoring.stats_interval > 0:
                self._spawn(self.reporter.run())
            self.started.set()
            await stop.wait()
        finally:
            server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.network.stop()
            with contextlib.suppress(FileNotFoundError):
                self.home.addresses_file.unlink()
            with contextlib.suppress(FileNotFoundError):
                self.home.control_socket.unlink()

    def _spawn(self, job: Any) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("node task failed", exc_info=task.exception())

    def _write_addresses(self) -> None:
        path = self.home.addresses_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(a + "\n" for a in self.addresses), encoding="utf-8")
        tmp.replace(path)

    # -- push ----------------------------------------------------------------------------------

    def _cut_off_soon(self, peer: PeerId) -> None:
        """Admission's verdict that a peer crossed the penalty threshold: hang up on it (called
        from either thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._spawn, self.network.hang_up(peer))

    async def _ingest_pushes(self) -> None:
        while True:
            batch = [await self._pushes.get()]
            await asyncio.sleep(PUSH_BATCH_DELAY)
            while not self._pushes.empty():
                batch.append(self._pushes.get_nowait())
            by_peer: dict[PeerId, list[bytes]] = {}
            for peer, data in batch:
                by_peer.setdefault(peer, []).append(data)
            for peer, raws in by_peer.items():
                await self.ingest(peer, raws, pushed=True)

    async def ingest(self, peer: PeerId, raws: list[bytes], *, pushed: bool) -> IngestReport:
        """Validate, apply policy, store; count per peer. Never raises for bad input."""
        session = self.session(peer, pushed=pushed)
        await session.add(raws)
        return await session.finish()

    def session(self, peer: PeerId, *, pushed: bool) -> Session:
        return Session(
            self.admission,
            self.store,
            self.taken,
            self.ingest_turn,
            peer,
            pushed=pushed,
            now=self.clock(),
        )

    async def _publish_from(self, cursor: int) -> None:
        while True:
            cursor, raws = await self.store.stored_after(cursor, PUBLISH_BATCH)
            for raw in raws:
                tid = hashlib.blake2b(raw, digest_size=32).digest()
                if not self.taken.publishable(tid):
                    continue
                try:
                    await self.network.publish(PUBLIC_TOPIC, raw)
                except NetworkError as exc:
                    log.warning("publish failed: %s", exc)
            if not raws:
                await asyncio.sleep(PUBLISH_POLL)

    # -- events ----------------------------------------------------------------------------------

    async def _events(self) -> None:
        async for event in self.network.events():
            if isinstance(event, Pushed):
                self._pushes.put_nowait((event.via, event.data))
            elif isinstance(event, PeerUp):
                record = self.ledger.record(event.peer)
                record.connected = True
                if self.ledger.is_banned(event.peer, self.clock()):
                    self._spawn(self.network.hang_up(event.peer))
                    continue
                if len(self.network.peers()) > MAX_CONNECTIONS:
                    self._spawn(self._turn_away(event.peer))
                    continue
                self._spawn(self._exchange_peers(event.peer))
                if self.network.peer_id < event.peer:
                    self._spawn(self.sync_with(event.peer))
            elif isinstance(event, PeerDown):
                self.ledger.record(event.peer).connected = False
                self._known.pop(event.peer, None)  # only connected peers' addresses are shared

    # -- pull ------------------------------------------------------------------------------------

    async def sync_with(self, peer: PeerId) -> sync.SyncStats | None:
        """One sync session with ``peer``, as initiator. Errors are recorded, never raised."""
        if peer in self._syncing:
            return None
        began = self.clock()
        self._syncing.add(peer)
        record = self.ledger.record(peer)
        # One outgoing session at a time: after a reconnect, the first peer brings most of
        # what was missed and later sessions only the rest, instead of all fetching it all.
        await self._sync_turn.acquire()
        try:
            stream = await self.network.open_stream(peer, sync.SYNC_PROTOCOL, STREAM_WITHIN)
            try:
                async with asyncio.timeout(SYNC_WITHIN):
                    now = int(self.clock())
                    stats = await sync.initiate(
                        stream,
                        self.store,
                        self.session(peer, pushed=False),
                        now,
                        await self.sync_set.snapshot(now),
                    )
            finally:
                await stream.close()
        except SyncError as exc:
            await self._cut_off(peer, f"sync:{exc.reason.value}", str(exc))
            return None
        except (NetworkError, TimeoutError) as exc:
            record.last_sync_result = f"failed: {exc or 'timeout'}"
            return None
        finally:
            self._sync_turn.release()
            self._syncing.discard(peer)
        self._account(peer, stats, began)
        if stats.more:
            # More than one session carries (a fresh node, a long absence): go on at once.
            self._spawn(self.sync_with(peer))
        return stats

    async def _serve_sync(self, peer: PeerId, stream: Stream) -> None:
        began = self.clock()
        try:
            async with asyncio.timeout(SYNC_WITHIN):
                now = int(self.clock())
                stats = await sync.respond(
                    stream,
                    self.store,
                    self.session(peer, pushed=False),
                    now,
                    await self.sync_set.snapshot(now),
                )
        except SyncError as exc:
            await stream.reset()
            await self._cut_off(peer, f"sync:{exc.reason.value}", str(exc))
            return
        except (NetworkError, TimeoutError):
            await stream.reset()
            return
        await stream.close()
        self._account(peer, stats, began)

    def _account(self, peer: PeerId, stats: sync.SyncStats, began: float) -> None:
        if not stats.more:
            # The peer now holds every live trace this home had when the session began: the
            # posts made before then are no longer queued (stig.node.outbox).
            outbox.acknowledge(self.home.outbox, self.home.synced_file, began)
        record = self.ledger.record(peer)
        record.last_sync = self.clock()
        record.bytes_in += stats.bytes_received
        record.bytes_out += stats.bytes_sent
        record.last_sync_result = (
            f"ok: {stats.received_traces} in, {stats.sent_traces} out, "
            f"{stats.round_trips} round trips"
        )

    async def _cut_off(self, peer: PeerId, reason: str, detail: str) -> None:
        """A peer that broke the protocol: counted, banned for a while, disconnected."""
        now = self.clock()
        self.ledger.reject(peer, reason, now)
        self.ledger.ban(peer, now, detail)
        log.warning("cut off %s: %s", peer, detail)
        with contextlib.suppress(StigError):
            await self.network.hang_up(peer)

    async def _sync_periodically(self) -> None:
        while True:
            # Jittered, so nodes started together do not sync in lockstep.
            await asyncio.sleep(self.config.network.sync_interval * random.uniform(0.8, 1.2))
            peers = self.network.peers()
            if peers:
                await self.sync_with(random.choice(peers))

    # -- reach -----------------------------------------------------------------------------------

    async def _redial(self) -> None:
        """Dial every bootstrap address that is not connected, again and again (less and less
        often while it fails: stig.node.dialing)."""
        while True:
            connected = set(self.network.peers())
            for address in self.config.network.bootstrap:
                peer = address.rsplit("/p2p/", 1)[-1]
                state = self.dialing.setdefault(address, Dialing(address))
                if peer in connected:
                    state.reached()
                elif state.due(self.clock()) and not self.ledger.is_banned(peer, self.clock()):
                    await self.dial(address)
            await asyncio.sleep(REDIAL_INTERVAL)

    async def dial(self, address: str, *, remember: bool = True) -> PeerId | None:
        """Dial ``address``; with ``remember``, keep how that went for the status (addresses
        learnt by peer exchange are not kept: any peer could send thousands)."""
        if not remember:
            try:
                return await self.network.dial(address, DIAL_WITHIN)
            except NetworkError as exc:
                log.debug("cannot reach %s (from peer exchange): %s", address, exc)
                return None
        state = self.dialing.setdefault(address, Dialing(address))
        try:
            peer = await self.network.dial(address, DIAL_WITHIN)
        except NetworkError as exc:
            if state.failed(exc, self.clock()):
                log.warning("cannot reach %s: %s", address, state.error)
            else:
                log.debug("cannot reach %s (try %d): %s", address, state.failures, state.error)
            return None
        if state.failures:
            log.info("reached %s after %d failed tries", address, state.failures)
        state.reached()
        return peer

    async def _exchange_peers(self, peer: PeerId) -> None:
        """Ask a new peer whom it knows; dial some of them while we have few peers."""
        try:
            stream = await self.network.open_stream(peer, PEERS_PROTOCOL, STREAM_WITHIN)
            try:
                frame = await stream.receive(64 * 1024)
            finally:
                await stream.close()
        except NetworkError:
            return
        shared = _decode_addresses(frame or b"")
        if shared is None:
            self.admission.charge(peer, "peers:bad_frame")
            return
        if shared:
            self._known[peer] = [a for a in shared if a.endswith("/p2p/" + peer)]
        for address in shared:
            if len(self.network.peers()) >= MAX_PEERS:
                break
            other = address.rsplit("/p2p/", 1)[-1]
            if other != self.network.peer_id and other not in self.network.peers():
                await self.dial(address, remember=False)

    async def _turn_away(self, peer: PeerId) -> None:
        """Full: give the newcomer time to ask whom we know, then hang up."""
        await asyncio.sleep(TURN_AWAY_GRACE)
        with contextlib.suppress(StigError):
            await self.network.hang_up(peer)

    async def _serve_peers(self, peer: PeerId, stream: Stream) -> None:
        connected = set(self.network.peers())
        shared = list(self.addresses)
        for other, addresses in self._known.items():
            if other in connected and other != peer:
                shared.extend(addresses)
        packed = msgpack.packb(shared[:MAX_SHARED_ADDRESSES], use_bin_type=True)
        await stream.send(packed)
        await stream.close()

    # -- housekeeping ----------------------------------------------------------------------------

    async def _follow_mutes(self) -> None:
        """Keep the authors muted by the personas the relay follows (relay.follow_mutes)
        current: their new mutes apply within MUTES_REFRESH, expired ones stop applying."""
        while True:
            await self.admission.refresh_mutes()
            await asyncio.sleep(MUTES_REFRESH)

    async def _collect_periodically(self) -> None:
        while True:
            await asyncio.sleep(GC_INTERVAL)
            now = int(self.clock())
            await self.store.collect(now)
            # Group keys move forward and group plaintext goes when due, read or not.
            await collect_groups(Groups(self.home.groups), now)

    # -- its operator ----------------------------------------------------------------------------

    def apply_policy(self, policy: RelayPolicy) -> list[str]:
        """Take ``policy`` from now on (a SIGHUP's reload): pushes being judged and sessions
        under way finish under either rule, connections stay. What changed, one line a key."""
        old, self.policy = self.policy, policy
        self.admission.policy = policy
        changes = [
            f"{f.name}: {_shown(getattr(old, f.name))} -> {_shown(getattr(policy, f.name))}"
            for f in fields(RelayPolicy)
            if getattr(old, f.name) != getattr(policy, f.name)
        ]
        for change in changes:
            log.info("relay policy: %s", change)
        if not changes:
            log.info("relay policy: unchanged")
        return changes

    async def stats(self) -> Snapshot:
        """The node now: counters since start and gauges (stig.node.stats)."""
        now = self.clock()
        store = self.home.store
        return Snapshot(
            at=now,
            totals=self.ledger.tally.counts(),
            peers=len(self.network.peers()),
            traces=await self.store.count(),
            live=await self.store.live_count(int(now)),
            disk_bytes=disk_use(
                [store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")]
            ),
        )

    async def report(self) -> dict[str, Any]:
        """The control socket's status: ``status`` and the ``stats`` (``stig status``)."""
        return {**self.status(), "stats": snapshot_json(await self.stats(), self.reporter.last)}

    def status(self) -> dict[str, Any]:
        return {
            "peer_id": self.network.peer_id,
            "addresses": self.addresses,
            "peers": [
                {
                    "peer": r.peer,
                    "connected": r.connected,
                    "last_sync": r.last_sync or None,
                    "last_sync_result": r.last_sync_result,
                    "bytes_in": r.bytes_in,
                    "bytes_out": r.bytes_out,
                    "accepted": r.accepted,
                    "rejected": dict(r.rejected),
                    "banned": r.banned_until > self.clock(),
                    "ban_reason": r.ban_reason,
                }
                for r in self.ledger.records()
            ],
            "dialing": [state.report() for state in self.dialing.values() if state.failures],
            "moderation": {
                "refused_authors": len(self.admission.policy.refuse_authors),
                "followed_personas": len(self.admission.policy.follow_mutes),
                "muted_by_followed": len(self.admission.muted),
            },
        }


def _shown(value: Any) -> str:
    """A policy value in a log line: sets sorted, so that a reload's changes read the same."""
    if isinstance(value, frozenset | set):
        shown = (v.hex() if isinstance(v, bytes) else str(v) for v in value)  # keys as hex
        return "[" + ", ".join(sorted(shown)) + "]"
    return repr(value)


def _decode_addresses(frame: bytes) -> list[str] | None:
    try:
        value = msgpack.unpackb(frame, raw=False, max_array_len=MAX_SHARED_ADDRESSES)
    except (ValueError, msgpack.UnpackException):
        return None
    if type(value) is not list or not all(type(a) is str and len(a) < 512 for a in value):
        return None
    return value


def read_addresses(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []
