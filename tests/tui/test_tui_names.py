"""Names for people in the terminal UI: N on a row names its author, the name shows wherever
the author does, and stays on this device (names.json)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from stig.node import mute_list, petnames
from stig.node.home import Home
from stig.node.mute_list import MuteList
from stig.node.petnames import Petnames
from stig.tui.dialogs.ask import AskScreen
from stig.tui.screens.mutes import MutesScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.screens.thread import ThreadScreen
from stig.tui.widgets.trace_table import TraceTable
from tests.tui.homes import ANA, BEN, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, app_for, highlight, settle, until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def home(tmp_path: Path) -> Home:
    made = make_home(tmp_path / "home")
    await fill(made, story())
    return made


async def test_n_names_the_author_and_the_thread_shows_the_name(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "Eviction")
        await pilot.press("N")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the naming dialog")
        app.screen.query_one(Input).value = "ana-from-the-squat"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: petnames.load(home.names_file).name_of(ANA.public_key) is not None,
            "the name to be kept",
        )
        assert petnames.load(home.names_file).name_of(ANA.public_key) == "ana-from-the-squat"
        await highlight(pilot, "Eviction")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
        await settle(pilot)
        shown = str(app.screen.query_one("#trace", Static).render())
        assert "by ana-from-the-squat" in shown


async def test_a_bad_name_is_refused_in_the_dialog_and_own_personas_keep_theirs(
    home: Home,
) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "Eviction")
        await pilot.press("N")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the naming dialog")
        app.screen.query_one(Input).value = "#tag"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AskScreen)  # still asking, with the reason shown
        assert "cannot start with" in str(app.screen.query_one("#ask-error", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert not home.names_file.exists()


def _lines(table: TraceTable) -> list[str]:
    return [table.get_row_at(row)[0].plain for row in range(table.row_count)]


async def test_a_name_shows_in_the_feed_search_results_and_the_mutes_screen(home: Home) -> None:
    petnames.save(home.names_file, Petnames({ANA.public_key: "ana-squat", BEN.public_key: "ben"}))
    mute_list.save(home.mutes_file, MuteList(follows=frozenset({ANA.public_key})))
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        feed = _lines(app.screen.query_one(TraceTable))
        assert any("ana-squat" in line and "Eviction" in line for line in feed)
        assert any("you (me)" in line and "Soup kitchen" in line for line in feed)
        await pilot.press("slash", *"eviction", "enter")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search")
        results = app.screen.query_one(TraceTable)
        await until(pilot, lambda: bool(results.items), "the results")
        assert any("ana-squat" in line for line in _lines(results))
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, MutesScreen), "the mutes")
        await settle(pilot)
        mutes = app.screen.query_one("#mutes", DataTable)
        so = [str(mutes.get_row_at(row)[2]) for row in range(mutes.row_count)]
        assert so == ["ana-squat: whom they mute is hidden"]
