"""Snapshots of the main screens (pytest-textual-snapshot): a fixed clock and fixed keys make
them the same on every run. After an intended change of look, review the new pictures and run
``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from stig.crypto.group import day_of, invite_code
from stig.node.groups import Groups
from stig.tui.app import StigApp
from tests.tui.homes import NOW, clock, fill, make_home, story

pytestmark = pytest.mark.timeout(60)

SIZE = (120, 36)


@pytest.fixture
def app() -> StigApp:
    # A fixed path: the Peers screen shows where config.toml is.
    root = Path(tempfile.gettempdir()) / "stig-tui-snapshot"
    shutil.rmtree(root, ignore_errors=True)
    home = make_home(root / "home")
    asyncio.run(fill(home, story()))
    # groups with fixed keys: the Groups screen and the invite's code and QR are the same too
    today = day_of(NOW)
    groups = Groups(home.groups)
    groups.join("neighbours", invite_code(bytes(32), today), today)
    groups.join("legal-team", invite_code(bytes([1]) * 32, today), today)
    return StigApp(home, offline=True, clock=clock)


async def _settle(pilot: Pilot[None]) -> None:
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


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
    ],
)
def test_screen_looks_as_before(
    snap_compare: Any, app: StigApp, screen: str, keys: tuple[str, ...]
) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=_then(*keys)), screen
