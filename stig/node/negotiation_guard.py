"""Bounds on what a peer can make us read before Noise has told us who it is.

py-libp2p 0.8.1 reads protocol-negotiation (multistream-select) messages without a bound
(advisory GHSA-hmjq-g7pp-rw3x, fixed in 0.8.2, which the registry here does not serve yet):
``utils/varint.py`` ``read_delim`` → ``read_varint_prefixed_bytes`` decodes the peer's varint
length and hands it to ``io/utils.py`` ``read_exactly``, which calls ``read(n)`` on the raw TCP
stream with that ``n`` and keeps extending one buffer for up to 101 reads. A peer that opens a
TCP connection, sends the multistream header and then a varint claiming 200 MB followed by
garbage made a ``stig node`` grow by 100 MB (measured: +100 MB RSS for 100 MB sent, and the
memory stays until the 10 s upgrade timeout), before any key was exchanged: the peer costs
nothing and needs no identity.

The fix lives at the one seam we own without patching the library: the transport.
``GuardedTCP`` is py-libp2p's TCP transport with every raw stream, inbound (listener handler)
or outbound (dial), wrapped in a ``NegotiationGuard`` before the swarm sees it. The guard:

* refuses any ``read(n)`` with ``n`` over ``MAX_NEGOTIATION_MESSAGE`` (64 KiB, the bound 0.8.2
  puts on negotiation messages), for the connection's whole life. Every read on a raw
  connection is either a negotiation message of a varint-declared length or, once Noise runs, a
  Noise frame of at most 2 + 65535 bytes (``security/noise/io.py``), so nothing honest asks for
  more; a bigger ``n`` can only be a peer's claimed length, and is refused before any byte of it
  is read (or, for a claim of many GiB, before CPython's ``recv`` tries to allocate it);
* until ``authenticated()`` is called, allows ``PREAUTH_READ_BUDGET`` bytes in total and
  ``PREAUTH_DEADLINE`` seconds from the connection's start; a read that would pass either
  raises ``NegotiationRefused``, and the swarm closes the connection.

``GuardedNoise`` is py-libp2p's Noise transport that calls ``authenticated()`` on the guard
under the connection once its handshake has succeeded. Both are handed to ``new_host`` through
its public ``transports`` and ``sec_opt`` arguments; nothing in libp2p is replaced at runtime.

Refusals raise ``NegotiationRefused``, a libp2p ``IOException`` (so the swarm treats it like a
broken connection and closes it), and are reported through ``on_refused(reason)`` for
counting: "the peer sent garbage", never an exception that reaches the node.

Not covered (after Noise, so only from a peer that proved a key): the muxer negotiation runs
over the Noise session, whose ``read(n)`` (``security/secure_session.py``) assembles all ``n``
bytes in one buffer, so an authenticated peer can still claim a huge length there; the raw
guard then sees only Noise frames it cannot look into. py-libp2p bounds that phase only by its
10 s inbound upgrade timeout. Pin 0.8.2 when it is installable and re-check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import IRawConnection, ISecureConn
from libp2p.custom_types import THandler
from libp2p.io.abc import ReadWriteCloser
from libp2p.io.exceptions import IOException
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.pnet.psk_conn import PskConn
from libp2p.transport.tcp.tcp import TCP, TCPListener

log = logging.getLogger(__name__)

# --- bounds ---------------------------------------------------------------------------------

MAX_NEGOTIATION_MESSAGE = 64 * 1024
"""Largest single read a peer can ask of a raw connection: py-libp2p 0.8.2's bound on a
negotiation message, and just above a full Noise frame (2 + 65535 bytes)."""

PREAUTH_READ_BUDGET = 256 * 1024
"""Bytes a connection may read before its Noise handshake succeeds: room for two maximal
negotiation messages and two maximal Noise handshake messages. An honest handshake reads
well under 2 KiB (multistream header, ``/noise``, two handshake messages)."""

PREAUTH_DEADLINE = 10.0
"""Seconds from the connection's start to a finished Noise handshake, on either side (py-libp2p
bounds only inbound upgrades, by 10 s; an outbound security upgrade waits on multistream's
30 s negotiation timeout)."""

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
        self.deadline: float | None = trio.current_time() + PREAUTH_DEADLINE
        self.budget = PREAUTH_READ_BUDGET

    def authenticated(self) -> None:
        """The Noise handshake succeeded: lift the budget and the deadline (the per-read bound
        stays)."""
        self.deadline = None

    def _refuse(self, reason: str, detail: str) -> NegotiationRefused:
        log.debug("negotiation refused (%s): %s from %s", reason, detail, self.get_remote_address())
        self.on_refused(reason)
        return NegotiationRefused(reason, detail)

    async def read(self, n: int | None = None) -> bytes:
        if n is not None and n > MAX_NEGOTIATION_MESSAGE:
            raise self._refuse("too_large", f"a read of {n} bytes")
        if self.deadline is None:
            return await self.inner.read(n)
        if self.budget <= 0:
            raise self._refuse("over_budget", f"more than {PREAUTH_READ_BUDGET} bytes")
        # Never ask for more than the budget left, so one read cannot overshoot it.
        want = self.budget if n is None else min(n, self.budget)
        with trio.move_on_at(self.deadline):
            data = await self.inner.read(want)
            self.budget -= len(data)
            return data
        raise self._refuse("too_slow", f"no handshake within {PREAUTH_DEADLINE} s")

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)

    async def close(self) -> None:
        await self.inner.close()

    def get_remote_address(self) -> tuple[str, int] | None:
        return self.inner.get_remote_address()


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
    """py-libp2p's TCP transport with a ``NegotiationGuard`` under every connection."""

    def __init__(self, on_refused: Refused = _ignore) -> None:
        super().__init__()
        self.on_refused = on_refused

    def _guarded(self, conn: IRawConnection) -> IRawConnection:
        if not isinstance(conn, RawConnection):
            return conn
        guard = NegotiationGuard(conn.stream, self.on_refused)
        return RawConnection(guard, conn.is_initiator, conn.get_connection_type())

    async def dial(self, maddr: multiaddr.Multiaddr) -> IRawConnection:
        return self._guarded(await super().dial(maddr))

    async def dial_with_source(
        self, maddr: multiaddr.Multiaddr, source: tuple[str, int]
    ) -> IRawConnection:
        return self._guarded(await super().dial_with_source(maddr, source))

    def create_listener(self, handler_function: THandler) -> TCPListener:
        on_refused = self.on_refused

        async def guarded(stream: ReadWriteCloser) -> None:
            await handler_function(NegotiationGuard(stream, on_refused))

        return super().create_listener(guarded)


class GuardedNoise(NoiseTransport):
    """py-libp2p's Noise transport that lifts the pre-authentication bounds of the connection's
    guard once the handshake has succeeded."""

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        secure = await super().secure_inbound(conn)
        _authenticated(conn)
        return secure

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        secure = await super().secure_outbound(conn, peer_id)
        _authenticated(conn)
        return secure


def _authenticated(conn: IRawConnection) -> None:
    guard = guard_under(conn)
    if guard is None:
        # Not one of ours (a transport other than GuardedTCP): nothing to lift.
        log.debug("no negotiation guard under %r", conn)
        return
    guard.authenticated()
