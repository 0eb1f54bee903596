"""A py-libp2p host that exists only as an onion service, in its own OS process.

    python tests/tor/onion_peer.py --control PORT --socks PORT --seed HEX
                                   [--dial /onion3/…/p2p/…] [--rounds N] [--reconnects N]

It listens on nothing but ``/onion3/<address of the seed>:PORT`` (``stig.net.tor.transport``,
no TCP transport), publishes that onion through the tor whose control port it is given, and
dials only through that tor's SOCKS port. Noise (with stig's negotiation guard under it) and
Yamux, as stig builds its hosts. It serves an echo protocol and GossipSub on one topic: a
message it receives that is not an acknowledgement is answered by ``ack:<message> by <say>``.

With ``--clearnet`` it is the same host on TCP at 127.0.0.1 instead (no tor at all): the
baseline that benchmarks/onion.py measures beside the onion path. With ``--also-tcp`` it is
both (a relay that bridges the onion and clearnet meshes). ``--say`` is the text of its
gossip messages.

With ``--dial``: connects to that peer, opens an echo stream, makes ``--rounds`` round trips of
64 bytes, then publishes a message every PUBLISH_EVERY seconds until an ack comes back — with
``--ack-from SAY``, an ack from the peer whose ``--say`` is SAY (one a relay forwards: the
relay's own ack comes first, maybe before its mesh holds that peer, and one message would then
not reach it). ``--reconnects`` hangs up and dials again that many times, timing each.

Every event is one JSON line on stdout (``{"event": ...}``); the test and benchmarks/onion.py
read them. It runs until SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import INetConn, INetStream, INetwork, INotifee, ITransport
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from stig.net.negotiation_guard import (
    GuardedNoise,
    GuardedTCP,
    NegotiationGuard,
    connection_upgraded,
)
from stig.net.tor.control import TorControl
from stig.net.tor.onion_key import OnionKey
from stig.net.tor.transport import OnionTransport, onion_listen_addrs

ECHO = TProtocol("/stig-test/echo/1")
TOPIC = "/stig-test/onion/1"
VIRTUAL_PORT = 4001
PAYLOAD = 64
PUBLISH_EVERY = 0.5
CONNECT_WITHIN = 60.0


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class Upgraded(INotifee):
    """Lifts the negotiation guard's budgets once the swarm holds a connection, as stig's
    adapter does."""

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()
        connection_upgraded(conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        await trio.lowlevel.checkpoint()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, network: INetwork, maddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()

    async def listen_close(self, network: INetwork, maddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()


async def echo(stream: INetStream) -> None:
    try:
        while True:
            data = await stream.read(PAYLOAD)
            if not data:
                break
            await stream.write(data)
        await stream.close()
    except Exception:
        await stream.reset()


async def read_exactly(stream: INetStream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await stream.read(n - len(data))
        if not chunk:
            raise EOFError("echo stream ended early")
        data += chunk
    return data


async def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    key_pair = create_new_key_pair()
    control: TorControl | None = None
    transports: list[ITransport] = []
    listen: list[multiaddr.Multiaddr] = []
    if args.clearnet or args.also_tcp:
        transports.append(GuardedTCP())
        listen.append(multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0"))
    if not args.clearnet:
        control = await trio.to_thread.run_sync(TorControl.attach, args.control)
        key = OnionKey(bytes.fromhex(args.seed))
        transports.append(
            OnionTransport(
                ("127.0.0.1", args.socks),
                control=control,
                keys=[key],
                wrap=NegotiationGuard,
                isolation=args.seed[:16],  # a circuit of its own, as a node on its own tor
            )
        )
        listen += onion_listen_addrs([key], VIRTUAL_PORT)
    host = new_host(
        key_pair=key_pair,
        sec_opt={
            NOISE_PROTOCOL_ID: GuardedNoise(
                key_pair, noise_privkey=create_x25519_key_pair().private_key
            )
        },
        muxer_opt={YAMUX_PROTOCOL_ID: Yamux},
        transports=transports,
        listen_addrs=listen,
        disable_identify_address_discovery=True,
    )
    host.get_network().register_notifee(Upgraded())
    host.set_stream_handler(ECHO, echo)
    router = GossipSub(
        protocols=[PROTOCOL_ID_V11],
        degree=2,
        degree_low=1,
        degree_high=3,
        heartbeat_interval=1,
        spam_protection_enabled=False,
        adaptive_gossip_enabled=False,
    )
    pubsub = Pubsub(host, router)
    # Pubsub and GossipSub before host.run (docs: py-libp2p start-order trap).
    async with (
        background_trio_service(pubsub),
        background_trio_service(router),
        host.run(listen),
    ):
        await pubsub.wait_until_ready()
        subscription = await pubsub.subscribe(TOPIC)
        emit(
            "listening",
            addrs=[str(a) for a in host.get_addrs()],
            published=list(control.status().onions) if control is not None else [],
            up_s=time.monotonic() - started,
        )
        acked = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop_on_signal, nursery.cancel_scope)
                nursery.start_soon(gossip, pubsub, subscription, acked, args)
                if args.dial:
                    await dial(host, pubsub, args, acked)
                await trio.sleep_forever()
        finally:
            # trap: Pubsub never stops its seen-messages sweeper thread, which would keep
            # the process alive after trio.run returns.
            pubsub.seen_messages.stop()
            if control is not None:
                control.close()


async def stop_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def gossip(
    pubsub: Pubsub, subscription: Any, acked: trio.Event, args: argparse.Namespace
) -> None:
    while True:
        message = await subscription.get()
        text = message.data.decode()
        if text.startswith("ack:"):
            wanted = args.ack_from is None or text.endswith(f" by {args.ack_from}")
            if wanted and not acked.is_set():
                emit("gossip_ack", data=text)
                acked.set()
        else:
            emit("gossip", data=text)
            await pubsub.publish(TOPIC, f"ack:{text} by {args.say}".encode())


async def dial(host: Any, pubsub: Pubsub, args: argparse.Namespace, acked: trio.Event) -> None:
    info = info_from_p2p_addr(multiaddr.Multiaddr(args.dial))
    began = time.monotonic()
    with trio.fail_after(CONNECT_WITHIN):
        await host.connect(info)
    connect_s = time.monotonic() - began
    remote = [str(c.muxed_conn.peer_id) for c in host.get_network().get_connections(info.peer_id)]
    emit("connected", connect_s=connect_s, peer=str(info.peer_id), connections=remote)

    began = time.monotonic()
    stream = await host.new_stream(info.peer_id, [ECHO])
    stream_s = time.monotonic() - began
    rtts = []
    for i in range(args.rounds):
        payload = os.urandom(PAYLOAD)
        began = time.monotonic()
        await stream.write(payload)
        back = await read_exactly(stream, PAYLOAD)
        rtts.append(time.monotonic() - began)
        if back != payload:
            emit("echo_mismatch", round=i)
            return
    await stream.close()
    emit("echo", rounds=args.rounds, stream_s=stream_s, rtt_s=rtts)

    n = 0
    while not acked.is_set():
        n += 1
        await pubsub.publish(TOPIC, f"{args.say} {n}".encode())
        with trio.move_on_after(PUBLISH_EVERY):
            await acked.wait()

    reconnects = []
    for _ in range(args.reconnects):
        await host.disconnect(info.peer_id)
        began = time.monotonic()
        with trio.fail_after(CONNECT_WITHIN):
            await host.connect(info)
        reconnects.append(time.monotonic() - began)
    if reconnects:
        emit("reconnects", connect_s=reconnects)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=int)
    parser.add_argument("--socks", type=int)
    parser.add_argument("--seed")
    parser.add_argument("--clearnet", action="store_true")
    parser.add_argument("--also-tcp", action="store_true")
    parser.add_argument("--say", default="over tor")
    parser.add_argument("--dial")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--reconnects", type=int, default=0)
    parser.add_argument("--ack-from")
    args = parser.parse_args()
    trio.run(run, args)


if __name__ == "__main__":
    main()
