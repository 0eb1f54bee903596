"""Relays that refuse authors, and relays that follow a persona's published mutes, with real
processes on 127.0.0.1 (issue: moderation with no moderator). Bounded in time; every process
is ended by its PID (tests/mesh/processes.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def key(home: Path, persona: str) -> str:
    found = [p for p in stig_json(home, "id") if p["name"] == persona]
    return str(found[0]["public_key"])


def bodies(home: Path, *args: str) -> set[str]:
    return {item["body"] for item in stig_json(home, "feed", "--kind", "note", *args)}


def rejected(relay: Node) -> dict[str, int]:
    total: dict[str, int] = {}
    for peer in relay.peers()["peers"]:
        for reason, n in peer["rejected"].items():
            total[reason] = total.get(reason, 0) + n
    return total


def test_a_relay_refuses_authors_and_follows_mutes(tmp_path: Path) -> None:
    """Home A holds three personas: a friend whose mutes the relay follows, an author the
    relay refuses outright, and one the friend mutes. Only the friend's traces reach the relay,
    and through it a node that connects after A is gone."""
    a, relay_home, b = tmp_path / "a", tmp_path / "relay", tmp_path / "b"
    stig(a, "init", "-q")
    for persona in ("refused", "muted"):
        stig(a, "id", "new", persona)
    friend = key(a, "me")
    stig(relay_home, "init", "-q")
    (relay_home / "refused.keys").write_text(f"# refused by the operator\n{key(a, 'refused')}\n")
    (relay_home / "config.toml").write_text(
        "[network]\nsync_interval = 2\n"
        f'[relay]\nrefuse_authors = ["refused.keys"]\nfollow_mutes = ["{friend}"]\n'
    )
    stig(b, "init", "-q")
    (b / "config.toml").write_text("[network]\nsync_interval = 2\n")

    with cluster() as nodes:
        relay = Node(relay_home, command="relay").start()
        nodes.append(relay)
        node_a = Node(a, "--bootstrap", relay.address).start()
        nodes.append(node_a)
        # The friend publishes a mute of the third persona (a persona cannot be muted locally
        # on its own home, but it can be named in a published mute by another).
        stig(a, "post", "-k", "mute", "--ttl", "3d", key(a, "muted"))

        def relay_status() -> dict[str, Any]:
            return relay.peers()["moderation"]

        wait_for(lambda: relay_status()["muted_by_followed"] == 1, 60, "the relay to apply it")
        stig(a, "post", "-p", "refused", "from the refused author")
        stig(a, "post", "-p", "muted", "from the muted author")
        stig(a, "post", "from the friend")
        wait_for(lambda: "from the friend" in bodies(relay_home), 60, "the friend's note")
        wait_for(
            lambda: {"refused_author", "muted_author"} <= set(rejected(relay)),
            60,
            "both refusals to be counted",
        )
        assert bodies(relay_home) == {"from the friend"}
        node_a.stop()

        node_b = Node(b, "--bootstrap", relay.address).start()
        nodes.append(node_b)
        wait_for(lambda: "from the friend" in bodies(b), 60, "the friend's note to reach b")
        assert bodies(b) == {"from the friend"}
        status = relay_status()
        assert status == {"refused_authors": 1, "followed_personas": 1, "muted_by_followed": 1}
