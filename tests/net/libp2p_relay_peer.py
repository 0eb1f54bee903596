"""A stig circuit relay (libp2p hop service, default limits) in its own OS process, for
tests/net/test_net_circuits.py: prints its first address on stdout, then runs until killed, or
until SIGTERM, on which it stops its network cleanly (connections closed) and exits.

Usage: python libp2p_relay_peer.py SEED_HEX   (32 bytes in hex)
"""

from __future__ import annotations

import asyncio
import signal
import sys

from stig.net.circuit import HopLimits
from stig.net.libp2p_net import Libp2pNetwork


async def main(seed: bytes) -> None:
    net = Libp2pNetwork(seed, hop=HopLimits(), reachability="public")
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    addresses = await net.start()
    print(addresses[0], flush=True)
    try:
        await stopping.wait()
    finally:
        await net.stop()


if __name__ == "__main__":
    asyncio.run(main(bytes.fromhex(sys.argv[1])))
