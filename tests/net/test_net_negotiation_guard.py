"""Unbounded negotiation reads (GHSA-hmjq-g7pp-rw3x, py-libp2p 0.8.1): a real ``stig node``
process against a peer that claims a 200 MB multistream message, from a raw TCP socket before
Noise and through a Noise session made with a throwaway key; then the guard's bounds on their
own (stig.net.negotiation_guard).

Measured on the unguarded 0.8.1 host: the node took the 100 MB and grew by 80–100 MB of RSS
either way. Keep these tests when 0.8.2 is pinned: they check the property, not the patch.
Every process is ended by PID (tests/mesh/processes.py).
"""

from __future__ import annotations

import gc
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import multiaddr  # type: ignore[import-untyped]
import pytest
import trio
import trio.testing
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.io.abc import ReadWriteCloser
from libp2p.io.exceptions import IOException
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.pnet.psk_conn import PskConn
from libp2p.security.security_multistream import SecurityMultistream
from libp2p.transport.tcp.tcp import TCP

from stig.net.negotiation_guard import (
    MAX_NEGOTIATION_MESSAGE,
    MUXING_READ_BUDGET,
    PREAUTH_READ_BUDGET,
    UPGRADE_DEADLINE,
    GuardedTCP,
    NegotiationGuard,
    NegotiationRefused,
    guard_under,
)
from tests.mesh.processes import Node, cluster, stig, wait_for

pytestmark = pytest.mark.timeout(60)

SEND = 100 * 2**20
SEND_FOR = 20.0
RSS_SLACK = 50 * 2**20
# A claim the 0.8.1 host allocates and fills. (One of many GiB fails CPython's recv allocation
# with MemoryError and cuts the connection by accident.)
CLAIM = 200_000_000

Flood = tuple[int, int, str]
"""Bytes sent, peak RSS of the node, how the sending ended."""


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def delimited(message: bytes) -> bytes:
    """A multistream-select message: varint length, the message, a newline."""
    return varint(len(message) + 1) + message + b"\n"


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def flood_before_noise(address: str, pid: int) -> Flood:
    """Send the multistream header, the huge claim and up to SEND bytes of garbage on a raw TCP
    socket, as fast as the node takes them, for at most SEND_FOR seconds."""
    port = int(multiaddr.Multiaddr(address).value_for_protocol("tcp"))
    peak = rss(pid)
    sent = 0
    ended = "everything was accepted"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(delimited(b"/multistream/1.0.0") + varint(CLAIM))
        chunk = b"\xaa" * 2**20
        deadline = time.monotonic() + SEND_FOR
        try:
            while sent < SEND and time.monotonic() < deadline:
                sock.sendall(chunk)
                sent += len(chunk)
                peak = max(peak, rss(pid))
        except TimeoutError:
            ended = "the node stopped reading"
        except OSError as exc:  # reset, broken pipe: the node cut us off
            ended = f"cut off: {exc!r}"
        # The node may still be holding what it read; look a little longer.
        for _ in range(5):
            peak = max(peak, rss(pid))
            time.sleep(0.1)
    return sent, peak, ended


def flood_after_noise(address: str, pid: int) -> Flood:
    """The same in the muxer negotiation, after a Noise handshake with a throwaway key."""

    async def main() -> Flood:
        key_pair = create_new_key_pair()
        noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
        where, peer = address.rsplit("/p2p/", 1)
        raw = await TCP().dial(multiaddr.Multiaddr(where))
        secure = await SecurityMultistream({NOISE_PROTOCOL_ID: noise}).secure_outbound(
            raw, ID.from_base58(peer)
        )
        peak = rss(pid)
        sent = 0
        ended = "everything was accepted"
        chunk = b"\xaa" * 60_000
        with trio.move_on_after(SEND_FOR):
            try:
                await secure.write(delimited(b"/multistream/1.0.0") + varint(CLAIM))
                while sent < SEND:
                    await secure.write(chunk)
                    sent += len(chunk)
                    peak = max(peak, rss(pid))
            except (IOException, OSError) as exc:
                ended = f"cut off: {exc!r}"
        for _ in range(5):
            peak = max(peak, rss(pid))
            await trio.sleep(0.1)
        await secure.close()
        return sent, peak, ended

    return trio.run(main)


