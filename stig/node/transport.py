"""The libp2p network of a node's home: its transport key and what config.toml says about the
network. Kept here, not in ``stig.net``: the network layer knows nothing of homes or config."""

from __future__ import annotations

from pathlib import Path

from stig.net.libp2p_net import Libp2pNetwork
from stig.node.config import DEFAULT_LISTEN, Config, read_psk
from stig.node.home import Home


def libp2p_network(home: Home, config: Config) -> Libp2pNetwork:
    """The home's transport key, and config.toml's listen addresses (DEFAULT_LISTEN if none),
    private-network key file, LAN discovery, reachability and circuit relay service."""
    net = config.network
    psk = read_psk(Path(net.psk_file)) if net.psk_file else None
    return Libp2pNetwork(
        home.transport_seed(),
        net.listen or (DEFAULT_LISTEN,),
        psk=psk,
        lan=net.lan,
        hop=config.circuit.limits if config.circuit.serve else None,
        reachability=net.reachability,
    )
