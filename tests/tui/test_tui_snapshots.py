"""Snapshots of the main screens (pytest-textual-snapshot): a fixed clock and fixed keys make
them the same on every run. After an intended change of look, review the new pictures and run
``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

import asyncio
import fcntl
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from stig.crypto.group import day_of, invite_code
from stig.node import mute_list
from stig.node.groups import Groups
from stig.node.mute_list import MuteList
from stig.tui.app import StigApp
from tests.tui.homes import ANA, NOW, clock, fill, make_home, story
from tests.tui.test_tui_flows import dialog_waits

pytestmark = pytest.mark.timeout(60)

SIZE = (120, 36)
SMALL = (80, 24)
"""The smallest terminal stig is laid out for: columns go, the text stays; dialogs wrap."""
LARGE = (160, 45)
"""A large terminal: every column of the feed, the text at its widest."""
QUIET_WITHIN = 30.0
"""Seconds a screen may take to settle on a loaded machine before the test says which
workers still run."""


@pytest.fixture
def app() -> Iterator[StigApp]:
    # A fixed path: the Peers screen shows where config.toml is. Other runs of these tests on
    # this machine (other checkouts) use it too: a lock makes them take turns, not remove
    # each other's home mid-test.
    root = Path(tempfile.gettempdir()) / "stig-tui-snapshot"
    with open(root.with_name(root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _snapshot_app(root)


def _snapshot_app(root: Path) -> StigApp:
    shutil.rmtree(root, ignore_errors=True)
    home = make_home(root / "home")
    asyncio.run(fill(home, story()))
    # groups with fixed keys: the Groups screen and the invite's code and QR are the same too
    today = day_of(NOW)
    groups = Groups(home.groups)
    groups.join("neighbours", invite_code(bytes(32), today), today)
    groups.join("legal-team", invite_code(bytes([1]) * 32, today), today)
    # mutes that hide nothing of the story (the Mutes screen lists them; the feed is unchanged)
    mute_list.save(
        home.mutes_file,
        MuteList(
            authors=frozenset({bytes([9]) * 32}),
            tags=frozenset({"spam"}),
            follows=frozenset({ANA.public_key}),
        ),
    )
    return StigApp(home, offline=True, clock=clock)


async def _settle(pilot: Pilot[None]) -> None:
    """Wait until the screen is quiet, not for a fixed time: twice in a row, the same screen has
    handled every pending message and no worker (the screen's or the app's) is running but
    those waiting for a dialog's answer (a dialog is shown until answered). A screen starts its
    workers when it mounts, and their results refresh it: one look is not enough."""
    deadline = time.monotonic() + QUIET_WITHIN
    quiet = 0
    while quiet < 2:
        screen = pilot.app.screen
        await pilot.pause()
        busy = [w for w in pilot.app.workers if not w.is_finished]
        if len(busy) <= dialog_waits(pilot.app) and pilot.app.screen is screen:
            quiet += 1
        else:
            quiet = 0
            names = [w.name for w in busy]
            assert time.monotonic() < deadline, (
                f"{screen} is not quiet after {QUIET_WITHIN} s: workers {names} run"
            )
            await pilot.pause(0.02)
        # A blinking cursor is shown or not by the clock: hold it shown.
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        for area in pilot.app.screen.query(TextArea):
            area.cursor_blink = False


def _then(*keys: str) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)

    return run_before


@pytest.mark.parametrize(
    ("screen", "keys"),
    [
        ("feed", ()),
        ("thread", ("enter",)),
        ("compose", ("c",)),
        ("search", ("slash", "o", "n", "i", "o", "n", "s", "enter")),
        ("peers", ("p",)),
        ("contour", ("o",)),
        ("identities", ("i",)),
        ("help", ("question_mark",)),
        ("groups", ("G",)),
        ("invite", ("G", "v")),
        ("mutes", ("M",)),
    ],
)
def test_screen_looks_as_before(
    snap_compare: Any, app: StigApp, screen: str, keys: tuple[str, ...]
) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=_then(*keys)), screen


@pytest.mark.parametrize(
    ("screen", "keys"),
    [
        ("feed", ()),
        ("thread without answers", ("down", "enter")),
        ("fork dialog", ("G", "k")),
        ("compose", ("c",)),
        ("peers", ("p",)),
    ],
)
def test_screen_looks_as_before_at_80x24(
    snap_compare: Any, app: StigApp, screen: str, keys: tuple[str, ...]
) -> None:
    assert snap_compare(app, terminal_size=SMALL, run_before=_then(*keys)), screen


@pytest.mark.parametrize(
    ("screen", "keys"),
    [
        ("feed", ()),
        ("thread", ("enter",)),
        ("compose", ("c",)),
        ("peers", ("p",)),
        ("contour", ("o",)),
        ("identities", ("i",)),
        ("help", ("question_mark",)),
        ("groups", ("G",)),
        ("mutes", ("M",)),
    ],
)
def test_screen_looks_as_before_at_160x45(
    snap_compare: Any, app: StigApp, screen: str, keys: tuple[str, ...]
) -> None:
    assert snap_compare(app, terminal_size=LARGE, run_before=_then(*keys)), screen
