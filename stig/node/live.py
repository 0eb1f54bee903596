"""The node a person uses: the local node and, unless offline, its mesh, in one asyncio loop.

This is what the terminal UI talks to. Reading and posting go to ``local`` (a ``LocalNode``). A
post of this home — from here or from ``stig post`` — counts as *queued* until a sync with some
peer has completed since it was made (sync sends every live trace the peer lacks, so after it
the post has left this device); the count lives in the home (stig.node.outbox), so it is the
same in every process and after a restart.

When another process already runs the mesh for this home (``stig node`` in another terminal),
this one does not start a second: it reads and posts through the shared store — the running
node follows the store and spreads new posts — and shows that node's status over its control
socket (mode ``elsewhere``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.errors import StigError, UsageError
from stig.net.network import PUBLIC, Network
from stig.net.tor.modes import OFF
from stig.net.tor.modes import describe as describe_tor
from stig.node.clock import now as clock_now
from stig.node.clock import wall_clock
from stig.node.config import Config, load_config
from stig.node.control import ask_status
from stig.node.home import Home
from stig.node.joining import Joined, add_peers, by_control_socket
from stig.node.local import Draft, LocalNode, create_store
from stig.node.mesh import MeshNode

log = logging.getLogger(__name__)

OFFLINE = "offline"
STARTING = "starting"
ONLINE = "online"
FAILED = "failed"
ELSEWHERE = "elsewhere"

WHEN_ONLINE = "dialed when this node goes online (start stig without --offline)"


@dataclass(frozen=True)
class PeerState:
    peer: str
    connected: bool
    last_sync: float | None
    last_sync_result: str
    bytes_in: int
    bytes_out: int
    accepted: int
    rejected: dict[str, int]
    banned: bool
    ban_reason: str
    onion: bool = False  # every connection to it runs through tor
    route: str = ""  # how it is reached while connected: route_words, "" if not said
    route_since: float | None = None  # since when it is reached so (the mesh's clock)


@dataclass(frozen=True)
class FailingAddress:
    """An address this node keeps dialing and cannot reach (stig.node.dialing): the last error
    in plain words, since when it fails, how many tries, when the next one is (the mesh's
    clock; None if not said)."""

    address: str
    error: str
    failures: int
    failing_since: float | None
    next_try: float | None


def latest_sync(peers: tuple[PeerState, ...]) -> float | None:
    """When this node last completed a sync with any peer."""
    return max((p.last_sync for p in peers if p.last_sync), default=None)


@dataclass(frozen=True)
class LiveStatus:
    """What the status line and the Peers screen show."""

    mode: str  # OFFLINE, STARTING, ONLINE, FAILED (problem says why) or ELSEWHERE
    queued: int
    peer_id: str = ""
    addresses: tuple[str, ...] = ()
    peers: tuple[PeerState, ...] = ()
    problem: str = ""
    lan: bool = False
    bootstrap: tuple[str, ...] = ()
    failing: int = 0  # addresses this node dials that it cannot reach (stig.node.dialing)
    dialing: tuple[FailingAddress, ...] = ()  # those addresses, and what became of each
    tor: str = ""  # how the node uses tor, in words (stig.net.tor.modes.describe); "" if off
    reach: str = ""  # how others reach this node, in plain words (reach_words); "": not said

    @property
    def connected(self) -> int:
        return sum(1 for p in self.peers if p.connected)

    @property
    def last_sync(self) -> float | None:
        return latest_sync(self.peers)

    @property
    def on_mesh(self) -> bool:
        return self.mode in (ONLINE, ELSEWHERE)


class LiveNode:
    def __init__(
        self,
        local: LocalNode,
        config: Config,
        *,
        clock: Callable[[], float] = clock_now,
    ) -> None:
        self.local = local
        self.config = config
        self.clock = clock
        """The mesh's clock (MeshNode's): when peers synced, addresses failed, routes began."""
        self.mesh: MeshNode | None = None
        self._mode = OFFLINE
        self._problem = ""
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._elsewhere: dict[str, Any] = {}
        self._leaving = False
        self.asked_to_stop = False
        """True once the mesh stopped because its control socket was asked to (``stig wipe``):
        the process holding this node should end, not go on showing the home."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        home: Home,
        *,
        clock: Callable[[], int] = wall_clock,
        config: Config | None = None,
        mesh_clock: Callable[[], float] = clock_now,
    ) -> AsyncIterator[LiveNode]:
        """Open an initialised home, offline; ``go_online`` then joins the mesh (per
        ``config``, by default the home's config.toml). ``clock`` is the local node's,
        ``mesh_clock`` the mesh's (a test pins both, and the in-memory network's, together)."""
        if config is None:
            config = load_config(home.config_file)
        await create_store(home)
        async with LocalNode.open(home, clock=clock) as local:
            live = cls(local, config, clock=mesh_clock)
            try:
                yield live
            finally:
                await live.go_offline()

    # -- the mesh ------------------------------------------------------------------------------

    async def go_online(self, network: Network | None = None) -> None:
        """Join the mesh per config.toml (or over ``network``, for tests); returns once the
        network has started or failed — a failure is a status, not an exception, so the
        person can go on reading and posting."""
        if self._task is not None:
            return
        home = self.local.home
        if network is None and await _node_running(home):
            self._mode = ELSEWHERE
            return
        self._mode = STARTING
        try:
            if network is None:
                network = await _libp2p_network(home, self.config)
        except (StigError, ImportError, OSError) as exc:
            self._fail(str(exc))
            return
        mesh = MeshNode(home, self.local.store, network, self.config, clock=self.clock)
        self.mesh = mesh
        self._stop = asyncio.Event()
        self._leaving = False
        self._task = asyncio.get_running_loop().create_task(self._run(mesh))
        started = asyncio.ensure_future(mesh.started.wait())
        await asyncio.wait({self._task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if mesh.started.is_set():
            self._mode = ONLINE

    async def _run(self, mesh: MeshNode) -> None:
        try:
            await mesh.run(self._stop)
        except Exception as exc:  # any failure of the network is shown, not raised
            log.warning("the mesh stopped: %s", exc)
            self._fail(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
            return
        if not self._leaving:  # stopped from outside: a stop request on the control socket
            self.asked_to_stop = True
            self._mode = OFFLINE

    def _fail(self, problem: str) -> None:
        self._mode = FAILED
        self._problem = problem

    async def go_offline(self) -> None:
        if self._task is not None:
            self._leaving = True
            self._stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._mode != FAILED:
            self._mode = OFFLINE

    async def status(self) -> LiveStatus:
        if self._mode == ELSEWHERE:
            with contextlib.suppress(StigError, OSError, ValueError):
                self._elsewhere = await ask_status(self.local.home.control_socket)
            raw = self._elsewhere
        elif self.mesh is not None and self._mode == ONLINE:
            raw = self.mesh.status()
        else:
            raw = {}
        peers = tuple(_peer_state(p) for p in raw.get("peers", ()))
        dialing = tuple(_failing_address(d) for d in raw.get("dialing", ()))
        return LiveStatus(
            mode=self._mode,
            queued=self.local.queued(),
            peer_id=str(raw.get("peer_id", "")),
            addresses=tuple(raw.get("addresses", ())),
            peers=peers,
            problem=self._problem,
            lan=self.config.network.lan,
            bootstrap=self.config.network.bootstrap,
            failing=len(dialing),
            dialing=dialing,
            tor=_tor_words(raw.get("tor")),
            reach=reach_words(raw["reach"]) if raw.get("reach") else "",
        )

    # -- joining (stig.node.joining) ---------------------------------------------------------

    async def add_peers(self, addresses: list[str]) -> list[Joined]:
        """Add ``addresses`` to config.toml and dial them now: through the mesh run here, or
        through the control socket of the node running for this home elsewhere. Offline, they
        are kept for the next start; this node dials them too should it go online."""
        home = self.local.home
        network = self.config.network
        bootstrap = (*network.bootstrap, *(a for a in addresses if a not in network.bootstrap))
        self.config = replace(self.config, network=replace(network, bootstrap=bootstrap))
        if self._mode == ONLINE and self.mesh is not None:
            return await add_peers(home, addresses, self.mesh.connect)
        if self._mode == ELSEWHERE:
            return await add_peers(home, addresses, by_control_socket(home))
        return await add_peers(home, addresses, None, later=WHEN_ONLINE)

    # -- posting ---------------------------------------------------------------------------

    async def post(
        self,
        draft: Draft,
        persona: Persona,
        *,
        group: str | None = None,
        anonymous: bool = False,
    ) -> Trace:
        """Post (with ``group``, sealed for that group; see ``LocalNode.post``)."""
        return await self.local.post(draft, persona, group=group, anonymous=anonymous)

    async def respond(
        self,
        target: bytes,
        draft: Draft,
        persona: Persona,
        *,
        group: str | None = None,
        anonymous: bool = False,
    ) -> Trace:
        return await self.local.respond(target, draft, persona, group=group, anonymous=anonymous)

    async def changes(self) -> int:
        """The store's insertion cursor: it moves whenever anything is stored, from here, from
        the mesh, or from another process (``stig post``)."""
        return await self.local.store.cursor()


async def _node_running(home: Home) -> bool:
    if not home.control_socket.exists():
        return False
    try:
        await ask_status(home.control_socket)
    except (UsageError, OSError, ValueError, TimeoutError):
        return False
    return True


async def _libp2p_network(home: Home, config: Config) -> Network:
    # libp2p takes about a second to import: done in a thread so a screen is not held up
    # (and so are the key files it reads).
    module = await asyncio.to_thread(importlib.import_module, "stig.node.transport")
    network: Network = await asyncio.to_thread(module.libp2p_network, home, config)
    return network


def _peer_state(raw: dict[str, Any]) -> PeerState:
    return PeerState(
        peer=str(raw.get("peer", "")),
        connected=bool(raw.get("connected")),
        last_sync=raw.get("last_sync") or None,
        last_sync_result=str(raw.get("last_sync_result") or ""),
        bytes_in=int(raw.get("bytes_in", 0)),
        bytes_out=int(raw.get("bytes_out", 0)),
        accepted=int(raw.get("accepted", 0)),
        rejected={str(k): int(v) for k, v in dict(raw.get("rejected", {})).items()},
        banned=bool(raw.get("banned")),
        ban_reason=str(raw.get("ban_reason") or ""),
        onion=bool((raw.get("route") or {}).get("onion")),
        route=route_words(raw.get("route")),
        route_since=(raw.get("route") or {}).get("since") or None,
    )


def _failing_address(raw: dict[str, Any]) -> FailingAddress:
    return FailingAddress(
        address=str(raw.get("address", "")),
        error=str(raw.get("error", "")),
        failures=int(raw.get("failures", 0)),
        failing_since=raw.get("failing_since") or None,
        next_try=raw.get("next_try") or None,
    )


def reach_words(reach: dict[str, Any] | None) -> str:
    """A node's reachability in plain words, from its status (MeshNode.status)."""
    if not reach:
        return "unknown (the running node is too old to say)"
    if reach["state"] == PUBLIC:
        return f"public ({reach['why']})"
    relays = reach.get("relays") or []
    if relays:
        return f"behind NAT, reachable via {', '.join(relays)}"
    return f"behind NAT, not reachable: {reach['why']}, and no relay holds a slot for it"


def route_words(route: dict[str, Any] | None) -> str:
    """How a connected peer is reached (direct, hole-punched, via relay R), from its status;
    "" if not said."""
    if not route:
        return ""
    return str(route["kind"]) + (f" {route['relay']}" if route.get("relay") else "")


def _tor_words(tor: Any) -> str:
    if not isinstance(tor, dict) or tor.get("mode", OFF) == OFF:
        return ""
    return describe_tor(tor)
