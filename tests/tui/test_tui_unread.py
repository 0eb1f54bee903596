"""Unread: traces that arrived since the person last looked are marked in the feed and counted
on the status line; the marks survive a restart; opening a trace, or r, clears them."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.node.home import Home
from stig.store.sqlite import SqliteStore
from stig.tui.app import StigApp
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.thread import ThreadScreen
from stig.tui.widgets.trace_table import NEW_MARK, TraceTable
from tests.tui.homes import ANA, BEN, ME, NOW, clock, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, highlight, settle, until

pytestmark = pytest.mark.timeout(120)

BANNER = compose(ANA, kinds.CALLOUT, "Banner drop at noon", now=NOW - 600, tags=("j20",))
VAN = compose(BEN, kinds.REPORT, "The van is at the depot", now=NOW - 300)
MINE = compose(ME, kinds.NOTE, "Posted from this device elsewhere", now=NOW - 200)
ECHO = compose(BEN, kinds.ECHO, now=NOW - 100, refs=(story()[0].id,))


def status(app: StigApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def marked(app: StigApp) -> set[str]:
    table = app.screen.query_one(TraceTable)
    return {
        item.trace.body
        for row, item in enumerate(table.items)
        if table.get_row_at(row)[0].plain.count(NEW_MARK.strip())
    }


async def arrive(home: Home, *traces: object) -> None:
    store = await SqliteStore.open(home.store)
    try:
        await store.add(list(traces), NOW)  # type: ignore[arg-type]
    finally:
        await store.close()


async def test_new_traces_are_marked_counted_and_kept_across_a_restart(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, story())
    async with StigApp(home, offline=True, clock=clock).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "new" not in status(pilot.app)  # a first look: what is here counts as seen
        assert marked(pilot.app) == set()  # type: ignore[arg-type]

    # While the app was closed: two traces from others, one of mine, an echo (not listed).
    await arrive(home, BANNER, VAN, MINE, ECHO)

    app = StigApp(home, offline=True, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "2 new" in status(app), "two new")
        await until(pilot, lambda: marked(app) == {BANNER.body, VAN.body}, "the marks")
        # one more arrives while it runs (from the mesh, or `stig post` in another terminal)
        late = compose(ANA, kinds.NOTE, "Doors open at 6", now=NOW - 50)
        await arrive(home, late)
        await until(pilot, lambda: "3 new" in status(app), "three new")
        await until(pilot, lambda: late.body in marked(app), "the late one marked")

    app = StigApp(home, offline=True, clock=clock)  # restarted: the marks are still there
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "3 new" in status(app), "three new after a restart")
        await until(pilot, lambda: len(marked(app)) == 3, "the marks after a restart")
        await highlight(pilot, "Banner drop")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed")
        await until(pilot, lambda: "2 new" in status(app), "one read")
        await until(pilot, lambda: marked(app) == {VAN.body, "Doors open at 6"}, "its mark gone")

    app = StigApp(home, offline=True, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "2 new" in status(app), "still two new")
        await pilot.press("r")
        await until(pilot, lambda: "new" not in status(app), "all read")
        await until(pilot, lambda: marked(app) == set(), "no marks")

    app = StigApp(home, offline=True, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "new" not in status(app) and marked(app) == set()


async def test_a_burn_that_arrives_takes_back_what_was_new(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, story())
    async with StigApp(home, offline=True, clock=clock).run_test(size=SIZE) as pilot:
        await settle(pilot)
    await arrive(home, BANNER, VAN)
    app = StigApp(home, offline=True, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "2 new" in status(app), "two new")
        await arrive(home, compose(ANA, kinds.BURN, now=NOW - 10))
        await until(pilot, lambda: "1 new" in status(app), "one new: Ana burned hers")
        await until(pilot, lambda: marked(app) == {VAN.body}, "her mark gone")
