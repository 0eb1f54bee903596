"""The home's files on disk: private modes whatever the umask, an existing home tightened, and
``stig wipe`` erasing the transport key and stopping a node running on the home (a real
``stig node`` process on 127.0.0.1)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.running import stig
from tests.mesh.processes import Node

pytestmark = pytest.mark.timeout(120)

TIGHTENED = "tightened permissions of"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most desktops run with (the stig subprocesses inherit it)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes(root: Path) -> dict[str, int]:
    """Mode of the root and of everything under it, by path relative to the root."""
    found = {".": mode(root)}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory) / name
            found[str(path.relative_to(root))] = mode(path)
    return found


def test_every_file_is_private_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    assert TIGHTENED not in stig(home, "init").stderr
    stig(home, "post", "a public note")
    stig(home, "group", "new", "crew")
    stig(home, "post", "a group note, in the clear in the group's store", "--group", "crew")
    stig(home, "search", "note")
    stig(home, "feed", "--group", "crew")  # opens envelopes: writes the group's cursor
    found = modes(home)
    for name in (
        "store.db",
        "personas",
        "groups/crew",
        "groups/crew/store.db",
        "groups/crew/cursor",
    ):
        assert name in found, sorted(found)
    loose = {name: oct(m) for name, m in found.items() if m & 0o077}
    assert loose == {}, loose
    dirs = {name for name in found if (home / name).is_dir()}
    assert all(found[name] == 0o700 for name in dirs), found
    assert all(found[name] == 0o600 for name in set(found) - dirs), found


def test_an_existing_loose_home_is_tightened_and_says_so_once(
    tmp_path: Path, loose_umask: None
) -> None:
    home = tmp_path / "home"
    stig(home, "init")
    stig(home, "group", "new", "crew")
    stig(home, "post", "in the group", "--group", "crew")
    # As an older stig (or a copy) left it: readable by every user of the machine.
    for path in [home, *home.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    other = tmp_path / "home" / "mine.txt"  # not stig's: left as it is
    other.write_text("a file of the user's own")
    os.chmod(other, 0o644)

    said = stig(home, "feed").stderr
    assert said.count(TIGHTENED) == 1 and str(home) in said, said
    assert mode(home) == 0o700
    assert mode(home / "store.db") == 0o600
    assert mode(home / "groups" / "crew") == 0o700
    assert mode(home / "groups" / "crew" / "store.db") == 0o600
    assert all(mode(p) == 0o600 for p in (home / "personas").iterdir())
    assert mode(other) == 0o644
    assert TIGHTENED not in stig(home, "feed").stderr  # said once: nothing left to tighten


def test_init_in_an_existing_directory_makes_it_private(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "made-by-hand"
    home.mkdir(mode=0o755)
    stig(home, "init")
    assert mode(home) == 0o700


def test_wipe_erases_the_transport_key_so_the_peer_id_changes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stig(home, "init")
    node = Node(home)
    try:
        node.start()
        before = node.address.rsplit("/p2p/", 1)[1]
    finally:
        node.stop()
    assert (home / "transport.key").exists()

    stig(home, "wipe", "--yes")
    assert not (home / "transport.key").exists()
    stig(home, "init")
    node = Node(home)
    try:
        node.start()
        after = node.address.rsplit("/p2p/", 1)[1]
    finally:
        node.stop()
    assert after != before


def test_wipe_stops_a_node_running_on_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stig(home, "init")
    stig(home, "post", "something to lose")
    node = Node(home)
    try:
        node.start()
        assert node.process is not None
        done = stig(home, "wipe", "--yes")
        deadline = time.monotonic() + 5
        while node.process.poll() is None:
            assert time.monotonic() < deadline, "the node still runs on a wiped home"
            time.sleep(0.05)
        assert node.process.returncode == 0, node.log()
        assert "stopped the stig node" in done.stderr
        assert "Traceback" not in node.log()
    finally:
        node.stop()
    left = sorted(p.name for p in home.iterdir()) if home.exists() else []
    assert set(left) <= {"node.log"}, left  # the test's copy of the node's stderr only
