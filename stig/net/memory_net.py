"""The in-memory adapter of the network port: many nodes in one process, for fast tests and
large simulations (hundreds to thousands of nodes). It ships in the package (STYLE.md: ports
with in-memory twins) and is used *in addition to* real libp2p tests, never instead of them.

It behaves like GossipSub where the node can tell: pushes travel a stable, bounded mesh per
topic (a node grafts peers until it has ``mesh_degree``, a graft is mutual, and a node already
at MESH_DEGREE_HIGH takes no more grafts — GossipSub's D and D_hi), each node forwards a message
once to its mesh peers but the sender (deduplicated by a hash of its bytes), the validator runs
before delivery and forwarding, links have latency and loss. Streams are pairs of in-memory
frame queues with the same latency.
Addresses look like ``/memory/<name>/p2p/<peer id>``.

Reachability is modelled as the libp2p adapter sees it (docs/protocol.md §8): a node made
``behind_nat`` cannot be dialed at its own address (a dial is refused, as a NAT drops it); when
it dials a node that offers the hop service (``hop=HopLimits()``) it holds a reservation there,
and others reach it at the circuit address ``<relay address>/p2p-circuit/p2p/<id>``. A circuit
ends when its relay stops or either end leaves the relay.

Hole punching is modelled as py-libp2p's DCUtR behaves (stig.net.hole_punch): each node has a
kind of NAT (``nat``: none, port-keeping, port-randomising; ``behind_nat=True`` alone means
port-keeping, the usual home router). PUNCH_AFTER seconds after a relayed connection comes up
the pair tries to punch; where both NATs allow it, PUNCH_TAKES later the route is
``hole-punched``, and RELAYED_KEPT_FOR after that the relayed connection is closed: from then on
the relay may stop and the pair stays connected. Where they do not, it tries PUNCH_TRIES times
and the pair keeps its circuit. Time is the hub's clock (stig.net.memory_clock): real seconds by
default, or a ``SteppedClock`` a test moves on by hand.

Reachability is learned as the libp2p adapter learns it (AutoNAT, docs/protocol.md §8.8.1):
with ``reachability = "auto"`` a node asks up to ASK_PEERS directly linked peers to dial it
back whenever a direct link comes up while it knows nothing, or when it moves (``behind_nat``
set); a peer can dial it back unless it is behind NAT of any kind; the verdict is
``stig.net.reachability.decide``'s. Only a node that learned (or was told) it is not public
reserves on relays.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stig.net.circuit import HopLimits, circuit_address, decide_public, is_circuit, split_circuit
from stig.net.hole_punch import (
    NAT_KINDS,
    NO_NAT,
    PORT_KEEPING,
    PUNCH_AFTER,
    PUNCH_RETRY,
    PUNCH_TAKES,
    PUNCH_TRIES,
    RELAYED_KEPT_FOR,
    punch_succeeds,
)
from stig.net.memory_clock import TwinClock, WallClock
from stig.net.network import (
    BEHIND_NAT,
    DIRECT,
    HOLE_PUNCHED,
    MAX_STREAM_FRAME,
    PUBLIC,
    RELAYED,
    UNKNOWN,
    NetEvent,
    Network,
    NetworkError,
    PeerDown,
    PeerId,
    PeerUp,
    Pushed,
    Reach,
    Route,
    Stream,
    StreamHandler,
    Validator,
)
from stig.net.reachability import ASK_PEERS, DIALED, NOT_DIALED, decide

DEFAULT_MESH_DEGREE = 4
MESH_DEGREE_LOW = 2
"""Below this, a node grafts even peers that are full: nobody is left outside the mesh."""
MESH_DEGREE_HIGH = 4
"""A node with this many mesh peers on a topic accepts no more grafts: mutual grafts cannot
then push the mean degree — and so the copies of each message a node receives — far above D."""
SEEN_CACHE = 50_000  # message ids remembered per node, for deduplication


@dataclass
class Link:
    latency: float = 0.0  # seconds, one way
    loss: float = 0.0  # probability that one push is lost (streams are reliable, like TCP)


@dataclass(eq=False)
class Circuit:
    """A relayed connection between ``ends`` through ``relay``; it outlives a punch by
    RELAYED_KEPT_FOR seconds, as DCUtR's does."""

    relay: PeerId
    ends: tuple[PeerId, PeerId]
    serial: int


