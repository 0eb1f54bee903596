"""The trio side of the libp2p adapter: one run of py-libp2p (``Side``: host, pubsub, router)
and its streams (``TrioStream``), in the trio thread. The asyncio side (``stig.net.libp2p_net``)
owns a ``Side`` through ``stig.net.trio_bridge`` and is reached back only through ``Owner``.

Every trap of py-libp2p 0.8.1 met here is marked ``trap:`` where it is handled (docs/architecture.md
lists them with reproductions)."""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p import new_host
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.discovery.events.peerDiscovery import peerDiscovery
from libp2p.exceptions import BaseLibp2pError
from libp2p.host.exceptions import StreamFailure
from libp2p.network.exceptions import SwarmException
from libp2p.network.stream.exceptions import StreamEOF, StreamError, StreamReset
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.pubsub import gossipsub
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.subscription import TrioSubscriptionAPI
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from stig.net.circuit import HopLimits, decide_public, is_circuit, split_circuit
from stig.net.libp2p_relay import Relaying, relay_of
from stig.net.negotiation_guard import (
    GuardedNoise,
    GuardedTCP,
    NegotiationGuard,
    connection_upgraded,
)
from stig.net.network import (
    DIRECT,
    HOLE_PUNCHED,
    MAX_STREAM_FRAME,
    RELAYED,
    NetEvent,
    NetworkError,
    PeerId,
    Pushed,
    Route,
    Validator,
)
from stig.net.tor.link import TorLink
from stig.net.tor.transport import OnionTransport
from stig.net.trio_bridge import TrioBridge

# py-libp2p configures its own logging when imported: without LIBP2P_DEBUG it clears the
# "libp2p" logger's handlers and stops its records from propagating, so they reach Python's
# last-resort handler and print raw on stderr ("Failed to open TCP stream: ..."). Route them into
# this process's logging instead (stig/cli/logs.py gives every line a time, a level and its
# logger's name), silent unless asked for (-v): what a person needs of them — a dial that
# fails — stig says itself, in plain words (stig.node.dialing).
LIBRARY_LOGGER = logging.getLogger("libp2p")
LIBRARY_LOGGER.handlers.clear()
LIBRARY_LOGGER.propagate = True
LIBRARY_LOGGER.setLevel(logging.CRITICAL)

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # see stig.net.trio_bridge

log = logging.getLogger(__name__)


# --- bounds ---------------------------------------------------------------------------------

FRAME_HEADER = 4
"""Bytes of the big-endian length that precedes every stream frame."""

READ_CHUNK = 64 * 1024
"""Bytes asked of the muxer per read while assembling a frame."""

MAX_PUSH_BYTES = (1 << 20) - 16 * 1024
"""Largest push payload. The library drops (silently) any pubsub RPC over 1 MiB; the margin
covers the envelope (topic, sender, seqno, signature, key and the signed peer record)."""

PUBLISH_HIGH_WATER = 16
"""Publish waits while any peer's outbound RPC queue holds this many RPCs. The library's queue
holds 32 and drops the 33rd silently (trap); the other half is left for forwarded pushes and
control messages (GRAFT, PRUNE, IHAVE)."""

PUBLISH_PACE_POLL = 0.002
"""Seconds between looks at the outbound queues while publish waits."""

PUBLISH_STALL_LIMIT = 10.0
"""Seconds publish waits for a full outbound queue to drain before NetworkError('congested')."""

VIA_MEMORY = 65_536
"""Pushes whose forwarding peer is remembered between validation and delivery."""

REDIAL_WITHIN = 5.0
"""Seconds allowed for each re-dial after a watchdog restart, and for each mDNS-found peer."""

STREAM_FINISH_WITHIN = 1.0
"""Seconds a finished stream may take to close cleanly before it is abandoned."""

SHUTDOWN_GRACE = 3.0
"""Seconds libp2p gets to close its connections and listeners when a run ends."""

CIRCUIT_REDIAL_AGE = 10.0
"""A circuit this node dialed that is cut after lasting at least this many seconds (a relay's
duration or bytes limit; docs/relay.md) is dialed again through the same relay. One cut sooner
is left to the mesh: the peer may have turned this node away (stig.node.mesh), and a circuit
that keeps failing at once would otherwise be re-dialed forever."""

CIRCUIT_REDIALS = 3
"""Tries to dial a cut circuit again, CIRCUIT_REDIAL_PAUSE seconds apart, each within
REDIAL_WITHIN; then the mesh's own re-dialing (bootstrap, peer exchange) takes over."""

