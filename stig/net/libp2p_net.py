"""``Libp2pNetwork``: the network port (``stig.net.network``) on py-libp2p 0.8.1.

py-libp2p runs on trio in a thread of its own; the node's asyncio code reaches it only through
``stig.net.trio_bridge``. ``Side`` (one run of libp2p) and ``TrioStream`` live in that trio
thread (``stig.net.libp2p_side``); ``Libp2pNetwork`` and ``Libp2pStream``, here, live on the
asyncio loop; ``stig.net.addresses`` turns what libp2p listens on into what peers can dial.
py-libp2p 0.8.1 has traps (plaintext by default, silent drops, one bad handler ends the host,
...): each one is marked ``trap:`` where it is handled. The version is pinned; re-check them
before moving it.

Wire choices:

* Security: Noise only (trap: a default host also offers ``/plaintext/2.0.0``), Yamux only, and
  an optional private-network key (64 hex characters; py-libp2p's pnet is not interoperable
  with go/js libp2p).
* Protocol negotiation is bounded (64 KiB a read; 256 KiB before Noise, 1 MiB after it, 10 s
  in all until the connection is multiplexed) by ``stig.net.negotiation_guard``: 0.8.1 reads
  whatever length a peer claims (trap).
* Transport identity: an Ed25519 key derived from a 32-byte seed the caller keeps, so the
  peer id is stable across restarts. It is never a persona key (DESIGN.md principle 4).
* Gossip: GossipSub speaking ``/meshsub/1.1.0`` (and 1.0.0). 1.2+ adds an IDONTWANT control
  RPC per message per mesh peer, each carrying a signed peer record that the receiver verifies:
  measured on a three-node chain, 8.2 instead of 3.9 ms of CPU per push, for no gain at trace
  sizes.
* Stream frames: a 4-byte big-endian unsigned length, then that many bytes. A fixed header lets
  the reader refuse an oversize frame before reading any of it.

Bounds are the named constants below. Counters (``Libp2pNetwork.counts()``) record what was
refused or went wrong without stopping anything.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple

from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from stig.net.addresses import dialable
from stig.net.circuit import REACHABILITY_MODES, HopLimits, circuit_address
from stig.net.libp2p_side import COUNTERS, REDIAL_WITHIN, Side, TrioStream
from stig.net.network import (
    BEHIND_NAT,
    MAX_STREAM_FRAME,
    PUBLIC,
    NetEvent,
    Network,
    NetworkError,
    PeerDown,
    PeerId,
    PeerUp,
    Reach,
    Route,
    Stream,
    StreamHandler,
    TorState,
    Validator,
)
from stig.net.tor.link import TorLink, TorPlan, open_link
from stig.net.tor.modes import is_onion
from stig.net.trio_bridge import TrioBridge

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # see stig.net.trio_bridge

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

RESTART_LIMIT = 3
RESTART_WINDOW = 60.0
"""The watchdog restarts the trio side at most RESTART_LIMIT times per RESTART_WINDOW seconds;
past that the network stays down (every call: NetworkError('down')) until ``start()``."""


class Libp2pStream:
    """The asyncio face of a ``TrioStream``: every operation is one bridge call. Use it as an
    async context manager, or close (or reset) it when done."""

    def __init__(self, net: Libp2pNetwork, stream: TrioStream) -> None:
        self._net = net
        self._stream = stream
        self.peer: PeerId = stream.peer

    async def _call(self, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        # A stream belongs to one run of libp2p; after a watchdog restart it is gone.
        if self._net._side is not self._stream.side:
            raise NetworkError("closed", "the network restarted since this stream was opened")
        return await self._net.bridge.call(fn, *args)

    async def send(self, frame: bytes) -> None:
        await self._call(self._stream.send, frame)

    async def receive(self, limit: int = MAX_STREAM_FRAME) -> bytes | None:
        return await self._call(self._stream.receive, limit)

    async def close(self) -> None:
        await self._call(self._stream.close)

    async def reset(self) -> None:
        await self._call(self._stream.reset)

    async def __aenter__(self) -> Libp2pStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        with suppress(NetworkError):
            if exc_type is None:
                await self.close()
            else:
                await self.reset()


class Libp2pNetwork:
    """The network port on py-libp2p (see the module docstring).

    ``identity_seed`` (32 bytes) derives the transport key: keep it to keep the peer id.
    ``listen`` are multiaddrs without ``/p2p`` (``/tcp/0`` picks a free port; ``start()``
    reports the one picked). ``psk`` is a private-network key in hex (64 characters), or None.
    ``lan`` turns on mDNS discovery (it announces this node on every interface).
    ``hop`` (limits) makes this node a circuit relay for others; ``reachability`` is ``auto``,
    ``public`` or ``private`` (``stig.net.circuit.decide_public``): a node that is not public
    reserves a slot on the relays it reaches and advertises circuit addresses through them.
    ``tor`` (a plan, ``stig.net.tor.link``) makes the node an onion service as well as a
    clearnet node, or only an onion service: the link to tor opens in ``start()`` (blocking
    calls in a thread; a TorError says what is wrong) and closes in ``stop()``.
    """

    def __init__(
        self,
        identity_seed: bytes,
        listen: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",),
        *,
        psk: str | None = None,
        lan: bool = False,
        hop: HopLimits | None = None,
        reachability: str = "auto",
        tor: TorPlan | None = None,
    ) -> None:
        if reachability not in REACHABILITY_MODES:
            raise ValueError(f"reachability must be one of {REACHABILITY_MODES}")
        if len(identity_seed) != 32:
            raise ValueError("identity_seed must be 32 bytes")
        if psk is not None:
            try:
                valid = len(psk) == 64 and len(bytes.fromhex(psk)) == 32
            except ValueError:
                valid = False
            if not valid:
                raise ValueError("psk must be 64 hex characters")
        self.key_pair = create_new_key_pair(identity_seed)
        self._peer_id: PeerId = ID.from_pubkey(self.key_pair.public_key).to_base58()
        self.listen = list(listen)
        self.psk = psk
        self.lan = lan
        self.hop = hop
        self.reachability = reachability
        self.tor_plan = tor
        self.tor: TorLink | None = None
        self._routes: dict[PeerId, Route] = {}
        self._relays: dict[PeerId, str] = {}
        self.bridge = TrioBridge(f"libp2p-{self._peer_id[-6:]}", on_exit=self._on_trio_exit)
        self.validators: dict[str, Validator] = {}
        self.handlers: dict[str, StreamHandler] = {}
        self.topics: list[str] = []
        self.trio_counts: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._counts: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._side: Side | None = None
        self._addresses: list[str] = []
        self._bound: list[str] = []
        self._up: set[PeerId] = set()
        self._dialed: dict[PeerId, str] = {}
        self._events: asyncio.Queue[NetEvent | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._restarts: list[float] = []
        self._restarting: asyncio.Task[None] | None = None
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def peer_id(self) -> PeerId:
        return self._peer_id

    async def start(self) -> list[str]:
        if self._restarting is not None and not self._restarting.done():
            await asyncio.shield(self._restarting)
        if self.bridge.running:
            return list(self._addresses)
        self._stopping = False
        self._restarts.clear()
        if self.tor_plan is not None and self.tor is None:
            # Stopped while tor bootstraps (Ctrl-C): the thread is told, or the process would
            # wait for it up to the bootstrap bound before it could exit.
            cancel = threading.Event()
            try:
                self.tor = await asyncio.to_thread(open_link, self.tor_plan, cancel)
            except asyncio.CancelledError:
                cancel.set()
                raise
        try:
            return await self._start(self.listen)
        except BaseException:
            await self._close_tor()
            raise

    async def _close_tor(self) -> None:
        link, self.tor = self.tor, None
        if link is not None:
            await asyncio.to_thread(link.close)

    async def _start(self, listen: Sequence[str]) -> list[str]:
        def build() -> Side:
            return Side(self, listen)

        async def root(task_status: TaskStatus[list[str]]) -> None:
            side = build()
            self._side = side
            await side.run(task_status)

        try:
            addresses = await self.bridge.start(root)
        except NetworkError:
            raise
        except (OSError, ValueError) as exc:
            raise NetworkError("failed", f"cannot listen on {list(listen)}: {exc}") from exc
        side = self._live_side()
        # Whatever was set while the side was being built (a handler, a topic) is applied now.
        await self.bridge.call(side.catch_up)
        # Re-listen on these exact addresses after a crash: peers know them.
        self._bound = [a.rsplit("/p2p/", 1)[0] for a in addresses]
        # The onion first: an invite carries the first few addresses only.
        self._addresses = sorted(dialable(addresses), key=lambda a: not is_onion(a))
        return list(self._addresses)

    async def stop(self) -> None:
        self._stopping = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        side = self._side
        if side is not None and self.bridge.running:
            # Close while libp2p still runs: once the trio side is cancelled, its connection
            # tasks die with it and leave their sockets open.
            try:
                await self.bridge.call(side.close)
            except NetworkError as exc:
                log.debug("graceful close failed: %s", exc)
        await self.bridge.stop()
        self._side = None
        await self._close_tor()
        self._all_down()
        # End the iterators of this run; events() called later reads a fresh queue.
        self._events.put_nowait(None)
        self._events = asyncio.Queue()

    def _on_trio_exit(self, error: BaseException | None) -> None:
        """The watchdog: the trio side ended by itself. Report every peer gone, then restart
        on the same addresses and identity unless it keeps dying."""
        self._side = None
        self._all_down()
        if self._stopping:
            return
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW]
        if len(self._restarts) >= RESTART_LIMIT:
            log.error("libp2p died %d times in %d s; staying down", RESTART_LIMIT, RESTART_WINDOW)
            return
        self._restarts.append(now)
        self._counts["restarts"] += 1
        self._restarting = self._spawn(self._restart())

    async def _restart(self) -> None:
        redial = list(self._dialed.values())
        try:
            await self._start(self._bound or self.listen)
        except NetworkError as exc:
            log.error("libp2p restart failed: %s", exc)
            return
        for address in redial:
            try:
                await self.dial(address, REDIAL_WITHIN)
            except NetworkError as exc:
                log.info("re-dial of %s after restart failed: %s", address, exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def addresses(self) -> list[str]:
        return list(self._addresses)

    def counts(self) -> dict[str, int]:
        """What was refused or failed so far (see COUNTERS)."""
        # trio_counts is written in the trio thread; its keys are fixed, so copying is safe.
        trio_counts = dict(self.trio_counts)
        return {name: self._counts[name] + trio_counts[name] for name in COUNTERS}

    def circuits_relayed(self) -> int:
        """Circuits this node relays between other peers now (0 unless it is a relay)."""
        side = self._side
        return side.relaying.protocol.circuits if side is not None else 0

    # --- peers --------------------------------------------------------------------------------

    def peers(self) -> list[PeerId]:
        return sorted(self._up)

    def reach(self) -> Reach:
        side = self._side
        listening = tuple(self._addresses)
        link = self.tor
        tor = (
            TorState(
                link.plan.mode, link.onion_address, link.daemon is not None, link.control.where
            )
            if link is not None
            else None
        )
        if side is None or not self.bridge.running:
            return Reach(BEHIND_NAT, "the network is not running", listening, (), tor=tor)
        if side.public:
            return Reach(PUBLIC, side.public_why, listening, listening, tor=tor)
        relays = tuple(sorted(self._relays))
        advertised = tuple(circuit_address(self._relays[r], self._peer_id) for r in relays)
        return Reach(BEHIND_NAT, side.public_why, listening, advertised, relays, tor=tor)

    def route(self, peer: PeerId) -> Route | None:
        return self._routes.get(peer) if peer in self._up else None

    def set_route(self, peer: PeerId, route: Route | None) -> None:
        if route is None:
            self._routes.pop(peer, None)
        else:
            self._routes[peer] = route

    def set_relays(self, relays: dict[PeerId, str]) -> None:
        self._relays = relays

    def peer_up(self, peer: PeerId) -> None:
        if peer not in self._up:
            self._up.add(peer)
            self._events.put_nowait(PeerUp(peer))

    def peer_down(self, peer: PeerId) -> None:
        if peer in self._up:
            self._up.discard(peer)
            self._events.put_nowait(PeerDown(peer))

    def _all_down(self) -> None:
        for peer in sorted(self._up):
            self.peer_down(peer)
        self._routes.clear()
        self._relays = {}

    def _live_side(self) -> Side:
        side = self._side
        if side is None or not self.bridge.running:
            raise NetworkError("down", "the network is not running")
        return side

    async def dial(self, address: str, within: float) -> PeerId:
        side = self._live_side()
        peer = await self.bridge.call(side.dial, address, within)
        self._dialed[peer] = address
        return peer

    async def hang_up(self, peer: PeerId) -> None:
        side = self._live_side()
        self._dialed.pop(peer, None)
        await self.bridge.call(side.hang_up, peer)

    # --- pushes -------------------------------------------------------------------------------

    def set_validator(self, topic: str, validator: Validator) -> None:
        self.validators[topic] = validator
        if self._side is not None:
            self.bridge.call_soon(self._side.install_validator, topic)

    async def subscribe(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.append(topic)
        if self._side is not None and self.bridge.running:
            await self.bridge.call(self._side.subscribe, topic)

    async def publish(self, topic: str, data: bytes) -> None:
        side = self._live_side()
        await self.bridge.call(side.publish, topic, data)

    def deliver(self, events: list[NetEvent]) -> None:
        for event in events:
            self._events.put_nowait(event)

    # --- streams ------------------------------------------------------------------------------

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None:
        self.handlers[protocol] = handler
        if self._side is not None:
            self.bridge.call_soon(self._side.add_stream_handler, protocol)

    async def open_stream(self, peer: PeerId, protocol: str, within: float) -> Libp2pStream:
        side = self._live_side()
        stream = await self.bridge.call(side.open_stream, peer, protocol, within)
        return Libp2pStream(self, stream)

    def handle_stream(self, protocol: str, trio_stream: TrioStream) -> None:
        """An inbound stream arrived (called on the asyncio loop): run the node's handler."""
        handler = self.handlers.get(protocol)
        stream = Libp2pStream(self, trio_stream)

        async def run() -> None:
            try:
                if handler is None:
                    raise NetworkError("refused", f"no handler for {protocol}")
                await handler(stream.peer, stream)
            except Exception:
                self._counts["handler_errors"] += 1
                log.exception("%s handler failed for %s", protocol, stream.peer)
                with suppress(NetworkError):
                    await stream.reset()
            finally:
                if trio_stream.side is self._side:
                    self.bridge.call_soon(trio_stream.done.set)

        self._spawn(run())

    # --- events -------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[NetEvent]:
        """Every event of this run, in order; the iteration ends at ``stop()``. Events keep
        flowing across a watchdog restart (PeerDown for every peer, then PeerUp again)."""
        queue = self._events
        while True:
            event = await queue.get()
            if event is None:
                return
            yield event


if TYPE_CHECKING:

    def _implements_the_port(net: Libp2pNetwork, stream: Libp2pStream) -> tuple[Network, Stream]:
        return net, stream  # mypy checks the adapter against stig.net.network here