@pytest.mark.slow
@pytest.mark.parametrize("flood", [flood_before_noise, flood_after_noise])
def test_a_huge_negotiation_claim_is_cut_off(
    tmp_path: Path, flood: Callable[[str, int], Flood]
) -> None:
    with cluster() as nodes:
        stig(tmp_path / "a", "init", "-q")
        a = Node(tmp_path / "a").start()
        nodes.append(a)
        assert a.process is not None
        pid = a.process.pid
        time.sleep(1.0)  # let start-up allocations settle before the baseline
        baseline = rss(pid)

        sent, peak, ended = flood(a.address, pid)

        grown = f"RSS grew by {(peak - baseline) / 2**20:.0f} MB"
        assert ended.startswith("cut off"), (ended, sent, grown)
        assert sent < SEND, (sent, grown)
        assert peak - baseline < RSS_SLACK, grown

        # Still serving: an honest node connects, and A lists it.
        stig(tmp_path / "b", "init", "-q")
        b = Node(tmp_path / "b", "--bootstrap", a.address).start()
        nodes.append(b)
        b_id = b.address.rsplit("/p2p/", 1)[1]
        wait_for(
            lambda: any(p["peer"] == b_id and p["connected"] for p in a.peers()["peers"]),
            15,
            "the honest node to be connected to A",
        )


# --- the guard on its own -------------------------------------------------------------------


class Endless(ReadWriteCloser):
    """A peer that always has as many bytes as asked for, or (``silent``) never any."""

    def __init__(self, silent: bool = False) -> None:
        self.silent = silent
        self.asked: list[int | None] = []

    async def read(self, n: int | None = None) -> bytes:
        self.asked.append(n)
        if self.silent:
            await trio.sleep_forever()
        return b"x" * (n or 4096)

    async def write(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()

    def get_remote_address(self) -> tuple[str, int] | None:
        return ("127.0.0.1", 1)


def test_a_read_over_the_message_bound_is_refused_before_reading_any_of_it() -> None:
    async def main() -> None:
        peer = Endless()
        refused: list[str] = []
        guard = NegotiationGuard(peer, refused.append)
        assert len(await guard.read(MAX_NEGOTIATION_MESSAGE)) == MAX_NEGOTIATION_MESSAGE
        guard.authenticated()
        guard.upgraded()
        with pytest.raises(NegotiationRefused):
            await guard.read(MAX_NEGOTIATION_MESSAGE + 1)  # once upgraded too
        assert peer.asked == [MAX_NEGOTIATION_MESSAGE]
        assert refused == ["too_large"]

    trio.run(main)


def test_the_budgets_hold_until_the_connection_is_upgraded() -> None:
    async def main() -> None:
        refused: list[str] = []

        async def drain(guard: NegotiationGuard) -> int:
            total = 0
            with pytest.raises(NegotiationRefused):
                while True:
                    total += len(await guard.read(60_000))
            return total

        assert await drain(NegotiationGuard(Endless(), refused.append)) == PREAUTH_READ_BUDGET
        guard = NegotiationGuard(Endless(), refused.append)
        guard.authenticated()
        assert await drain(guard) == MUXING_READ_BUDGET
        assert refused == ["over_budget", "over_budget"]

        guard = NegotiationGuard(Endless())
        guard.authenticated()
        guard.upgraded()
        for _ in range(2 * MUXING_READ_BUDGET // 60_000):
            await guard.read(60_000)

    trio.run(main)


def test_a_silent_peer_is_refused_at_the_deadline_unless_upgraded_meanwhile() -> None:
    async def main() -> None:
        refused: list[str] = []
        guard = NegotiationGuard(Endless(silent=True), refused.append)
        started = trio.current_time()
        with pytest.raises(NegotiationRefused):
            await guard.read(1)
        assert trio.current_time() - started == pytest.approx(UPGRADE_DEADLINE)
        assert refused == ["too_slow"]

        # The muxer's first read starts under the deadline; the upgrade lifts it mid-read.
        guard = NegotiationGuard(Endless(silent=True), refused.append)
        with trio.move_on_after(3 * UPGRADE_DEADLINE) as waited:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(guard.read, 12)
                await trio.sleep(1)
                guard.upgraded()
        assert waited.cancelled_caught
        assert refused == ["too_slow"]

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_guard_is_found_under_a_private_network_layer() -> None:
    async def main() -> None:
        guard = NegotiationGuard(Endless())
        raw = RawConnection(guard, False)
        assert guard_under(raw) is guard
        assert guard_under(PskConn(raw, "11" * 32)) is guard
        assert guard_under(RawConnection(Endless(), False)) is None

    trio.run(main)


def test_a_hole_punch_dial_cancelled_while_binding_closes_its_socket() -> None:
    """DCUtR cancels its other dial attempts once one succeeds, and all of them when the host
    stops. py-libp2p 0.8.1's dial from the listen port left the socket of one cancelled while
    binding open (docs/architecture.md, trap 11): the garbage collector found it later, as a
    ResourceWarning in whatever test ran then."""

    async def cancelled_dial() -> None:
        with trio.CancelScope() as scope:
            scope.cancel()
            address = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/9")
            await GuardedTCP().dial_with_source(address, ("127.0.0.1", 0))
        assert scope.cancelled_caught

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        trio.run(cancelled_dial)
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
