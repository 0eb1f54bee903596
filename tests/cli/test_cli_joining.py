"""Joining the mesh from a code (stig invite, stig connect, stig group invite --with-address)
with real node processes on 127.0.0.1, each ended by PID."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from stig.net.peer_invite import read_peer_invite
from tests.cli.running import stig
from tests.mesh.processes import Node, cluster, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def init(*homes: Path) -> None:
    for home in homes:
        stig(home, "init", "-q")


def bootstrap_of(home: Path) -> list[str]:
    config = tomllib.loads((home / "config.toml").read_text())
    return list(config["network"]["bootstrap"])


def connected(home: Path, peer_id: str) -> bool:
    peers = json.loads(stig(home, "peers", "--json").stdout)["peers"]
    return any(p["peer"] == peer_id and p["connected"] for p in peers)


def test_invite_then_connect_joins_a_running_node_at_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init(a, b)
    with cluster() as nodes:
        node_a = Node(a).start()
        nodes.append(node_a)
        node_b = Node(b).start()
        nodes.append(node_b)
        a_id = node_a.address.rsplit("/p2p/", 1)[1]

        shown = json.loads(stig(a, "invite", "--json").stdout)
        assert shown["addresses"] == node_a.addresses
        assert read_peer_invite(shown["code"]) == node_a.addresses
        text = stig(a, "invite", "--no-qr").stdout
        assert text.splitlines()[0] == shown["code"]
        assert "where this node is" in text  # what giving the code away tells

        said = stig(b, "connect", shown["code"]).stdout
        assert f"connected to {a_id}" in said
        assert bootstrap_of(b) == node_a.addresses  # kept for the next start
        assert connected(b, a_id)

        again = stig(b, "connect", node_a.address).stdout
        assert "already in config.toml" in again
        assert bootstrap_of(b) == node_a.addresses


def test_connect_without_a_running_node_and_bad_input(tmp_path: Path) -> None:
    home = tmp_path / "h"
    init(home)
    address = "/ip4/198.18.0.9/tcp/4737/p2p/12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE"
    said = stig(home, "connect", address).stdout
    assert "added to config.toml; dialed when the node starts" in said
    assert bootstrap_of(home) == [address]

    wrong = stig(home, "connect", "198.18.0.9:4737", code=1).stderr
    assert "/ip4/198.18.0.9/tcp/4737/p2p/<peer id>" in wrong
    damaged = stig(home, "connect", "stig-peer1-aaaa", code=1).stderr
    assert "copy it again" in damaged
    alone = stig(home, "invite", code=1).stderr
    assert "no node is running" in alone


def test_group_invite_with_address_joins_group_and_mesh(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init(a, b)
    stig(a, "group", "new", "crew")
    with cluster() as nodes:
        node_a = Node(a).start()
        nodes.append(node_a)
        node_b = Node(b).start()
        nodes.append(node_b)
        a_id = node_a.address.rsplit("/p2p/", 1)[1]
        code = json.loads(stig(a, "group", "invite", "crew", "--with-address", "--json").stdout)[
            "code"
        ]
        group_code, plus, peer_code = code.partition("+")
        assert plus and group_code.startswith("stig-group1-")
        assert read_peer_invite(peer_code) == node_a.addresses

        said = stig(b, "group", "join", code, "--name", "crew").stdout
        assert "joined group crew" in said
        assert f"connected to {a_id}" in said
        wait_for(lambda: connected(b, a_id), 30, "b to be connected to a")
