"""Bounds on what a peer can make us read while a connection is being upgraded.

py-libp2p 0.8.1 reads protocol-negotiation (multistream-select) messages without a bound
(advisory GHSA-hmjq-g7pp-rw3x, fixed in 0.8.2, which the registry here does not serve yet):
``utils/varint.py`` ``read_delim`` → ``read_varint_prefixed_bytes`` decodes the peer's varint
length and hands it to ``io/utils.py`` ``read_exactly``, which calls ``read(n)`` on the raw TCP
stream with that ``n`` and keeps extending one buffer for up to 101 reads. A peer that opens a
TCP connection, sends the multistream header and then a varint claiming 200 MB followed by
garbage made a ``stig node`` grow by 80–100 MB per connection (eight such connections at once:
+669 MB), before any key was exchanged: the peer costs nothing and needs no identity.

The same claim one step later, in the muxer negotiation that runs over the Noise session, is
just as cheap (Noise proves only that the peer holds *some* key, and keys are free) and worse:
``security/secure_session.py`` ``read(n)`` assembles all ``n`` bytes itself, so no retry limit
stops it (measured: +101 MB for 100 MB sent after a handshake with a throwaway key).

The fix lives at the one seam we own without patching the library: the transport.
``GuardedTCP`` is py-libp2p's TCP transport with every raw stream, inbound (listener handler)
or outbound (dial), wrapped in a ``NegotiationGuard`` before the swarm sees it. The guard:

* refuses any ``read(n)`` with ``n`` over ``MAX_NEGOTIATION_MESSAGE`` (64 KiB, the bound 0.8.2
  puts on negotiation messages), for the connection's whole life. Every read on a raw
  connection is either a negotiation message of a varint-declared length or, once Noise runs, a
  Noise frame of at most 2 + 65535 bytes (``security/noise/io.py``), so nothing honest asks for
  more; a bigger ``n`` can only be a peer's claimed length, and is refused before any byte of it
  is read (or, for a claim of many GiB, before CPython's ``recv`` tries to allocate it);
* until Noise succeeds, allows ``PREAUTH_READ_BUDGET`` bytes in total; from then until the swarm
  holds the multiplexed connection, ``MUXING_READ_BUDGET`` more (the guard cannot read the
  encrypted negotiation, so it bounds the bytes under it);
* allows ``UPGRADE_DEADLINE`` seconds from the connection's start for all of that.

A read that would pass a bound raises ``NegotiationRefused``, and the swarm closes the
connection. ``GuardedNoise`` is py-libp2p's Noise transport that moves the guard under the
connection to its second budget once the handshake has succeeded, and remembers which Noise
session belongs to which guard; ``connection_upgraded`` (called from the swarm's "connected"
notification) lifts the budgets and the deadline. Both classes go to ``new_host`` through its
public ``transports`` and ``sec_opt`` arguments; nothing in libp2p is replaced at runtime.
(trap: the muxer class in ``muxer_opt`` cannot be the hook: for ``/yamux/1.0.0``
``stream_muxer/muxer_multistream.py`` builds ``Yamux`` itself, whatever class was given.)

Refusals are "the peer sent garbage": reported through ``on_refused(reason)`` for counting,
never an exception that reaches the node.
"""

from __future__ import annotations

import logging
import math
import socket as stdlib_socket
import weakref
from collections.abc import Callable
from contextlib import suppress

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import INetConn, IRawConnection, ISecureConn
from libp2p.custom_types import THandler
from libp2p.io.abc import ReadWriteCloser
from libp2p.io.exceptions import IOException
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.pnet.psk_conn import PskConn
from libp2p.transport.exceptions import OpenConnectionError
from libp2p.transport.tcp.tcp import TCP, TCPListener
from libp2p.utils.multiaddr_utils import extract_ip_from_multiaddr

log = logging.getLogger(__name__)

# --- bounds ---------------------------------------------------------------------------------

MAX_NEGOTIATION_MESSAGE = 64 * 1024
"""Largest single read a peer can ask of a raw connection: py-libp2p 0.8.2's bound on a
negotiation message, and just above the largest Noise frame body (65535 bytes)."""

PREAUTH_READ_BUDGET = 256 * 1024
"""Bytes a connection may read before its Noise handshake succeeds: room for two maximal
negotiation messages and two maximal Noise handshake messages. An honest handshake reads
well under 2 KiB (multistream header, ``/noise``, two handshake messages)."""

MUXING_READ_BUDGET = 1024 * 1024
"""Bytes a connection may read after Noise until the swarm holds it multiplexed. The muxer
negotiation itself is two short messages; the rest is room for the first frames an honest peer
sends while the swarm starts the muxer and before it tells its notifees (milliseconds)."""