@dataclass
class MemoryHub:
    """The shared fabric: every MemoryNetwork of a simulation registers here."""

    default_link: Link = field(default_factory=Link)
    mesh_degree: int = DEFAULT_MESH_DEGREE
    seed: int = 0
    nodes: dict[PeerId, MemoryNetwork] = field(default_factory=dict)
    links: dict[frozenset[PeerId], Link] = field(default_factory=dict)
    clock: TwinClock = field(default_factory=WallClock)
    pushes_sent: int = 0
    punches_tried: int = 0
    punches_made: int = 0

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.circuit_serials = itertools.count(1)

    def link(self, a: PeerId, b: PeerId) -> Link:
        return self.links.get(frozenset((a, b)), self.default_link)

    def set_link(self, a: PeerId, b: PeerId, link: Link) -> None:
        self.links[frozenset((a, b))] = link

    def network(
        self,
        name: str,
        *,
        behind_nat: bool = False,
        nat: str | None = None,
        hop: HopLimits | None = None,
        reachability: str = "auto",
    ) -> MemoryNetwork:
        return MemoryNetwork(
            self, name, behind_nat=behind_nat, nat=nat, hop=hop, reachability=reachability
        )


class MemoryStream:
    def __init__(self, peer: PeerId, latency: float) -> None:
        self.peer = peer
        self._latency = latency
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.other: MemoryStream | None = None
        self._closed = False

    async def send(self, frame: bytes) -> None:
        if self._closed or self.other is None:
            raise NetworkError("closed", "stream is closed")
        other = self.other
        loop = asyncio.get_running_loop()
        loop.call_later(self._latency, other._inbox.put_nowait, frame)

    async def receive(self, limit: int = MAX_STREAM_FRAME) -> bytes | None:
        frame = await self._inbox.get()
        if frame is not None and len(frame) > limit:
            await self.reset()
            raise NetworkError("frame_too_large", f"{len(frame)} bytes, the limit is {limit}")
        return frame

    async def close(self) -> None:
        if not self._closed and self.other is not None:
            self._closed = True
            loop = asyncio.get_running_loop()
            loop.call_later(self._latency, self.other._inbox.put_nowait, None)
            # A closed end sends nothing more: letting go of the other end breaks the pair's
            # cycle, so the two are freed as soon as nothing holds them, not by the cyclic
            # collector (which the 10,000-node simulation turns off).
            self.other = None

    async def reset(self) -> None:
        await self.close()


