"""A relay tier on the in-memory mesh (``propagation.py --memory N --relays R``): R relays with
public addresses, and N - R light nodes behind NAT, each reaching two relays only.

The nodes are the product's MeshNode on stig's MemoryNetwork; what makes the tier is who can
dial whom (``TierNetwork``) and the relays' connection cap:

* a **relay** dials every relay started before it (so the relays form one clique) and keeps up
  to ``network.max_connections`` = RELAY_MAX_CONNECTIONS connections, where an ordinary node
  keeps DEFAULT_MAX_CONNECTIONS (32) and turns the rest away;
* a **light node** is configured with two random relays as its bootstrap and can dial nothing
  else: no other node can reach a light node (it has no public address, DESIGN.md §6 "Nobody
  has a public address"), and the simulation refuses its dials to relays other than its two,
  so each light node stays connected to two relays whatever peer exchange tells it.

Gossip then takes its ordinary course: a light node's mesh is its two relays (below
MESH_DEGREE_LOW a node grafts even full peers), so a relay's mesh holds the light nodes that
reach it, and a push goes light -> relay -> every light node of that relay and the relays of
its mesh. "Per-relay load" is what each relay received and sent per message.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from stig.net.memory_net import MemoryHub, MemoryNetwork
from stig.net.network import NetworkError, PeerId

RELAY_MAX_CONNECTIONS = 5_000
LIGHT_RELAYS = 2
"""Relays each light node reaches."""


class TierNetwork(MemoryNetwork):
    """A MemoryNetwork that dials only the peers in ``reachable`` (None: every relay in
    ``relays``). Refused dials fail as an unreachable address does, with NetworkError."""

    def __init__(
        self,
        hub: MemoryHub,
        name: str,
        relays: set[PeerId],
        reachable: set[PeerId] | None = None,
    ) -> None:
        super().__init__(hub, name)
        self.relays = relays
        self.reachable = reachable

    async def dial(self, address: str, within: float) -> PeerId:
        peer = address.rsplit("/p2p/", 1)[-1]
        allowed = self.relays if self.reachable is None else self.reachable
        if peer not in allowed:
            raise NetworkError("unreachable", f"{address}: no public address (behind NAT)")
        return await super().dial(address, within)


def relay_load(
    relays: Sequence[MemoryNetwork],
    copies: Sequence[int],
    pushes: Sequence[int],
    messages: int,
    topic: str,
) -> tuple[list[list[Any]], dict[str, Any]]:
    """Rows of a min / median / max table over the relays, and the same as a summary."""
    figures = {
        "connected peers": [len(r.peers()) for r in relays],
        "mesh peers (public topic)": [len(r.mesh_peers(topic)) for r in relays],
        "copies received per message": [c / messages for c in copies],
        "pushes sent per message": [p / messages for p in pushes],
    }
    rows = [
        [name, min(values), statistics.median(values), max(values), sum(values)]
        for name, values in figures.items()
    ]
    summary = {
        name.split(" (")[0].replace(" ", "_"): {
            "min": min(values),
            "median": statistics.median(values),
            "max": max(values),
        }
        for name, values in figures.items()
    }
    return rows, summary