UPGRADE_DEADLINE = 10.0
"""Seconds from the connection's start until the swarm holds it multiplexed, on either side
(py-libp2p bounds only inbound upgrades, by 10 s; an outbound security upgrade waits on
multistream's 30 s negotiation timeout)."""

Refused = Callable[[str], None]
"""Told the reason (``too_large``, ``over_budget``, ``too_slow``) of each refusal."""


def _ignore(reason: str) -> None:
    pass


class NegotiationRefused(IOException):
    """The peer asked us to read more, or for longer, than negotiation needs."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class NegotiationGuard(ReadWriteCloser):
    """A raw stream with the bounds above on its reads (module docstring). Lives in the trio
    thread; the clock is trio's."""

    def __init__(self, inner: ReadWriteCloser, on_refused: Refused = _ignore) -> None:
        self.inner = inner
        self.on_refused = on_refused
        self.phase = "securing"
        """``securing`` (before Noise), ``muxing`` (after Noise, until the swarm holds the
        connection), ``upgraded``."""
        self.budget = PREAUTH_READ_BUDGET
        self.deadline = trio.current_time() + UPGRADE_DEADLINE
        self._reading: trio.CancelScope | None = None

    def authenticated(self) -> None:
        """The Noise handshake succeeded: the second budget starts."""
        if self.phase == "securing":
            self.phase = "muxing"
            self.budget = MUXING_READ_BUDGET

    def upgraded(self) -> None:
        """The swarm holds the connection, multiplexed: lift the budgets and the deadline (the
        bound on one read stays)."""
        self.phase = "upgraded"
        # The muxer's first read may already be waiting under the deadline.
        if self._reading is not None:
            self._reading.deadline = math.inf

    def _refuse(self, reason: str, detail: str) -> NegotiationRefused:
        log.debug("negotiation refused (%s): %s from %s", reason, detail, self.get_remote_address())
        self.on_refused(reason)
        return NegotiationRefused(reason, detail)

    async def read(self, n: int | None = None) -> bytes:
        if n is not None and n > MAX_NEGOTIATION_MESSAGE:
            raise self._refuse("too_large", f"a read of {n} bytes")
        if self.phase == "upgraded":
            return await self.inner.read(n)
        if self.budget <= 0:
            raise self._refuse("over_budget", f"too many bytes while {self.phase}")
        # Never ask for more than the budget left, so one read cannot overshoot it.
        want = self.budget if n is None else min(n, self.budget)
        with trio.move_on_at(self.deadline) as self._reading:
            data = await self.inner.read(want)
            if self.phase != "upgraded":
                self.budget -= len(data)
            return data
        raise self._refuse("too_slow", f"not upgraded within {UPGRADE_DEADLINE} s")

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)

    async def close(self) -> None:
        await self.inner.close()

    def get_remote_address(self) -> tuple[str, int] | None:
        return self.inner.get_remote_address()

    def _socket(self) -> trio.socket.SocketType | None:
        inner = self.inner
        if isinstance(inner, TrioTCPStream) and isinstance(inner.stream, trio.SocketStream):
            return inner.stream.socket
        return None

    @property
    def socket_open(self) -> bool:
        """Whether the TCP socket under this stream is open."""
        socket = self._socket()
        return socket is not None and socket.fileno() != -1

    def abort(self) -> bool:
        """Close the TCP socket under this stream now, synchronously (no checkpoint, so
        cancellation cannot stop it); in the trio thread. True if it was still open."""
        socket = self._socket()
        if socket is None or socket.fileno() == -1:
            return False
        socket.close()
        return True


def guard_under(conn: object) -> NegotiationGuard | None:
    """The guard at the bottom of a raw connection, through a pnet layer if there is one."""
    for _ in range(4):
        if isinstance(conn, NegotiationGuard):
            return conn
        if isinstance(conn, PskConn):
            # trap: PskConn subclasses RawConnection but never sets ``stream``; the connection
            # it encrypts is only in the private ``_conn`` (0.8.1, security/pnet/psk_conn.py).
            conn = getattr(conn, "_conn", None)
        elif isinstance(conn, RawConnection):
            conn = conn.stream
        else:
            return None
    return None


