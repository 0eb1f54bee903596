"""Hole punching as stig meets it (docs/protocol.md §8.8, DCUtR): which NATs a punch gets
through, and when it happens. Pure: the in-memory twin plays it out; the libp2p adapter leaves
it to py-libp2p's DCUtR, whose behaviour these figures were measured from (in network
namespaces with kernel NAT, ../shared/notes/libp2p-0.8.1.md and docs/performance.md, reach).

Three kinds of NAT in front of a node (the ones tests/net/nat_bed.py builds with nftables):

* ``NO_NAT``: the node has a public address; anyone can dial it.
* ``PORT_KEEPING``: the mapping keeps the source port (endpoint-independent) and a stateful
  firewall *drops* unsolicited inbound packets — the usual home router. Two such nodes that dial
  each other at the same moment each open their own mapping before the other's packet arrives:
  the punch succeeds (10 of 10 measured).
* ``PORT_RANDOMISING``: every new connection gets a fresh port (symmetric-like). DCUtR predicts
  the peer's port to be its listen port, which such a NAT never uses: the punch fails (0 of 10),
  and the pair keeps its relayed connection.

A router with no firewall that *resets* unsolicited inbound TCP (plain ``masquerade``) lets a
punch through only by luck (1 of 10 measured); it is not modelled: no kind here stands for it.
"""

from __future__ import annotations

NO_NAT = "none"
PORT_KEEPING = "port-keeping"
PORT_RANDOMISING = "port-randomising"
NAT_KINDS = (NO_NAT, PORT_KEEPING, PORT_RANDOMISING)

PUNCH_AFTER = 2.0
"""Seconds after a relayed connection comes up that DCUtR first tries to punch (py-libp2p 0.8.1
tries on its own, toward every relayed peer)."""
PUNCH_TAKES = 1.0
"""Seconds from a try to the direct connection when the punch works (0.96 s measured)."""
PUNCH_RETRY = 2.0
"""Seconds between two tries, when one fails."""
PUNCH_TRIES = 3
"""Tries per relayed connection; after the last one fails, the relayed connection stays."""
RELAYED_KEPT_FOR = 60.0
"""Seconds the relayed connection stays open beside the punched one before it is closed (≈ 60 s
measured: DCUtR closes it, not the peers)."""


def punch_succeeds(one: str, other: str) -> bool:
    """Whether a simultaneous dial between nodes behind ``one`` and ``other`` (NAT kinds) ends
    in a direct connection. A node with no NAT takes the other's dial whatever that one's NAT
    does with its ports; two port-keeping NATs open for each other; a port-randomising NAT
    between two NATed nodes defeats the port prediction."""
    for kind in (one, other):
        if kind not in NAT_KINDS:
            raise ValueError(f"NAT kind must be one of {NAT_KINDS}, not {kind!r}")
    return NO_NAT in (one, other) or one == other == PORT_KEEPING
