"""``OnionTransport``: a py-libp2p 0.8.1 transport for ``/onion3/<address>:<port>`` multiaddrs.

It implements libp2p's ``ITransport``/``IListener`` (``libp2p/abc.py``) as the TCP transport
does (``libp2p/transport/tcp/tcp.py``), and goes to ``new_host`` through its public
``transports`` argument: nothing in libp2p is replaced. Noise and Yamux run over it as over TCP
(the swarm upgrades whatever raw connection a transport hands it).

* **Dial**: a SOCKS5 CONNECT to ``<address>.onion:<port>`` through tor's SOCKS port
  (``stig.net.tor.socks``), bounded by ``DIAL_WITHIN``. Tor resolves the name and builds the
  circuits; this process only ever connects to 127.0.0.1.
* **Listen** on ``/onion3/<address>:<port>``: the transport must hold the key of that address
  (``OnionKey``; a node knows its address before tor publishes it). The listener binds
  127.0.0.1 on a free port, serves it, and asks tor (``TorControl.publish``) to map the onion's
  ``port`` to it. ``get_addrs`` reports the ``/onion3`` address, so that is what the host
  advertises. Closing the listener withdraws the onion, then closes the socket.

What py-libp2p 0.8.1 does around it (each one checked in its source or seen):

* ``multiaddr`` 0.2.0 encodes and decodes ``/onion3`` (protocol code 445; the value is
  ``<56 base32 characters>:<port>``) and ``value_for_protocol("onion3")`` returns that text. It
  does not check the address's checksum: ``is_onion_address`` does, here.
* The swarm appends ``/p2p/<peer id>`` to the address before ``dial``; the parser ignores it.
* ``new_host(transports=[...])`` uses the list as given: with only this transport, the host
  cannot dial or listen on anything but onions (a clearnet address finds no transport).
* trap: every connection's remote address is tor's end of a loopback socket (the SOCKS port
  when dialing, tor's ephemeral port on an inbound one): identify reports it as our "observed
  address", and a host with address discovery on would advertise ``/ip4/127.0.0.1/tcp/…`` that
  leads nowhere. Build the host with ``disable_identify_address_discovery=True``, and never
  take a connection's remote address for a peer's address over Tor.
* A host that must not show its IP address runs no mDNS, no DCUtR (hole punching), no
  AutoNAT and no TCP transport beside this one: each of them exists to find or offer a direct
  IP path.

``wrap`` is given every raw stream, in and out, before the swarm sees it: the node passes its
negotiation guard (protocol negotiation must be bounded over Tor as over TCP).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import IListener, IRawConnection, ITransport
from libp2p.custom_types import THandler
from libp2p.io.abc import ReadWriteCloser
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.transport.exceptions import OpenConnectionError

from stig.errors import TorError
from stig.net.tor import socks
from stig.net.tor.control import LOOPBACK, TorControl
from stig.net.tor.onion_key import OnionKey, is_onion_address

log = logging.getLogger(__name__)

PROTOCOL = "onion3"

DIAL_WITHIN = 60.0
"""Seconds for tor to reach an onion (descriptor fetch, introduction, rendezvous). Measured
0.24–0.63 s for a first connection on the private network here; on the real network a first
connection usually takes a few seconds and sometimes tens. Tor gives up by itself after 120 s
(SocksTimeout)."""

Wrap = Callable[[ReadWriteCloser], ReadWriteCloser]


def _no_wrap(stream: ReadWriteCloser) -> ReadWriteCloser:
    return stream


def parse_onion(maddr: multiaddr.Multiaddr) -> tuple[str, int]:
    """(address, port) of an ``/onion3/<address>:<port>[/p2p/…]`` multiaddr."""
    try:
        value = str(maddr.value_for_protocol(PROTOCOL))
        address, port_text = value.rsplit(":", 1)
        port = int(port_text)
    except Exception as exc:
        raise OpenConnectionError(f"{maddr}: not an /onion3/<address>:<port> address") from exc
    if not is_onion_address(address) or not 0 < port < 65536:
        raise OpenConnectionError(f"{maddr}: not a valid v3 onion address and port")
    return address, port


class OnionTransport(ITransport):
    """Dials and listens on ``/onion3`` addresses (module docstring).

    ``socks_address``: tor's SOCKS port (host, port), on the loopback (refused otherwise: the
    onion names would cross a network in clear). ``control`` and ``keys`` are needed
    only to listen: the control connection that publishes, and the key of each address this
    host may listen on. ``await_publication``: a listener starts only once tor has uploaded
    the onion's descriptor (so that dials to it can succeed at once). ``isolation``: a SOCKS
    username; tor keeps streams with different ones on different circuits (stig.net.tor.socks),
    so that, e.g., two nodes sharing one tor do not share a rendezvous circuit to a peer.
    """

    def __init__(
        self,
        socks_address: tuple[str, int],
        *,
        control: TorControl | None = None,
        keys: Iterable[OnionKey] = (),
        wrap: Wrap = _no_wrap,
        dial_within: float = DIAL_WITHIN,
        await_publication: bool = True,
        isolation: str | None = None,
    ) -> None:
        if socks_address[0] not in LOOPBACK:
            raise TorError(
                "not_loopback",
                f"tor's SOCKS port is only used on this machine, not at {socks_address[0]}",
            )
        self.socks_address = socks_address
        self.control = control
        self.keys = {key.address: key for key in keys}
        self.wrap = wrap
        self.dial_within = dial_within
        self.await_publication = await_publication
        self.isolation = isolation

    async def dial(self, maddr: multiaddr.Multiaddr) -> IRawConnection:
        address, port = parse_onion(maddr)
        try:
            with trio.fail_after(self.dial_within):
                stream = await socks.connect(
                    self.socks_address, f"{address}.onion", port, isolation=self.isolation
                )
        except trio.TooSlowError as exc:
            raise OpenConnectionError(
                f"tor did not reach {address}.onion:{port} within {self.dial_within:.0f} s"
            ) from exc
        except TorError as exc:
            raise OpenConnectionError(str(exc)) from exc
        return RawConnection(self.wrap(TrioTCPStream(stream)), True)

    def create_listener(self, handler_function: THandler) -> OnionListener:
        return OnionListener(self, handler_function)

    def can_dial(self, maddr: multiaddr.Multiaddr) -> bool:
        return PROTOCOL in {p.name for p in maddr.protocols()}

    def can_listen(self, maddr: multiaddr.Multiaddr) -> bool:
        return self.can_dial(maddr)

    def protocols(self) -> list[str]:
        return [PROTOCOL]


class OnionListener(IListener):
    """One or more onion services, each served on a 127.0.0.1 socket of its own."""

    def __init__(self, transport: OnionTransport, handler: THandler) -> None:
        self.transport = transport
        self.handler = handler
        self.addrs: list[multiaddr.Multiaddr] = []
        self.onions: list[str] = []
        self.sockets: list[trio.SocketListener] = []
        self._scope: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self._closed = False

    async def listen(self, maddr: multiaddr.Multiaddr) -> None:
        address, port = parse_onion(maddr)
        transport = self.transport
        key = transport.keys.get(address)
        if key is None or transport.control is None:
            raise OpenConnectionError(
                f"cannot listen on {maddr}: no key for {address} (or no tor control connection)"
            )
        if self._closed:
            raise OpenConnectionError(f"cannot listen on {maddr}: the listener is closed")
        if self._scope is not None:
            raise OpenConnectionError("one onion per listener: the swarm makes one per address")
        self.sockets = list(await trio.open_tcp_listeners(0, host="127.0.0.1"))
        local_port = self.sockets[0].socket.getsockname()[1]
        # Served from a system task, as libp2p's TCPListener does: listen() returns while the
        # socket keeps accepting, until close() cancels the scope.
        ready = trio.Event()
        trio.lowlevel.spawn_system_task(self._serve, ready)
        await ready.wait()
        control = transport.control
        try:
            await trio.to_thread.run_sync(
                lambda: control.publish(
                    key, port, local_port, await_publication=transport.await_publication
                ),
                # A node stopping while tor publishes must not wait for it; the control
                # connection's close ends the half-made service anyway. (trio-typing's stub
                # predates this argument.)
                abandon_on_cancel=True,  # type: ignore[call-arg]
            )
        except TorError as exc:
            await self.close()
            raise OpenConnectionError(f"cannot listen on {maddr}: {exc}") from exc
        self.onions.append(address)
        self.addrs.append(multiaddr.Multiaddr(key.multiaddr(port)))
        log.debug("onion %s.onion:%d serves 127.0.0.1:%d", address, port, local_port)

    async def _serve(self, ready: trio.Event) -> None:
        try:
            with trio.CancelScope() as self._scope:
                ready.set()
                await trio.serve_listeners(self._accepted, self.sockets)
        finally:
            self._stopped.set()

    async def _accepted(self, stream: trio.SocketStream) -> None:
        try:
            await self.handler(self.transport.wrap(TrioTCPStream(stream)))
        except Exception as exc:
            # As in libp2p's TCP listener: one connection's failure ends that connection only.
            log.debug("inbound onion connection failed: %r", exc)

    def get_addrs(self) -> tuple[multiaddr.Multiaddr, ...]:
        return tuple(self.addrs)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        control = self.transport.control
        for address in self.onions:
            if control is not None:
                try:
                    await trio.to_thread.run_sync(control.withdraw, address)
                except TorError as exc:
                    log.debug("withdrawing %s: %s", address, exc)
        self.onions.clear()
        if self._scope is not None:
            self._scope.cancel()
            await self._stopped.wait()
        for sock in self.sockets:
            await sock.aclose()
        self.sockets.clear()


def onion_listen_addrs(keys: Sequence[OnionKey], port: int) -> list[multiaddr.Multiaddr]:
    """The listen multiaddrs for ``keys`` on ``port``: what ``new_host``/``host.run`` take."""
    return [multiaddr.Multiaddr(key.multiaddr(port)) for key in keys]
