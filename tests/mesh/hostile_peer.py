"""A hostile peer in its own OS process, for tests/mesh/test_mesh_hostile.py.

It speaks libp2p correctly (``Libp2pNetwork`` with a fresh identity) and stig badly. It dials
the target node, joins the public traces topic and, in rounds:

* pushes junk: garbage bytes, an oversize message (~20 KB), a trace with a flipped signature
  byte (valid encoding, wrong signature) and an expired trace;
* once ``--sync-flag`` names a file that exists (at once without the option), also opens
  ``/stig/sync/1`` streams and sends malformed frames (the adapter adds the 4-byte length).

Before the flag exists it pushes at most PRE_SYNC_ROUNDS rounds, fewer rejects than the
target's penalty threshold, so the test sees which reasons were counted before the peer is cut
off. Every action and its outcome is printed, one line each; the first line is
``peer <peer id>``. Runs until killed or ``--rounds`` rounds are done.

Usage: python hostile_peer.py ADDRESS [--sync-flag PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import time
from pathlib import Path

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.compose import compose
from stig.crypto.persona import Persona
from stig.net.libp2p_net import Libp2pNetwork
from stig.net.network import NetworkError
from stig.node.sync import SYNC_PROTOCOL
from stig.node.topics import PUBLIC_TOPIC

SETTLE = 2.0
"""Seconds between connecting and the first push: GossipSub puts the target in this peer's
mesh at a heartbeat (1 s); a push before that goes nowhere."""

ROUND_EVERY = 1.0
PRE_SYNC_ROUNDS = 3
"""Push rounds before the sync flag exists: 4 rejects each, under the penalty threshold (20)."""

MALFORMED_FRAMES = (
    b"\x01" + b"\xff" * 15,  # a reconciliation frame whose first varint never ends
    b"\x99junk",  # no such frame type
)


def say(line: str) -> None:
    print(line, flush=True)


def junk(round_: int) -> dict[str, bytes]:
    author = Persona.generate("hostile")
    now = int(time.time())
    forged = compose(author, kinds.NOTE, f"forged {round_}", now=now)
    signature = bytearray(forged.signature)
    signature[0] ^= 0x01
    return {
        "garbage": b"\xc1 not a trace %d" % round_,
        "oversize": b"\x00" * 20_000 + b"%d" % round_,
        "bad signature": dataclasses.replace(forged, signature=bytes(signature)).encoded,
        "expired": compose(
            author, kinds.NOTE, f"stale {round_}", now=now - 3 * DAY, ttl=DAY
        ).encoded,
    }


async def connect(net: Libp2pNetwork, address: str, target: str) -> bool:
    if target in net.peers():
        return True
    try:
        await net.dial(address, 5)
    except NetworkError as exc:
        say(f"dial failed: {exc}")
        return False
    say("dialled")
    await asyncio.sleep(SETTLE)
    return target in net.peers()


async def malformed_sync(net: Libp2pNetwork, target: str, frame: bytes) -> str:
    try:
        stream = await net.open_stream(target, SYNC_PROTOCOL, 5)
    except NetworkError as exc:
        return f"no stream: {exc}"
    try:
        await stream.send(frame)
        reply = await asyncio.wait_for(stream.receive(), 5)
        return "closed" if reply is None else f"answered {len(reply)} bytes"
    except (NetworkError, TimeoutError) as exc:
        return f"ended: {exc or 'timeout'}"
    finally:
        with contextlib.suppress(NetworkError):
            await stream.reset()


async def main(address: str, sync_flag: Path | None, rounds: int) -> None:
    target = address.rsplit("/p2p/", 1)[-1]
    net = Libp2pNetwork(os.urandom(32))
    await net.subscribe(PUBLIC_TOPIC)
    await net.start()
    say(f"peer {net.peer_id}")
    pushed_rounds = 0
    try:
        for round_ in range(rounds):
            syncing = sync_flag is None or await asyncio.to_thread(sync_flag.exists)
            if (syncing or pushed_rounds < PRE_SYNC_ROUNDS) and await connect(net, address, target):
                for what, data in junk(round_).items():
                    try:
                        await net.publish(PUBLIC_TOPIC, data)
                        say(f"round {round_}: pushed {what} ({len(data)} bytes)")
                    except NetworkError as exc:
                        say(f"round {round_}: push of {what} failed: {exc}")
                pushed_rounds += 1
                if syncing:
                    for frame in MALFORMED_FRAMES:
                        outcome = await malformed_sync(net, target, frame)
                        say(f"round {round_}: sync frame {frame[:5].hex()}: {outcome}")
            say(f"round {round_}: connected to the target: {target in net.peers()}")
            await asyncio.sleep(ROUND_EVERY)
    finally:
        await net.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--sync-flag", type=Path)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT is how the test ends it
        asyncio.run(main(args.address, args.sync_flag, args.rounds))
