"""Libp2pNetwork on real py-libp2p: adapters on 127.0.0.1 in this process (each with its own
trio thread), one peer in a second OS process, and the trio bridge on its own.

Every test is bounded by a timeout; every network is stopped and every process killed by PID in
a finally (or a fixture teardown).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
import trio

from stig.net.libp2p_net import Libp2pNetwork
from stig.net.libp2p_side import PUBLISH_HIGH_WATER
from stig.net.negotiation_guard import GuardedTCP
from stig.net.network import (
    MAX_STREAM_FRAME,
    NetEvent,
    NetworkError,
    PeerDown,
    PeerUp,
    Pushed,
    Stream,
)
from stig.net.trio_bridge import TrioBridge

pytestmark = pytest.mark.timeout(120)

LATE = 5.0
"""How late a bounded call may return on a loaded machine: the tests check that the bound
ends it, far sooner than the ~40 s an unbounded dial takes, not how fast the machine is."""

HELPER = Path(__file__).with_name("libp2p_peer_echo.py")
ECHO = "/stig/test-echo/1"
BOOM = "/stig/test-boom/1"
SMALL = "/stig/test-small/1"
TOPIC = "traces"
PSK_ONE = "11" * 32
PSK_TWO = "22" * 32


def seed(n: int) -> bytes:
    return bytes([n]) * 32


def rejects_bad(peer: str, data: bytes) -> bool:
    return not data.startswith(b"bad")


class Recorder:
    """Consumes a network's events in the background so tests can wait for one."""

    def __init__(self, net: Libp2pNetwork) -> None:
        self.events: list[NetEvent] = []
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(net))

    async def _run(self, net: Libp2pNetwork) -> None:
        async for event in net.events():
            self.events.append(event)
            self._changed.set()

    async def wait(
        self, match: Callable[[NetEvent], bool], within: float, since: int = 0
    ) -> NetEvent:
        """The first event from index ``since`` on that matches, waiting up to ``within`` s."""
        async with asyncio.timeout(within):
            seen = since
            while True:
                for event in self.events[seen:]:
                    if match(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

    async def ended(self, within: float) -> None:
        """Wait for the network's event iteration to end (it ends at stop())."""
        await asyncio.wait_for(asyncio.shield(self._task), within)

    def pushes(self, topic: str = TOPIC) -> list[bytes]:
        return [e.data for e in self.events if isinstance(e, Pushed) and e.topic == topic]

    async def close(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


Factory = Callable[..., Awaitable[tuple[Libp2pNetwork, Recorder]]]


@pytest.fixture
async def node() -> AsyncIterator[Factory]:
    """Start a network (with an event recorder); all are stopped at teardown."""
    made: list[tuple[Libp2pNetwork, Recorder]] = []

    async def make(n: int, topics: tuple[str, ...] = (), **options: Any) -> Any:
        net = Libp2pNetwork(seed(n), **options)
        recorder = Recorder(net)
        made.append((net, recorder))
        for topic in topics:
            net.set_validator(topic, rejects_bad)
            await net.subscribe(topic)
        await net.start()
        return net, recorder

    try:
        yield make
    finally:
        for net, recorder in made:
            await net.stop()
            await recorder.close()


async def connect(a: Libp2pNetwork, b: Libp2pNetwork) -> None:
    assert await a.dial(b.addresses()[0], within=5) == b.peer_id


async def gossip_ready(sender: Libp2pNetwork, receiver: Recorder, topic: str = TOPIC) -> None:
    """Publish probes until one arrives: the mesh is formed once subscriptions are exchanged."""
    for i in range(100):
        probe = b"probe-%d" % i
        await sender.publish(topic, probe)
        with suppress(TimeoutError):
            await receiver.wait(lambda e, p=probe: isinstance(e, Pushed) and e.data == p, 0.1)  # type: ignore[misc]
            return
    raise AssertionError("gossip never became ready")


async def eventually(condition: Callable[[], bool], within: float) -> None:
    """Poll ``condition`` (a counter: there is no event to wait on) until it holds."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    assert condition()


def up(peer: str) -> Callable[[NetEvent], bool]:
    return lambda e: e == PeerUp(peer)


def down(peer: str) -> Callable[[NetEvent], bool]:
    return lambda e: e == PeerDown(peer)


# --- connections ------------------------------------------------------------------------------


async def test_dial_reports_peer_up_on_both_sides(node: Factory) -> None:
    (a, ra), (b, rb) = await node(1), await node(2)
    address = b.addresses()[0]
    host, _, port, _, peer = address.split("/")[2:]
    assert (host, peer) == ("127.0.0.1", b.peer_id)
    assert int(port) > 0  # /tcp/0 reports the port it picked

    await connect(a, b)
    await ra.wait(up(b.peer_id), 5)
    await rb.wait(up(a.peer_id), 5)
    assert a.peers() == [b.peer_id]
    assert b.peers() == [a.peer_id]

    await a.hang_up(b.peer_id)
    await ra.wait(down(b.peer_id), 5)
    await rb.wait(down(a.peer_id), 5)


async def test_peer_id_is_stable_for_a_seed_and_not_reused_across_seeds() -> None:
    assert Libp2pNetwork(seed(7)).peer_id == Libp2pNetwork(seed(7)).peer_id
    assert Libp2pNetwork(seed(7)).peer_id != Libp2pNetwork(seed(8)).peer_id
    with pytest.raises(ValueError):
        Libp2pNetwork(b"short")
    with pytest.raises(ValueError):
        Libp2pNetwork(seed(7), psk="not hex")


async def test_dial_to_a_dead_address_fails_within_bound(node: Factory) -> None:
    (a, _), (b, _) = await node(1), await node(2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NetworkError) as refused:
        await a.dial(f"/ip4/127.0.0.1/tcp/{free_port}/p2p/{b.peer_id}", within=2.0)
    assert refused.value.reason in {"refused", "timeout"}
    assert time.monotonic() - started < 2.0 + LATE

    # A port that accepts TCP and then says nothing: only the bound ends the dial.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(NetworkError) as timeout:
            await a.dial(f"/ip4/127.0.0.1/tcp/{port}/p2p/{b.peer_id}", within=1.0)
        assert timeout.value.reason == "timeout"
        assert 0.9 < time.monotonic() - started < 1.0 + LATE  # never early

    with pytest.raises(NetworkError) as bad:
        await a.dial("/ip4/127.0.0.1/tcp/1", within=1.0)
    assert bad.value.reason == "bad_address"


async def test_open_stream_to_a_stopped_peer_fails_within_bound(node: Factory) -> None:
    (a, ra), (c, _) = await node(1), await node(3)
    await connect(a, c)
    await c.stop()
    await ra.wait(down(c.peer_id), 5)
    started = time.monotonic()
    with pytest.raises(NetworkError) as failed:
        await a.open_stream(c.peer_id, ECHO, within=1.5)
    assert failed.value.reason in {"unreachable", "timeout"}
    assert time.monotonic() - started < 1.5 + LATE


async def test_wrong_pnet_key_is_refused_within_bound(node: Factory) -> None:
    (a, ra), (b, rb), (c, _) = (
        await node(1, psk=PSK_ONE),
        await node(2, psk=PSK_TWO),
        await node(3, psk=PSK_ONE),
    )
    started = time.monotonic()
    with pytest.raises(NetworkError):
        await a.dial(b.addresses()[0], within=3.0)
    assert time.monotonic() - started < 3.0 + LATE
    assert a.peers() == [] and b.peers() == []
    assert not [e for e in ra.events + rb.events if isinstance(e, PeerUp)]
    await connect(a, c)  # the same key is admitted


async def test_plaintext_dialer_is_refused(node: Factory) -> None:
    (a, ra) = await node(1)
    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: outcome.append(trio.run(plaintext_dial, a.addresses()[0]))
    )
    thread.start()
    await asyncio.to_thread(thread.join, 15)
    assert outcome and outcome[0] != "connected", outcome
    assert a.peers() == []
    assert not [e for e in ra.events if isinstance(e, PeerUp)]


async def plaintext_dial(address: str) -> str:
    """A host that speaks only /plaintext/2.0.0 dials ``address`` (in its own trio run)."""
    import multiaddr
    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX
    from libp2p.stream_muxer.yamux.yamux import Yamux

    key_pair = create_new_key_pair(seed(99))
    host = new_host(
        key_pair=key_pair,
        sec_opt={PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)},
        muxer_opt={YAMUX: Yamux},
    )
    async with host.run([]):
        try:
            with trio.fail_after(5):
                await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(address)))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await host.close()
    return "connected"


# --- pushes -----------------------------------------------------------------------------------


async def test_rejected_pushes_are_neither_delivered_nor_forwarded(node: Factory) -> None:
    # A has no validator (it stands for a peer that sends junk); B and C reject b"bad...".
    (a, _), (b, rb), (c, rc) = await node(1), await node(2, (TOPIC,)), await node(3, (TOPIC,))
    await a.subscribe(TOPIC)
    await connect(a, b)
    await connect(b, c)
    await gossip_ready(a, rc)

    for i in range(5):
        await a.publish(TOPIC, b"bad-%d" % i)
    await a.publish(TOPIC, b"good")
    await rb.wait(lambda e: isinstance(e, Pushed) and e.data == b"good", 10)
    await eventually(lambda: b.counts()["push_rejected"] == 5, 5)
    # B has judged all five. Anything it forwarded would reach C before this fence does.
    await a.publish(TOPIC, b"fence")
    await rc.wait(lambda e: isinstance(e, Pushed) and e.data == b"fence", 10)
    await asyncio.sleep(0.2)

    assert not [d for d in rb.pushes() + rc.pushes() if d.startswith(b"bad")]
    assert b"good" in rc.pushes()
    assert c.counts()["push_rejected"] == 0  # B never passed them on
    # via is the forwarding peer, not the author.
    good = [e for e in rc.events if isinstance(e, Pushed) and e.data == b"good"]
    assert good[0].via == b.peer_id


async def test_a_raising_validator_rejects_and_is_counted(node: Factory) -> None:
    (a, _), (b, rb) = await node(1, (TOPIC,)), await node(2)

    def fragile(peer: str, data: bytes) -> bool:
        if data == b"boom":
            raise ValueError("validator bug")
        return True

    b.set_validator(TOPIC, fragile)
    await b.subscribe(TOPIC)
    await connect(a, b)
    await gossip_ready(a, rb)
    await a.publish(TOPIC, b"boom")
    await a.publish(TOPIC, b"after")
    await rb.wait(lambda e: isinstance(e, Pushed) and e.data == b"after", 10)
    await eventually(lambda: b.counts()["validator_errors"] == 1, 5)
    assert b"boom" not in rb.pushes()


@pytest.mark.slow
async def test_a_burst_of_1000_pushes_all_reach_c_through_b(node: Factory) -> None:
    (a, _), (b, rb), (c, rc) = (
        await node(1, (TOPIC,)),
        await node(2, (TOPIC,)),
        await node(3, (TOPIC,)),
    )
    await connect(a, b)
    await connect(b, c)
    await gossip_ready(a, rc)

    sent = {b"burst-%04d-" % i + b"x" * 200 for i in range(1000)}
    for data in sorted(sent):
        await a.publish(TOPIC, data)
    await rc.wait(lambda e: len(set(rc.pushes()) & sent) == len(sent), 30)
    assert set(rb.pushes()) >= sent  # B itself got every one too
    assert PUBLISH_HIGH_WATER < 32  # the pacing stays under the library's drop point


async def test_own_pushes_are_not_delivered_back_and_oversize_pushes_refused(
    node: Factory,
) -> None:
    (a, ra), (b, rb) = await node(1, (TOPIC,)), await node(2, (TOPIC,))
    await connect(a, b)
    await gossip_ready(a, rb)
    assert ra.pushes() == []
    with pytest.raises(NetworkError) as too_large:
        await a.publish(TOPIC, b"x" * (1 << 20))
    assert too_large.value.reason == "too_large"


# --- streams ----------------------------------------------------------------------------------


async def echo(peer: str, stream: Stream) -> None:
    while (frame := await stream.receive()) is not None:
        await stream.send(frame)
    await stream.close()


async def test_stream_round_trip(node: Factory) -> None:
    (a, _), (b, _) = await node(1), await node(2)
    b.set_stream_handler(ECHO, echo)
    await connect(a, b)
    frames = [b"", b"one", b"x" * 100_000, bytes(range(256))]
    async with await a.open_stream(b.peer_id, ECHO, within=5) as stream:
        assert stream.peer == b.peer_id
        for frame in frames:
            await stream.send(frame)
        assert [await stream.receive() for _ in frames] == frames
        await stream.close()
        assert await stream.receive() is None


async def test_a_raising_handler_does_not_kill_the_host(node: Factory) -> None:
    (a, _), (b, _) = await node(1), await node(2)

    async def boom(peer: str, stream: Stream) -> None:
        await stream.receive()
        raise RuntimeError("handler bug")

    b.set_stream_handler(BOOM, boom)
    b.set_stream_handler(ECHO, echo)
    await connect(a, b)
    for _ in range(2):
        stream = await a.open_stream(b.peer_id, BOOM, within=5)
        await stream.send(b"hello")
        with pytest.raises(NetworkError) as reset:
            await stream.receive()
        assert reset.value.reason in {"reset", "closed"}
    assert b.counts()["handler_errors"] == 2

    async with await a.open_stream(b.peer_id, ECHO, within=5) as stream:
        await stream.send(b"still here")
        assert await stream.receive() == b"still here"
    assert b.peers() == [a.peer_id]


async def test_an_oversize_frame_is_refused(node: Factory) -> None:
    (a, _), (b, _) = await node(1), await node(2)
    reasons: list[str] = []
    refused = asyncio.Event()

    async def small(peer: str, stream: Stream) -> None:
        try:
            await stream.receive(limit=1024)
        except NetworkError as exc:
            reasons.append(exc.reason)
            refused.set()
            raise

    b.set_stream_handler(SMALL, small)
    await connect(a, b)
    stream = await a.open_stream(b.peer_id, SMALL, within=5)
    await stream.send(b"x" * 2048)
    with pytest.raises(NetworkError) as reset:
        await stream.receive()
    assert reset.value.reason in {"reset", "closed"}
    # The reset reaches us from B's trio thread, B's handler learns why from the same thread
    # through the bridge: either may come first.
    await asyncio.wait_for(refused.wait(), 5)
    assert reasons == ["frame_too_large"]
    assert b.counts()["frames_too_large"] == 1

    with pytest.raises(NetworkError) as local:
        await stream.send(b"x" * (MAX_STREAM_FRAME + 1))
    assert local.value.reason == "frame_too_large"


async def test_unknown_protocol_is_refused(node: Factory) -> None:
    (a, _), (b, _) = await node(1), await node(2)
    await connect(a, b)
    with pytest.raises(NetworkError) as refused:
        await a.open_stream(b.peer_id, "/stig/nobody-speaks-this/1", within=5)
    assert refused.value.reason == "refused"


# --- lifecycle --------------------------------------------------------------------------------


async def test_watchdog_restarts_libp2p_on_the_same_address_and_redials(node: Factory) -> None:
    (a, ra), (b, rb) = await node(1, (TOPIC,)), await node(2, (TOPIC,))
    await connect(a, b)
    addresses = a.addresses()
    side = a._side
    assert side is not None
    died = asyncio.Event()
    restart = a.bridge.on_exit
    assert restart is not None

    def watchdog(error: BaseException | None) -> None:
        restart(error)
        died.set()

    a.bridge.on_exit = watchdog
    # A libp2p service dying under us (here: pubsub) ends the trio side.
    a.bridge.call_soon(side.pubsub.manager.cancel)
    await asyncio.wait_for(died.wait(), 10)
    await ra.wait(down(b.peer_id), 5)
    since = len(ra.events)
    await ra.wait(up(b.peer_id), 10, since=since)  # restarted, and re-dialed what it had dialed
    assert a.counts()["restarts"] == 1
    assert a.addresses() == addresses
    assert a._side is not side
    await gossip_ready(b, ra)
    await gossip_ready(a, rb)


async def test_calls_fail_down_when_stopped_and_start_works_again(node: Factory) -> None:
    (a, ra), (b, _) = await node(1), await node(2)
    await connect(a, b)
    await a.stop()
    with pytest.raises(NetworkError) as stopped:
        await a.publish(TOPIC, b"x")
    assert stopped.value.reason == "down"
    assert a.peers() == []
    await ra.ended(1)
    assert ra.events[-1] == PeerDown(b.peer_id)

    again = await a.start()
    assert again[0].endswith(a.peer_id)
    ra2 = Recorder(a)
    try:
        await connect(a, b)
        await ra2.wait(up(b.peer_id), 5)
    finally:
        await ra2.close()


async def test_stop_leaves_no_thread_behind() -> None:
    before = set(threading.enumerate())
    a, b = Libp2pNetwork(seed(1)), Libp2pNetwork(seed(2))
    try:
        for net in (a, b):
            net.set_validator(TOPIC, rejects_bad)
            await net.subscribe(TOPIC)
            await net.start()
        await connect(a, b)
        assert len(set(threading.enumerate()) - before) >= 2
    finally:
        await a.stop()
        await b.stop()
    assert set(threading.enumerate()) - before == set()


async def test_stop_leaves_no_socket_open() -> None:
    """Every TCP socket a run opened (dialed or accepted) is closed when ``stop()`` returns,
    even a connection whose graceful close was cut short — as when SHUTDOWN_GRACE runs out, or
    the run is cancelled — which the library marks closed with its socket still open
    (docs/architecture.md, trap 10). A socket left open is found by the garbage collector
    later, as a ResourceWarning in some other test."""
    a, b = Libp2pNetwork(seed(1)), Libp2pNetwork(seed(2))
    guards = []
    try:
        for net in (a, b):
            await net.start()
        await connect(a, b)
        for net in (a, b):
            side = net._side
            assert side is not None
            guards += [g for t in side.transports if isinstance(t, GuardedTCP) for g in t.opened]
        assert len(guards) >= 2  # a's dial and b's accept
        side = a._side
        assert side is not None

        async def close_cut_short() -> bool:
            (conn,) = side.swarm.get_connections()
            with trio.CancelScope() as scope:
                scope.cancel()
                await conn.close()
            return conn.is_closed

        assert await a.bridge.call(close_cut_short)  # marked closed, its socket still open
    finally:
        await a.stop()
        await b.stop()
    assert [g for g in guards if g.socket_open] == []


@pytest.mark.slow
async def test_lan_discovery_dials_the_peers_it_finds(node: Factory) -> None:
    (_, ra), (b, _) = await node(1, lan=True), await node(2, lan=True)
    await ra.wait(up(b.peer_id), 10)


# --- a second OS process ----------------------------------------------------------------------


@pytest.mark.slow
async def test_round_trip_with_a_peer_in_another_process(node: Factory, tmp_path: Path) -> None:
    (a, ra) = await node(1, ("pong",))
    stderr = (tmp_path / "peer.err").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HELPER), stdout=asyncio.subprocess.PIPE, stderr=stderr
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        address = line.decode().strip()
        assert address.startswith("/ip4/127.0.0.1/tcp/"), (address, stderr.name)
        peer = await a.dial(address, within=5)

        async with await a.open_stream(peer, ECHO, within=5) as stream:
            await stream.send(b"across processes")
            assert await stream.receive() == b"across processes"
            await stream.close()
            assert await stream.receive() is None

        for i in range(100):
            await a.publish("ping", b"hello-%d" % i)
            with suppress(TimeoutError):
                echoed = await ra.wait(lambda e: isinstance(e, Pushed) and e.topic == "pong", 0.2)
                break
        else:
            raise AssertionError("the other process never echoed a push")
        assert isinstance(echoed, Pushed)
        assert echoed.data.startswith(b"pong:hello-") and echoed.via == peer
    finally:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        if proc.stdout is not None:
            await proc.stdout.read()
        stderr.close()


# --- the bridge on its own --------------------------------------------------------------------


async def test_bridge_carries_results_errors_and_cancellation() -> None:
    exits: list[BaseException | None] = []
    bridge = TrioBridge("test", on_exit=exits.append)
    cancelled = threading.Event()

    async def root(task_status: trio.TaskStatus[str]) -> None:
        task_status.started("ready")
        await trio.sleep_forever()

    async def add(x: int, y: int) -> int:
        await trio.lowlevel.checkpoint()
        return x + y

    async def fail(exc: Exception) -> None:
        await trio.lowlevel.checkpoint()
        raise exc

    async def forever() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.set()
            raise

    assert await bridge.start(root) == "ready"
    try:
        assert await bridge.call(add, 2, 3) == 5
        with pytest.raises(NetworkError) as ours:
            await bridge.call(fail, NetworkError("timeout", "x"))
        assert ours.value.reason == "timeout"
        with pytest.raises(NetworkError) as foreign:
            await bridge.call(fail, trio.TooSlowError())
        assert foreign.value.reason == "failed"
        assert isinstance(foreign.value.__cause__, trio.TooSlowError)
        with pytest.raises(ZeroDivisionError):  # our bug surfaces as itself
            await bridge.call(fail, ZeroDivisionError())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bridge.call(forever), 0.1)
        assert await asyncio.to_thread(cancelled.wait, 5)
    finally:
        await bridge.stop()
    with pytest.raises(NetworkError) as down_:
        await bridge.call(add, 1, 1)
    assert down_.value.reason == "down"
    assert exits == []  # a stop is not a death


async def test_bridge_watchdog_reports_a_dead_trio_side_and_can_start_again() -> None:
    exited = asyncio.Event()
    errors: list[BaseException | None] = []

    def on_exit(error: BaseException | None) -> None:
        errors.append(error)
        exited.set()

    bridge = TrioBridge("test", on_exit=on_exit)
    crash = trio.Event()

    async def root(task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await crash.wait()
        raise RuntimeError("the trio side died")

    async def wait_forever() -> None:
        await trio.sleep_forever()

    await bridge.start(root)
    pending = asyncio.ensure_future(bridge.call(wait_forever))
    await asyncio.sleep(0.05)
    bridge.call_soon(crash.set)
    await asyncio.wait_for(exited.wait(), 5)
    assert isinstance(errors[0], RuntimeError)
    with pytest.raises(NetworkError) as down_:
        await pending
    assert down_.value.reason == "down"
    assert not bridge.running

    async def healthy(task_status: trio.TaskStatus[int]) -> None:
        task_status.started(7)
        await trio.sleep_forever()

    assert await bridge.start(healthy) == 7
    await bridge.stop()
