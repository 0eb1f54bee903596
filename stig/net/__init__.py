"""The network layer: the port (``network``), its in-memory twin (``memory_net``) and its
libp2p adapter (``libp2p_net`` on the asyncio side, ``libp2p_side`` on the trio side, joined by
``trio_bridge``), and Tor (``stig.net.tor``: the onion transport, the tor controller, stig's own
tor daemon). It knows nothing of the node above it: homes, config files and traces stay in
``stig.node``."""
