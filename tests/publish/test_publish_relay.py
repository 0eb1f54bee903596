"""As a relay operator: `stig relay --publish site/` on a node that receives traces from the
mesh keeps the site and feeds current (real processes on 127.0.0.1, real libp2p, ended by
PID): a trace posted on another node appears, and leaves when its author retracts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mesh.processes import Node, cluster, stig, wait_for
from tests.publish.pages import atom_ids, check_html, trace_pages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_relay_keeps_its_site_current(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with cluster() as nodes:
        relay = Node(tmp_path / "relay", "--publish", str(site), command="relay").start()
        nodes.append(relay)
        wait_for((site / "index.html").exists, 20, "the relay to publish its site")
        assert trace_pages(site) == set()

        author = tmp_path / "author"
        stig(author, "init", "-q")
        nodes.append(Node(author, "--bootstrap", relay.address).start())
        trace = stig(author, "post", "-t", "depot", "picket from 6am").stdout.strip()
        wait_for(lambda: trace in trace_pages(site), 30, "the trace to reach the site")
        assert atom_ids((site / "feed.atom").read_bytes()) == {trace}
        assert atom_ids((site / "tags" / "depot.atom").read_bytes()) == {trace}
        assert b"picket from 6am" in (site / "index.html").read_bytes()
        check_html((site / "t" / f"{trace}.html").read_bytes())

        stig(author, "retract", trace)
        wait_for(lambda: trace not in trace_pages(site), 30, "the retraction to reach the site")
        assert atom_ids((site / "feed.atom").read_bytes()) == set()
        assert b"picket from 6am" not in (site / "index.html").read_bytes()
        assert not (site / "tags" / "depot.html").exists()
    assert "publishing into" in relay.log()
