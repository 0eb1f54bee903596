"""A SOCKS5 client on trio, for one purpose: ask tor to connect to ``<address>.onion:port``.

RFC 1928 CONNECT with the destination as a domain name (address type 3), so the name goes to
tor as text and tor resolves it: nothing is looked up on this machine, no DNS query leaves it.
No authentication by default; with ``isolation`` the request carries a username/password
(RFC 1929) that tor uses only to keep streams with different values on different circuits
(``IsolateSOCKSAuth``, on by default).

Written here rather than taken from a library because it is one request and one reply, and
because tor's own reply codes deserve words: with ``ExtendedErrors`` on the SOCKS port (stig's
own tor sets it; a system tor may not), tor says *why* an onion could not be reached
(proposal 304: descriptor not found, introduction failed, ...). Every failure is a
``TorError``; ``.reason`` is ``socks`` for a tor that does not speak SOCKS5 as expected,
``onion_unreachable`` for a refusal from tor about the destination.
"""

from __future__ import annotations

import trio

from stig.errors import TorError

MAX_NAME = 255
"""A SOCKS5 domain name is one length byte."""

REPLIES = {
    0x01: "general failure",
    0x02: "not allowed by tor's rules",
    0x03: "network unreachable",
    0x04: "host unreachable (for an onion: its descriptor could not be found; is it online?)",
    0x05: "connection refused (the onion is online but nothing listens on that port)",
    0x06: "timed out",
    0x07: "command not supported",
    0x08: "address type not supported",
    # Tor's extended errors (proposal 304), sent when the port has ExtendedErrors.
    0xF0: "onion descriptor not found: the service is offline or not yet published",
    0xF1: "onion descriptor is invalid",
    0xF2: "introduction to the onion service failed",
    0xF3: "rendezvous with the onion service failed",
    0xF4: "the onion service needs client authorisation, and none was given",
    0xF5: "the onion service refused our client authorisation",
    0xF6: "not a valid onion address",
    0xF7: "introduction to the onion service timed out",
}


async def _exactly(stream: trio.SocketStream, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = await stream.receive_some(n - len(data))
        if not chunk:
            raise TorError("socks", "tor closed the SOCKS connection in the middle of a reply")
        data += chunk
    return bytes(data)


async def connect(
    proxy: tuple[str, int], name: str, port: int, *, isolation: str | None = None
) -> trio.SocketStream:
    """A stream to ``name:port`` through the SOCKS5 proxy at ``proxy`` (tor's SocksPort).

    Unbounded in time (tor's own SocksTimeout is 120 s): the caller bounds it.
    """
    encoded = name.encode("ascii")
    if not 0 < len(encoded) <= MAX_NAME:
        raise TorError("bad_address", f"{name!r} cannot be sent to a SOCKS proxy")
    try:
        stream = await trio.open_tcp_stream(*proxy)
    except OSError as exc:
        raise TorError(
            "not_running",
            f"no tor SOCKS port at {proxy[0]}:{proxy[1]} ({exc.strerror}): is tor running?",
        ) from exc
    try:
        await _handshake(stream, encoded, port, isolation)
    except BaseException:
        await stream.aclose()
        raise
    return stream


async def _handshake(
    stream: trio.SocketStream, name: bytes, port: int, isolation: str | None
) -> None:
    try:
        method = b"\x02" if isolation is not None else b"\x00"
        await stream.send_all(b"\x05\x01" + method)
        version, chosen = await _exactly(stream, 2)
        if version != 5 or chosen.to_bytes(1, "big") != method:
            raise TorError("socks", f"the SOCKS port answered {version}/{chosen}: is it tor's?")
        if isolation is not None:
            user = isolation.encode()[:255]
            await stream.send_all(b"\x01" + bytes([len(user)]) + user + b"\x01x")
            _, status = await _exactly(stream, 2)
            if status != 0:
                raise TorError("socks", "tor refused the SOCKS isolation credentials")
        request = b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big")
        await stream.send_all(request)
        version, reply, _, kind = await _exactly(stream, 4)
        if version != 5:
            raise TorError("socks", f"a SOCKS reply of version {version}")
        # The bound address that follows is meaningless for tor (always 0.0.0.0:0); read it
        # so the stream starts at the first byte from the destination.
        if kind == 1:
            await _exactly(stream, 4 + 2)
        elif kind == 4:
            await _exactly(stream, 16 + 2)
        elif kind == 3:
            (length,) = await _exactly(stream, 1)
            await _exactly(stream, length + 2)
        else:
            raise TorError("socks", f"a SOCKS reply with address type {kind}")
        if reply != 0:
            why = REPLIES.get(reply, f"SOCKS error {reply:#04x}")
            raise TorError("onion_unreachable", f"{name.decode()}:{port}: {why}")
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise TorError("socks", f"the SOCKS connection broke: {exc}") from exc
