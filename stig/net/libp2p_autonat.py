"""AutoNAT v1 (``/libp2p/autonat/1.0.0``, docs/protocol.md §8.8.1) on py-libp2p 0.8.1, in the
trio thread: stig serves the requests itself and asks its peers with the same messages.

trap: the library's ``AutoNATService`` dials back with ``host.connect`` on the host the
request came through; the asker is already connected there, so ``connect`` returns at once and
every asker is told it is public, dialed or not (docs/architecture.md, trap 6). Here a
dial-back runs on a *dialer*: a host of its own with a fresh throwaway identity, no listener
and no services, made for one request and closed after it (go-libp2p does the same), so the
dial is a real new TCP connection through whatever NAT the asker sits behind. It uses the
same transports as the node (bounded negotiation, Noise, Yamux, the private-network key if
there is one), and dials only ``stig.net.reachability.dial_back_targets``: ports on the IP the
request came from. Nothing in the library is patched; its protobuf classes are reused.

Messages are the specification's ``Message`` protobuf, each preceded by its length as an
unsigned varint, at most ``MAX_REQUEST_BYTES``; one request and one response per stream.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Sequence

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.host.autonat.pb.autonat_pb2 import Message
from libp2p.io.exceptions import IOException
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.protocol_muxer.multiselect_client import MultiselectClient
from libp2p.protocol_muxer.multiselect_communicator import MultiselectCommunicator
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from stig.net.negotiation_guard import GuardedNoise, GuardedTCP
from stig.net.reachability import (
    ANSWER_WITHIN,
    ASK_WITHIN,
    DIAL_BACK_WITHIN,
    DIALED,
    MAX_REQUEST_ADDRESSES,
    MAX_REQUEST_BYTES,
    NO_ANSWER,
    NOT_DIALED,
    DialBackRules,
    dial_back_targets,
)

log = logging.getLogger(__name__)

AUTONAT_PROTOCOL = TProtocol("/libp2p/autonat/1.0.0")

DIAL_BACK_GRACE = 3.0
"""Seconds after an answer during which a new connection from the answering peer's IP is
taken for its dial-back: it is announced to the node only if it outlives DIAL_BACK_GRACE (a
dialer hangs up at once), so dial-backs do not show as peers that came and went."""

OK = int(Message.OK)
E_DIAL_ERROR = int(Message.E_DIAL_ERROR)
E_DIAL_REFUSED = int(Message.E_DIAL_REFUSED)
E_BAD_REQUEST = int(Message.E_BAD_REQUEST)
E_INTERNAL_ERROR = int(Message.E_INTERNAL_ERROR)


class BadMessage(ValueError):
    """A peer's AutoNAT message that is not what the specification allows here."""


def encode_dial(peer_id: bytes, addresses: Sequence[bytes]) -> bytes:
    """A ``DIAL`` request, length-prefixed: "dial me (``peer_id``) back at ``addresses``"."""
    message = Message()
    message.type = Message.DIAL
    message.dial.peer.id = peer_id
    message.dial.peer.addrs.extend(addresses)
    return bytes(encode_varint_prefixed(message.SerializeToString()))


def encode_response(status: int, text: str = "", address: bytes | None = None) -> bytes:
    """A ``DIAL_RESPONSE``, length-prefixed; ``address`` (the one dialed) only with OK."""
    message = Message()
    message.type = Message.DIAL_RESPONSE
    message.dialResponse.status = status  # type: ignore[assignment]
    if text:
        message.dialResponse.statusText = text
    if address is not None:
        message.dialResponse.addr = address
    return bytes(encode_varint_prefixed(message.SerializeToString()))


def decode(body: bytes, expected: int) -> Message:
    """A message body of type ``expected`` (DIAL or DIAL_RESPONSE); BadMessage otherwise."""
    message = Message()
    try:
        message.ParseFromString(body)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise BadMessage(f"not an AutoNAT message: {exc}") from exc
    if message.type != expected:
        raise BadMessage(f"message type {message.type}, expected {expected}")
    if expected == Message.DIAL and not message.dial.HasField("peer"):
        raise BadMessage("a DIAL without peer")
    if expected == Message.DIAL_RESPONSE and not message.HasField("dialResponse"):
        raise BadMessage("a DIAL_RESPONSE without dialResponse")
    return message


def address_text(raw: bytes) -> str | None:
    try:
        return str(multiaddr.Multiaddr(raw))
    except Exception:
        return None


