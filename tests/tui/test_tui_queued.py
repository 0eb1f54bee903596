""" "Posts queued" is true across a restart (issue: people in a hurry, item 5): the status line
counts every post of this home not yet acknowledged by a sync — posted from the terminal UI or,
between two runs of it, from the CLI's code path (LocalNode) — and a new run counts them again
from the home, not from memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from stig.crdt import kinds
from stig.node.home import Home
from stig.node.local import Draft, LocalNode
from stig.tui.app import StigApp
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.feed import FeedScreen
from tests.tui.homes import ME, clock, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, app_for, settle, until

pytestmark = pytest.mark.timeout(180)


def status(app: StigApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


async def test_the_queued_count_survives_a_restart_and_counts_cli_posts(tmp_path: Path) -> None:
    home: Home = make_home(tmp_path / "home")
    await fill(home, story())
    first = app_for(home)
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "queued" not in status(first)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(first.screen, ComposeScreen), "compose")
        await pilot.press(*"Van needed")
        first.screen.query_one("#tags", Input).value = "food"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(first.screen, FeedScreen), "the feed again")
        await until(pilot, lambda: "1 post queued" in status(first), "one post queued")
    async with LocalNode.open(home, clock=clock) as node:  # what `stig post` does
        await node.post(Draft(kinds.NOTE, "from the command line"), ME)
    second = app_for(home)
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await until(pilot, lambda: "2 posts queued" in status(second), "two posts queued")
