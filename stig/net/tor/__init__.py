"""stig over Tor: nodes reachable as v3 onion services, peers dialed through tor's SOCKS port.

The pieces, each in its own module, from the bottom up (docs/tor.md says how they fit and what
is left to wire into the node):

* ``onion_key``  an onion service's ed25519 key: its address, its file, tor's form of it.
* ``socks``      a SOCKS5 client on trio that asks tor to connect to ``<address>.onion:port``
                 (tor resolves the name; nothing is looked up here), tor's errors in words.
* ``control``    a tor control-port client (stem): attach, status, publish and withdraw an
                 ephemeral onion service.
* ``daemon``     a tor of stig's own, started from the system's ``tor`` binary.
* ``transport``  a py-libp2p 0.8.1 transport for ``/onion3/<address>:<port>`` multiaddrs:
                 dials through SOCKS, listens as an onion service mapped to 127.0.0.1.

Nothing here opens a socket to anything but 127.0.0.1: tor is the only way out.
"""
