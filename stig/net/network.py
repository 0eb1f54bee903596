"""The network port: everything the node needs from a network, and nothing more.

Two adapters implement it (STYLE.md, httpx transports): ``Libp2pNetwork`` (py-libp2p on trio,
in its own thread) and ``MemoryNetwork`` (in-process, with configurable latency and loss, for
fast tests and simulations of thousands of nodes). The node logic above is the same for both.

The port speaks in three things: *pushes* (gossip on a topic: fire and forget, validated on
arrival before they are forwarded), *streams* (a request/response conversation with one peer,
for sync), and *events* (peers coming and going, pushes that arrived). Two read-only questions
say how far the node reaches (docs/protocol.md §8): ``reach()`` (can others reach this node,
and at which addresses) and ``route(peer)`` (direct, hole-punched, or through which relay). The
port names no transport: a circuit through a relay is an address like any other, so a Tor
transport fits behind it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from stig.errors import StigError

PeerId = str
"""A transport identity (a libp2p peer id in base58). Never an author key: the two are
unrelated by design (DESIGN.md principle 4)."""

MAX_STREAM_FRAME = 1 << 20
"""Largest frame a stream reads; a peer that announces more is cut off."""


class NetworkError(StigError):
    """A dial, stream or publish failed; ``reason`` is machine-readable (``timeout``,
    ``refused``, ``closed``, ``frame_too_large``, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PeerUp:
    peer: PeerId


@dataclass(frozen=True)
class PeerDown:
    peer: PeerId


@dataclass(frozen=True)
class Pushed:
    """A gossip message that passed this node's validator for its topic. ``via`` is the peer
    that forwarded it to us, not necessarily its author."""

    topic: str
    data: bytes
    via: PeerId


NetEvent = PeerUp | PeerDown | Pushed

PUBLIC = "public"
"""Others can dial this node at its own addresses."""
BEHIND_NAT = "behind NAT"
"""Others cannot dial this node's own addresses; ``Reach.relays`` says which relays (if any)
hold a reservation for it, so that others reach it through them."""
UNKNOWN = "unknown"
"""Not known yet: with ``reachability = auto`` no peer has yet dialed this node back or
failed to (docs/protocol.md §8.8.1). Such a node reserves on no relay and hands out its own
addresses."""

DIRECT = "direct"
HOLE_PUNCHED = "hole-punched"
"""A direct connection that replaced a relayed one (DCUtR, docs/protocol.md §8.4)."""
RELAYED = "via relay"


@dataclass(frozen=True)
class TorState:
    """How this node uses tor (docs/protocol.md §8.10): ``mode`` is ``tor`` or ``tor-only``,
    ``onion`` the ``/onion3`` address it serves, ``own_tor`` whether stig started that tor,
    ``control`` where its control port or socket is."""

    mode: str
    onion: str
    own_tor: bool
    control: str


@dataclass(frozen=True)
class Reach:
    """How others can reach this node, as far as it knows (never a guess passed off as fact:
    ``why`` says what the state rests on)."""

    state: str  # PUBLIC, BEHIND_NAT or UNKNOWN
    why: str
    listening: tuple[str, ...]
    advertised: tuple[str, ...]
    """The addresses to hand out (invites, ``stig addr``): this node's own when it is public,
    else one circuit address per relay holding a reservation for it."""
    relays: tuple[PeerId, ...] = ()
    tor: TorState | None = None
    """None when the node does not use tor."""

    @property
    def reachable(self) -> bool:
        return self.state == PUBLIC or bool(self.relays)


@dataclass(frozen=True)
class Route:
    """How a connected peer is reached: ``kind`` is DIRECT, HOLE_PUNCHED or RELAYED (then
    ``relay`` is the relay's peer id); ``since`` is the wall-clock time (unix seconds) it
    started being so."""

    kind: str
    since: float
    relay: PeerId | None = None
    onion: bool = False
    """Every connection to the peer runs through tor (docs/protocol.md §8.10)."""

    def describe(self) -> str:
        how = f"{self.kind} {self.relay}" if self.kind == RELAYED else self.kind
        return how + " over tor" if self.onion else how


Validator = Callable[[PeerId, bytes], bool]
"""Decides, on arrival, whether a push is forwarded and delivered. It runs on the network's own
thread and must be pure and quick (stig passes ``validate`` from the core, which is)."""

StreamHandler = Callable[[PeerId, "Stream"], Awaitable[None]]


class Stream(Protocol):
    """A conversation with one peer, in length-prefixed frames."""

    peer: PeerId

    async def send(self, frame: bytes) -> None: ...

    async def receive(self, limit: int = MAX_STREAM_FRAME) -> bytes | None:
        """The next frame, or None when the peer closed its side. A frame over ``limit``
        raises NetworkError('frame_too_large') and resets the stream."""

    async def close(self) -> None: ...

    async def reset(self) -> None: ...


class Network(Protocol):
    @property
    def peer_id(self) -> PeerId: ...

    async def start(self) -> list[str]:
        """Start listening; return this node's full addresses (``/ip4/../tcp/../p2p/..``)."""

    async def stop(self) -> None: ...

    def addresses(self) -> list[str]: ...

    def peers(self) -> list[PeerId]: ...

    def reach(self) -> Reach:
        """Whether others can reach this node, and at which addresses."""

    def route(self, peer: PeerId) -> Route | None:
        """How a connected peer is reached; None if it is not connected."""

    async def dial(self, address: str, within: float) -> PeerId:
        """Connect to a full address within ``within`` seconds, else NetworkError ('timeout',
        'refused', ...). Every dial is bounded: a wrong pnet key otherwise hangs for ~40 s.
        A circuit address (``<relay address>/p2p-circuit/p2p/<peer>``) is dialed through
        that relay."""

    async def hang_up(self, peer: PeerId) -> None:
        """Disconnect a peer (e.g. one that sent malformed sync frames)."""

    def set_validator(self, topic: str, validator: Validator) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def publish(self, topic: str, data: bytes) -> None:
        """Push to every peer on the topic. Paced, never dropped silently: it waits while the
        outbound queues are full instead of letting the library discard messages."""

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None: ...

    async def open_stream(self, peer: PeerId, protocol: str, within: float) -> Stream:
        """Open a stream, failing with NetworkError('timeout') after ``within`` seconds."""

    def events(self) -> AsyncIterator[NetEvent]:
        """Every event, in order, for the one consumer (the node)."""
