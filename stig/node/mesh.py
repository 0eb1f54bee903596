"""The mesh node: the asyncio service that puts a home's store on the network
(DESIGN.md §3; docs/protocol.md §8).

* **Push** — every stored trace is published on the public topic; pushes that arrive pass the
  validator (full validation, per-peer rate limit and penalties, relay policy) before they are
  forwarded or delivered, then the ingest pipeline before they are stored (which takes the
  validator's verdict rather than decoding and verifying the same bytes again: verdicts.py).
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
from stig.errors import StigError, UsageError
from stig.net.network import (
    PUBLIC,
    UNKNOWN,
    Network,
    NetworkError,
    PeerDown,
    PeerId,
    PeerUp,
    Pushed,
    Reach,
    Route,
    Stream,
    TorState,
)
from stig.net.tor.modes import OFF, TOR_ONLY, is_onion
from stig.node import control, outbox, sync
from stig.node.admission import Admission, Session, Taken
from stig.node.clock import now as clock_now
from stig.node.config import Config, RelayPolicy, check_bootstrap
from stig.node.dialing import Dialing
from stig.node.groups import Groups
from stig.node.home import Home
from stig.node.ingest import IngestReport
from stig.node.ledger import Ledger
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
ONION_DIAL_WITHIN = 60.0
"""Seconds for a dial to an onion: tor fetches a descriptor and builds an introduction and a
rendezvous circuit (well under a second on the private test network, a few seconds and at times
tens on the real one; stig.net.tor.transport.DIAL_WITHIN)."""
ONION_STREAM_WITHIN = 30.0
"""Seconds to open a stream when the node uses tor: a few round trips through circuits of six
relays (a second or more each on the real network)."""
SYNC_WITHIN = 60.0
"""A whole sync session, fetch included, must end within this; a stalling peer is cut off."""
PUSH_BATCH_DELAY = 0.005
"""Pushes are ingested in small batches: one store transaction per batch, not per trace. Each
hop waits this long, so it stays small."""
MAX_PEERS = 8
"""Peer exchange dials new peers only while fewer than this are connected."""
TURN_AWAY_GRACE = 2.0
REACH_POLL = 1.0
"""Seconds between two looks at this node's reachability (new or lost relay reservations)."""
TURNED_AWAY_WITHIN = TURN_AWAY_GRACE + 1.0
"""A peer that hangs up this soon after the connection came up was full and turned us away."""
TURNED_AWAY_FOR = 300.0
"""Seconds this node dials no peer that turned it away (peer exchange and bootstrap alike):
dialed again at once, a full peer costs both sides a sync and a peer exchange each time, and
nodes short of peers would keep at it forever (docs/performance.md, propagation)."""
TURNED_AWAY_KEPT = 4096
"""Peers remembered as having turned this node away, at most."""
PEERS_PROTOCOL = "/stig/peers/1"
ASK_AGAIN_AFTER = 5.0
"""Seconds after a peer came up that peer exchange asks it once more. A node behind NAT
reserves its slot on a relay right after connecting to it (about a second, measured in
tests/net/test_net_nat.py): the first answers each side gave before that carry no circuit
address, and the periodic exchange (every sync_interval, 30 s, with one random peer) would
leave two laptops behind NAT strangers for a minute or more."""
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
        self._skipped: set[str] = set()  # clearnet addresses a tor-only node does not dial
        self._known: dict[PeerId, list[str]] = {}  # addresses peers told us, for peer exchange
        self._asked: dict[PeerId, float] = {}  # when peer exchange last asked each peer
        self._came_up: dict[PeerId, float] = {}  # connected peers: since when
        self._turned_away: dict[PeerId, float] = {}  # peers that turned this node away: when
        self._policy_changed = asyncio.Event()
        self.taken = Taken()
        # The addresses this node dials (bootstrap, and any dialed by hand), and how that goes.
        self.dialing: dict[str, Dialing] = {}
        self.added: list[str] = []  # addresses given while running (stig connect)
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
        server = await control.serve(
            self.home.control_socket, self.report, stop.set, connect=self.connect
        )
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
                self._follow_reach(),
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

    def advertised(self) -> list[str]:
        """The addresses others can reach this node at: its own when it is public, else its
        circuit addresses through relays (its own while it has none: they may serve a LAN)."""
        return list(self.network.reach().advertised) or list(self.addresses)

    def _write_addresses(self) -> None:
        path = self.home.addresses_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(a + "\n" for a in self.advertised()), encoding="utf-8")
        tmp.replace(path)

    async def _follow_reach(self) -> None:
        """Say when this node becomes reachable through a relay, or stops being so, keep the
        addresses file (``stig addr``, invites) to what others can dial, and ask its peers
        again whom they know when it gains a relay."""
        shown = Reach(PUBLIC, "", (), tuple(self.addresses))  # what _write_addresses wrote
        while True:
            reach = self.network.reach()
            if reach.advertised != shown.advertised:
                gained = sorted(set(reach.relays) - set(shown.relays))
                lost = sorted(set(shown.relays) - set(reach.relays))
                for relay in gained:
                    log.info("reachable through relay %s", relay)
                if gained:
                    # A new circuit address: ask every peer again whom it knows, now and
                    # ASK_AGAIN_AFTER later; asked, they ask back and so learn the new address.
                    # Two nodes behind NAT that know only a relay reserve there once they learn
                    # they are behind NAT (AutoNAT, ~10 s): this is how they find each other's
                    # circuit addresses (docs/protocol.md §8.5).
                    for peer in self.network.peers():
                        self._ask_now_and_again(peer)
                for relay in lost:
                    log.warning("no longer reachable through relay %s", relay)
                if not reach.reachable and reach.state != UNKNOWN:
                    log.warning("not reachable by others: %s, and no relay holds a slot", reach.why)
                self._write_addresses()
            shown = reach
            await asyncio.sleep(REACH_POLL)

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
            # A short read was all there was: look again after the poll interval, not at once
            # (a trip to the store's thread per stored push, for nothing).
            if len(raws) < PUBLISH_BATCH:
                await asyncio.sleep(PUBLISH_POLL)

    # -- events ----------------------------------------------------------------------------------

    async def _events(self) -> None:
        async for event in self.network.events():
            if isinstance(event, Pushed):
                self._pushes.put_nowait((event.via, event.data))
            elif isinstance(event, PeerUp):
                self._came_up[event.peer] = self.clock()
                record = self.ledger.record(event.peer)
                record.connected = True
                if self.ledger.is_banned(event.peer, self.clock()):
                    self._spawn(self.network.hang_up(event.peer))
                    continue
                if len(self.network.peers()) > self.config.network.max_connections:
                    self._spawn(self._turn_away(event.peer))
                    continue
                self._ask_now_and_again(event.peer)
                if self.network.peer_id < event.peer:
                    self._spawn(self.sync_with(event.peer))
            elif isinstance(event, PeerDown):
                self.ledger.record(event.peer).connected = False
                self._known.pop(event.peer, None)  # only connected peers' addresses are shared
                self._asked.pop(event.peer, None)
                came = self._came_up.pop(event.peer, None)
                if came is not None and self.clock() - came < TURNED_AWAY_WITHIN:
                    self._note_turned_away(event.peer)

    def _note_turned_away(self, peer: PeerId) -> None:
        now = self.clock()
        if len(self._turned_away) >= TURNED_AWAY_KEPT:
            self._turned_away = {
                p: t for p, t in self._turned_away.items() if now - t < TURNED_AWAY_FOR
            }
            while len(self._turned_away) >= TURNED_AWAY_KEPT:
                del self._turned_away[next(iter(self._turned_away))]
        self._turned_away[peer] = now

    def _turned_us_away(self, peer: PeerId) -> bool:
        """Whether ``peer`` turned this node away less than TURNED_AWAY_FOR ago."""
        since = self._turned_away.get(peer)
        return since is not None and self.clock() - since < TURNED_AWAY_FOR

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
            stream = await self.network.open_stream(peer, sync.SYNC_PROTOCOL, self._stream_within())
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
                peer = random.choice(peers)
                await self.sync_with(peer)
                # Whom it knows may have changed since we met it: a node behind NAT that
                # gained a relay now has a circuit address (docs/protocol.md §8.3).
                await self._exchange_peers(peer)

    # -- reach -----------------------------------------------------------------------------------

    async def _redial(self) -> None:
        """Dial every bootstrap address that is not connected, again and again (less and less
        often while it fails: stig.node.dialing), while this node has fewer than MAX_PEERS
        peers. A node with that many found its way in: a bootstrap peer that is full turns it
        away (after a sync and a peer exchange), and dialing it every REDIAL_INTERVAL anyway
        costs both sides that work forever, for every newcomer that started from it.

        A node with no peer at all dials them even if they turned it away: a full peer still
        answers its peer exchange before hanging up, the only way such a node learns new
        addresses. Without it a node whose bootstrap peers and every peer they named were full
        stayed alone for TURNED_AWAY_FOR (1 node of 10,000 in a simulation got no post)."""
        while True:
            connected = set(self.network.peers())
            enough = len(connected) >= MAX_PEERS
            alone = not connected
            for address in [*self.config.network.bootstrap, *self.added]:
                if not self._may_dial(address):
                    continue
                peer = address.rsplit("/p2p/", 1)[-1]
                state = self.dialing.setdefault(address, Dialing(address))
                if peer in connected:
                    state.reached()
                elif (enough and address not in self.added) or (
                    self._turned_us_away(peer) and not alone
                ):
                    continue  # a peer the user added (stig connect) is dialed whatever the count
                elif state.due(self.clock()) and not self.ledger.is_banned(peer, self.clock()):
                    await self.dial(address)
            await asyncio.sleep(REDIAL_INTERVAL)

    async def dial(self, address: str, *, remember: bool = True) -> PeerId | None:
        """Dial ``address``; with ``remember``, keep how that went for the status (addresses
        learnt by peer exchange are not kept: any peer could send thousands)."""
        if not remember:
            try:
                return await self.network.dial(address, _dial_within(address))
            except NetworkError as exc:
                log.debug("cannot reach %s (from peer exchange): %s", address, exc)
                return None
        state = self.dialing.setdefault(address, Dialing(address))
        try:
            peer = await self.network.dial(address, _dial_within(address))
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

    async def connect(self, address: str) -> dict[str, Any]:
        """The control socket's one write (``stig connect``): dial ``address`` now and keep
        dialing it like a bootstrap peer. The answer says what happened, in plain words."""
        try:
            check_bootstrap(address, "connect")
        except UsageError as exc:
            return {"error": str(exc)}
        if not self._may_dial(address):
            return {"error": "this node runs --tor-only: it dials onion addresses (/onion3/) only"}
        if address not in self.config.network.bootstrap and address not in self.added:
            self.added.append(address)
        peer = await self.dial(address)
        if peer is None:
            state = self.dialing[address]
            return {"error": state.error, "next_try": state.report().get("next_try")}
        return {"peer": peer}

    def _ask_now_and_again(self, peer: PeerId) -> None:
        """Ask ``peer`` whom it knows now, and once more ASK_AGAIN_AFTER later (both at once:
        the first ask's dials do not delay the second)."""
        self._spawn(self._exchange_peers(peer))
        self._spawn(self._exchange_again(peer))

    async def _exchange_again(self, peer: PeerId) -> None:
        """Ask a peer whom it knows once more, ASK_AGAIN_AFTER later: by then a peer behind
        NAT (this one, or that one) holds its reservations, and its circuit address is known."""
        await asyncio.sleep(ASK_AGAIN_AFTER)
        if peer in self.network.peers():
            await self._exchange_peers(peer)

    async def _exchange_peers(self, peer: PeerId) -> None:
        """Ask a new peer whom it knows; dial some of them while we have few peers."""
        self._asked[peer] = self.clock()
        try:
            stream = await self.network.open_stream(peer, PEERS_PROTOCOL, self._stream_within())
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
        if self.config.tor.mode == TOR_ONLY:
            # Dialing a clearnet address would show this node's IP address (and the swarm has
            # no TCP transport to do it with anyway): onion addresses only (§8.10).
            shared = [a for a in shared if is_onion(a)]
        if shared:
            self._known[peer] = [a for a in shared if a.endswith("/p2p/" + peer)]
        for address in shared:
            if len(self.network.peers()) >= MAX_PEERS:
                break
            other = address.rsplit("/p2p/", 1)[-1]
            if (
                other != self.network.peer_id
                and other not in self.network.peers()
                and not self._turned_us_away(other)
            ):
                await self.dial(address, remember=False)

    def _onion_only_for(self, peer: PeerId) -> bool:
        """Does peer exchange with ``peer`` carry onion addresses only (§8.10)? Always in
        tor-only mode; in tor mode when ``peer`` came through tor: this node's clearnet
        addresses (or those of its clearnet peers) would tie its onion to a place."""
        mode = self.config.tor.mode
        if mode == OFF:
            return False
        if mode == TOR_ONLY:
            return True
        route = self.network.route(peer)
        return route is None or route.onion

    def _may_dial(self, address: str) -> bool:
        """tor-only dials onions only (its swarm has no TCP transport); a clearnet address in
        config.toml (an invite also carried it) is skipped, said once."""
        if self.config.tor.mode != TOR_ONLY or is_onion(address):
            return True
        if address not in self._skipped:
            self._skipped.add(address)
            log.info("tor-only: not dialing the clearnet address %s", address)
        return False

    def _stream_within(self) -> float:
        return STREAM_WITHIN if self.config.tor.mode == OFF else ONION_STREAM_WITHIN

    async def _turn_away(self, peer: PeerId) -> None:
        """Full: give the newcomer time to ask whom we know, then hang up."""
        await asyncio.sleep(TURN_AWAY_GRACE)
        with contextlib.suppress(StigError):
            await self.network.hang_up(peer)

    async def _serve_peers(self, peer: PeerId, stream: Stream) -> None:
        onion_only = self._onion_only_for(peer)

        def shareable(address: str) -> bool:
            return not onion_only or is_onion(address)

        connected = set(self.network.peers())
        shared = [a for a in self.advertised() if shareable(a)]
        for other, addresses in self._known.items():
            if len(shared) >= MAX_SHARED_ADDRESSES:
                break  # a relay knows thousands of peers: it shares the first, and reads no more
            if other in connected and other != peer:
                shared.extend(a for a in addresses if shareable(a))
        packed = msgpack.packb(shared[:MAX_SHARED_ADDRESSES], use_bin_type=True)
        await stream.send(packed)
        await stream.close()
        # Asked, ask back (at most once per ASK_AGAIN_AFTER per peer): a peer asks when its own
        # addresses changed, and only the asked side's question teaches them (§8.5).
        asked = self._asked.get(peer)
        if asked is None or self.clock() - asked >= ASK_AGAIN_AFTER:
            self._spawn(self._exchange_peers(peer))

    # -- housekeeping ----------------------------------------------------------------------------

    async def _follow_mutes(self) -> None:
        """Keep the authors muted by the personas the relay follows (relay.follow_mutes)
        current: their new mutes apply within MUTES_REFRESH, expired ones stop applying."""
        while True:
            await self.admission.refresh_mutes()
            if self.policy.follow_mutes:
                await asyncio.sleep(MUTES_REFRESH)
            else:
                # Nothing followed, nothing to refresh until a new policy (apply_policy). Waking
                # every MUTES_REFRESH anyway was a third of a 10,000-node simulation's idle CPU.
                self._policy_changed.clear()
                await self._policy_changed.wait()

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
        self._policy_changed.set()
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
        reach = self.network.reach()
        return {
            "peer_id": self.network.peer_id,
            "addresses": self.advertised(),
            "reach": {
                "state": reach.state,
                "why": reach.why,
                "reachable": reach.reachable,
                "relays": list(reach.relays),
                "listening": list(reach.listening),
                "advertised": list(reach.advertised),
            },
            "tor": _tor_json(reach.tor),
            "peers": [
                {
                    "peer": r.peer,
                    "connected": r.connected,
                    "route": _route_json(self.network.route(r.peer)),
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


def _route_json(route: Route | None) -> dict[str, Any] | None:
    if route is None:
        return None
    return {"kind": route.kind, "relay": route.relay, "since": route.since, "onion": route.onion}


def _tor_json(tor: TorState | None) -> dict[str, Any]:
    if tor is None:
        return {"mode": OFF}
    return {"mode": tor.mode, "onion": tor.onion, "own_tor": tor.own_tor, "control": tor.control}


def _dial_within(address: str) -> float:
    return ONION_DIAL_WITHIN if is_onion(address) else DIAL_WITHIN


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