class AutoNAT:
    """Both sides of AutoNAT for one run of libp2p (one ``Side``). ``remote_ip(conn)`` is
    the IP a connection comes from, None if it cannot be told or must not be dialed (a circuit,
    a connection through tor)."""

    def __init__(
        self,
        host: IHost,
        *,
        psk: str | None,
        remote_ip: Callable[[INetConn], str | None],
        on_refused: Callable[[str], None],
    ) -> None:
        self.host = host
        self.psk = psk
        self.remote_ip = remote_ip
        self.on_refused = on_refused
        self.rules = DialBackRules()
        self.expected: dict[str, float] = {}  # IP → until when a dial-back from it is awaited
        self.asking: Counter[str] = Counter()  # IP → questions in flight to peers there
        self.answered = 0
        self.refused = 0

    # --- server ---------------------------------------------------------------------------

    async def handle(self, stream: INetStream) -> None:
        """The stream handler. trap: an exception escaping a handler ends the swarm, so none
        does; a request is answered or reset within ANSWER_WITHIN."""
        try:
            with trio.move_on_after(ANSWER_WITHIN) as scope:
                reply = await self.answer(stream)
                await stream.write(reply)
                await stream.close()
            if scope.cancelled_caught:
                await stream.reset()
        except Exception as exc:
            log.debug("AutoNAT request failed: %r", exc)
            with trio.move_on_after(1.0) as scope:
                scope.shield = True
                try:
                    await stream.reset()
                except Exception as reset_exc:
                    log.debug("reset failed: %r", reset_exc)

    async def answer(self, stream: INetStream) -> bytes:
        try:
            body = await read_varint_prefixed_bytes_limited(stream, MAX_REQUEST_BYTES)
            request = decode(body, Message.DIAL)
        except (BadMessage, BaseLibp2pError, IOException, ValueError) as exc:
            self.refused += 1
            return encode_response(E_BAD_REQUEST, f"bad request: {exc}")
        conn = stream.muxed_conn
        asker = conn.peer_id
        if request.dial.peer.id != asker.to_bytes():
            self.refused += 1
            return encode_response(E_BAD_REQUEST, "the peer id is not the asker's")
        ip = self.remote_ip(self._conn_of(stream))
        if ip is None:
            self.refused += 1
            return encode_response(E_DIAL_REFUSED, "no dial-back over a relay or tor")
        requested = [
            text
            for raw in list(request.dial.peer.addrs)[:MAX_REQUEST_ADDRESSES]
            if (text := address_text(bytes(raw))) is not None
        ]
        targets = dial_back_targets(requested, ip)
        if not targets:
            self.refused += 1
            return encode_response(E_DIAL_REFUSED, "no address to dial on the observed IP")
        refusal = self.rules.admit(asker.to_base58(), ip, trio.current_time())
        if refusal is not None:
            self.refused += 1
            return encode_response(E_DIAL_REFUSED, refusal)
        try:
            reached = await self.dial_back(asker, targets)
        finally:
            self.rules.done()
        self.answered += 1
        if reached is None:
            return encode_response(E_DIAL_ERROR, f"no answer at {', '.join(targets)}")
        return encode_response(OK, address=multiaddr.Multiaddr(reached).to_bytes())

    def _conn_of(self, stream: INetStream) -> INetConn:
        """The swarm connection a stream runs on (the remote IP is read from it)."""
        muxed = stream.muxed_conn
        for conn in self.host.get_network().get_connections(muxed.peer_id):
            if conn.muxed_conn is muxed:
                return conn
        raise BadMessage("the stream's connection is gone")

    def dialer(self, transport: GuardedTCP) -> IHost:
        """A host for one dial-back over ``transport``: a fresh identity, nothing listening, no
        services."""
        key_pair = create_new_key_pair(secrets.token_bytes(32))
        return new_host(
            key_pair=key_pair,
            sec_opt={
                NOISE_PROTOCOL_ID: GuardedNoise(
                    key_pair, noise_privkey=create_x25519_key_pair().private_key
                )
            },
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            transports=[transport],
            psk=self.psk,
            # trap: a host's auto-connector dials every peer in its peerstore while it has
            # fewer than 50 connections; a dialer's would dial the asker again once the
            # dial-back closed (docs/architecture.md, trap 12). Nothing to keep: no minimum,
            # no watermark.
            connection_config=ConnectionConfig(
                min_connections=0, low_watermark=0, high_watermark=0, max_connections=1
            ),
        )

    async def dial_back(self, peer: ID, targets: Sequence[str]) -> str | None:
        """The first of ``targets`` at which ``peer`` answered (the Noise handshake proves it
        is that peer), None if none did within DIAL_BACK_WITHIN (shared by the targets)."""
        transport = GuardedTCP(on_refused=self.on_refused)
        dialer = self.dialer(transport)
        share = DIAL_BACK_WITHIN / len(targets)
        try:
            async with dialer.run([]):
                try:
                    for target in targets:
                        with trio.move_on_after(share):
                            try:
                                await dialer.connect(PeerInfo(peer, [multiaddr.Multiaddr(target)]))
                            except (BaseLibp2pError, OSError) as exc:
                                log.debug("dial-back of %s at %s failed: %r", peer, target, exc)
                                continue
                            return target
                    return None
                finally:
                    with trio.move_on_after(2.0) as scope:
                        scope.shield = True
                        await dialer.close()
        except (BaseLibp2pError, OSError) as exc:
            log.debug("dialer for %s failed: %r", peer, exc)
            return None
        finally:
            # A close cut short (its 2 s ran out, or the node is stopping) leaves the socket
            # open (docs/architecture.md, trap 10): close whatever the dialer still holds.
            for guard in list(transport.opened):
                guard.abort()

    # --- client ---------------------------------------------------------------------------

    def own_addresses(self) -> list[bytes]:
        """What a request lists: this host's listen addresses (TCP: no circuit, no onion),
        without ``/p2p``."""
        found: list[bytes] = []
        for address in self.host.get_addrs():
            text = str(address).split("/p2p/", 1)[0]
            if "/tcp/" in text and "p2p-circuit" not in text and "/onion3/" not in text:
                found.append(multiaddr.Multiaddr(text).to_bytes())
        return list(dict.fromkeys(found))

    async def ask(self, peer: ID, ip: str, conn: INetConn) -> str:
        """Ask ``peer`` over ``conn`` (a direct connection from ``ip``) to dial this node back:
        DIALED, NOT_DIALED or NO_ANSWER. trap: the stream is opened on that connection, never
        through ``host.new_stream``, which dials the peer again when the connection has just
        closed: a peer that hung up on this node would find it back (and the question would not
        be asked on the direct connection the answer depends on; docs/architecture.md, trap
        13)."""
        addresses = self.own_addresses()
        if not addresses:
            return NO_ANSWER
        self.asking[ip] += 1
        self.expected[ip] = trio.current_time() + ASK_WITHIN + DIAL_BACK_GRACE
        stream: INetStream | None = None
        try:
            with trio.fail_after(ASK_WITHIN):
                stream = await conn.new_stream()
                chosen = await MultiselectClient().select_one_of(
                    [AUTONAT_PROTOCOL], MultiselectCommunicator(stream), int(ASK_WITHIN)
                )
                stream.set_protocol(chosen)
                await stream.write(encode_dial(self.host.get_id().to_bytes(), addresses))
                body = await read_varint_prefixed_bytes_limited(stream, MAX_REQUEST_BYTES)
            response = decode(body, Message.DIAL_RESPONSE).dialResponse
        except Exception as exc:
            # Whatever the peer or its connection did (too slow, garbage, a reset, a protocol
            # it does not speak, the connection gone), it is no evidence, and it must not end
            # the check (nor, through it, this run of libp2p).
            log.debug("AutoNAT: %s gave no answer: %r", peer, exc)
            return NO_ANSWER
        finally:
            if stream is not None:
                with trio.move_on_after(1.0) as scope:
                    scope.shield = True
                    try:
                        await stream.close()
                    except (BaseLibp2pError, IOException, OSError) as exc:
                        log.debug("close failed: %r", exc)
            self.asking[ip] -= 1
            if not self.asking[ip]:
                del self.asking[ip]
                self.expected[ip] = trio.current_time() + DIAL_BACK_GRACE
        status = int(response.status)
        if status == OK:
            return DIALED
        if status == E_DIAL_ERROR:
            return NOT_DIALED
        log.debug("AutoNAT: %s answered %d (%s)", peer, status, response.statusText)
        return NO_ANSWER

    def expects(self, conn: INetConn) -> bool:
        """Whether ``conn`` may be a dial-back this node asked for (from an IP it is waiting
        for)."""
        now = trio.current_time()
        for ip in [ip for ip, until in self.expected.items() if until < now]:
            del self.expected[ip]
        remote = self.remote_ip(conn)
        return remote is not None and remote in self.expected
