"""The libp2p network of a node's home: its transport key and what config.toml says about the
network and tor. Kept here, not in ``stig.net``: the network layer knows nothing of homes or
config."""

from __future__ import annotations

from pathlib import Path

from stig.net.libp2p_net import Libp2pNetwork
from stig.net.tor.link import TorPlan
from stig.net.tor.modes import KEPT, OFF
from stig.node.config import DEFAULT_LISTEN, Config, TorConfig, read_psk
from stig.node.home import Home


def libp2p_network(home: Home, config: Config) -> Libp2pNetwork:
    """The home's transport key, and config.toml's listen addresses (DEFAULT_LISTEN if none),
    private-network key file, LAN discovery, reachability, circuit relay service and tor."""
    net = config.network
    psk = read_psk(Path(net.psk_file)) if net.psk_file else None
    return Libp2pNetwork(
        home.transport_seed(),
        net.listen or (DEFAULT_LISTEN,),
        psk=psk,
        lan=net.lan,
        hop=config.circuit.limits if config.circuit.serve else None,
        reachability=net.reachability,
        tor=tor_plan(home, config.tor),
    )


def tor_plan(home: Home, tor: TorConfig) -> TorPlan | None:
    """What ``[tor]`` asks of tor, with the home's places: the onion key in ``onion.key``
    (0600) when kept, stig's own tor's data in ``tor/``. None when tor is off."""
    if tor.mode == OFF:
        return None
    return TorPlan(
        only=tor.only,
        control=tor.control,
        password=tor.password or None,
        key_file=home.onion_key if tor.onion_key == KEPT else None,
        port=tor.onion_port,
        data_dir=home.tor_dir,
        extra_torrc=tor.extra_torrc,
    )
