"""The mesh with real processes on 127.0.0.1 (issue: the mesh, tests a–e). Each test is bounded
in time and ends every process it starts by PID (tests/mesh/processes.py)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from stig.crdt.bundle import write_header, write_record
from stig.crdt.compose import compose
from stig.crypto.persona import Persona
from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def init(home: Path, sync_interval: float = 2.0) -> Path:
    stig(home, "init", "-q")
    (home / "config.toml").write_text(f"[network]\nsync_interval = {sync_interval}\n")
    return home


def bundle_of(path: Path, count: int, text: str) -> Path:
    author = Persona.generate("bulk")
    now = int(time.time())
    out = io.BytesIO()
    write_header(out)
    for i in range(count):
        write_record(out, compose(author, "report", f"{text} {i}", now=now).encoded)
    path.write_bytes(out.getvalue())
    return path


def test_a_post_reaches_every_node_of_a_chain(tmp_path: Path) -> None:
    with cluster() as nodes:
        for i in range(5):
            boot = ("--bootstrap", nodes[-1].address) if nodes else ()
            nodes.append(Node(init(tmp_path / f"n{i}"), *boot).start())
        posted = stig(nodes[-1].home, "post", "-k", "callout", "solidarity at the depot").stdout
        trace_id = posted.strip()
        for node in nodes:
            wait_for(
                lambda node=node: any(
                    item["id"] == trace_id for item in stig_json(node.home, "feed")
                ),
                30,
                f"the post to reach {node.home.name}",
            )


def test_b_restarted_node_catches_up_by_reconciliation(tmp_path: Path) -> None:
    with cluster() as nodes:
        first = Node(init(tmp_path / "n0")).start()
        nodes.append(first)
        middle = Node(init(tmp_path / "n1"), "--bootstrap", first.address).start()
        nodes.append(middle)
        away = Node(init(tmp_path / "n2"), "--bootstrap", middle.address).start()
        nodes.append(away)
        wait_for(lambda: len(away.peers()["peers"]) >= 1, 30, "the third node to connect")
        away.stop()
        stig(first.home, "import", str(bundle_of(tmp_path / "b.stig", 200, "while away")))
        wait_for(lambda: middle.digest()[0] == 200, 30, "the 200 traces to reach n1 by gossip")
        assert away.digest()[0] == 0  # it was stopped: gossip could not reach it
        back = Node(away.home, "--bootstrap", middle.address).start()
        nodes.append(back)
        wait_for(lambda: back.digest() == first.digest(), 60, "the restarted node to catch up")


def test_c_partitions_heal_to_identical_sets(tmp_path: Path) -> None:
    with cluster() as nodes:
        a0 = Node(init(tmp_path / "a0")).start()
        a1 = Node(init(tmp_path / "a1"), "--bootstrap", a0.address).start()
        b0 = Node(init(tmp_path / "b0")).start()
        b1 = Node(init(tmp_path / "b1"), "--bootstrap", b0.address).start()
        nodes.extend([a0, a1, b0, b1])
        stig(a1.home, "import", str(bundle_of(tmp_path / "a.stig", 30, "side a")))
        stig(b1.home, "import", str(bundle_of(tmp_path / "b.stig", 40, "side b")))
        stig(a0.home, "post", "from a0")
        stig(b0.home, "post", "from b0")
        wait_for(lambda: a0.digest()[0] == 31 and b0.digest()[0] == 41, 30, "each side to agree")
        assert a0.digest() != b0.digest()
        bridge = Node(
            init(tmp_path / "bridge"), "--bootstrap", a0.address, "--bootstrap", b0.address
        ).start()
        nodes.append(bridge)
        everyone = [a0, a1, b0, b1, bridge]
        wait_for(
            lambda: len({node.digest() for node in everyone}) == 1 and a0.digest()[0] == 72,
            90,
            "all five nodes to hold the same 72 traces",
        )


def test_e_wrong_private_network_key_is_refused(tmp_path: Path) -> None:
    key_a, key_b = tmp_path / "a.key", tmp_path / "b.key"
    key_a.write_text("11" * 32 + "\n")
    key_b.write_text("22" * 32 + "\n")
    with cluster() as nodes:
        closed = Node(init(tmp_path / "closed"), "--psk-file", str(key_a)).start()
        nodes.append(closed)
        stranger = Node(
            init(tmp_path / "stranger"), "--psk-file", str(key_b), "--bootstrap", closed.address
        ).start()
        nodes.append(stranger)
        friend = Node(
            init(tmp_path / "friend"), "--psk-file", str(key_a), "--bootstrap", closed.address
        ).start()
        nodes.append(friend)
        wait_for(lambda: len(friend.peers()["peers"]) == 1, 30, "the same-key node to connect")
        # The stranger's dial is bounded (DIAL_WITHIN) and its failure is logged; the bound here
        # is generous (not a timing check): 15 s failed once in a fresh-clone run under load.
        wait_for(lambda: "dial" in stranger.log() and "failed" in stranger.log(), 60, "refusal")
        assert [p for p in stranger.peers()["peers"] if p["connected"]] == []
        assert [p["peer"] for p in closed.peers()["peers"] if p["connected"]] == [
            friend.addresses[0].rsplit("/", 1)[-1]
        ]
