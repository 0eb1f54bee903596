"""stig watch add / list / rm, and `stig node --notify` announcing a watched trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.running import as_json, fails, stig
from tests.mesh.processes import Node, cluster, wait_for

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def test_watches_are_added_listed_and_removed(home: Path) -> None:
    assert "no watches" in stig(home, "watch", "list").stdout
    assert (
        "watching kind:callout #housing @u09"
        in stig(home, "watch", "add", "#Housing  @U09 kind:callout").stdout
    )
    assert "already watching" in stig(home, "watch", "add", "kind:callout #housing @u09").stdout
    stig(home, "watch", "add", "by:me")
    listed = as_json(home, "watch", "list")
    assert listed[0] == "kind:callout #housing @u09" and listed[1].startswith("by:")
    assert "no longer watching kind:callout" in stig(home, "watch", "rm", "1").stdout
    assert len(as_json(home, "watch", "list")) == 1
    assert "not a filter word" in fails(home, "watch", "add", "zz:1")
    assert "at least one word" in fails(home, "watch", "add", "  ")
    assert "give its number (1 to 1)" in fails(home, "watch", "rm", "7")
    stig(home, "wipe", "--yes")
    assert not (home / "watches.json").exists()


def test_a_notify_node_announces_a_watched_trace_from_elsewhere(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    stig(here, "init")
    stig(there, "init")
    stig(here, "watch", "add", "#housing kind:callout")
    stig(there, "post", "-k", "callout", "-t", "housing", "URGENT: eviction at 7am")
    stig(there, "post", "-k", "callout", "-t", "j20", "not watched")
    bundle = tmp_path / "carried.stig"
    stig(there, "export", str(bundle))
    with cluster() as nodes:
        node = Node(here, "--notify").start()
        nodes.append(node)
        wait_for(lambda: "announcing traces that match 1 watch" in node.log(), 30, "it to start")
        stig(here, "import", str(bundle))  # another process writes the store: noticed all the same
        wait_for(lambda: "noticed callout" in node.log(), 30, "the notice")
        log = node.log()
        assert "URGENT: eviction at 7am" in log and "not watched" not in log
        # No desktop on this machine: said once, and the node goes on.
        assert log.count("desktop notifications are not available here") <= 1
        assert "Traceback" not in log
        assert node.process is not None and node.process.poll() is None
