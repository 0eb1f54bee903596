"""A ``stig node --tor-only`` whose tor has not bootstrapped yet (a first run on a slow
network can take minutes): it says what tor is doing, and Ctrl-C stops it at once, its own
tor with it, rather than after the bootstrap bound (180 s). The tor is stig's own with
``DisableNetwork 1``, so it never bootstraps, whatever network the machine has."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import psutil
import pytest

from tests.mesh.processes import Node, cluster, stig, wait_for
from tests.tor.conftest import REQUIRE_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WITHIN = 60.0
"""Seconds for each step: a bound on a hung test, a third of the bootstrap bound."""


def test_ctrl_c_while_tor_bootstraps_stops_the_node_and_its_tor(tmp_path: Path) -> None:
    if shutil.which("tor") is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"tor is not installed and {REQUIRE_ENV}=1")
        pytest.skip("tor is not installed (Debian: apt-get install tor)")
    home = tmp_path / "h"
    stig(home, "init", "-q")
    (home / "config.toml").write_text('[tor]\nextra_torrc = "DisableNetwork 1"\n')
    (home / "config.toml").chmod(0o600)
    tors: list[int] = []
    try:
        with cluster() as nodes:
            node = Node(home, "--tor-only", listen=None).launch()
            nodes.append(node)
            assert node.process is not None
            wait_for(lambda: "waiting for tor at" in node.log(), WITHIN, "a bootstrap line")
            process = psutil.Process(node.process.pid)
            tors = [c.pid for c in process.children(recursive=True) if c.name() == "tor"]
            assert tors, "the node was to start a tor of its own"
            node.process.send_signal(signal.SIGINT)
            wait_for(lambda: node.process is not None and node.process.poll() is not None,
                     WITHIN, "the node to exit")  # fmt: skip
            assert node.process.returncode == 0, node.log()[-2000:]
            log = node.log()
            assert "stopped while starting" in log
            # stem's own chatter (every control command) stays out of the log.
            assert "DEBUG stem" not in log and "TRACE stem" not in log
            wait_for(lambda: not any(psutil.pid_exists(p) for p in tors), WITHIN, "tor to exit")
    finally:
        for pid in tors:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