class MemoryNetwork:
    def __init__(
        self,
        hub: MemoryHub,
        name: str,
        *,
        behind_nat: bool = False,
        nat: str | None = None,
        hop: HopLimits | None = None,
        reachability: str = "auto",
    ) -> None:
        if nat is None:
            nat = PORT_KEEPING if behind_nat else NO_NAT
        elif nat not in NAT_KINDS or (behind_nat and nat == NO_NAT):
            raise ValueError(f"nat must be one of {NAT_KINDS} (not {NO_NAT} behind NAT): {nat!r}")
        self.nat = nat
        """The kind of NAT in front of this node (stig.net.hole_punch)."""
        self.hop = hop
        self.reachability = reachability
        self.verdict = decide_public(reachability, [])
        """(public?, why), None while not known: as ``Side.verdict`` of the libp2p adapter."""
        self._routes: dict[PeerId, Route] = {}
        self._circuits: dict[PeerId, Circuit] = {}  # the relayed connection to a peer, if any
        self._carrying: set[Circuit] = set()  # as a relay: the circuits through it
        self._reservations: dict[PeerId, str] = {}  # relay → its address: we are reachable there
        self._reserved: set[PeerId] = set()  # as a relay: the peers holding a reservation here
        self._hub = hub
        self._name = name
        self._peer_id: PeerId = "mem" + hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
        self._peers: set[PeerId] = set()
        self._peers_sorted: list[PeerId] | None = None  # peers(), kept until _peers changes
        self._topics: set[str] = set()
        self._validators: dict[str, Validator] = {}
        self._handlers: dict[str, StreamHandler] = {}
        self._events: asyncio.Queue[NetEvent] = asyncio.Queue()
        self._meshes: dict[str, set[PeerId]] = {}  # topic → mesh peers, always connected ones
        self._seen: set[bytes] = set()
        self._seen_order: deque[bytes] = deque()
        self._running = False
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self.copies_received = 0
        self.pushes_sent = 0

    @property
    def peer_id(self) -> PeerId:
        return self._peer_id

    @property
    def behind_nat(self) -> bool:
        return self.nat != NO_NAT

    @behind_nat.setter
    def behind_nat(self, behind: bool) -> None:
        """The node moved (onto a public address, or behind a home router: port-keeping). On
        ``auto`` what it learned no longer holds: it asks its direct peers again at once (the
        libp2p adapter would at its next check, stig.net.reachability.RECHECK_EVERY)."""
        if behind != self.behind_nat:
            self.nat = PORT_KEEPING if behind else NO_NAT
            if self.reachability == "auto":
                self.verdict = decide_public(self.reachability, [])
                self._check_reach()

    async def start(self) -> list[str]:
        self._running = True
        self._hub.nodes[self._peer_id] = self
        return self.addresses()

    async def stop(self) -> None:
        self._running = False
        for peer in list(self._peers):
            await self.hang_up(peer)
        self._hub.nodes.pop(self._peer_id, None)

    def addresses(self) -> list[str]:
        return [f"/memory/{self._name}/p2p/{self._peer_id}"]

    def peers(self) -> list[PeerId]:
        # A relay of the simulated tier has a thousand peers and is asked for them a few times
        # on every new connection: sorted once per change, copied for each caller.
        if self._peers_sorted is None:
            self._peers_sorted = sorted(self._peers)
        return list(self._peers_sorted)

    def reach(self) -> Reach:
        own = tuple(self.addresses())
        public, why = self.verdict
        if public:
            return Reach(PUBLIC, why, own, own)
        if public is None:
            return Reach(UNKNOWN, why, own, ())
        relays = tuple(sorted(self._reservations))
        advertised = tuple(circuit_address(self._reservations[r], self._peer_id) for r in relays)
        return Reach(BEHIND_NAT, why, own, advertised, relays)

    def _check_reach(self) -> None:
        """While nothing is known: ask up to ASK_PEERS directly linked peers to dial this node
        back (they can unless it is behind NAT), and take the verdict if one comes."""
        if self.verdict[0] is not None:
            return
        direct = sorted(p for p, route in self._routes.items() if route.kind == DIRECT)
        asked = direct[:ASK_PEERS]
        verdict = decide([NOT_DIALED if self.behind_nat else DIALED for _ in asked])
        if verdict is not None:
            self.verdict = (verdict.public, verdict.why)

    def route(self, peer: PeerId) -> Route | None:
        return self._routes.get(peer) if peer in self._peers else None

    async def dial(self, address: str, within: float) -> PeerId:
        if is_circuit(address):
            return await self._dial_circuit(address, within)
        peer = address.rsplit("/p2p/", 1)[-1]
        other = self._hub.nodes.get(peer)
        if other is None or not other._running:
            raise NetworkError("refused", f"nothing listens at {address}")
        if other.behind_nat and peer not in self._peers:
            raise NetworkError("timeout", f"{address} is behind NAT: nothing answers there")
        self._link(other, Route(DIRECT, self._hub.clock.now()))
        hop = other.hop
        if self.verdict[0] is False and hop is not None and peer not in self._reservations:
            self._reserve(other, hop, address)
        return peer

    def _reserve(self, relay: MemoryNetwork, hop: HopLimits, address: str) -> None:
        if len(relay._reserved) < hop.max_reservations:
            relay._reserved.add(self._peer_id)
            self._reservations[relay._peer_id] = address

    async def _dial_circuit(self, address: str, within: float) -> PeerId:
        try:
            relay_address, relay_id, peer = split_circuit(address)
        except ValueError as exc:
            raise NetworkError("bad_address", str(exc)) from exc
        relay = self._hub.nodes.get(relay_id)
        if relay is None or not relay._running or relay.hop is None:
            raise NetworkError("refused", f"no relay answers at {relay_address}")
        if relay_id not in self._peers:
            await self.dial(relay_address, within)
        other = self._hub.nodes.get(peer)
        if other is None or peer not in relay._reserved or peer not in relay._peers:
            raise NetworkError("refused", f"{peer} holds no reservation with {relay_id}")
        if self._link(other, Route(RELAYED, self._hub.clock.now(), relay_id)):
            self._open_circuit(other, relay)
        return peer

    def _link(self, other: MemoryNetwork, route: Route) -> bool:
        """Connect to ``other`` over ``route``; False if already connected."""
        peer = other._peer_id
        if peer in self._peers or peer == self._peer_id:
            return False
        self._peers.add(peer)
        other._peers.add(self._peer_id)
        self._peers_sorted = other._peers_sorted = None
        self._routes[peer] = route
        other._routes[self._peer_id] = route
        self._events.put_nowait(PeerUp(peer))
        other._events.put_nowait(PeerUp(self._peer_id))
        if route.kind == DIRECT:
            self._check_reach()
            other._check_reach()
        self._heartbeat()
        other._heartbeat()
        return True

    async def hang_up(self, peer: PeerId) -> None:
        if peer in self._peers:
            self._peers.discard(peer)
            self._peers_sorted = None
            for mesh in self._meshes.values():
                mesh.discard(peer)
            self._routes.pop(peer, None)
            self._events.put_nowait(PeerDown(peer))
            other = self._hub.nodes.get(peer)
            if other is not None and self._peer_id in other._peers:
                other._peers.discard(self._peer_id)
                other._peers_sorted = None
                for mesh in other._meshes.values():
                    mesh.discard(self._peer_id)
                other._routes.pop(self._peer_id, None)
                other._events.put_nowait(PeerDown(self._peer_id))
            circuit = self._circuits.get(peer)
            if circuit is not None:
                self._close_circuit(circuit)  # the relayed connection goes with the rest
            await self._end_circuits(peer)
            # GossipSub prunes a gone peer from the mesh and its heartbeat grafts another. Without
            # this a node whose mesh peers all hung up (full peers turning it away) kept a dead
            # mesh while connected to others, and got no push until its next new connection.
            self._heartbeat()
            if other is not None:
                other._heartbeat()

    async def _end_circuits(self, peer: PeerId) -> None:
        """Leaving a relay ends this node's reservation there and every circuit through it that
        ends here; a relay leaving a peer ends that peer's (``peer`` is the other side)."""
        self._reservations.pop(peer, None)
        self._reserved.discard(peer)
        other = self._hub.nodes.get(peer)
        if other is not None:
            other._reservations.pop(self._peer_id, None)
            other._reserved.discard(self._peer_id)
        for relay, end in ((peer, self), (self._peer_id, other)):
            if end is None:
                continue
            for circuit in [c for c in end._circuits.values() if c.relay == relay]:
                self._close_circuit(circuit)  # a punched pair stays connected without it
            for far, route in list(end._routes.items()):
                if route.kind == RELAYED and route.relay == relay:
                    await end.hang_up(far)

    # -- hole punching (stig.net.hole_punch) ---------------------------------------------------

    def circuits(self) -> list[tuple[PeerId, PeerId]]:
        """As a relay, the pairs it carries a relayed connection between (a twin-only view, for
        tests and simulations); a pair stays here RELAYED_KEPT_FOR seconds after a punch."""
        return sorted(circuit.ends for circuit in self._carrying)

    def _open_circuit(self, other: MemoryNetwork, relay: MemoryNetwork) -> None:
        circuit = Circuit(
            relay._peer_id, (self._peer_id, other._peer_id), next(self._hub.circuit_serials)
        )
        self._circuits[other._peer_id] = circuit
        other._circuits[self._peer_id] = circuit
        relay._carrying.add(circuit)
        self._hub.clock.call_later(PUNCH_AFTER, lambda: self._try_punch(other, circuit, 1))

    def _still_relayed(self, other: MemoryNetwork, circuit: Circuit) -> bool:
        """Whether ``circuit`` is still how this node and ``other`` are connected: a timer set
        for an earlier connection between them does nothing to a later one."""
        route = self._routes.get(other._peer_id)
        return (
            self._running
            and other._running
            and self._circuits.get(other._peer_id) is circuit
            and route is not None
            and route.kind == RELAYED
        )

    def _try_punch(self, other: MemoryNetwork, circuit: Circuit, attempt: int) -> None:
        if not self._still_relayed(other, circuit):
            return
        self._hub.punches_tried += 1
        if punch_succeeds(self.nat, other.nat):
            self._hub.clock.call_later(PUNCH_TAKES, lambda: self._punched(other, circuit))
        elif attempt < PUNCH_TRIES:
            retry = attempt + 1
            self._hub.clock.call_later(PUNCH_RETRY, lambda: self._try_punch(other, circuit, retry))

    def _punched(self, other: MemoryNetwork, circuit: Circuit) -> None:
        if not self._still_relayed(other, circuit):
            return
        self._hub.punches_made += 1
        route = Route(HOLE_PUNCHED, self._hub.clock.now())
        self._routes[other._peer_id] = route
        other._routes[self._peer_id] = route
        self._hub.clock.call_later(RELAYED_KEPT_FOR, lambda: self._close_circuit(circuit))

    def _close_circuit(self, circuit: Circuit) -> None:
        """Forget the relayed connection ``circuit`` at both ends and at its relay (whether the
        pair stays connected is the caller's business)."""
        a, b = circuit.ends
        for end, far in ((a, b), (b, a)):
            node = self._hub.nodes.get(end)
            if node is not None and node._circuits.get(far) is circuit:
                del node._circuits[far]
        relay = self._hub.nodes.get(circuit.relay)
        if relay is not None:
            relay._carrying.discard(circuit)

    # -- gossip -------------------------------------------------------------------------------

    def set_validator(self, topic: str, validator: Validator) -> None:
        self._validators[topic] = validator

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)
        self._heartbeat()

    async def publish(self, topic: str, data: bytes) -> None:
        self._remember(_message_id(data))
        self._forward(topic, data, exclude=None)

    def mesh_peers(self, topic: str) -> list[PeerId]:
        """The peers this node forwards ``topic``'s pushes to (its mesh, as it stands)."""
        return sorted(self._meshes.get(topic, ()))

    def _mesh(self, topic: str, exclude: PeerId | None) -> list[PeerId]:
        mesh = self._graft(topic)
        return [p for p in sorted(mesh) if p != exclude]

    def _graft(self, topic: str) -> set[PeerId]:
        """This node's mesh for ``topic``: random connected peers grafted (mutually) until it
        has mesh_degree, as a heartbeat would (gone peers left it at their hang-up)."""
        # A mesh peer leaves only by a hang-up, which drops it from both sides' meshes (a
        # stopping node hangs up on every peer), and a topic is never left: there is nothing to
        # prune here. A relay's mesh is every light node that reaches it, and looking at all of
        # them on each graft made its cost per new connection grow with its peers.
        mesh = self._meshes.setdefault(topic, set())
        if len(mesh) >= self._hub.mesh_degree:
            return mesh  # (without a look at every peer: this runs for every push forwarded)
        live = {p for p in self._peers if self._subscribed(p, topic)}

        def fullness(peer: PeerId) -> int:
            return len(self._hub.nodes[peer]._meshes.setdefault(topic, set()))

        candidates = sorted(live - mesh)
        spare = [p for p in candidates if fullness(p) < MESH_DEGREE_HIGH]
        want = min(len(spare), self._hub.mesh_degree - len(mesh))
        chosen = self._hub.random.sample(spare, want)
        if len(mesh) + len(chosen) < MESH_DEGREE_LOW:
            full = sorted((p for p in candidates if p not in chosen), key=fullness)
            chosen += full[: MESH_DEGREE_LOW - len(mesh) - len(chosen)]
        for peer in chosen:
            mesh.add(peer)
            self._hub.nodes[peer]._meshes[topic].add(self._peer_id)
        return mesh

    def _heartbeat(self) -> None:
        """Keep every topic's mesh filled (GossipSub does this on its heartbeat)."""
        for topic in self._topics:
            self._graft(topic)

    def _subscribed(self, peer: PeerId, topic: str) -> bool:
        node = self._hub.nodes.get(peer)
        return node is not None and node._running and topic in node._topics

    def _forward(self, topic: str, data: bytes, exclude: PeerId | None) -> None:
        loop = asyncio.get_running_loop()
        for peer in self._mesh(topic, exclude):
            link = self._hub.link(self._peer_id, peer)
            self._hub.pushes_sent += 1
            self.pushes_sent += 1
            if link.loss and self._hub.random.random() < link.loss:
                continue
            other = self._hub.nodes[peer]
            loop.call_later(link.latency, other._arrive, topic, data, self._peer_id)

    def _arrive(self, topic: str, data: bytes, via: PeerId) -> None:
        if not self._running or topic not in self._topics or via not in self._peers:
            return
        self.copies_received += 1
        message_id = _message_id(data)
        if message_id in self._seen:
            return
        self._remember(message_id)
        validator = self._validators.get(topic)
        if validator is not None and not validator(via, data):
            return  # not delivered, not forwarded: junk never travels a second hop
        self._events.put_nowait(Pushed(topic, data, via))
        self._forward(topic, data, exclude=via)

    def _remember(self, message_id: bytes) -> None:
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > SEEN_CACHE:
            self._seen.discard(self._seen_order.popleft())

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None:
        self._handlers[protocol] = handler

    async def open_stream(self, peer: PeerId, protocol: str, within: float) -> MemoryStream:
        other = self._hub.nodes.get(peer)
        if other is None or peer not in self._peers:
            raise NetworkError("refused", f"not connected to {peer}")
        handler = other._handlers.get(protocol)
        if handler is None:
            raise NetworkError("unsupported", f"{peer} does not speak {protocol}")
        latency = self._hub.link(self._peer_id, peer).latency
        ours, theirs = MemoryStream(peer, latency), MemoryStream(self._peer_id, latency)
        ours.other, theirs.other = theirs, ours
        other._spawn_handler(handler, theirs)
        return ours

    def _spawn_handler(self, handler: StreamHandler, stream: MemoryStream) -> None:
        async def guarded() -> None:
            # Like the libp2p adapter: a handler's failure resets its stream, never the node.
            try:
                await handler(stream.peer, stream)
            except Exception:
                await stream.reset()

        task = asyncio.get_running_loop().create_task(guarded())
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_tasks.discard)

    async def events(self) -> AsyncIterator[NetEvent]:
        while True:
            yield await self._events.get()


def _message_id(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


if TYPE_CHECKING:

    def _implements_the_port(net: MemoryNetwork, stream: MemoryStream) -> tuple[Network, Stream]:
        return net, stream  # mypy checks the twin against stig.net.network here
