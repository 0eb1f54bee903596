"""Affinity groups over real processes on 127.0.0.1 (issue: groups): two members and a relay
that does not hold the key. Every process is ended by PID (tests/mesh/processes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SECRET_TEXT = "bring the banner to the north gate at 6"
GROUP = "northcrew"


def init(home: Path) -> Path:
    stig(home, "init", "-q")
    (home / "config.toml").write_text("[network]\nsync_interval = 2.0\n")
    return home


def group_bodies(home: Path, name: str) -> set[str]:
    return {item["body"] for item in stig_json(home, "feed", "--group", name)}


def relay_files(home: Path) -> bytes:
    """Everything the relay wrote: its database, WAL, logs, config."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_a_group_post_reaches_a_member_through_a_relay_that_cannot_read_it(
    tmp_path: Path,
) -> None:
    with cluster() as nodes:
        relay = Node(init(tmp_path / "relay"), command="relay").start()
        nodes.append(relay)
        ana = init(tmp_path / "ana")
        ben = init(tmp_path / "ben")
        stig(ana, "group", "new", GROUP)
        code = stig_json(ana, "group", "invite", GROUP, "--json")["code"]
        stig(ben, "group", "join", code, "--name", "friends")
        ana_key = stig_json(ana, "id", "--json")

        # ana posts while on the mesh, then leaves: from then on only the relay has it.
        ana_node = Node(ana, "--bootstrap", relay.address).start()
        nodes.append(ana_node)
        stig(ana, "post", "--group", GROUP, "--kind", "callout", SECRET_TEXT)
        stig(ana, "post", "--group", GROUP, "--anonymous", "someone saw a van")
        wait_for(lambda: relay.digest()[0] == 2, 30, "the two envelopes to reach the relay")
        ana_node.stop()

        ben_node = Node(ben, "--bootstrap", relay.address).start()
        nodes.append(ben_node)
        wait_for(
            lambda: group_bodies(ben, "friends") == {SECRET_TEXT, "someone saw a van"},
            60,
            "ben to read both posts, through the relay alone",
        )
        assert stig_json(ben, "feed") == []  # nothing public
        relay.stop()

        held = relay_files(relay.home)
        for secret in (SECRET_TEXT, "someone saw a van", GROUP, "friends"):
            assert secret.encode() not in held, secret
        for persona in _public_keys(ana_key):
            assert persona not in held and persona.hex().encode() not in held
        kinds = {item["kind"] for item in stig_json(relay.home, "feed", "--kind", "sealed")}
        assert kinds == {"sealed"}


def test_two_members_converge_after_a_partition(tmp_path: Path) -> None:
    with cluster() as nodes:
        ana = init(tmp_path / "ana")
        ben = init(tmp_path / "ben")
        stig(ana, "group", "new", GROUP)
        stig(ben, "group", "join", stig_json(ana, "group", "invite", GROUP, "--json")["code"])
        (ben_name,) = [g["group"] for g in stig_json(ben, "group", "list", "--json")]
        # Apart: each posts with no network at all.
        stig(ana, "post", "--group", GROUP, "ana while apart")
        stig(ben, "post", "--group", ben_name, "ben while apart")
        relay = Node(init(tmp_path / "relay"), command="relay").start()
        nodes.append(relay)
        nodes.append(Node(ana, "--bootstrap", relay.address).start())
        nodes.append(Node(ben, "--bootstrap", relay.address).start())
        both = {"ana while apart", "ben while apart"}
        wait_for(
            lambda: group_bodies(ana, GROUP) == both and group_bodies(ben, ben_name) == both,
            60,
            "both members to read both posts",
        )


def _public_keys(listed: list[dict[str, str]]) -> list[bytes]:
    return [bytes.fromhex(item["public_key"]) for item in listed]
