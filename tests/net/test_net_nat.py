"""stig through real NATs: relay, nodes and kernel NAT routers in network namespaces
(tests/net/nat_bed.py), real ``stig`` processes, real libp2p. Skipped, with the reason, only
where this process cannot create namespaces. Every process is ended by PID and every namespace
removed, also on failure."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for
from tests.mesh.test_mesh_processes import bundle_of
from tests.net.nat_bed import KEEP, RANDOM, Bed, why_not

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PORT = 4737


@pytest.fixture
def bed() -> Iterator[Bed]:
    reason = why_not()
    if reason is not None:
        pytest.skip(reason)
    made = Bed()
    try:
        yield made.open()
    finally:
        made.close()


def init(home: Path) -> Path:
    stig(home, "init", "-q")
    (home / "config.toml").write_text("[network]\nsync_interval = 1\n")
    return home


def peer(status: dict[str, Any], peer_id: str) -> dict[str, Any] | None:
    for record in status["peers"]:
        if record["peer"] == peer_id and record["connected"]:
            return record
    return None


def has(node: Node, trace_id: str) -> bool:
    return any(item["id"] == trace_id for item in stig_json(node.home, "feed"))


def test_nodes_behind_two_nats_meet_through_a_public_relay(tmp_path: Path, bed: Bed) -> None:
    """Every node on ``reachability = auto``: each learns from its peers (AutoNAT, docs/protocol.md
    §8.8.1) whether it can be dialed — R that it is public, A and B that they are behind NAT,
    so they reserve on R."""
    one, two = bed.home(1, KEEP), bed.home(2, KEEP)
    with cluster() as nodes:
        relay = Node(
            init(tmp_path / "r"),
            "--reachability",
            "auto",
            command="relay",
            listen=f"/ip4/{bed.public_address}/tcp/{PORT}",
            inside=bed.inside_public,
        ).start()
        nodes.append(relay)
        relay_id = relay.address.rsplit("/p2p/", 1)[1]
        a = Node(
            init(tmp_path / "a"),
            "--bootstrap",
            relay.address,
            listen=f"/ip4/{one.address}/tcp/{PORT}",
            inside=one.inside,
        ).start()
        nodes.append(a)
        b = Node(
            init(tmp_path / "b"),
            "--bootstrap",
            relay.address,
            listen=f"/ip4/{two.address}/tcp/{PORT}",
            inside=two.inside,
        ).start()
        nodes.append(b)
        a_id = a.address.rsplit("/p2p/", 1)[1]

        # A and B know only R: each reserves a slot there and says so.
        for node in (a, b):
            wait_for(
                lambda node=node: node.peers()["reach"]["relays"] == [relay_id],
                30,
                f"{node.home.name} to reserve on the relay",
            )
        reach = a.peers()["reach"]
        assert reach["state"] == "behind NAT"
        assert reach["why"].endswith("could not dial back"), reach
        assert reach["advertised"] == [f"{relay.address}/p2p-circuit/p2p/{a_id}"]
        words = stig(a.home, "peers").stdout
        assert f"behind NAT, reachable via {relay_id}" in words
        # R asked the peers that dialed it; they dialed it back from fresh identities.
        wait_for(lambda: relay.peers()["reach"]["state"] == "public", 30, "r to learn it is public")
        reach = relay.peers()["reach"]
        assert reach["why"].startswith("dialed back by "), reach
        assert reach["relays"] == [] and reach["advertised"] == [relay.address]
        assert "public (dialed back by " in stig(relay.home, "peers").stdout

        # B learns A's circuit address from R (peer exchange) and reaches A through R.
        wait_for(lambda: peer(b.peers(), a_id) is not None, 60, "b to reach a through r")
        found = peer(b.peers(), a_id)
        assert found is not None and found["route"]["kind"] in ("via relay", "hole-punched")

        posted = stig(a.home, "post", "-k", "callout", "across two NATs").stdout.strip()
        wait_for(lambda: has(b, posted), 30, "a's post to reach b")

        b.stop()
        # 50 traces reach A at once (a bundle, as from a USB stick) and spread from there.
        stig(a.home, "import", str(bundle_of(tmp_path / "away.stig", 50, "while b is away")))
        wait_for(lambda: relay.digest() == a.digest(), 60, "the relay to hold a's 51 traces")
        back = Node(
            b.home,
            "--bootstrap",
            relay.address,
            listen=f"/ip4/{two.address}/tcp/{PORT}",
            inside=two.inside,
        ).start()
        nodes.append(back)
        wait_for(lambda: back.digest() == a.digest(), 90, "b to catch up by sync")
        assert a.digest()[0] == 51


PUNCH_WITHIN = 25.0
"""Seconds given to hole punching: DCUtR starts 2 s after a relayed connection, a punch that
works takes about 1 s, three that fail about 22 s each (docs/performance.md, reach)."""


def route_to(node: Node, peer_id: str) -> str | None:
    found = peer(node.peers(), peer_id)
    return found["route"]["kind"] if found and found["route"] else None


def became_direct(node: Node, peer_id: str, within: float) -> bool:
    """Wait (bounded) for the connection to ``peer_id`` to become direct; whether it did."""
    try:
        wait_for(lambda: route_to(node, peer_id) == "hole-punched", within, "a hole punched")
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("nat", [KEEP, RANDOM])
def test_hole_punching_where_the_nat_allows_it(tmp_path: Path, bed: Bed, nat: str) -> None:
    """The design's promise (docs/protocol.md §8.4): behind port-keeping NATs with the usual
    dropping firewall, A and B end up directly connected; behind port-randomising NATs they
    keep the circuit through R. Either way traces cross; after a punch, R may go."""
    one, two = bed.home(1, nat), bed.home(2, nat)
    with cluster() as nodes:
        relay = Node(
            init(tmp_path / "r"),
            command="relay",
            listen=f"/ip4/{bed.public_address}/tcp/{PORT}",
            inside=bed.inside_public,
        ).start()
        nodes.append(relay)
        a, b = (
            Node(
                init(tmp_path / name),
                "--bootstrap",
                relay.address,
                listen=f"/ip4/{home.address}/tcp/{PORT}",
                inside=home.inside,
            ).start()
            for name, home in (("a", one), ("b", two))
        )
        nodes += [a, b]
        a_id = a.address.rsplit("/p2p/", 1)[1]
        wait_for(lambda: route_to(b, a_id) is not None, 60, "b to reach a through r")

        direct = became_direct(b, a_id, PUNCH_WITHIN)
        print(f"NAT {nat}: A-B {'direct (hole-punched)' if direct else 'via relay'}")
        if nat == KEEP:
            assert direct, "port-keeping NATs with a dropping firewall: DCUtR must punch"
        else:
            assert not direct
            assert route_to(b, a_id) == "via relay"

        posted = stig(a.home, "post", f"behind {nat} NATs").stdout.strip()
        wait_for(lambda: has(b, posted), 30, "a's post to reach b")
        if direct:
            relay.stop()
            wait_for(lambda: route_to(b, a_id) == "hole-punched", 30, "a-b to outlive r")
            later = stig(a.home, "post", "after the relay went away").stdout.strip()
            wait_for(lambda: has(b, later), 30, "a post to cross the punched hole")


def test_a_public_node_says_it_is_public(tmp_path: Path, bed: Bed) -> None:
    with cluster() as nodes:
        node = Node(
            init(tmp_path / "p"),
            "--reachability",
            "public",
            listen=f"/ip4/{bed.public_address}/tcp/{PORT}",
            inside=bed.inside_public,
        ).start()
        nodes.append(node)
        reach = node.peers()["reach"]
        assert reach["state"] == "public"
        assert reach["advertised"] == [node.address]
        assert "public (configured public" in stig(node.home, "peers").stdout
        status = stig_json(node.home, "status")  # the text's reach, for scripts too
        assert (status["reach"]["state"], status["reach"]["relays"]) == ("public", [])


def new_home(home: Path) -> Path:
    """A home as `stig init` makes it: no config.toml (the walkthrough's user has none)."""
    stig(home, "init", "-q")
    assert not (home / "config.toml").exists()
    return home


def test_walkthrough_two_laptops_behind_nat_join_by_invite(tmp_path: Path, bed: Bed) -> None:
    """Issue 11's walkthrough as a new user does it, every step a command typed on its machine
    (docs/relay.md, "Two laptops behind NAT"): a relay on a public address and `stig invite` on
    it; on each laptop, behind its own port-keeping home router, `stig node` and then `stig
    connect CODE`. A post on one arrives on the other; `stig peers` and `stig status` say how
    (behind NAT, reachable via the relay; the other laptop hole-punched, as the design promises
    for these NATs). A laptop started again finds the mesh from config.toml alone."""
    one, two = bed.home(1, KEEP), bed.home(2, KEEP)
    with cluster() as nodes:
        # 1. The relay, started as docs/relay.md starts it: on every address of its machine.
        # Its periodic peer exchange is made rare, so that the laptops can only meet by the
        # exchanges that follow a new connection or a relay gained, and the question back
        # (docs/protocol.md §8.5): with the relay's first answers alone, taken before either
        # laptop had reserved, they never do.
        relay_home = new_home(tmp_path / "r")
        (relay_home / "config.toml").write_text("[network]\nsync_interval = 3600\n")
        relay = Node(
            relay_home,
            command="relay",
            listen=f"/ip4/0.0.0.0/tcp/{PORT}",
            inside=bed.inside_public,
        ).start()
        nodes.append(relay)
        relay_id = relay.address.rsplit("/p2p/", 1)[1]
        public = f"/ip4/{bed.public_address}/tcp/{PORT}/p2p/{relay_id}"

        # 2. `stig invite` on the relay's machine: the code is the first line, then what it holds.
        shown = stig(relay.home, "invite", inside=bed.inside_public).stdout.splitlines()
        code = shown[0]
        assert code.startswith("stig-peer1-"), shown
        assert [line.strip() for line in shown[1:] if line.startswith("  /")] == [public]

        # 3. Each laptop: `stig node` (nothing configured), then `stig connect CODE` beside it.
        laptops = [
            Node(new_home(tmp_path / name), listen=None, inside=home.inside).launch()
            for name, home in (("a", one), ("b", two))
        ]
        nodes.extend(laptops)
        a, b = (laptop.started() for laptop in laptops)
        for laptop, home in ((a, one), (b, two)):
            said = stig(laptop.home, "connect", code, inside=home.inside).stdout
            assert said.splitlines() == [
                public,
                f"  added to config.toml; connected to {relay_id}",
            ]
            config = tomllib.loads((laptop.home / "config.toml").read_text())
            assert config["network"]["bootstrap"] == [public]
        a_id, b_id = (laptop.peers()["peer_id"] for laptop in (a, b))

        # 4. A posts; it arrives on B.
        for laptop in (a, b):
            wait_for(
                lambda laptop=laptop: laptop.peers()["reach"]["relays"] == [relay_id],
                30,
                f"{laptop.home.name} to reserve on the relay",
            )
        posted = stig(a.home, "post", "-k", "callout", "from laptop A", inside=one.inside)
        wait_for(lambda: has(b, posted.stdout.strip()), 60, "a's post to reach b")

        # 5. How: behind NAT, reachable via R; R direct; the other laptop hole-punched.
        for laptop, other in ((a, b_id), (b, a_id)):
            wait_for(
                lambda laptop=laptop, other=other: route_to(laptop, other) == "hole-punched",
                60,
                f"{laptop.home.name}: the other laptop hole-punched",
            )
            seen = laptop.peers()
            assert seen["reach"]["state"] == "behind NAT"
            assert seen["reach"]["advertised"] == [f"{public}/p2p-circuit/p2p/{seen['peer_id']}"]
            assert route_to(laptop, relay_id) == "direct"
            words = stig(laptop.home, "peers").stdout
            assert f"reach      behind NAT, reachable via {relay_id}" in words
            assert f"{other}  connected hole-punched for " in words
            assert f"{relay_id}  connected direct for " in words
            status = stig_json(laptop.home, "status")
            assert (status["reach"]["state"], status["reach"]["relays"]) == (
                "behind NAT",
                [relay_id],
            )
            words = stig(laptop.home, "status").stdout
            assert f"reach        behind NAT, reachable via {relay_id}" in words

        # 6. A stops and starts again with nothing but its home: config.toml leads it back.
        a.stop()
        wait_for(lambda: peer(b.peers(), a_id) is None, 30, "b to see a gone")
        back = Node(a.home, listen=None, inside=one.inside).start()
        nodes.append(back)
        wait_for(lambda: back.peers()["reach"]["relays"] == [relay_id], 30, "a to reserve again")
        wait_for(lambda: peer(b.peers(), a_id) is not None, 60, "a and b to meet again")
        later = stig(b.home, "post", "welcome back", inside=two.inside).stdout.strip()
        wait_for(lambda: has(back, later), 60, "b's post to reach a")
