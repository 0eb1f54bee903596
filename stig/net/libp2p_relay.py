"""Circuit relay v2 on py-libp2p 0.8.1, in the trio thread (docs/protocol.md §8.2).

``Relaying`` wires the library's pieces by hand, because its automatic parts do not work:

* trap: ``host.connect()`` with a ``/p2p-circuit`` address raises ``SwarmException(... relay-only
  ...)``: the relay transport is not part of normal dialing. Circuits are dialed here, through
  ``CircuitV2Transport.dial_peer_info``, and the raw connection upgraded like any other.
* trap: ``RelayDiscovery(auto_reserve=True)`` scans at start and then every 300 s: no
  reservation is made in time and dials get NO_RESERVATION. A node that is not public reserves
  here, on every peer it reaches directly that speaks the hop protocol, as soon as it connects,
  and again after every reconnection.
* trap: with a private-network key, the library wraps *inbound* relayed connections in pnet
  (``Swarm.upgrade_inbound_raw_conn``) but not outbound ones (``upgrade_outbound_raw_conn``
  leaves it to the TCP dial path), so a relayed dial fails its handshake. The dialer wraps the
  circuit itself, so both ends speak pnet inside the circuit as on the hops.
* trap (docs/architecture.md, trap 8): the hop service keys live circuits by peer id
  (``CircuitV2Protocol._active_relays``), and the two tasks that copy a circuit's bytes close,
  when they end, the streams stored under *their peer's id at that moment*: after a hang-up and
  a new dial between the same two peers, the old circuit's tasks close the new circuit. They end
  late, too: a Yamux stream's EOF or reset is not one of the (Mplex) errors the library's read
  loop expects, so it retries the read three times with back-off (about 0.6 s) before it gives
  up. ``CircuitService`` copies a circuit's bytes itself: each circuit ends its own two streams
  and no other, at once, and the duration limit is a deadline rather than a check made when
  bytes arrive.

The hop service (a relay) runs only when ``hop`` limits are given; every node runs the stop
side, so it can be reached through a relay.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.exceptions import SwarmException
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.relay.circuit_v2.config import RelayConfig, RelayRole
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID as HOP_PROTOCOL
from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
from libp2p.relay.circuit_v2.resources import RelayLimits
from libp2p.relay.circuit_v2.transport import CircuitV2Transport
from libp2p.security.pnet.protector import new_protected_conn
from libp2p.tools.constants import MAX_READ_LEN

from stig.net.circuit import CIRCUIT, HopLimits, circuit_address, split_circuit
from stig.net.network import NetworkError

log = logging.getLogger(__name__)

RESERVE_WITHIN = 10.0
"""Seconds a reservation may take (stream to the relay, request, answer) before it is given up
until the next connection to that relay."""

CIRCUIT_WRITE_WITHIN = 15.0
"""Seconds a relay waits to pass bytes on to one end of a circuit before it ends the circuit
(the library's own write timeout)."""

CIRCUIT_CLOSE_WITHIN = 5.0
"""Seconds a relay gives each stream of a finished circuit to close cleanly before resetting it."""


def relay_limits(hop: HopLimits) -> RelayLimits:
    return RelayLimits(
        duration=hop.max_circuit_seconds,
        data=hop.max_circuit_bytes,
        max_circuit_conns=hop.max_circuits_per_peer,
        max_reservations=hop.max_reservations,
        reservation_ttl=hop.reservation_ttl,
    )


def relay_of(conn: INetConn) -> str | None:
    """The relay's peer id if ``conn`` is a circuit, else None. The library records a circuit's
    address (``/p2p/<relay>/p2p-circuit/p2p/<peer>``) on the raw connection of a dialed circuit
    and on the swarm connection of an accepted one; either shows."""
    candidates: list[Any] = []
    for source in (conn, getattr(conn, "muxed_conn", None)):
        getter = getattr(source, "get_transport_addresses", None)
        if callable(getter):
            try:
                candidates.extend(getter() or [])
            except Exception:  # noqa: S112 - a connection that cannot say is not a circuit
                continue
    for address in candidates:
        text = str(address)
        if CIRCUIT in text:
            before = text.split(CIRCUIT, 1)[0]
            if "/p2p/" in before:
                return before.rsplit("/p2p/", 1)[1]
    return None


class CircuitService(CircuitV2Protocol):
    """The library's circuit relay v2 service (hop and stop), with each circuit's bytes copied
    by ``_relay_data`` below (trap 8: see the module docstring)."""

    def __init__(self, host: IHost, *, limits: RelayLimits, allow_hop: bool) -> None:
        super().__init__(host, limits=limits, allow_hop=allow_hop)
        self.relaying: set[INetStream] = set()  # the streams of the circuits relayed now

    @property
    def circuits(self) -> int:
        """Circuits this relay carries now (each has two streams)."""
        return len(self.relaying) // 2

    async def _relay_data(
        self,
        src_stream: INetStream,
        dst_stream: INetStream,
        peer_id: ID,
        deadline: float | None = None,
        circuit_data_limit: list[int] | None = None,
    ) -> None:
        """Copy one direction of one circuit (``_handle_connect`` runs two of these in a nursery,
        sharing ``circuit_data_limit``, the bytes left for the circuit in both directions, and
        ``deadline``, a ``time.monotonic()`` time). trap: this overrides a private method of
        py-libp2p 0.8.1 (re-check it on upgrade): the library's ends the wrong circuit."""
        self.relaying.update((src_stream, dst_stream))
        ended = "stopped"  # unless the copy returns: the service is stopping
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with trio.move_on_after(left if left is not None else math.inf) as lasting:
                ended = await self._copy(src_stream, dst_stream, circuit_data_limit)
            if lasting.cancelled_caught:
                ended = "duration"
        finally:
            self.relaying.discard(src_stream)
            self.relaying.discard(dst_stream)
            # The library's connect handler stored this circuit under both peers' ids; drop
            # those entries if they are still this circuit's (a newer circuit may own them).
            for key, pair in list(self._active_relays.items()):
                if pair[0] is src_stream or pair[0] is dst_stream:
                    del self._active_relays[key]
            with trio.CancelScope(shield=True):
                for stream in (src_stream, dst_stream):
                    await _end(stream, gracefully=ended == "closed")
        if ended != "closed":
            log.info("relayed circuit for %s cut: its %s limit was reached", peer_id, ended)

    @staticmethod
    async def _copy(src: INetStream, dst: INetStream, budget: list[int] | None) -> str:
        """Copy ``src`` to ``dst`` until ``src`` ends (→ "closed") or the circuit's byte budget
        runs out (→ "bytes")."""
        while True:
            try:
                data = await src.read(MAX_READ_LEN)
            except Exception:  # a stream that cannot be read has ended (EOF, reset)
                return "closed"
            if not data:
                return "closed"
            if budget is not None:
                if len(data) > budget[0]:
                    budget[0] = 0
                    return "bytes"
                budget[0] -= len(data)
            try:
                with trio.fail_after(CIRCUIT_WRITE_WITHIN):
                    await dst.write(data)
            except Exception:  # the other end is gone, or too slow to take it
                return "closed"


async def _end(stream: INetStream, *, gracefully: bool) -> None:
    """Close ``stream`` (reset it if asked, or if closing fails or takes too long)."""
    if gracefully:
        try:
            with trio.fail_after(CIRCUIT_CLOSE_WITHIN):
                await stream.close()
            return
        except Exception:  # noqa: S110 - reset below
            pass
    with contextlib.suppress(Exception):  # already gone
        await stream.reset()


class Relaying:
    """The circuit relay of one run of libp2p (one ``Side``)."""

    def __init__(
        self, host: IHost, *, hop: HopLimits | None, psk: str | None, public: bool
    ) -> None:
        self.host = host
        self.psk = psk
        self.public = public
        limits = relay_limits(hop or HopLimits())
        self.serving = hop is not None
        self.protocol = CircuitService(host, limits=limits, allow_hop=self.serving)
        # STOP only: CLIENT would make a reservation on every relay used to dial out.
        self.transport = CircuitV2Transport(
            host, self.protocol, RelayConfig(roles=RelayRole.STOP, limits=limits)
        )
        # DCUtR (docs/protocol.md §8.4): it tries to replace every relayed connection by a direct
        # one, on its own, every 2 s up to 3 times per peer (it cannot be switched off).
        self.hole_punching = DCUtRProtocol(host)
        self.reservations: dict[str, str] = {}  # relay peer id → the relay's full address
        self.trying: set[str] = set()

    def advertised(self, me: str) -> list[str]:
        return [circuit_address(a, me) for _, a in sorted(self.reservations.items())]

    async def reserve(self, relay: ID, relay_address: str, nursery: trio.Nursery) -> None:
        """Reserve a slot on ``relay`` if it offers the hop service; quietly nothing if it does
        not (most peers are not relays)."""
        key = relay.to_base58()
        if self.public or key in self.reservations or key in self.trying:
            return
        self.trying.add(key)
        try:
            with trio.move_on_after(RESERVE_WITHIN):
                try:
                    stream = await self.host.new_stream(relay, [HOP_PROTOCOL])
                except (BaseLibp2pError, OSError) as exc:
                    log.debug("%s offers no hop service: %r", key, exc)
                    return
                try:
                    # The library's refresher renews it (in ``nursery``) while it lasts.
                    reserved = await self.transport.reserve(stream, relay, nursery)
                finally:
                    await stream.close()
                if reserved:
                    self.reservations[key] = relay_address
                    log.info("reachable through relay %s", key)
                else:
                    log.info("relay %s refused a reservation", key)
        finally:
            self.trying.discard(key)

    def relay_gone(self, relay: str) -> None:
        if self.reservations.pop(relay, None) is not None:
            log.info("no longer reachable through relay %s", relay)

    async def dial(self, address: str) -> ID:
        """Connect to a peer through the relay named in the circuit ``address``."""
        try:
            relay_address, _, target = split_circuit(address)
            relay = info_from_p2p_addr(multiaddr.Multiaddr(relay_address))
            peer = ID.from_base58(target)
        except Exception as exc:
            raise NetworkError("bad_address", f"{address!r}: {exc}") from exc
        try:
            raw = await self.transport.dial_peer_info(
                PeerInfo(peer, [multiaddr.Multiaddr(address)]), relay_info=relay
            )
        except (ConnectionError, BaseLibp2pError, OSError) as exc:
            raise NetworkError("refused", f"{address}: {exc}") from exc
        if self.psk is not None:
            raw = new_protected_conn(raw, self.psk)  # trap: see the module docstring
        try:
            await self.host.upgrade_outbound_connection(raw, peer)
        except (SwarmException, BaseLibp2pError, OSError) as exc:
            raise NetworkError("refused", f"{address}: the handshake failed: {exc}") from exc
        return peer
