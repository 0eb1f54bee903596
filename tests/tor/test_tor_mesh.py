"""stig itself over Tor (issue 15): real ``stig relay --tor`` and ``stig node --tor-only``
processes on the private Tor network. A post on one tor-only node reaches the other through
onion services (and a clearnet node through the relay that bridges the two meshes); a tor-only
node that was stopped comes back from the relay's invite (an onion and a TCP address: it
dials the onion only) and catches up by sync over Tor; while they run, the tor-only nodes hold no
socket to anything but 127.0.0.1, checked from outside with psutil; a group's sealed trace
travels over Tor too.

One tor-only node attaches to a client tor of the private network (control port and cookie)
and starts as a new user is told to (``--tor-only --bootstrap <the relay's invite code>``); the
other starts a tor of its own (``control = "own"``) that joins the private network through
``extra_torrc``, at the same time as the relay, and is given the relay's onion with ``stig
connect`` while it runs. Every stig process, and the tor it started, is ended by PID, pass or
fail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from stig.node.control import ask_status
from stig.store.sqlite import SqliteStore
from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for
from tests.tor.loopback import loopback_only
from tests.tor.private_network import PrivateTorNetwork

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

WITHIN = 90.0
"""Seconds for each step; a bound on a hung test, not a measurement."""

GROUP = "northcrew"
SECRET_TEXT = "bring the banner to the north gate at 6"


def home_with(path: Path, tor: str) -> Path:
    """A new home whose config.toml syncs every 2 s and uses the tor described by ``tor``."""
    stig(path, "init", "-q")
    (path / "config.toml").write_text(f"[network]\nsync_interval = 2\n\n[tor]\n{tor}\n")
    return path


def attached(control_port: int) -> str:
    return f'control = "127.0.0.1:{control_port}"'


def own_tor(network: PrivateTorNetwork) -> str:
    return f'control = "own"\nextra_torrc = """\n{network.client_torrc()}\n"""'


def holds(node: Node, trace_id: str) -> bool:
    """Whether the node's store holds the trace: read from its SQLite file in this process (a
    `stig feed` per look costs a Python start, seconds on a loaded machine)."""

    async def look() -> bool:
        store = await SqliteStore.open(node.home / "store.db")
        try:
            return await store.get(bytes.fromhex(trace_id)) is not None
        finally:
            await store.close()

    return asyncio.run(look())


@pytest.fixture
def tors_started() -> Iterator[list[int]]:
    """PIDs of the tors stig processes started (their own): ended by PID at the end, should
    the ownership link have failed to end them."""
    pids: list[int] = []
    try:
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def own_tor_pids(node: Node) -> list[int]:
    assert node.process is not None
    children = psutil.Process(node.process.pid).children(recursive=True)
    return [child.pid for child in children if child.name() == "tor"]


def test_tor_only_nodes_meet_through_an_onion_relay(
    tor_network: PrivateTorNetwork, tmp_path: Path, tors_started: list[int]
) -> None:
    relay_tor, node_tor = tor_network.clients
    a_home = home_with(tmp_path / "a", attached(node_tor.control))
    b_home = home_with(tmp_path / "b", own_tor(tor_network))
    stig(a_home, "group", "new", GROUP)
    code = stig_json(a_home, "group", "invite", GROUP, "--json")["code"]
    stig(b_home, "group", "join", code, "--name", "friends")
    with cluster() as nodes:
        # The relay and b start at once (b's own tor bootstraps meanwhile); b has no
        # bootstrap address and is given the relay's onion with `stig connect` while it runs.
        relay = Node(
            home_with(tmp_path / "relay", attached(relay_tor.control)),
            "--tor",
            command="relay",
            start_within=WITHIN,
        ).launch()
        nodes.append(relay)
        b = Node(b_home, "--tor-only", listen=None, start_within=WITHIN).launch()
        nodes.append(b)
        relay.started()
        # The invite: the whole list of addresses (stdout may have given only its first line
        # so far). It carries the onion and leaves the relay's TCP address out: that is on
        # 127.0.0.1, which on another machine leads to that machine (docs/protocol.md §8.9).
        relay_invite = stig_json(relay.home, "invite")
        (onion,) = relay_invite["addresses"]
        assert onion == relay.address and onion.startswith("/onion3/")
        listed = stig(relay.home, "addr").stdout.split()
        assert listed[0] == onion
        clearnet = next(a for a in listed if a.startswith("/ip4/127.0.0.1/tcp/"))

        # What a new user is told to run: the relay's invite code as --bootstrap.
        a = Node(
            a_home,
            *("--tor-only", "--bootstrap", relay_invite["code"]),
            listen=None,
            start_within=WITHIN,
        ).launch()
        nodes.append(a)
        clear = Node(home_with(tmp_path / "clear", ""), "--bootstrap", clearnet).launch()
        nodes.append(clear)
        b.started()
        tors_started.extend(own_tor_pids(b))
        assert tors_started, "node b was to start a tor of its own"
        assert "added to config.toml" in stig(b.home, "connect", onion).stdout
        a.started()
        clear.started()
        # A tor-only node hands out its onion address, nothing else.
        for node in (a, b):
            assert node.addresses and all(x.startswith("/onion3/") for x in node.addresses)

        for node in (a, b, clear):
            wait_for(lambda node=node: connected(node) >= 1, WITHIN, f"{node.home.name} joins")

        posted = stig(a.home, "post", "-k", "callout", "over onion services").stdout.strip()
        for node in (b, relay, clear):
            wait_for(lambda node=node: holds(node, posted), WITHIN, f"{node.home.name} gets it")

        # A group's sealed trace crosses the same way; the relay carries only the envelope.
        stig(a.home, "post", "--group", GROUP, "--kind", "callout", SECRET_TEXT)
        wait_for(
            lambda: (
                SECRET_TEXT in {i["body"] for i in stig_json(b.home, "feed", "--group", "friends")}
            ),
            WITHIN,
            "b to read the group post",
        )
        assert stig_json(relay.home, "feed", "--kind", "sealed")

        # What the nodes say about themselves and their peers.
        status = stig_json(a.home, "peers")
        assert status["tor"]["mode"] == "tor-only" and not status["tor"]["own_tor"]
        assert status["tor"]["onion"] == a.address.rsplit("/p2p/", 1)[0]
        assert stig_json(b.home, "peers")["tor"]["own_tor"] is True
        routes = [p["route"] for p in status["peers"] if p["connected"]]
        assert routes and all(route["onion"] for route in routes)
        words = stig(a.home, "peers").stdout
        assert "tor-only (onion only, nothing but tor)" in words and "over tor (onion)" in words
        relay_view = stig_json(relay.home, "peers")
        assert relay_view["tor"]["mode"] == "tor"
        by_peer = {p["peer"]: p for p in relay_view["peers"] if p["connected"]}
        assert by_peer[clear.address.rsplit("/p2p/", 1)[1]]["route"]["onion"] is False
        assert by_peer[a.address.rsplit("/p2p/", 1)[1]]["route"]["onion"] is True

        # A tor-only node's invite carries its onion address alone, and says what that means.
        invite = stig(a.home, "invite", "--no-qr").stdout
        assert a.address in invite and "/ip4/" not in invite and "onion addresses only" in invite

        # Nothing but loopback, checked from outside, while connected over Tor.
        for node in (a, b):
            assert node.process is not None
            assert loopback_only(node.process.pid) == []

        # A stopped tor-only node catches up by sync over Tor.
        a.stop()
        while_away = stig(b.home, "post", "-k", "report", "while a was away").stdout.strip()
        wait_for(lambda: holds(relay, while_away), WITHIN, "the relay to get b's post")
        # It comes back from the relay's invite: the code carries the relay's onion and its
        # TCP address; a tor-only node keeps both in config.toml and dials only the onion.
        stig(a.home, "connect", relay_invite["code"])
        back = Node(a.home, "--tor-only", listen=None, start_within=WITHIN).start()
        nodes.append(back)
        assert back.address == a.address  # a kept onion key: the same onion address
        wait_for(lambda: holds(back, while_away), WITHIN, "a to catch up by sync")
        assert back.process is not None
        assert loopback_only(back.process.pid) == []

        b.stop()
    # stig's own tor exits with the node that started it.
    for pid in tors_started:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def connected(node: Node) -> int:
    """Connected peers, asked over the node's control socket (what `stig peers` asks)."""
    status = asyncio.run(ask_status(node.home / "control.sock"))
    return sum(1 for p in status["peers"] if p["connected"])
