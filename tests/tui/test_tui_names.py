"""Names for people in the terminal UI: N on a row names its author, the name shows wherever
the author does, and stays on this device (names.json)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from stig.node import petnames
from stig.node.home import Home
from stig.tui.dialogs.ask import AskScreen
from stig.tui.screens.thread import ThreadScreen
from tests.tui.homes import ANA, fill, make_home, story
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
