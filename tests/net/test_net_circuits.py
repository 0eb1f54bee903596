"""Circuits through a relay on py-libp2p 0.8.1, as stig wraps them (docs/architecture.md, traps 8
and 9; docs/relay.md): a circuit lost can be dialed again at once, a circuit cut by the relay's
limits is dialed again by itself, and no circuit outlives its relay.

A and B listen on nothing, as behind NATs: they reach the relay R, and each other only through
it (DCUtR finds no address to punch to), so every link between them here is a circuit. R runs
in its own OS process (tests/net/libp2p_relay_peer.py) where it matters that it dies as a
process does; it is ended by its PID, also on failure."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest

from stig.net.circuit import HopLimits
from stig.net.libp2p_net import Libp2pNetwork
from stig.net.network import RELAYED, NetworkError, PeerDown, PeerUp, Pushed, Stream
from tests.net.test_net_port import Events, until

pytestmark = pytest.mark.timeout(120)

TOPIC = "circuits"
ECHO = "/stig/test-circuit-echo/1"
RELAY_PEER = Path(__file__).with_name("libp2p_relay_peer.py")


async def echo(peer: str, stream: Stream) -> None:
    while (frame := await stream.receive()) is not None:
        await stream.send(frame)
    await stream.close()


def behind_nat(seed: int) -> Libp2pNetwork:
    return Libp2pNetwork(bytes([seed]) * 32, listen=(), reachability="private")


@asynccontextmanager
async def meshed(
    relay: Libp2pNetwork | str, a: Libp2pNetwork, b: Libp2pNetwork
) -> AsyncIterator[str]:
    """Start A and B (R is started, or is a running process's address), reserve A a slot on R;
    yields A's circuit address. Stops A and B after."""
    nets = (a, b)
    try:
        a.set_stream_handler(ECHO, echo)
        for net in nets:
            net.set_validator(TOPIC, lambda peer, data: True)
            await net.subscribe(TOPIC)
            await net.start()
        address = relay if isinstance(relay, str) else relay.addresses()[0]
        await a.dial(address, within=10)
        await b.dial(address, within=10)
        await until(lambda: bool(a.reach().advertised), "a's reservation on the relay")
        (circuit,) = a.reach().advertised
        yield circuit
    finally:
        for net in nets:
            await net.stop()


async def exchange(a: Libp2pNetwork, b: Libp2pNetwork, events_a: Events, word: bytes) -> None:
    """B echoes ``word`` off A and pushes it to A; both arrive."""
    async with await b.open_stream(a.peer_id, ECHO, within=10) as stream:
        await stream.send(word)
        assert await stream.receive() == word
    # A push is lost if it is sent before B has heard that A subscribed: send until one lands.
    async with asyncio.timeout(20):
        while True:
            await b.publish(TOPIC, word)
            with suppress(TimeoutError):
                await events_a.wait(lambda e: isinstance(e, Pushed) and e.data == word, within=0.3)
                return


def via(net: Libp2pNetwork, peer: str, relay: str) -> bool:
    route = net.route(peer)
    return route is not None and (route.kind, route.relay) == (RELAYED, relay)


async def test_a_lost_circuit_is_dialed_again_at_once() -> None:
    """Trap 8: B dials A through R, hangs up, and dials again at once, three times; each new
    circuit carries streams and pushes, also after the old circuit's relay tasks have ended."""
    relay = Libp2pNetwork(bytes([61]) * 32, hop=HopLimits(), reachability="public")
    a, b = behind_nat(62), behind_nat(63)
    await relay.start()
    events_a = Events(a)
    try:
        async with meshed(relay, a, b) as circuit:
            for round_ in range(3):
                assert await b.dial(circuit, within=15) == a.peer_id
                await until(lambda: via(b, a.peer_id, relay.peer_id), "b to see a via r")
                await until(lambda: via(a, b.peer_id, relay.peer_id), "a to see b via r")
                # Before the fix, the old circuit's tasks on R closed this circuit when they
                # ended, within about a second: exchange until R carries this circuit alone.
                await exchange(a, b, events_a, b"round %d" % round_)
                await until(lambda: relay_carries(relay) == 1, "r to carry one circuit")
                await exchange(a, b, events_a, b"round %d, again" % round_)
                assert a.peer_id in b.peers() and b.peer_id in a.peers()

                await b.hang_up(a.peer_id)
                await until(lambda: a.peer_id not in b.peers(), "b to drop a")
    finally:
        await events_a.close()
        await relay.stop()


def relay_carries(relay: Libp2pNetwork) -> int:
    """Circuits R relays now, as its hop service counts them."""
    return relay.circuits_relayed()


@pytest.mark.parametrize("limit", ["duration", "bytes"])
async def test_a_circuit_cut_at_the_relays_limit_is_dialed_again(limit: str) -> None:
    """R cuts a circuit when it has lasted its duration, or carried its bytes; B dials it again
    through R by itself, and streams and pushes flow on the new circuit."""
    if limit == "duration":
        hop = HopLimits(max_circuit_seconds=12)
    else:
        hop = HopLimits(max_circuit_bytes=512 * 1024)
    relay = Libp2pNetwork(bytes([64]) * 32, hop=hop, reachability="public")
    a, b = behind_nat(65), behind_nat(66)
    await relay.start()
    events_a, events_b = Events(a), Events(b)
    try:
        async with meshed(relay, a, b) as circuit:
            assert await b.dial(circuit, within=15) == a.peer_id
            await exchange(a, b, events_a, b"before the cut")
            if limit == "bytes":
                # A circuit cut sooner than CIRCUIT_REDIAL_AGE is not re-dialed (the peer may
                # have turned B away): let it age before it carries its bytes.
                await until(lambda: circuit_age(b, a.peer_id) >= 10.5, "the circuit to age", 30)
                with suppress(NetworkError):
                    async with await b.open_stream(a.peer_id, ECHO, within=10) as stream:
                        for _ in range(16):
                            await stream.send(bytes(64 * 1024))
                            await stream.receive()
            await events_b.wait(lambda e: e == PeerDown(a.peer_id), within=40)
            await until(lambda: ups(events_b, a.peer_id) == 2, "b to dial the circuit again")
            await until(lambda: via(b, a.peer_id, relay.peer_id), "b to reach a through r again")
            await exchange(a, b, events_a, b"after the cut")
    finally:
        await events_a.close()
        await events_b.close()
        await relay.stop()


def circuit_age(net: Libp2pNetwork, peer: str) -> float:
    route = net.route(peer)
    return 0.0 if route is None else time.time() - route.since


def ups(events: Events, peer: str) -> int:
    return sum(1 for event in events.seen if event == PeerUp(peer))


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
async def test_no_circuit_outlives_its_relay(how: signal.Signals) -> None:
    """Trap 9: when R's process ends (killed, or stopped), the circuit between A and B ends too;
    neither says the other is connected through R."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RELAY_PEER),
        (bytes([67]) * 32).hex(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    a, b = behind_nat(68), behind_nat(69)
    try:
        assert proc.stdout is not None
        relay_address = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        relay_id = relay_address.rsplit("/p2p/", 1)[1]
        async with meshed(relay_address, a, b) as circuit:
            assert await b.dial(circuit, within=15) == a.peer_id
            events_a = Events(a)
            try:
                await exchange(a, b, events_a, b"through r")
            finally:
                await events_a.close()
            await until(lambda: via(b, a.peer_id, relay_id), "b to see a via r")
            await until(lambda: via(a, b.peer_id, relay_id), "a to see b via r")

            os.kill(proc.pid, how)
            await asyncio.wait_for(proc.wait(), 30)
            await until(lambda: a.peer_id not in b.peers(), "b to lose a with r", 40)
            await until(lambda: b.peer_id not in a.peers(), "a to lose b with r", 40)
            assert b.route(a.peer_id) is None and a.route(b.peer_id) is None
            await until(lambda: not a.reach().relays, "a's reservation to end with r", 40)
    finally:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