CIRCUIT_REDIAL_PAUSE = 1.0
"""Seconds between two tries to dial a cut circuit again."""

GOSSIP_PROTOCOLS = (gossipsub.PROTOCOL_ID_V11, gossipsub.PROTOCOL_ID)
# Mesh degree D (and D_lo, D_hi). Every copy of a push costs ~2 ms of CPU in py-libp2p (a
# signed peer record is attached and verified each time), and a node receives about D copies:
# D = 6 (the library's default) made a 10-node mesh CPU-bound on two cores. IHAVE gossip and
# pull sync cover what a thinner mesh misses (docs/performance.md, propagation).
GOSSIP_DEGREE = 3
GOSSIP_DEGREE_LOW = 2
GOSSIP_DEGREE_HIGH = 4
GOSSIP_HEARTBEAT = 1
"""Seconds. The library's default is 120; its adaptive mode (disabled here) would clamp the
heartbeat to 30–60 s when it judges the network unhealthy (trap)."""

COUNTERS = (
    "push_delivered",
    "push_rejected",
    "validator_errors",
    "handler_errors",
    "frames_too_large",
    "negotiation_refused",
    "restarts",
)


def _peer_id(peer: PeerId) -> ID:
    try:
        return ID.from_base58(peer)
    except Exception as exc:
        raise NetworkError("bad_peer", f"not a peer id: {peer!r}") from exc


def _stream_error(exc: BaseException, what: str) -> NetworkError:
    if isinstance(exc, StreamReset):
        return NetworkError("reset", f"{what}: the stream was reset")
    return NetworkError("closed", f"{what}: {type(exc).__name__}: {exc}")


def why(exc: BaseException) -> str:
    """The innermost reasons of a failed dial: the swarm wraps each address's error (often an
    OSError such as "Connection refused") in a MultiError behind the one it raises."""
    found: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(found) < 4:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        grouped = getattr(current, "errors", None) or getattr(current, "exceptions", None) or ()
        inner = [e for e in grouped if isinstance(e, BaseException)]
        if current.__cause__ is not None:
            inner.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            inner.append(current.__context__)
        if inner:
            pending.extend(inner)
        else:
            found.append(f"{type(current).__name__}: {current}")
    return "; ".join(found) or f"{type(exc).__name__}: {exc}"


def _peer_of(conn: INetConn) -> str:
    return str(conn.muxed_conn.peer_id)


async def _close(conn: INetConn) -> None:
    try:
        await conn.close()
    except (BaseLibp2pError, OSError) as exc:
        log.debug("closing a connection to %s: %r", _peer_of(conn), exc)


def _remote_address(conn: INetConn) -> Any:
    getter = getattr(conn.muxed_conn, "get_remote_address", None)
    try:
        return getter() if callable(getter) else None
    except Exception:
        return None


class Owner(Protocol):
    """What a ``Side`` needs of the adapter that owns it: its settings (read in the trio thread;
    they are only ever replaced whole or appended to on the asyncio side) and its callbacks
    (scheduled onto the asyncio loop through the bridge)."""

    bridge: TrioBridge
    trio_counts: Counter[str]
    key_pair: KeyPair
    psk: str | None
    lan: bool
    handlers: dict[str, Any]
    validators: dict[str, Validator]
    topics: list[str]
    hop: HopLimits | None
    reachability: str
    tor: TorLink | None

    def peer_up(self, peer: PeerId) -> None: ...

    def set_route(self, peer: PeerId, route: Route | None) -> None: ...

    def set_relays(self, relays: dict[PeerId, str]) -> None: ...

    def peer_down(self, peer: PeerId) -> None: ...

    def deliver(self, events: list[NetEvent]) -> None: ...

    def handle_stream(self, protocol: str, trio_stream: TrioStream) -> None: ...


