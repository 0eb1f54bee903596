"""The panic buttons in the terminal UI and stig's commands in the palette: burn (Identities,
B) hides what the persona posted; wipe (Identities, W) erases the device and ends the app;
each needs its typed word, and a wrong word does nothing. The palette (ctrl+p) lists stig's
actions and runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from stig.crypto.group import day_of, invite_code
from stig.node.groups import Groups
from stig.node.home import Home
from stig.node.keyring import Keyring
from stig.tui.app import StigApp
from stig.tui.dialogs.ask import AskScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.identities import IdentitiesScreen
from tests.tui.homes import ME, NOW, clock, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, rows, settle, until
from tests.tui.test_tui_wipe import exited

pytestmark = pytest.mark.timeout(120)

MINE = "Soup kitchen needs onions and a van on Thursday"


@pytest.fixture
async def home(tmp_path: Path) -> Home:
    made = make_home(tmp_path / "home")
    await fill(made, story())
    today = day_of(NOW)
    Groups(made.groups).join("neighbours", invite_code(bytes(32), today), today)
    made.transport_seed()  # the libp2p identity a wipe must erase too
    return made


def app_for(home: Home) -> StigApp:
    return StigApp(home, offline=True, clock=clock)


async def answer(pilot: Pilot[None], word: str) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, AskScreen), "the question")
    await pilot.press(*word, "enter")
    await settle(pilot)


async def test_burn_from_identities_hides_what_the_persona_posted(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert MINE in rows(app)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, IdentitiesScreen)
        await pilot.press("B")
        await answer(pilot, "yes")  # not the word: nothing happens
        assert isinstance(app.screen, IdentitiesScreen)
        await pilot.press("f")
        await settle(pilot)
        assert MINE in rows(app)
        await pilot.press("i", "B")
        await answer(pilot, "burn")
        await pilot.press("f")
        await until(pilot, lambda: MINE not in rows(app), "my note gone from the feed")
        assert len(rows(app)) == 3  # the others' traces stay
        burned = await app.live.local.feed()
        assert all(item.trace.author != ME.public_key for item in burned)


async def test_wipe_from_identities_erases_the_device_and_exits(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i", "W")
        await answer(pilot, "wip")  # not the word
        assert isinstance(app.screen, IdentitiesScreen)
        assert home.exists() and Keyring(home.personas).names() == ["me"]
        assert home.seen_file.exists()  # how far it was read (stig.tui.unread)
        await pilot.press("W")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the question")
        await pilot.press(*"wipe", "enter")
        await exited(app)
    assert not home.exists()
    assert not any(path.exists() for path in home.store_files)
    assert Keyring(home.personas).names() == []
    assert Groups(home.groups).names() == []
    assert not home.transport_key.exists()
    assert not home.seen_file.exists()


def palette_titles(app: StigApp) -> list[str]:
    found = app.screen.query_one(CommandList)
    # each option is the title, then its help on a second line
    return [
        str(found.get_option_at_index(i).prompt).split("\n")[0] for i in range(found.option_count)
    ]


async def test_the_palette_lists_stigs_commands_and_runs_them(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await until(pilot, lambda: "Wipe this device…" in palette_titles(app), "hits")
        titles = palette_titles(app)
        for title in (
            "Compose a trace",
            "Connect to a peer…",
            "Groups",
            "Peers",
            "Mutes",
            "Identities",
            "Show group neighbours",
            "Burn persona me…",
            "Wipe this device…",
        ):
            assert title in titles
        await pilot.press(*"group neighbours")
        await until(
            pilot, lambda: palette_titles(app)[:1] == ["Show group neighbours"], "the command"
        )
        await pilot.press("enter")
        await until(pilot, lambda: app.session.group == "neighbours", "the group shown")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed")
        await until(pilot, lambda: rows(app) == [], "the group's (empty) feed")

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"compose")
        await until(pilot, lambda: palette_titles(app)[:1] == ["Compose a trace"], "compose")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ComposeScreen", "compose")


async def test_burn_from_the_palette_asks_for_its_word(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"burn persona")
        await until(pilot, lambda: palette_titles(app)[:1] == ["Burn persona me…"], "burn")
        await pilot.press("enter")
        await answer(pilot, "burn")
        await until(pilot, lambda: MINE not in rows(app), "my note gone from the feed")