class GuardedTCP(TCP):
    """py-libp2p's TCP transport with a ``NegotiationGuard`` under every connection. It
    remembers (weakly) every guard it made, so its owner can close, when its run of libp2p
    ends, the sockets that libp2p left open (``stig.net.libp2p_side.Side.release_sockets``)."""

    def __init__(self, on_refused: Refused = _ignore) -> None:
        super().__init__()
        self.on_refused = on_refused
        self.opened: weakref.WeakSet[NegotiationGuard] = weakref.WeakSet()

    def _guard(self, stream: ReadWriteCloser) -> NegotiationGuard:
        guard = NegotiationGuard(stream, self.on_refused)
        self.opened.add(guard)
        return guard

    def _guarded(self, conn: IRawConnection) -> IRawConnection:
        if not isinstance(conn, RawConnection):
            return conn
        guard = self._guard(conn.stream)
        return RawConnection(guard, conn.is_initiator, conn.get_connection_type())

    async def dial(self, maddr: multiaddr.Multiaddr) -> IRawConnection:
        return self._guarded(await super().dial(maddr))

    async def dial_with_source(
        self, maddr: multiaddr.Multiaddr, source: tuple[str, int]
    ) -> IRawConnection:
        """DCUtR's hole-punch dial, from ``source`` (the listen address). trap: the library's
        (``tcp.py`` ``_open_tcp_stream_from``) closes its socket only on OSError; cancelled
        while binding it — DCUtR cancels its other attempts once one succeeds, and all of them
        when the host stops — the socket is never closed (docs/architecture.md, trap 11). This
        dials the same way and closes the socket however the dial ends."""
        host = extract_ip_from_multiaddr(maddr)
        tcp = "tcp" in {protocol.name for protocol in maddr.protocols()}
        port = maddr.value_for_protocol("tcp") if tcp else None
        if host is None or port is None:
            return self._guarded(await super().dial_with_source(maddr, source))  # DNS
        stream = await _open_tcp_stream_from(host, int(port), source)
        return self._guarded(RawConnection(TrioTCPStream(stream), True))

    def create_listener(self, handler_function: THandler) -> TCPListener:
        async def guarded(stream: ReadWriteCloser) -> None:
            await handler_function(self._guard(stream))

        return super().create_listener(guarded)


async def _open_tcp_stream_from(host: str, port: int, source: tuple[str, int]) -> trio.SocketStream:
    """A TCP connection to ``host:port`` bound to ``source``, with SO_REUSEADDR and
    SO_REUSEPORT (the listener has them too, so both share the port), as py-libp2p 0.8.1 makes
    it; but its socket is closed on every way out, cancellation included."""
    if (":" in source[0]) != (":" in host):
        raise OpenConnectionError(f"source {source[0]} and {host} are not one IP family")
    family = trio.socket.AF_INET6 if ":" in host else trio.socket.AF_INET
    try:
        sock = trio.socket.socket(family, stdlib_socket.SOCK_STREAM)
    except OSError as exc:
        raise OpenConnectionError(f"no TCP socket: {exc}") from exc
    try:
        for option in ("SO_REUSEADDR", "SO_REUSEPORT"):
            with suppress(AttributeError, OSError):
                sock.setsockopt(stdlib_socket.SOL_SOCKET, getattr(stdlib_socket, option), 1)
        try:
            await sock.bind(source)
        except OSError:
            # As the library: where the listen port cannot be shared, dial from any port
            # (a direct connection still works; hole punching does not).
            sock.close()
            return await trio.open_tcp_stream(host, port)
        await sock.connect((host, port))
    except OSError as exc:
        sock.close()
        raise OpenConnectionError(f"cannot connect to {host}:{port} from {source}: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


_MUXING: weakref.WeakKeyDictionary[ISecureConn, NegotiationGuard] = weakref.WeakKeyDictionary()
"""The guard under each Noise session whose connection the swarm does not hold yet. Weak: a
session whose upgrade failed is forgotten with it."""


class GuardedNoise(NoiseTransport):
    """py-libp2p's Noise transport that moves the connection's guard to its second budget once
    the handshake has succeeded."""

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        return _authenticated(conn, await super().secure_inbound(conn))

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        return _authenticated(conn, await super().secure_outbound(conn, peer_id))


def _authenticated(conn: IRawConnection, secure: ISecureConn) -> ISecureConn:
    guard = guard_under(conn)
    if guard is None:
        # Not one of ours (a transport other than GuardedTCP): nothing to bound.
        log.debug("no negotiation guard under %r", conn)
        return secure
    guard.authenticated()
    _MUXING[secure] = guard
    return secure


def connection_upgraded(conn: INetConn) -> NegotiationGuard | None:
    """The swarm holds ``conn`` (its "connected" notification): lift the guard's budgets.
    Returns that guard (None if the connection had none): its class says which transport the
    connection came through."""
    # Yamux keeps its Noise session as ``secured_conn`` (not on the IMuxedConn interface).
    secure = getattr(conn.muxed_conn, "secured_conn", None)
    guard = _MUXING.pop(secure, None) if secure is not None else None
    if guard is not None:
        guard.upgraded()
    return guard
