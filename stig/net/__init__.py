"""The network layer: how a node reaches its peers. The port (``network``), its in-memory twin
(``memory_net``), the libp2p adapter (``libp2p_net`` on the asyncio side, ``libp2p_side`` on
the trio side, joined by ``trio_bridge``; circuit relay in ``libp2p_relay``), and Tor in
``stig.net.tor``. It knows nothing of the node above it: homes, config files and traces stay
in ``stig.node``."""
