"""The private Tor network shared by every test in tests/tor (one per session: bootstrapping one
takes 18–86 s here), and the onion peers the tests start on it.

The network bootstraps in a thread of its own from the first test of tests/tor on, while the
tests that do not need it run (they are put first: ``pytest_collection_modifyitems``); the
first test that needs it waits for it. Most of a bootstrap is waiting for the authorities'
votes, not CPU, so the two overlap well. Its tors are stopped by PID at the end of the session,
pass or fail; a start that fails stops its own (``start_private_network``, one retry).

Skipped with a reason where tor is not installed, unless ``STIG_REQUIRE_TOR=1`` (set by
.ci/run, which installs tor) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.tor.peer_process import OnionPeer
from tests.tor.private_network import PrivateTorNetwork, TorUnavailable, start_private_network

REQUIRE_ENV = "STIG_REQUIRE_TOR"

HERE = Path(__file__).parent
NEEDED = pytest.StashKey[bool]()
"""Whether any collected test of this session uses ``tor_network``."""


def _needs_network(item: pytest.Item) -> bool:
    return "tor_network" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Within tests/tor, the tests that do not need the network first (in their order), so
    that they run while it bootstraps; tests elsewhere keep their places."""
    mine = [i for i, item in enumerate(items) if item.path.is_relative_to(HERE)]
    ordered = sorted((items[i] for i in mine), key=_needs_network)  # stable
    for i, item in zip(mine, ordered, strict=True):
        items[i] = item
    config.stash[NEEDED] = any(_needs_network(items[i]) for i in mine)


@pytest.fixture(scope="session", autouse=True)
def tor_network_starting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Future[PrivateTorNetwork] | None]:
    """The network's start, begun with the first test of tests/tor if some test needs it."""
    if not request.config.stash.get(NEEDED, False):
        yield None
        return
    root = tmp_path_factory.mktemp("tor")
    with ThreadPoolExecutor(1, thread_name_prefix="tor-network") as pool:
        starting = pool.submit(start_private_network, root)
        try:
            yield starting
        finally:
            # Waits for a start still under way (it stops its tors itself if it fails).
            with contextlib.suppress(Exception):
                starting.result().stop()


@pytest.fixture(scope="session")
def tor_network(
    tor_network_starting: Future[PrivateTorNetwork] | None,
) -> PrivateTorNetwork:
    assert tor_network_starting is not None, "collected tests that need the network say so"
    try:
        return tor_network_starting.result()
    except TorUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{exc} and {REQUIRE_ENV}=1")
        pytest.skip(str(exc))


@pytest.fixture
def onion_peers(tmp_path: Path) -> Iterator[list[OnionPeer]]:
    """Every peer added to the list is ended by PID when the test ends, pass or fail."""
    peers: list[OnionPeer] = []
    try:
        yield peers
    finally:
        for peer in peers:
            peer.stop()
