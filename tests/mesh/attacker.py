"""Attacks on admission from their own OS process, for tests/mesh/test_mesh_admission.py.

It speaks libp2p correctly (``Libp2pNetwork``, a fresh identity each time) and stig with ill
intent. Every action and its outcome is printed, one line each, with ``time.monotonic()``.

* ``clock-edge ADDRESS... --rounds N``: dials every address, joins the public topic and pushes
  traces at the edges of the honest nodes' clocks — created just under the future-skew limit of
  the most advanced clock, and expired just after the least advanced one's *now* — which each
  honest node may judge differently. Honest nodes must drop them without blaming each other.
* ``stream ADDRESS --seconds S``: opens ``/stig/sync/1`` and streams TRACES frames of junk
  records as fast as the stream takes them, never sending DONE; when cut off, starts again with
  a fresh identity, until S seconds have passed. Prints ``crossed`` when the first frame (over
  the penalty threshold by itself) is sent and ``cut off after X s`` when the stream ends.

Usage: python attacker.py clock-edge ADDRESS... [--rounds N] [--ahead S] [--behind S]
       python attacker.py stream ADDRESS [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time

import msgpack

from stig.crdt import kinds
from stig.crdt.bounds import HOUR, MAX_FUTURE_SKEW
from stig.crdt.compose import compose
from stig.crypto.persona import Persona
from stig.net.libp2p_net import Libp2pNetwork
from stig.net.network import NetworkError
from stig.node.sync import MAX_FRAME, SYNC_PROTOCOL, TRACES
from stig.node.topics import PUBLIC_TOPIC

SETTLE = 2.0
"""Seconds between connecting and the first push (GossipSub grafts at a heartbeat)."""


def say(line: str) -> None:
    print(f"{time.monotonic():.3f} {line}", flush=True)


def edge_traces(round_: int, ahead: float, behind: float) -> list[bytes]:
    """Valid traces at the clock edges: ``ahead`` is the largest clock offset among the targets,
    ``behind`` the smallest (seconds; negative is behind)."""
    author = Persona.generate("edge")
    now = time.time()
    future = compose(
        author, kinds.NOTE, f"edge ahead {round_}", now=int(now + ahead + MAX_FUTURE_SKEW - 2)
    )
    stale = compose(
        author, kinds.NOTE, f"edge behind {round_}", now=int(now + behind - HOUR + 3), ttl=HOUR
    )
    return [future.encoded, stale.encoded]


async def clock_edge(addresses: list[str], rounds: int, ahead: float, behind: float) -> None:
    net = Libp2pNetwork(os.urandom(32))
    await net.subscribe(PUBLIC_TOPIC)
    await net.start()
    say(f"peer {net.peer_id}")
    try:
        for address in addresses:
            try:
                await net.dial(address, 5)
                say(f"dialled {address}")
            except NetworkError as exc:
                say(f"dial failed: {exc}")
        await asyncio.sleep(SETTLE)
        for round_ in range(rounds):
            for data in edge_traces(round_, ahead, behind):
                with contextlib.suppress(NetworkError):
                    await net.publish(PUBLIC_TOPIC, data)
            say(f"round {round_}: pushed 2, connected to {len(net.peers())}")
            await asyncio.sleep(0.2)
        say("done")
        await asyncio.sleep(3600)  # stay connected until the test ends us
    finally:
        await net.stop()


def junk_frame(serial: int) -> bytes:
    """A TRACES frame of junk records, as large as a frame may be."""
    records = []
    size = 16
    while size < MAX_FRAME - 64:
        record = b"\xc1junk%d-%d" % (serial, len(records))
        records.append(record)
        size += len(record) + 2
    packed = msgpack.packb(records, use_bin_type=True)
    return bytes([TRACES]) + packed


async def stream(address: str, seconds: float) -> None:
    target = address.rsplit("/p2p/", 1)[-1]
    deadline = time.monotonic() + seconds
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        net = Libp2pNetwork(os.urandom(32))
        await net.start()
        try:
            await net.dial(address, 5)
            session = await net.open_stream(target, SYNC_PROTOCOL, 5)
        except NetworkError as exc:
            say(f"attempt {attempt}: no session: {exc}")
            await net.stop()
            continue
        say(f"attempt {attempt}: peer {net.peer_id}")
        frames = 0
        crossed = 0.0
        try:
            while time.monotonic() < deadline:
                await session.send(junk_frame(frames))
                frames += 1
                if frames == 1:
                    crossed = time.monotonic()
                    say(f"attempt {attempt}: crossed")
                if target not in net.peers():
                    break
        except NetworkError as exc:
            say(f"attempt {attempt}: send failed: {exc}")
        if time.monotonic() < deadline:
            took = time.monotonic() - crossed
            say(f"attempt {attempt}: cut off after {took:.3f} s, {frames} frames")
        with contextlib.suppress(NetworkError):
            await session.reset()
        await net.stop()
    say("done")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="attack", required=True)
    edge = sub.add_parser("clock-edge")
    edge.add_argument("addresses", nargs="+")
    edge.add_argument("--rounds", type=int, default=20)
    edge.add_argument("--ahead", type=float, default=0.0)
    edge.add_argument("--behind", type=float, default=0.0)
    flood = sub.add_parser("stream")
    flood.add_argument("address")
    flood.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT is how the test ends it
        if args.attack == "clock-edge":
            asyncio.run(clock_edge(args.addresses, args.rounds, args.ahead, args.behind))
        else:
            asyncio.run(stream(args.address, args.seconds))


if __name__ == "__main__":
    main()
