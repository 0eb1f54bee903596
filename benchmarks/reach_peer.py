"""One libp2p peer for benchmarks/reach.py, run inside a network namespace: the network port
(Libp2pNetwork) driven by one JSON request a line on stdin, one JSON answer a line on stdout.

    python benchmarks/reach_peer.py SEED_HEX LISTEN {relay|node} [auto|public|private]

The last argument overrides the reachability (default: public for the relay, private for a
node; ``auto`` learns it from peers, docs/protocol.md §8.8.1).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stig.net.circuit import HopLimits
from stig.net.libp2p_net import Libp2pNetwork
from stig.net.network import NetworkError, PeerDown, Pushed

TOPIC = "/stig/bench-reach/1"


def accept(peer: str, data: bytes) -> bool:
    return True


def net_bytes() -> int:
    """Bytes received + sent on every interface of this namespace (/proc/net/dev is per
    network namespace)."""
    total = 0
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        fields = line.split(":", 1)[1].split()
        if line.split(":", 1)[0].strip() != "lo":
            total += int(fields[0]) + int(fields[8])
    return total


async def main() -> None:
    if "REACH_PEER_LOG" in __import__("os").environ:
        import logging

        logging.basicConfig(level=logging.DEBUG, format=f"{sys.argv[3]} %(name)s %(message)s")
        logging.getLogger("libp2p").setLevel(logging.DEBUG)
    seed, listen, role = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3]
    relay = role == "relay"
    reachability = sys.argv[4] if len(sys.argv) > 4 else "public" if relay else "private"
    net = Libp2pNetwork(
        seed, [listen], hop=HopLimits() if relay else None, reachability=reachability
    )
    pushes: list[tuple[float, bytes]] = []
    gone: asyncio.Event = asyncio.Event()
    if not relay:
        net.set_validator(TOPIC, accept)
        await net.subscribe(TOPIC)
    addresses = await net.start()

    async def events() -> None:
        async for event in net.events():
            if isinstance(event, Pushed):
                pushes.append((time.monotonic(), event.data))
            elif isinstance(event, PeerDown):
                gone.set()

    task = asyncio.get_running_loop().create_task(events())
    out = sys.stdout
    out.write(json.dumps({"peer": net.peer_id, "addresses": addresses}) + "\n")
    out.flush()
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = json.loads(line)
        op = request["op"]
        answer: dict[str, Any] = {}
        try:
            if op == "dial":
                answer["peer"] = await net.dial(request["address"], request.get("within", 20))
            elif op == "reach":
                reach = net.reach()
                answer = {
                    "state": reach.state,
                    "why": reach.why,
                    "advertised": list(reach.advertised),
                }
            elif op == "route":
                route = net.route(request["peer"])
                answer = {"kind": route.kind if route else None}
            elif op == "publish":
                await net.publish(TOPIC, bytes.fromhex(request["data"]))
            elif op == "pushes":
                answer = {"data": [d.hex() for _, d in pushes]}
            elif op == "hang_up":
                await net.hang_up(request["peer"])
            elif op == "peers":
                answer = {"peers": net.peers()}
            elif op == "usage":
                used = resource.getrusage(resource.RUSAGE_SELF)
                answer = {"cpu": used.ru_utime + used.ru_stime, "bytes": net_bytes()}
            elif op == "quit":
                break
        except NetworkError as exc:
            answer = {"error": str(exc)}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    task.cancel()
    await net.stop()


if __name__ == "__main__":
    asyncio.run(main())
