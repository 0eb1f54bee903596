"""Addresses a node keeps dialing: plain words for failures, backing off, and the status that
shows them (stig.node.dialing), with one real node dialing a port where nothing listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.net.network import NetworkError
from stig.node.dialing import FIRST_RETRY, LAST_RETRY, STEADY_TRIES, Dialing, plain_words
from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for

NOBODY = "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE"


def test_failures_read_as_plain_words() -> None:
    assert "nothing listens" in plain_words(
        NetworkError("refused", "x: OSError: [Errno 111] Connect call failed ('127.0.0.1', 9)")
    )
    assert "no answer" in plain_words(NetworkError("timeout", "no connection in 5 s"))
    assert "not that peer" in plain_words(NetworkError("refused", "x: peer id mismatch"))
    assert "no route" in plain_words(NetworkError("refused", "x: Network is unreachable"))


def test_a_failing_address_is_tried_less_and_less_often_and_said_once() -> None:
    state = Dialing(NOBODY)
    refused = NetworkError("refused", "Connection refused [Errno 111]")
    assert state.due(0.0)
    assert state.failed(refused, 100.0)  # new: worth a log line
    assert not state.failed(refused, 105.0)  # the same again: not
    assert state.next_try == 105.0 + FIRST_RETRY  # steady at first: it may be back soon
    for at in range(STEADY_TRIES - 2):
        state.failed(refused, 110.0 + at)
    assert state.failures == STEADY_TRIES and state.next_try == 113.0 + FIRST_RETRY
    state.failed(refused, 120.0)
    assert state.next_try == 120.0 + 2 * FIRST_RETRY  # then backing off
    for at in range(20):
        state.failed(refused, 200.0 + at)
    assert state.next_try == 219.0 + LAST_RETRY
    assert state.report()["failing_since"] == 100.0
    state.reached()
    assert state.report()["failures"] == 0 and state.due(0.0)


@pytest.mark.timeout(120)
def test_a_node_says_which_bootstrap_it_cannot_reach_and_why(tmp_path: Path) -> None:
    home = tmp_path / "a"
    stig(home, "init", "-q")
    with cluster() as nodes:
        node = Node(home, "--bootstrap", NOBODY).start()
        nodes.append(node)
        wait_for(lambda: stig_json(home, "peers")["dialing"], 30, "the failed dial to show")
        (failing,) = stig_json(home, "peers")["dialing"]
        assert failing["address"] == NOBODY
        assert "connection refused" in failing["error"]
        assert failing["next_try"] > failing["failing_since"]
        text = stig(home, "peers").stdout
        assert "not reached" in text and "nothing listens on that port" in text
        wait_for(lambda: stig_json(home, "peers")["dialing"][0]["failures"] >= 2, 30, "a retry")
        assert node.log().count("WARNING stig.node: cannot reach") == 1  # once, not every try
        # py-libp2p's own lines come through stig's logging (time, level, logger), never raw.
        lines = node.log().splitlines()
        assert not [line for line in lines if line.startswith("Failed to open TCP stream")]
        assert any(" ERROR libp2p.transport.tcp.tcp: Failed" in line for line in lines)  # -v