class TrioStream:
    """A libp2p stream read and written in frames. Lives in the trio thread; one reader and one
    writer at a time."""

    def __init__(self, side: Side, net_stream: INetStream, peer: PeerId) -> None:
        self.side = side
        self.net_stream = net_stream
        self.peer = peer
        self.counts = side.counts
        self.buffer = bytearray()
        self.done = trio.Event()
        self.finished = False

    async def send(self, frame: bytes) -> None:
        if len(frame) > MAX_STREAM_FRAME:
            raise NetworkError("frame_too_large", f"{len(frame)} > {MAX_STREAM_FRAME} bytes")
        try:
            await self.net_stream.write(len(frame).to_bytes(FRAME_HEADER, "big") + frame)
        except (StreamError, BaseLibp2pError) as exc:
            raise _stream_error(exc, "send") from exc

    async def receive(self, limit: int) -> bytes | None:
        if not await self._fill(FRAME_HEADER):
            if self.buffer:
                raise NetworkError("truncated", "the stream ended inside a frame header")
            return None
        size = int.from_bytes(self.buffer[:FRAME_HEADER], "big")
        if size > limit:
            self.counts["frames_too_large"] += 1
            await self.reset()
            raise NetworkError("frame_too_large", f"{size} > {limit} bytes")
        end = FRAME_HEADER + size
        if not await self._fill(end):
            raise NetworkError("truncated", "the stream ended inside a frame")
        frame = bytes(self.buffer[FRAME_HEADER:end])
        del self.buffer[:end]
        return frame

    async def _fill(self, size: int) -> bool:
        """Read until the buffer holds ``size`` bytes; False at a clean end of stream."""
        while len(self.buffer) < size:
            try:
                chunk = await self.net_stream.read(READ_CHUNK)
            except StreamEOF:
                chunk = b""
            except (StreamError, BaseLibp2pError) as exc:
                raise _stream_error(exc, "receive") from exc
            if not chunk:
                # trap: Yamux forgets a stream as soon as the peer resets it, and the next read
                # reports a plain end of stream; only the muxed stream's flag tells them apart.
                muxed = getattr(self.net_stream, "muxed_stream", None)
                if getattr(muxed, "reset_received", False):
                    raise NetworkError("reset", "receive: the stream was reset")
                return False
            self.buffer += chunk
        return True

    async def close(self) -> None:
        """Half-close: no more frames from us; frames from the peer can still be read. It also
        releases the stream's slot in the library's resource manager, which a stream that is
        never closed or reset holds until the connection ends."""
        if self.finished:
            return
        self.finished = True
        try:
            await self.net_stream.close()
        except (StreamError, BaseLibp2pError) as exc:
            log.debug("close of a stream to %s failed: %r", self.peer, exc)

    async def reset(self) -> None:
        self.finished = True
        try:
            await self.net_stream.reset()
        except (StreamError, BaseLibp2pError) as exc:
            log.debug("reset of a stream to %s failed: %r", self.peer, exc)

    async def finish(self) -> None:
        """Close the stream if its user did not, within STREAM_FINISH_WITHIN even while the
        trio side is shutting down."""
        if self.finished:
            return
        with trio.move_on_after(STREAM_FINISH_WITHIN) as scope:
            scope.shield = True
            await self.close()


