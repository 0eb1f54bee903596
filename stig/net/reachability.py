"""Whether others can dial this node, learned from its peers (AutoNAT, docs/protocol.md §8.8.1).
Pure: the rules both sides follow, with time passed in; ``stig.net.libp2p_autonat`` speaks
them on the wire and the in-memory twin (``stig.net.memory_net``) models them.

A node asks a few peers it is directly connected to: "dial me back". A peer that answers does
so from a fresh, short-lived identity, so its dial is a real new connection (not the one the
question came on), and only to the IP address it sees the asker at — never anywhere else, so
the service cannot be aimed at a third party. The asker decides by agreement of the answers
that say something (``decide``); refusals, errors and silence say nothing.

The server's side is bounded on every axis a hostile asker controls (``DialBackRules``): the
addresses read from a request, the ports dialed, the dial-backs per peer, per IP address and in
all per minute, and those running at once.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

DIALED = "dialed"
"""The peer dialed this node back at one of its addresses: evidence it is public."""
NOT_DIALED = "not dialed"
"""The peer tried every address it was allowed to and none answered: evidence it is not."""
NO_ANSWER = "no answer"
"""Refused, rate-limited, unsupported, failed or silent: no evidence either way."""

ASK_PEERS = 3
"""Peers asked in one check (fewer if fewer are connected directly)."""
AGREEMENT = 2
"""Answers that must agree when more than one peer answered (2 of 2, 2 of 3, 3 of 3)."""
RECHECK_EVERY = 900.0
"""Seconds between two checks once a verdict stands."""
RETRY_EVERY = 60.0
"""Seconds between two checks while no verdict stands (nobody answered, or they disagreed)."""

MAX_REQUEST_BYTES = 4096
"""Largest request or response read (the length prefix is checked before the body)."""
MAX_REQUEST_ADDRESSES = 32
"""Addresses of a request looked at; the rest are ignored."""
MAX_DIAL_BACK_PORTS = 4
"""Ports dialed back for one request (each on the asker's observed IP)."""
DIAL_BACK_WITHIN = 10.0
"""Seconds one dial-back may take in all (its ports share them)."""
ASK_WITHIN = DIAL_BACK_WITHIN + 10.0
"""Seconds an asker waits for an answer."""
ANSWER_WITHIN = DIAL_BACK_WITHIN + 5.0
"""Seconds a server gives one request, reading to answering, before it resets the stream."""
RATE_WINDOW = 60.0
"""Seconds over which the rate limits below count dial-backs."""
MAX_PER_PEER = 2
"""Dial-backs per asking peer id per RATE_WINDOW."""
MAX_PER_IP = 6
"""Dial-backs per observed IP address per RATE_WINDOW (peer ids cost nothing; addresses do)."""
MAX_IN_ALL = 30
"""Dial-backs per RATE_WINDOW for all askers together."""
MAX_AT_ONCE = 4
"""Dial-backs running at the same time; a request beyond it is refused, not queued."""


def dial_back_targets(requested: Sequence[str], observed_ip: str) -> list[str]:
    """The addresses a server dials for a request that listed ``requested`` (multiaddrs in
    text), sent from ``observed_ip``: the observed IP with the TCP port of each requested
    address (so a node behind NAT that lists its LAN address is dialed where the internet
    sees it), at most MAX_DIAL_BACK_PORTS, in order of first appearance among the first
    MAX_REQUEST_ADDRESSES. Nothing if the observed IP is not one a dial may go to (unspecified,
    multicast, broadcast). Circuit, onion and DNS addresses name no port on that IP and are
    skipped."""
    try:
        ip = ipaddress.ip_address(observed_ip)
    except ValueError:
        return []
    if ip.is_unspecified or ip.is_multicast or ip == ipaddress.ip_address("255.255.255.255"):
        return []
    family = "ip4" if ip.version == 4 else "ip6"
    ports: list[int] = []
    for address in requested[:MAX_REQUEST_ADDRESSES]:
        parts = address.split("/")
        if "p2p-circuit" in parts or len(parts) < 5 or parts[1] not in ("ip4", "ip6"):
            continue
        if parts[3] != "tcp" or not parts[4].isdigit():
            continue
        port = int(parts[4])
        if 0 < port < 65536 and port not in ports:
            ports.append(port)
        if len(ports) == MAX_DIAL_BACK_PORTS:
            break
    return [f"/{family}/{ip}/tcp/{port}" for port in ports]


@dataclass
class DialBackRules:
    """The server's rate limits (module docstring). ``admit`` says why a request is refused,
    or None and counts it; ``done`` ends a running dial-back. Time is passed in."""

    by_peer: dict[str, deque[float]] = field(default_factory=dict)
    by_ip: dict[str, deque[float]] = field(default_factory=dict)
    in_all: deque[float] = field(default_factory=deque)
    running: int = 0

    def admit(self, peer: str, ip: str, now: float) -> str | None:
        self._forget(now)
        if self.running >= MAX_AT_ONCE:
            return f"busy: {MAX_AT_ONCE} dial-backs running"
        if len(self.in_all) >= MAX_IN_ALL:
            return f"over {MAX_IN_ALL} dial-backs a minute in all"
        if len(self.by_ip.get(ip, ())) >= MAX_PER_IP:
            return f"over {MAX_PER_IP} dial-backs a minute to {ip}"
        if len(self.by_peer.get(peer, ())) >= MAX_PER_PEER:
            return f"over {MAX_PER_PEER} dial-backs a minute for this peer"
        self.in_all.append(now)
        self.by_ip.setdefault(ip, deque()).append(now)
        self.by_peer.setdefault(peer, deque()).append(now)
        self.running += 1
        return None

    def done(self) -> None:
        self.running = max(0, self.running - 1)

    def _forget(self, now: float) -> None:
        """Drop what is older than RATE_WINDOW; the maps hold only keys seen in the window, so
        they are bounded by MAX_IN_ALL entries."""
        since = now - RATE_WINDOW
        while self.in_all and self.in_all[0] <= since:
            self.in_all.popleft()
        for table in (self.by_ip, self.by_peer):
            for key in [k for k, times in table.items() if not times or times[-1] <= since]:
                del table[key]
            for times in table.values():
                while times and times[0] <= since:
                    times.popleft()


@dataclass(frozen=True)
class Verdict:
    """What a check concluded: ``public`` or not, and why in words for the status."""

    public: bool
    why: str


def _peers(n: int) -> str:
    return f"{n} peer" if n == 1 else f"{n} peers"


def decide(answers: Sequence[str]) -> Verdict | None:
    """The verdict of one check from its answers (DIALED, NOT_DIALED, NO_ANSWER), or None when
    they do not settle it. Only answers with evidence count: the only one if there is one,
    else AGREEMENT of them and more than the other way (2 of 2, 2 of 3, 3 of 3)."""
    dialed = sum(1 for a in answers if a == DIALED)
    not_dialed = sum(1 for a in answers if a == NOT_DIALED)
    counted = dialed + not_dialed
    if counted == 0:
        return None
    if counted == 1:
        if dialed:
            return Verdict(True, "dialed back by the only peer that could tell")
        return Verdict(False, "the only peer that could tell could not dial back")
    if dialed >= AGREEMENT and dialed > not_dialed:
        of = "" if not not_dialed else f" of {counted}"
        return Verdict(True, f"dialed back by {_peers(dialed)}{of}")
    if not_dialed >= AGREEMENT and not_dialed > dialed:
        of = "" if not dialed else f" of {counted}"
        return Verdict(False, f"{_peers(not_dialed)}{of} could not dial back")
    return None
