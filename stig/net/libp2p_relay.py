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

The hop service (a relay) runs only when ``hop`` limits are given; every node runs the stop
side, so it can be reached through a relay.
"""

from __future__ import annotations

import logging
from typing import Any

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import IHost, INetConn
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

from stig.net.circuit import CIRCUIT, HopLimits, circuit_address, split_circuit
from stig.net.network import NetworkError

log = logging.getLogger(__name__)

RESERVE_WITHIN = 10.0
"""Seconds a reservation may take (stream to the relay, request, answer) before it is given up
until the next connection to that relay."""


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
        self.protocol = CircuitV2Protocol(host, limits=limits, allow_hop=self.serving)
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
