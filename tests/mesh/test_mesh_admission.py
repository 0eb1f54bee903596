"""Admission against real processes on 127.0.0.1 (issue: a hostile network, items 2 and 3).

* **Partition** — four honest ``stig node`` processes whose clocks are −600 s, −5 s, +5 s and
  +600 s (the clock seam: ``STIG_CLOCK_OFFSET``, for tests only) and an outsider
  (tests/mesh/attacker.py) pushing traces at the edges of their clocks. Each node judges those
  traces by its own clock, and honest posts of the ±600 s nodes are from the future or stale to
  the other end; none of it is anyone's fault, so no honest pair bans the other and all keep
  their connections.
* **Streaming** — an attacker streams TRACES frames of junk on a sync session and never sends
  DONE, again and again with fresh identities. Each attempt is cut off on the frame that crosses
  the penalty threshold, and the victim's memory stays where it was.

Bounded in time; every process is ended by PID.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.mesh.processes import Node, Script, cluster, stig, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ATTACKER = Path(__file__).with_name("attacker.py")
OFFSETS = (-600, -5, 5, 600)


class Attacker(Script):
    def __init__(self, log: Path, *args: str) -> None:
        super().__init__(ATTACKER, log, *args)

    def says(self, text: str) -> bool:
        if self.process.poll() is not None and text not in self.log():
            raise AssertionError(f"the attacker exited: {self.log()[-2000:]}")
        return text in self.log()


def init(home: Path) -> Path:
    stig(home, "init", "-q")
    (home / "config.toml").write_text("[network]\nsync_interval = 2.0\n")
    return home


def peer_id(node: Node) -> str:
    return node.address.rsplit("/p2p/", 1)[-1]


def records(node: Node) -> dict[str, dict[str, Any]]:
    return {p["peer"]: p for p in node.peers()["peers"]}


def offset_env(offset: int) -> dict[str, str]:
    return {"STIG_CLOCK_OFFSET": str(offset)}


def test_edge_of_clock_traces_never_split_honest_nodes(tmp_path: Path) -> None:
    with cluster() as nodes:
        for i, offset in enumerate(OFFSETS):
            bootstrap = ("--bootstrap", nodes[0].address) if nodes else ()
            home = init(tmp_path / f"n{i}")
            nodes.append(Node(home, *bootstrap, env=offset_env(offset)).start())
        ids = {peer_id(n) for n in nodes}

        def honest_links(node: Node) -> set[str]:
            return {p for p, r in records(node).items() if p in ids and r["connected"]}

        # Peer exchange makes the star a full mesh.
        for node in nodes:
            wait_for(lambda n=node: len(honest_links(n)) == 3, 60, f"{node.home.name} linked")

        # Honest posts at each clock: the ±600 s nodes' posts are out of the others' windows.
        for node, offset in zip(nodes, OFFSETS, strict=True):
            stig(node.home, "post", f"honest at {offset:+d} s", env=offset_env(offset))

        attacker = Attacker(
            tmp_path / "attacker.log",
            "clock-edge",
            nodes[1].address,
            nodes[2].address,
            "--rounds",
            "30",
            "--ahead",
            "5",
            "--behind",
            "-5",
        )
        try:
            wait_for(lambda: attacker.says("done"), 60, "the attacker to push 60 edge traces")
            # Let gossip and two periodic syncs carry the edge traces everywhere.
            wait_for(
                lambda: all(
                    sum(r["rejected"].get("from_future", 0) for r in records(n).values()) > 0
                    for n in nodes[:2]
                ),
                60,
                "the nodes behind to see traces from the future",
            )
            for node in nodes:
                before = records(node)
                wait_for(
                    lambda n=node, b=before: all(
                        records(n)[p]["last_sync"] != b[p]["last_sync"]
                        for p in ids - {peer_id(n)}
                        if b[p]["last_sync"]
                    ),
                    60,
                    f"{node.home.name} to sync again with its peers",
                )
        finally:
            attacker.stop()

        for node in nodes:
            seen = records(node)
            for other in ids - {peer_id(node)}:
                record = seen[other]
                assert not record["banned"], (node.home.name, record)
                assert record["connected"], (node.home.name, record)
                assert set(record["rejected"]) <= {"from_future", "expired"}, record
            assert "Traceback" not in node.log(), node.log()[-2000:]
        # The outsider's edge traces were judged, not blamed on the outsider either.
        outsider = re.search(r"peer (\S+)", attacker.log())
        assert outsider is not None
        for node in nodes[1:3]:
            record = records(node).get(outsider.group(1))
            assert record is not None and not record["banned"], record


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_a_session_that_never_ends_is_cut_off_and_costs_no_memory(tmp_path: Path) -> None:
    with cluster() as nodes:
        victim = Node(init(tmp_path / "victim")).start()
        nodes.append(victim)
        honest = Node(init(tmp_path / "honest"), "--bootstrap", victim.address).start()
        nodes.append(honest)
        assert victim.process is not None
        wait_for(lambda: records(victim).get(peer_id(honest), {}).get("connected"), 30, "link")
        baseline = rss(victim.process.pid)

        attacker = Attacker(tmp_path / "stream.log", "stream", victim.address, "--seconds", "15")
        try:
            wait_for(lambda: attacker.says("done"), 60, "the attacker to stream for 15 s")
        finally:
            attacker.stop()
        log = attacker.log()
        cut = [float(x) for x in re.findall(r"cut off after ([\d.]+) s", log)]
        attempts = len(re.findall(r": crossed", log))
        assert attempts >= 2 and len(cut) >= attempts - 1, log[-3000:]
        # Every attempt crossed the threshold with its first frame and was cut off at once.
        # (The figures are printed for the closing note; the bound here only rules out a
        # session left running until its 60 s timeout, as before.)
        print("cut off after (s):", sorted(cut))
        assert max(cut) < 10, sorted(cut)

        banned = [r for r in records(victim).values() if r["banned"]]
        assert len(banned) >= attempts - 1
        assert all(r["rejected"].get("bad_encoding", 0) >= 20 for r in banned)
        assert all(r["accepted"] == 0 for r in banned)
        # The victim forgets what it did not store: memory returns to its baseline.
        wait_for(
            lambda: rss(victim.process.pid) - baseline < 50 * 2**20,  # type: ignore[union-attr]
            30,
            f"the victim's RSS to return near its baseline ({baseline >> 20} MiB)",
        )
        # And it still serves honest peers.
        trace = stig(honest.home, "post", "after the stream").stdout.strip()
        wait_for(lambda: trace in stig(victim.home, "feed", "--json").stdout, 30, "the honest post")
        assert not records(victim)[peer_id(honest)]["banned"]
