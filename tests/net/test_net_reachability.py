"""Reachability learned from peers (AutoNAT v1, docs/protocol.md §8.8.1): the pure rules
(which addresses a server dials, its rate limits, the verdict by agreement), the documented
wire vectors, the in-memory twin's verdicts, and real py-libp2p adapters on 127.0.0.1 asking
each other and a raw libp2p host sending requests a server must refuse. The NAT case itself
(a node behind kernel NAT told it is not reachable) is in tests/net/test_net_nat.py."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stig.net.circuit import HopLimits
from stig.net.memory_net import MemoryHub
from stig.net.network import BEHIND_NAT, PUBLIC, UNKNOWN
from stig.net.reachability import (
    DIALED,
    MAX_AT_ONCE,
    MAX_DIAL_BACK_PORTS,
    MAX_IN_ALL,
    MAX_PER_IP,
    MAX_PER_PEER,
    NO_ANSWER,
    NOT_DIALED,
    RATE_WINDOW,
    DialBackRules,
    decide,
    dial_back_targets,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

# --- which addresses a server dials ------------------------------------------------------------

ips = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
addresses = st.one_of(
    st.builds(
        lambda ip, port: f"/ip4/{ip}/tcp/{port}", st.ip_addresses(v=4), st.integers(0, 70000)
    ),
    st.builds(
        lambda ip, port: f"/ip6/{ip}/tcp/{port}", st.ip_addresses(v=6), st.integers(0, 70000)
    ),
    st.builds(lambda port: f"/ip4/1.2.3.4/udp/{port}/quic-v1", st.integers(1, 65535)),
    st.just("/ip4/198.18.0.1/tcp/4737/p2p/12D3KooWK99V/p2p-circuit/p2p/12D3KooWJWoa"),
    st.just("/dns4/example.org/tcp/4737"),
    st.text(max_size=30),
)


@given(st.lists(addresses, max_size=60), ips)
def test_a_server_dials_only_the_observed_ip_and_few_ports(requested: list[str], ip: str) -> None:
    targets = dial_back_targets(requested, ip)
    assert len(targets) <= MAX_DIAL_BACK_PORTS
    assert len(set(targets)) == len(targets)
    observed = ipaddress.ip_address(ip)
    for target in targets:
        _, _family, host, tcp, port = target.split("/")
        assert ipaddress.ip_address(host) == observed and tcp == "tcp"
        assert 0 < int(port) < 65536
        assert f"/tcp/{port}" in " ".join(requested)


def test_the_ports_of_lan_addresses_are_dialed_on_the_observed_ip() -> None:
    requested = ["/ip4/198.19.1.2/tcp/4737", "/ip4/127.0.0.1/tcp/4737", "/ip6/::1/tcp/9000"]
    assert dial_back_targets(requested, "198.18.0.11") == [
        "/ip4/198.18.0.11/tcp/4737",
        "/ip4/198.18.0.11/tcp/9000",
    ]
    assert dial_back_targets(requested, "0.0.0.0") == []
    assert dial_back_targets(requested, "224.0.0.1") == []
    assert dial_back_targets(requested, "not an ip") == []
    many = [f"/ip4/10.0.0.1/tcp/{port}" for port in range(1000, 1100)]
    assert len(dial_back_targets(many, "198.18.0.11")) == MAX_DIAL_BACK_PORTS


# --- the server's rate limits -----------------------------------------------------------------


def test_dial_backs_are_limited_per_peer_per_ip_in_all_and_at_once() -> None:
    rules = DialBackRules()
    for _ in range(MAX_PER_PEER):
        assert rules.admit("p", "10.0.0.1", 0.0) is None
        rules.done()
    assert "for this peer" in (rules.admit("p", "10.0.0.1", 1.0) or "")
    # Fresh peer ids from one address: stopped by the address's limit.
    for n in range(MAX_PER_IP - MAX_PER_PEER):
        assert rules.admit(f"q{n}", "10.0.0.1", 1.0) is None
        rules.done()
    assert "to 10.0.0.1" in (rules.admit("fresh", "10.0.0.1", 1.0) or "")
    # A minute later, all is forgotten.
    assert rules.admit("p", "10.0.0.1", RATE_WINDOW + 1.0) is None
    rules.done()

    rules = DialBackRules()
    for n in range(MAX_AT_ONCE):
        assert rules.admit(f"p{n}", f"10.0.1.{n}", 0.0) is None
    assert "busy" in (rules.admit("late", "10.0.2.1", 0.0) or "")
    for _ in range(MAX_AT_ONCE):
        rules.done()
    for n in range(MAX_IN_ALL - MAX_AT_ONCE):
        assert rules.admit(f"r{n}", f"10.1.{n}.1", 0.5) is None
        rules.done()
    assert "in all" in (rules.admit("last", "10.2.0.1", 1.0) or "")
    assert len(rules.by_ip) <= MAX_IN_ALL and len(rules.by_peer) <= MAX_IN_ALL


# --- the verdict ----------------------------------------------------------------------------

answers = st.lists(st.sampled_from([DIALED, NOT_DIALED, NO_ANSWER]), max_size=5)


@given(answers, st.randoms())
def test_the_verdict_ignores_order_and_silence(given_answers: list[str], rnd: object) -> None:
    shuffled = list(given_answers)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert decide(shuffled) == decide(given_answers)
    assert decide([*given_answers, NO_ANSWER]) == decide(given_answers)


@given(answers)
def test_the_verdict_is_symmetric(given_answers: list[str]) -> None:
    """Swapping every "dialed" for "not dialed" flips the verdict (or leaves none)."""
    swap = {DIALED: NOT_DIALED, NOT_DIALED: DIALED, NO_ANSWER: NO_ANSWER}
    verdict, flipped = decide(given_answers), decide([swap[a] for a in given_answers])
    assert (verdict is None) == (flipped is None)
    if verdict is not None and flipped is not None:
        assert verdict.public != flipped.public


def test_the_verdict_takes_agreement() -> None:
    assert decide([]) is None
    assert decide([NO_ANSWER, NO_ANSWER]) is None
    only = decide([NO_ANSWER, DIALED])
    assert only is not None and only.public
    assert only.why == "dialed back by the only peer that could tell"
    two = decide([DIALED, DIALED, NOT_DIALED])
    assert two is not None and two.public and two.why == "dialed back by 2 peers of 3"
    three = decide([NOT_DIALED] * 3)
    assert three is not None and not three.public
    assert three.why == "3 peers could not dial back"
    assert decide([DIALED, NOT_DIALED]) is None


# --- the wire -------------------------------------------------------------------------------


def test_the_documented_vectors_hold() -> None:
    import multiaddr  # type: ignore[import-untyped]
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.host.autonat.pb.autonat_pb2 import Message
    from libp2p.peer.id import ID

    from stig.net.libp2p_autonat import E_DIAL_ERROR, OK, decode, encode_dial, encode_response

    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```stig-autonat-vector\n(.*?)```", text, re.S)
    lines = dict(line.rsplit(": ", 1) for line in block.strip().splitlines())
    peer = ID.from_pubkey(create_new_key_pair(bytes([2]) * 32).public_key)
    assert lines.pop("peer") == peer.to_base58()
    for what, hex_text in lines.items():
        kind, detail = what.split(" ", 1)
        key, value = detail.split("=", 1)
        wire = bytes.fromhex(hex_text)
        assert wire[0] == len(wire) - 1  # one-byte varint length, then the message
        if kind == "DIAL":
            assert encode_dial(peer.to_bytes(), [multiaddr.Multiaddr(value).to_bytes()]) == wire
            message = decode(wire[1:], Message.DIAL)
            assert message.dial.peer.id == peer.to_bytes()
            assert [str(multiaddr.Multiaddr(a)) for a in message.dial.peer.addrs] == [value]
        elif kind == "OK":
            assert encode_response(OK, address=multiaddr.Multiaddr(value).to_bytes()) == wire
            response = decode(wire[1:], Message.DIAL_RESPONSE).dialResponse
            assert response.status == OK and str(multiaddr.Multiaddr(response.addr)) == value
        else:
            assert kind == "E_DIAL_ERROR" and key == "text"
            assert encode_response(E_DIAL_ERROR, value) == wire
            response = decode(wire[1:], Message.DIAL_RESPONSE).dialResponse
            assert response.status == E_DIAL_ERROR and response.statusText == value


def test_malformed_messages_are_refused_with_a_reason() -> None:
    from libp2p.host.autonat.pb.autonat_pb2 import Message

    from stig.net.libp2p_autonat import BadMessage, decode, encode_response

    with pytest.raises(BadMessage, match="not an AutoNAT message"):
        decode(b"\xff\xff\xff", Message.DIAL)
    with pytest.raises(BadMessage, match="expected 0"):
        decode(encode_response(0)[1:], Message.DIAL)
    with pytest.raises(BadMessage, match="without peer"):
        decode(b"\x08\x00", Message.DIAL)


# --- the in-memory twin -----------------------------------------------------------------------


async def test_the_twin_learns_public_and_behind_nat_from_its_peers() -> None:
    hub = MemoryHub()
    relay = hub.network("r", hop=HopLimits())
    home = hub.network("a", behind_nat=True)
    open_node = hub.network("p")
    told = hub.network("t", reachability="private")
    for net in (relay, home, open_node, told):
        await net.start()
    try:
        assert relay.reach().state == UNKNOWN and home.reach().state == UNKNOWN
        assert told.reach().state == BEHIND_NAT  # the operator's word stands

        await home.dial(relay.addresses()[0], 5)
        reach = home.reach()
        assert reach.state == BEHIND_NAT
        assert reach.why == "the only peer that could tell could not dial back"
        assert reach.relays == (relay.peer_id,)  # it reserved, having learned it must
        assert relay.reach().state == PUBLIC
        assert relay.reach().why == "dialed back by the only peer that could tell"

        await open_node.dial(relay.addresses()[0], 5)
        assert open_node.reach().state == PUBLIC
        assert open_node.reach().relays == ()  # a public node reserves nowhere

        await told.dial(relay.addresses()[0], 5)
        assert told.reach().relays == (relay.peer_id,)
        assert told.reach().why.startswith("configured private")
    finally:
        for net in (relay, home, open_node, told):
            await net.stop()


# --- real libp2p on 127.0.0.1 -------------------------------------------------------------------


@pytest.fixture
async def adapters() -> AsyncIterator[list[object]]:
    from stig.net.libp2p_net import Libp2pNetwork

    made = [Libp2pNetwork(bytes([60 + n]) * 32) for n in range(3)]
    try:
        yield list(made)
    finally:
        for net in made:
            await net.stop()


async def until(condition: object, what: str, within: float = 60.0) -> None:
    for _ in range(int(within / 0.05)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"waited {within} s for {what}")


@pytest.mark.timeout(120)
async def test_libp2p_nodes_on_auto_are_dialed_back_by_their_peers(adapters: list[object]) -> None:
    """On loopback every listen address is dialable, so each node is told it is public — by
    a dial-back on a new connection, which the node does not report as a peer."""
    from stig.net.libp2p_net import Libp2pNetwork
    from stig.net.network import PeerUp

    nets = [n for n in adapters if isinstance(n, Libp2pNetwork)]
    seen: list[str] = []

    async def watch(net: Libp2pNetwork) -> None:
        async for event in net.events():
            if isinstance(event, PeerUp):
                seen.append(event.peer)

    addresses = [await net.start() for net in nets]
    watchers = [asyncio.create_task(watch(net)) for net in nets]
    try:
        assert all(net.reach().state == UNKNOWN for net in nets)
        await nets[1].dial(addresses[0][0], 10)
        await nets[2].dial(addresses[0][0], 10)
        await until(lambda: all(net.reach().state == PUBLIC for net in nets), "three verdicts")
        for net in nets:
            assert net.reach().why.startswith("dialed back by"), net.reach()
            assert net.reach().relays == ()
        await asyncio.sleep(4.0)  # past the grace in which a dial-back would be announced
        assert set(seen) <= {net.peer_id for net in nets}, "a dial-back showed as a peer"
    finally:
        for task in watchers:
            task.cancel()


@pytest.mark.timeout(120)
async def test_a_libp2p_server_refuses_what_the_rules_forbid(adapters: list[object]) -> None:
    """A raw py-libp2p host (its own trio run) asks a stig node: for another peer id (bad
    request), with garbage or an oversize length (bad request), with a port where nothing
    listens (dialed, not reached: E_DIAL_ERROR), and more often than a peer may (refused).
    The node keeps answering throughout."""
    import multiaddr  # type: ignore[import-untyped]
    import trio
    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.crypto.x25519 import create_new_key_pair as x25519
    from libp2p.custom_types import TProtocol
    from libp2p.host.autonat.pb.autonat_pb2 import Message
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from libp2p.security.noise.transport import PROTOCOL_ID as NOISE
    from libp2p.security.noise.transport import Transport as Noise
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX
    from libp2p.stream_muxer.yamux.yamux import Yamux
    from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

    from stig.net.libp2p_autonat import AUTONAT_PROTOCOL, decode, encode_dial
    from stig.net.libp2p_net import Libp2pNetwork

    server = next(n for n in adapters if isinstance(n, Libp2pNetwork))
    (address, *_) = await server.start()
    free = trio_free_port()

    def ask_all() -> list[tuple[int, str]]:
        async def run() -> list[tuple[int, str]]:
            key = create_new_key_pair(bytes([99]) * 32)
            host = new_host(
                key_pair=key,
                sec_opt={NOISE: Noise(key, noise_privkey=x25519().private_key)},
                muxer_opt={TProtocol(YAMUX): Yamux},
            )
            me = host.get_id().to_bytes()
            closed_port = multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{free}").to_bytes()
            requests = [
                encode_dial(b"\x00\x24" + bytes(36), [closed_port]),  # not the asker's id
                bytes(encode_varint_prefixed(b"\xff\x01garbage")),
                b"\x80\x80\x80\x04" + bytes(16),  # claims 8 MiB: refused before reading it
                encode_dial(me, [closed_port]),
                encode_dial(me, [closed_port]),
                encode_dial(me, [closed_port]),  # the third within a minute: refused
            ]
            answers: list[tuple[int, str]] = []
            async with host.run([]):
                with trio.fail_after(60):
                    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(address)))
                    for request in requests:
                        stream = await host.new_stream(
                            info_from_p2p_addr(multiaddr.Multiaddr(address)).peer_id,
                            [AUTONAT_PROTOCOL],
                        )
                        await stream.write(request)
                        body = await read_varint_prefixed_bytes_limited(stream, 4096)
                        response = decode(body, Message.DIAL_RESPONSE).dialResponse
                        answers.append((int(response.status), response.statusText))
                        await stream.close()
                await host.close()
            return answers

        return trio.run(run)

    answers = await asyncio.to_thread(ask_all)
    statuses = [status for status, _ in answers]
    assert statuses == [200, 200, 200, 100, 100, 101], answers
    assert "not the asker's" in answers[0][1]
    assert "exceeds maximum" in answers[2][1]
    assert f"/ip4/127.0.0.1/tcp/{free}" in answers[3][1]
    assert "for this peer" in answers[5][1]


def trio_free_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
