"""Deleted means gone, on disk: after ``stig retract``, ``stig burn``, or the collection of an
expired group trace, the words of the body are in no file under the home — the store, its
``-wal`` and ``-shm``, the full-text index's shadow tables (all in the store file), the group
stores — with and without a ``stig node`` (a real process on 127.0.0.1) holding the store open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import sqlean  # type: ignore[import-untyped]

from stig.node.clock import OFFSET_VARIABLE
from stig.node.home import Home
from stig.store.packed import MAGIC
from tests.cli.running import HEX64, as_json, stig
from tests.mesh.processes import Node

pytestmark = pytest.mark.timeout(120)

GONE_WITHIN = 30.0
"""Seconds a running node may take to purge, on a loaded machine (polled: a fast one waits
less)."""
NODE_LOG = "node.log"  # the test's own copy of the node's stderr (tests/mesh/processes.py)


def leaks(home: Path, words: tuple[str | bytes, ...]) -> list[str]:
    """``file: word`` for every word (text, or bytes such as a stored row's value) found in the
    bytes of any file under ``home``."""
    needles = [(w, w.encode() if isinstance(w, str) else w) for w in words]
    found = []
    for directory, _, names in os.walk(home):
        for name in names:
            path = Path(directory) / name
            if name == NODE_LOG or not path.is_file():  # a socket has no bytes to read
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # -wal and -shm come and go
                continue
            found += [f"{path.relative_to(home)}: {w!r}" for w, n in needles if n in data]
    return found


def stored_value(store: Path, trace_id: str) -> bytes:
    """What the store's row of a trace keeps of its bytes: compressed when that is shorter
    (stig/store/packed.py), so a long body's words are not in the file as text, and the
    purge is checked by looking for this value too."""
    with closing(sqlean.connect(store)) as con:
        (value,) = con.execute(
            "SELECT raw FROM traces WHERE id = ?", (bytes.fromhex(trace_id),)
        ).fetchone()
    assert isinstance(value, bytes)
    return value


def gone_within(home: Path, words: tuple[str | bytes, ...], within: float = GONE_WITHIN) -> None:
    deadline = time.monotonic() + within
    while found := leaks(home, words):
        assert time.monotonic() < deadline, f"still on disk after {within} s: {found}"
        time.sleep(0.1)


@contextmanager
def running_node(home: Path, with_node: bool) -> Iterator[None]:
    """A ``stig node`` on ``home`` for the block (ended by PID whatever happens), or none."""
    if not with_node:
        yield
        return
    node = Node(home)
    try:
        node.start()
        yield
    finally:
        node.stop()


def posted(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    printed = stig(home, *args, env=env).stdout.strip()
    assert HEX64.match(printed), printed
    return printed


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


WORDS = ("zyxwvquorble", "mill behind the old", "Kasimir")
BODY = "zyxwvquorble: we meet at the mill behind the old station, ask for Kasimir"
LONG_BODY = " ".join(
    [BODY] + [f"Then the {n} of us walk to the depot, one by one." for n in range(4)]
)
"""Long enough to be stored compressed: only the full-text index holds its words as text."""


@pytest.mark.parametrize("body", [BODY, LONG_BODY], ids=["stored-as-is", "stored-deflated"])
@pytest.mark.parametrize("with_node", [False, True], ids=["alone", "node-running"])
def test_a_retracted_body_is_gone_from_every_file(home: Path, with_node: bool, body: str) -> None:
    with running_node(home, with_node):
        secret = posted(home, "post", body, "-t", "meeting")
        kept = posted(home, "post", "plain bread for everyone, ask at the bakery")
        # Searched: the body is in the full-text index too, not only in its row.
        assert [t["id"] for t in as_json(home, "search", "zyxwvquorble")] == [secret]
        row = stored_value(Home(home).store, secret)
        assert row.startswith(MAGIC) == (body == LONG_BODY)
        assert leaks(home, (row,)), "the check can fail"
        assert leaks(home, ("zyxwvquorble",)), "the check can fail"
        posted(home, "retract", secret)
        gone_within(home, (*WORDS, row))
        assert leaks(home, ("plain bread",)), "what was not retracted is still there"
        assert [t["id"] for t in as_json(home, "search", "bread")] == [kept]


@pytest.mark.parametrize("with_node", [False, True], ids=["alone", "node-running"])
def test_burned_bodies_are_gone_from_every_file(home: Path, with_node: bool) -> None:
    stig(home, "id", "new", "ben")
    with running_node(home, with_node):
        posted(home, "post", BODY)
        posted(home, "post", "second secret: ovqlandrift at dawn", "-t", "dawn")
        posted(home, "post", "ben stays: plain bread", "-p", "ben")
        assert len(as_json(home, "search", "zyxwvquorble OR ovqlandrift")) == 2
        assert stig(home, "burn", "--yes").stdout.startswith("burned: ")
        gone_within(home, (*WORDS, "ovqlandrift"))
        assert leaks(home, ("plain bread",))


@pytest.mark.parametrize("with_node", [False, True], ids=["alone", "node-running"])
def test_an_expired_group_trace_is_gone_from_every_file_once_collected(
    home: Path, with_node: bool
) -> None:
    stig(home, "group", "new", "crew")
    with running_node(home, with_node):
        posted(home, "post", BODY, "--group", "crew", "--ttl", "1h")
        posted(home, "post", "crew keeps: plain bread", "--group", "crew", "--ttl", "20d")
        assert len(as_json(home, "search", "zyxwvquorble", "--group", "crew")) == 1
        assert any(found.startswith("groups/crew/store.db") for found in leaks(home, WORDS))
        # Two days later (the clock seam): expired, and collected by `stig gc`.
        later = {OFFSET_VARIABLE: str(2 * 86400)}
        assert stig(home, "gc", env=later).stdout.startswith("removed ")
        gone_within(home, WORDS)
        assert leaks(home, ("plain bread",))