class PeerNotifee(INotifee):
    """Connection events → PeerUp/PeerDown. A peer is up while it has at least one
    connection; the library may hold several per peer and reports each."""

    def __init__(self, side: Side) -> None:
        self.side = side

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()
        # The upgrade's read bounds end here (negotiation_guard); the guard's class says
        # whether the connection runs through tor.
        if isinstance(connection_upgraded(conn), OnionGuard):
            self.side.onion_conns.add(conn)
        self.side.peer_connected(conn.muxed_conn.peer_id, conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()
        peer = conn.muxed_conn.peer_id
        # The connection is already out of the swarm's table when this is called; a duplicate
        # connection that closes while another one lives leaves the peer up.
        if not network.get_connections(peer):
            self.side.peer_disconnected(peer, conn)
        else:
            self.side.connection_replaced(peer, conn)
            self.side.update_route(peer)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, network: INetwork, maddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()

    async def listen_close(self, network: INetwork, maddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()


class OnionGuard(NegotiationGuard):
    """The negotiation guard under a connection that runs through tor: how a connection is
    known to be an onion one (its remote address is always tor's end of a loopback socket,
    so it cannot tell)."""


def transports(net: Owner, on_refused: Callable[[str], None]) -> list[Any]:
    """TCP, the onion transport, or both, per the owner's tor link (docs/protocol.md §8.10):
    with ``tor-only`` there is no TCP transport at all, so no clearnet dial or listen can
    happen whatever address a peer hands out."""
    tcp = GuardedTCP(on_refused=on_refused)
    link = net.tor
    if link is None:
        return [tcp]
    onion = OnionTransport(
        link.socks,
        control=link.control,
        keys=[link.key],
        wrap=lambda stream: OnionGuard(stream, on_refused),
    )
    return [onion] if link.plan.only else [tcp, onion]


def listen_addresses(net: Owner, listen: Sequence[str]) -> list[multiaddr.Multiaddr]:
    """What a run listens on: the clearnet ``listen`` addresses unless ``tor-only``, and the
    onion service if there is a tor link."""
    link = net.tor
    wanted = [a for a in listen if "/onion3/" not in a]
    if link is not None:
        wanted = [] if link.plan.only else wanted
        wanted.append(link.onion_address)
    return [multiaddr.Multiaddr(a) for a in wanted]


class ServiceEnded(Exception):
    """A libp2p service stopped while we did not ask it to: the watchdog's trigger."""


class Side:
    """One run of libp2p: host, pubsub and router, in the trio thread. Built fresh on every
    (re)start from the adapter's settings."""

    def __init__(self, net: Owner, listen: Sequence[str]) -> None:
        self.net = net
        self.bridge = net.bridge
        self.counts = net.trio_counts
        self.listen = listen_addresses(net, listen)
        key_pair = net.key_pair
        self.transports = transports(net, self._negotiation_refused)
        self.host = new_host(
            key_pair=key_pair,
            # trap: without sec_opt the host also accepts /plaintext/2.0.0.
            sec_opt={
                NOISE_PROTOCOL_ID: GuardedNoise(
                    key_pair, noise_privkey=create_x25519_key_pair().private_key
                )
            },
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            # trap: 0.8.1 reads negotiation messages of any length a peer claims, before and
            # after Noise (GHSA-hmjq-g7pp-rw3x); GuardedTCP, GuardedNoise and the notifee bound
            # them (negotiation_guard).
            transports=self.transports,
            listen_addrs=self.listen,
            psk=net.psk,
            # tor-only: mDNS would announce this node's IP address on the LAN.
            enable_mDNS=net.lan and not (net.tor is not None and net.tor.plan.only),
            # trap: over tor, identify's "observed address" is tor's end of a loopback socket;
            # recorded as our own, the host would advertise /ip4/127.0.0.1/tcp/... (docs/tor.md).
            disable_identify_address_discovery=net.tor is not None,
        )
        # new_host builds a Swarm; its own methods (unblock_peer, manager) are not on the
        # interface the host declares.
        self.swarm = cast(Swarm, self.host.get_network())
        self.my_id = self.host.get_id()
        self.my_id_bytes = self.my_id.to_bytes()
        self.router = GossipSub(
            protocols=list(GOSSIP_PROTOCOLS),
            degree=GOSSIP_DEGREE,
            degree_low=GOSSIP_DEGREE_LOW,
            degree_high=GOSSIP_DEGREE_HIGH,
            heartbeat_interval=GOSSIP_HEARTBEAT,
            # trap: on by default, 10 messages per topic per second, our own included, and the
            # excess is dropped silently. Rate limits belong in our validator.
            spam_protection_enabled=False,
            adaptive_gossip_enabled=False,
        )
        self.pubsub = Pubsub(self.host, self.router)
        self.swarm.register_notifee(PeerNotifee(self))
        self.nursery: trio.Nursery | None = None
        self.punching: Any = None  # the DCUtR service's manager while it runs
        self.relaying = Relaying(self.host, hop=net.hop, psk=net.psk, public=False)
        self.public = False
        self.public_why = ""
        self.dialed: dict[PeerId, str] = {}  # peer → the full address it was reached at
        self.onion_conns: weakref.WeakSet[INetConn] = weakref.WeakSet()  # through tor
        # Every circuit → (the relay it runs through, when it came up); and the circuit address
        # each connected peer was dialed at through a relay, to dial it again when a relay's
        # limit cuts it (so it holds at most one entry per connected peer).
        self.circuits: weakref.WeakKeyDictionary[INetConn, tuple[PeerId, float]] = (
            weakref.WeakKeyDictionary()
        )
        self.circuit_dials: dict[PeerId, str] = {}
        self.routes: dict[PeerId, Route] = {}
        self.closing = False
        # (author, seqno) → the peer that forwarded it, from validation until delivery.
        self.via: OrderedDict[tuple[bytes, bytes], PeerId] = OrderedDict()
        self.drains: set[str] = set()
        for protocol in net.handlers:
            self.add_stream_handler(protocol)
        for topic in net.validators:
            self.install_validator(topic)

    # lifecycle

    async def run(self, task_status: TaskStatus[list[str]]) -> None:
        tor_only = self.net.tor is not None and self.net.tor.plan.only
        discovered = self.on_discovered if self.net.lan and not tor_only else None
        try:
            # trap: Pubsub and GossipSub must be running before host.run accepts a connection,
            # or an inbound pubsub stream finds no '_manager' and takes the host down.
            async with (
                background_trio_service(self.pubsub) as pubsub_manager,
                background_trio_service(self.router) as router_manager,
                background_trio_service(self.relaying.protocol),
                background_trio_service(self.relaying.hole_punching) as self.punching,
                self.host.run(self.listen),
            ):
                try:
                    async with trio.open_nursery() as nursery:
                        self.nursery = nursery
                        await self.serve(task_status, discovered, pubsub_manager, router_manager)
                finally:
                    await self.close()
        finally:
            if discovered is not None:
                peerDiscovery.unregister_peer_discovered_handler(discovered)
            # trap: Pubsub never stops the sweeper thread of its seen-messages cache.
            self.pubsub.seen_messages.stop()
            self.release_sockets()

    async def serve(
        self,
        task_status: TaskStatus[list[str]],
        discovered: Callable[[PeerInfo], None] | None,
        pubsub_manager: Any,
        router_manager: Any,
    ) -> None:
        assert self.nursery is not None
        # The library logs a failed listen and carries on; we refuse to.
        listening = len(self.swarm.listeners)
        if listening < len(self.listen):
            raise NetworkError(
                "listen_failed", f"listening on {listening} of {[str(a) for a in self.listen]}"
            )
        self.nursery.start_soon(self.watch, pubsub_manager, "pubsub")
        self.nursery.start_soon(self.watch, router_manager, "gossipsub")
        self.nursery.start_soon(self.watch, self.swarm.manager, "swarm")
        await self.pubsub.wait_until_ready()
        for topic in self.net.topics:
            await self.subscribe(topic)
        if discovered is not None:
            peerDiscovery.register_peer_discovered_handler(discovered)
        addresses = [str(a) for a in self.host.get_addrs()]
        self.public, self.public_why = decide_public(self.net.reachability, addresses)
        self.relaying.public = self.public
        task_status.started(addresses)
        await trio.sleep_forever()

    async def watch(self, manager: Any, what: str) -> None:
        await manager.wait_finished()
        if not self.closing:
            raise ServiceEnded(f"the libp2p {what} service stopped")

    async def close(self) -> None:
        """Close connections and listeners while the services still run: cancellation alone
        leaves sockets open, and peers find out only by timeout. ``stop()`` calls this before
        it cancels the trio side; a crash reaches it on the way out of ``run``. Idempotent,
        shielded, bounded by SHUTDOWN_GRACE."""
        self.closing = True
        with trio.move_on_after(SHUTDOWN_GRACE) as scope:
            scope.shield = True
            # First stop what dials by itself (trap 10): a dial that completes after the host
            # has closed its connections brings one that nobody closes. The auto-connector
            # stops starting dials; stopping DCUtR cancels its dials in flight (the swarm closes
            # the socket of a dial it cancels).
            await self.swarm.auto_connector.stop()
            if self.punching is not None:
                await self.punching.stop()
            # The host closes connections before listeners: a peer re-dialing in between would
            # get a connection nobody closes. Listeners first (closing twice is harmless).
            for listener in list(self.swarm.listeners.values()):
                await listener.close()
            await self.host.close()
        self.release_sockets()

    def release_sockets(self) -> None:
        """Close every TCP socket of this run that is still open. trap: a connection's socket
        is closed only at the end of the library's graceful close, after awaits (Yamux's lock
        and its GO_AWAY frame); cancelled there — SHUTDOWN_GRACE ran out, or the run ended —
        the socket stays open, and the connection, already marked closed, is never closed
        again: the socket is found open by the garbage collector (ResourceWarning), maybe in
        a later test (docs/architecture.md, trap 10)."""
        left = 0
        for transport in self.transports:
            if isinstance(transport, GuardedTCP):
                left += sum(guard.abort() for guard in list(transport.opened))
        if left:
            log.info("closed %d TCP sockets that libp2p left open", left)

    def _negotiation_refused(self, reason: str) -> None:
        """A connection asked for more, or longer, negotiation than it needs; libp2p closes it.
        Before Noise there is no peer id to charge it to, so it is only counted."""
        self.counts["negotiation_refused"] += 1

    # peers

    def peer_connected(self, peer: ID, conn: INetConn) -> None:
        self.bridge.to_asyncio(self.net.peer_up, peer.to_base58())
        # Which relay a circuit runs through is known now, while the relay is connected (an
        # accepted circuit is told by the relay's connection: relay_of below).
        relay = self.relay_of(conn)
        if relay is not None:
            self.circuits[conn] = (relay, time.monotonic())
        self.update_route(peer)
        key = peer.to_base58()
        address = self.dialed.get(key)
        # A node that is not public reserves on every relay it reached directly (trap: the
        # library's discovery would take 300 s; stig.net.libp2p_relay).
        if address is not None and relay_of(conn) is None and self.nursery is not None:
            self.nursery.start_soon(self.reserve, peer, address)

    async def reserve(self, peer: ID, address: str) -> None:
        assert self.nursery is not None
        await self.relaying.reserve(peer, address, self.nursery)
        self.bridge.to_asyncio(self.net.set_relays, dict(self.relaying.reservations))

    def peer_disconnected(self, peer: ID, conn: INetConn) -> None:
        """``conn``, the last connection to ``peer``, closed."""
        key = peer.to_base58()
        self.bridge.to_asyncio(self.net.peer_down, key)
        self.routes.pop(key, None)
        self.bridge.to_asyncio(self.net.set_route, key, None)
        if key in self.relaying.reservations:
            self.relaying.relay_gone(key)
            self.bridge.to_asyncio(self.net.set_relays, dict(self.relaying.reservations))
        self.end_circuits_through(key)
        circuit = self.circuits.pop(conn, None)
        address = self.circuit_dials.pop(key, None)
        lasted = time.monotonic() - circuit[1] if circuit is not None else 0.0
        redial = address is not None and lasted >= CIRCUIT_REDIAL_AGE and not self.closing
        if redial and self.nursery is not None:
            self.nursery.start_soon(self.redial_circuit, peer, address)

    def end_circuits_through(self, relay: PeerId) -> None:
        """The relay's last connection closed: close every circuit through it, so its peers
        read as they are (not connected, or connected directly). A backstop: in every run
        measured, py-libp2p had already ended them (docs/architecture.md, trap 9)."""
        if self.nursery is None:
            return
        for conn, (through, _) in list(self.circuits.items()):
            if through == relay and not conn.is_closed:
                log.info("closing a circuit to %s: its relay %s is gone", _peer_of(conn), relay)
                self.nursery.start_soon(_close, conn)

    async def redial_circuit(self, peer: ID, address: str) -> None:
        """Dial ``peer`` again at ``address``, the circuit it was dialed at, while that relay is
        connected (the relay cut the circuit at its limit; CIRCUIT_REDIAL_AGE)."""
        key = peer.to_base58()
        for attempt in range(1, CIRCUIT_REDIALS + 1):
            if self.closing or self.swarm.get_connections(peer):
                return
            relay = split_circuit(address)[1]
            if not self.swarm.get_connections(ID.from_base58(relay)):
                log.info("not re-dialing %s: its relay %s is gone", key, relay)
                return
            try:
                with trio.fail_after(REDIAL_WITHIN):
                    await self.relaying.dial(address)
            except (NetworkError, trio.TooSlowError) as exc:
                log.info("re-dialing the circuit to %s (try %d): %s", key, attempt, exc)
                await trio.sleep(CIRCUIT_REDIAL_PAUSE)
                continue
            self.circuit_dials[key] = address
            log.info("the circuit to %s was cut; dialed again through %s", key, relay)
            return

    def relay_of(self, conn: INetConn) -> PeerId | None:
        """The relay a connection runs through, None if it is direct. trap: on an accepted
        circuit the library names *this* node as the relay (``CircuitV2Protocol.
        handle_incoming_connection`` builds ``/p2p/<own id>/p2p-circuit/...``); the circuit's
        remote endpoint is the relay's, so the relay is the reserved one connected from there."""
        relay = relay_of(conn)
        if relay != self.my_id.to_base58():
            return relay
        remote = _remote_address(conn)
        for candidate in self.relaying.reservations:
            for relay_conn in self.swarm.get_connections(ID.from_base58(candidate)):
                if relay_of(relay_conn) is None and _remote_address(relay_conn) == remote:
                    return candidate
        return "an unknown relay"

    def connection_replaced(self, peer: ID, conn: INetConn) -> None:
        """One of several connections to ``peer`` closed (after hole punching, DCUtR closes the
        relayed one about 60 s later). trap: Pubsub keeps writing to a stream on the closed
        connection and ignores the disconnect because the peer still has a connection:
        gossip with that peer stops with no error. Handing the peer to pubsub's dead-peer
        handling (a private method of 0.8.1: re-check on upgrade) reopens the stream on the
        live connection."""
        stream = self.pubsub.peers.get(peer)
        if stream is not None and stream.muxed_conn is conn.muxed_conn:
            log.info("gossip with %s moves off a closed connection", peer)
            self.pubsub._handle_dead_peer(peer)

    def update_route(self, peer: ID) -> None:
        """Record how ``peer`` is reached now: directly if any connection is not a circuit
        (hole-punched if it was reached through a relay before), else via the relay."""
        key = peer.to_base58()
        conns = self.swarm.get_connections(peer)
        relays = [self.relay_of(conn) for conn in conns]
        if not relays:
            return
        onion = all(conn in self.onion_conns for conn in conns)
        before = self.routes.get(key)
        if None in relays:
            kind = HOLE_PUNCHED if before and before.kind != DIRECT else DIRECT
            relay = None
        else:
            kind, relay = RELAYED, relays[0]
        if before is not None and (before.kind, before.relay, before.onion) == (kind, relay, onion):
            return
        route = Route(kind, time.time(), relay, onion)
        self.routes[key] = route
        self.bridge.to_asyncio(self.net.set_route, key, route)

    async def dial(self, address: str, within: float) -> PeerId:
        if is_circuit(address):
            try:
                with trio.fail_after(within):
                    peer = await self.relaying.dial(address)
            except trio.TooSlowError as exc:
                raise NetworkError("timeout", f"no circuit to {address} in {within} s") from exc
            self.circuit_dials[peer.to_base58()] = address
            self.update_route(peer)
            return str(peer.to_base58())
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except Exception as exc:
            raise NetworkError("bad_address", f"{address!r}: {exc}") from exc
        if info.peer_id == self.my_id:
            raise NetworkError("self", f"{address} is this node")
        self.dialed[str(info.peer_id.to_base58())] = address
        if not self.swarm.get_connections(info.peer_id):
            # trap: the swarm dials at most one TCP address per peer, the first it knows, so a
            # stale address (the peer moved, or an earlier dial to a wrong port) would be
            # dialed instead of this one for as long as it stays in the peerstore (120 s).
            self.host.get_peerstore().clear_addrs(info.peer_id)
        # trap: after a failed dial the swarm refuses every dial to that peer for 60 s without
        # trying ("negative cache"); a dial asked for now must be tried now.
        self.swarm.unblock_peer(info.peer_id)
        try:
            with trio.fail_after(within):
                await self.host.connect(info)
        except trio.TooSlowError as exc:
            raise NetworkError("timeout", f"no connection to {address} in {within} s") from exc
        except (SwarmException, BaseLibp2pError, OSError) as exc:
            raise NetworkError("refused", f"{address}: {why(exc)}") from exc
        return str(info.peer_id.to_base58())

    async def hang_up(self, peer: PeerId) -> None:
        peer_id = _peer_id(peer)
        # Forget its addresses too, or the library's auto-connector dials it again; and do not
        # dial its circuit again.
        self.host.get_peerstore().clear_addrs(peer_id)
        self.circuit_dials.pop(peer, None)
        try:
            await self.host.disconnect(peer_id)
        except BaseLibp2pError as exc:
            raise NetworkError("failed", f"hang up {peer}: {exc}") from exc

    def on_discovered(self, info: PeerInfo) -> None:
        # trap: mDNS reports on a zeroconf thread; hand it to trio through the token.
        if info.peer_id != self.my_id:
            self.bridge.call_soon(self.spawn, self.dial_discovered, info)

    def spawn(self, fn: Callable[[PeerInfo], Awaitable[None]], info: PeerInfo) -> None:
        if self.nursery is not None:
            self.nursery.start_soon(fn, info)

    async def dial_discovered(self, info: PeerInfo) -> None:
        # trap: mDNS only fills the peerstore; nobody dials unless we do.
        if self.swarm.get_connections(info.peer_id):
            return
        with trio.move_on_after(REDIAL_WITHIN):
            try:
                await self.host.connect(info)
            except (BaseLibp2pError, OSError) as exc:
                log.debug("mDNS peer %s not reachable: %r", info.peer_id, exc)

    # pushes

    def install_validator(self, topic: str) -> None:
        self.pubsub.set_topic_validator(
            topic, functools.partial(self.validate, topic), is_async_validator=False
        )

    def validate(self, topic: str, forwarder: ID, message: Any) -> bool:
        """The pubsub validator for ``topic``: runs the node's pure validator. A rejected push is
        neither delivered nor forwarded (Pubsub.push_msg returns before router.publish)."""
        validator = self.net.validators.get(topic)
        via = forwarder.to_base58()
        if validator is not None:
            try:
                accepted = validator(via, message.data)
            except Exception:
                # An exception escaping here would end the pubsub service.
                self.counts["validator_errors"] += 1
                log.exception("validator for %r raised; push rejected", topic)
                accepted = False
            if not accepted:
                self.counts["push_rejected"] += 1
                return False
        if forwarder != self.my_id:
            self.via[(message.from_id, message.seqno)] = via
            if len(self.via) > VIA_MEMORY:
                self.via.popitem(last=False)
        return True

    async def catch_up(self) -> None:
        """Apply the adapter's settings again (all idempotent): anything set on the asyncio
        side while this run was starting may have missed __init__ and serve."""
        for protocol in list(self.net.handlers):
            self.add_stream_handler(protocol)
        for topic in list(self.net.validators):
            self.install_validator(topic)
        for topic in list(self.net.topics):
            await self.subscribe(topic)

    async def subscribe(self, topic: str) -> None:
        if topic in self.drains:
            return
        if topic not in self.pubsub.topic_validators:
            self.install_validator(topic)
        subscription = cast(TrioSubscriptionAPI, await self.pubsub.subscribe(topic))
        self.drains.add(topic)
        assert self.nursery is not None
        self.nursery.start_soon(self.drain, topic, subscription.receive_channel)

    async def drain(self, topic: str, channel: trio.MemoryReceiveChannel[Any]) -> None:
        """Move deliveries to the asyncio side as soon as they land. trap: the subscription
        channel holds 32 messages and the library drops the 33rd silently, so take everything
        that is there on every wake-up, not one message per scheduling round."""
        while True:
            try:
                batch = [await channel.receive()]
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return
            while True:
                try:
                    batch.append(channel.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
            events: list[NetEvent] = []
            for message in batch:
                if message.from_id == self.my_id_bytes:
                    continue  # our own publish, looped back by the library
                via = self.via.pop((message.from_id, message.seqno), None)
                if via is None:
                    via = ID(message.from_id).to_base58()
                events.append(Pushed(topic, message.data, via))
            if events:
                self.counts["push_delivered"] += len(events)
                self.bridge.to_asyncio(self.net.deliver, events)

    async def publish(self, topic: str, data: bytes) -> None:
        if len(data) > MAX_PUSH_BYTES:
            raise NetworkError("too_large", f"push of {len(data)} > {MAX_PUSH_BYTES} bytes")
        # trap: the per-peer outbound queue drops on overflow and publish() returns normally;
        # wait here instead while any queue is past the high-water mark.
        deadline = trio.current_time() + PUBLISH_STALL_LIMIT
        while self.fullest_queue() >= PUBLISH_HIGH_WATER:
            if trio.current_time() > deadline:
                raise NetworkError(
                    "congested", f"a peer's outbound queue stayed full {PUBLISH_STALL_LIMIT} s"
                )
            await trio.sleep(PUBLISH_PACE_POLL)
        try:
            await self.pubsub.publish(topic, data)
        except BaseLibp2pError as exc:
            raise NetworkError("failed", f"publish on {topic!r}: {exc}") from exc

    def fullest_queue(self) -> int:
        return max((len(queue) for queue in self.pubsub.peer_queues.values()), default=0)

    # streams

    def add_stream_handler(self, protocol: str) -> None:
        self.host.set_stream_handler(TProtocol(protocol), functools.partial(self.inbound, protocol))

    async def inbound(self, protocol: str, net_stream: INetStream) -> None:
        """The handler libp2p calls. trap: an exception escaping a stream handler ends the
        swarm, so none does: the stream goes to the asyncio handler, and this task holds it
        open until that handler is done."""
        stream: TrioStream | None = None
        try:
            peer = net_stream.muxed_conn.peer_id.to_base58()
            stream = TrioStream(self, net_stream, peer)
            self.bridge.to_asyncio(self.net.handle_stream, protocol, stream)
            await stream.done.wait()
        except Exception:
            self.counts["handler_errors"] += 1
            log.exception("inbound %s stream failed", protocol)
            if stream is not None:
                await stream.reset()
            else:
                with trio.move_on_after(STREAM_FINISH_WITHIN) as scope:
                    scope.shield = True
                    await net_stream.reset()
        finally:
            if stream is not None:
                await stream.finish()

    async def open_stream(self, peer: PeerId, protocol: str, within: float) -> TrioStream:
        peer_id = _peer_id(peer)
        try:
            with trio.fail_after(within):
                net_stream = await self.host.new_stream(peer_id, [TProtocol(protocol)])
        except trio.TooSlowError as exc:
            raise NetworkError("timeout", f"no {protocol} stream to {peer} in {within} s") from exc
        except StreamFailure as exc:
            raise NetworkError("refused", f"{peer} refused {protocol}: {exc}") from exc
        except (SwarmException, BaseLibp2pError, OSError) as exc:
            raise NetworkError("unreachable", f"{peer}: {type(exc).__name__}: {exc}") from exc
        return TrioStream(self, net_stream, peer)
