"""The network layer: how a node reaches its peers (transports, and Tor in ``stig.net.tor``)."""
