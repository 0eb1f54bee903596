"""The network port: everything the node needs from a network, and nothing more.

Two adapters implement it (STYLE.md, httpx transports): ``Libp2pNetwork`` (py-libp2p on trio,
in its own thread) and ``MemoryNetwork`` (in-process, with configurable latency and loss, for
fast tests and simulations of thousands of nodes). The node logic above is the same for both.

The port speaks in three things: *pushes* (gossip on a topic: fire and forget, validated on
arrival before they are forwarded), *streams* (a request/response conversation with one peer,
for sync), and *events* (peers coming and going, pushes that arrived).
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

    async def dial(self, address: str, within: float) -> PeerId:
        """Connect to a full address within ``within`` seconds, else NetworkError ('timeout',
        'refused', ...). Every dial is bounded: a wrong pnet key otherwise hangs for ~40 s."""

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
