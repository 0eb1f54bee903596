"""A stig libp2p peer in its own OS process, for tests/net/test_net_libp2p.py.

Prints its first address on stdout, then runs until killed:
* echoes every frame on ``/stig/test-echo/1`` and closes when the other side does;
* re-publishes every push it gets on ``ping`` to ``pong``, prefixed with ``pong:``.

Usage: python libp2p_peer_echo.py [SEED_HEX]   (32 bytes in hex; a fixed seed by default)
"""

from __future__ import annotations

import asyncio
import sys

from stig.net.libp2p_net import Libp2pNetwork
from stig.net.network import Pushed, Stream

ECHO = "/stig/test-echo/1"
DEFAULT_SEED = bytes([0x42]) * 32


async def echo(peer: str, stream: Stream) -> None:
    while (frame := await stream.receive()) is not None:
        await stream.send(frame)
    await stream.close()


async def main(seed: bytes) -> None:
    net = Libp2pNetwork(seed)
    net.set_stream_handler(ECHO, echo)
    net.set_validator("ping", lambda peer, data: True)
    await net.subscribe("ping")
    addresses = await net.start()
    print(addresses[0], flush=True)
    try:
        async for event in net.events():
            if isinstance(event, Pushed) and event.topic == "ping":
                await net.publish("pong", b"pong:" + event.data)
    finally:
        await net.stop()


if __name__ == "__main__":
    asyncio.run(main(bytes.fromhex(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SEED))
