"""The private Tor network shared by every test in tests/tor (one per session: bootstrapping one
takes 18–86 s here), and the onion peers the tests start on it.

Skipped with a reason where tor is not installed, unless ``STIG_REQUIRE_TOR=1`` (set by
.ci/run, which installs tor) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tor.peer_process import OnionPeer
from tests.tor.private_network import PrivateTorNetwork, TorUnavailable, start_private_network

REQUIRE_ENV = "STIG_REQUIRE_TOR"


@pytest.fixture(scope="session")
def tor_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateTorNetwork]:
    try:
        network = start_private_network(tmp_path_factory.mktemp("tor"))
    except TorUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{exc} and {REQUIRE_ENV}=1")
        pytest.skip(str(exc))
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture
def onion_peers(tmp_path: Path) -> Iterator[list[OnionPeer]]:
    """Every peer added to the list is ended by PID when the test ends, pass or fail."""
    peers: list[OnionPeer] = []
    try:
        yield peers
    finally:
        for peer in peers:
            peer.stop()
