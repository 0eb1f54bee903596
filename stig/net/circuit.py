"""Circuit relay as stig uses it (docs/protocol.md §8.2, docs/relay.md): the limits a relay puts
on what it carries, circuit addresses, and how a node decides whether others can dial it. Pure:
both adapters (libp2p, and the in-memory twin) use it.

A circuit address is a relay's full address, then ``/p2p-circuit/p2p/<peer>``: "ask this relay
to connect me to that peer". A relay connects only to peers that hold a reservation with it, so
it carries libp2p connections between its own peers and nothing else: it is not an open proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

CIRCUIT = "/p2p-circuit"

DEFAULT_MAX_RESERVATIONS = 128
"""Peers a relay holds reservations for at once; the next one is refused (RESERVATION_REFUSED)."""
DEFAULT_RESERVATION_TTL = 3600
"""Seconds a reservation lasts; a node renews it before then while it stays connected."""
DEFAULT_MAX_CIRCUITS_PER_PEER = 16
"""Circuits open at once towards one reserved peer."""
DEFAULT_MAX_CIRCUIT_SECONDS = 3600
"""A circuit is cut after this long; both ends dial again (through the relay, or directly)."""
DEFAULT_MAX_CIRCUIT_BYTES = 64 * 1024 * 1024
"""Bytes a circuit carries in both directions together before it is cut."""


@dataclass(frozen=True)
class HopLimits:
    """What a relay's hop service allows (``[circuit]`` in config.toml; docs/relay.md)."""

    max_reservations: int = DEFAULT_MAX_RESERVATIONS
    reservation_ttl: int = DEFAULT_RESERVATION_TTL
    max_circuits_per_peer: int = DEFAULT_MAX_CIRCUITS_PER_PEER
    max_circuit_seconds: int = DEFAULT_MAX_CIRCUIT_SECONDS
    max_circuit_bytes: int = DEFAULT_MAX_CIRCUIT_BYTES

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if type(value) is not int or value <= 0:
                raise ValueError(f"{name} must be a whole number above 0, not {value!r}")


def is_circuit(address: str) -> bool:
    return f"{CIRCUIT}/" in address


def circuit_address(relay_address: str, peer: str) -> str:
    """The address at which ``peer`` is reached through the relay at ``relay_address`` (a
    full address, ending in the relay's ``/p2p/<id>``)."""
    return f"{relay_address}{CIRCUIT}/p2p/{peer}"


def split_circuit(address: str) -> tuple[str, str, str]:
    """(relay's full address, relay's peer id, target peer id) of a circuit address; ValueError
    if it is not one."""
    relay_address, sep, rest = address.partition(CIRCUIT)
    target = rest.removeprefix("/p2p/")
    if not sep or "/p2p/" not in relay_address or not target or "/" in target:
        raise ValueError(f"{address!r} is not <relay address>/p2p-circuit/p2p/<peer>")
    return relay_address, relay_address.rsplit("/p2p/", 1)[1], target


REACHABILITY_MODES = ("auto", "public", "private")


def decide_public(mode: str, listening: list[str]) -> tuple[bool | None, str]:
    """(public?, why) for a node listening on ``listening``, before any peer is asked.
    ``public`` and ``private`` are the operator's word; on ``auto`` a node reachable as an
    onion service is public, and any other is not known (None) until its peers have been
    asked to dial it back (``stig.net.reachability``, AutoNAT)."""
    if mode == "public":
        return True, "configured public (network.reachability)"
    if mode == "private":
        return False, "configured private (network.reachability)"
    if mode != "auto":
        raise ValueError(f"reachability must be one of {REACHABILITY_MODES}, not {mode!r}")
    if any("/onion3/" in address for address in listening):
        return True, "reachable as an onion service, through tor"
    return None, "not known yet: no peer has dialed back or failed to"
