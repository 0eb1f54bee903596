"""A watched trace arriving while the terminal UI is open raises a toast and the bell, on any
screen (issue: people in a hurry, item 2); what does not match, what is muted, and what was
there before the UI opened do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.node import mute_list, watch_list
from stig.node.home import Home
from stig.node.mute_list import MuteList
from stig.tui.app import StigApp
from stig.tui.screens.contour import ContourScreen
from tests.tui.homes import ANA, BEN, NOW, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, app_for, settle, until

pytestmark = pytest.mark.timeout(180)


def notes(app: StigApp) -> list[str]:
    return [note.message for note in app._notifications]


@pytest.fixture
async def home(tmp_path: Path) -> Home:
    made = make_home(tmp_path / "home")
    await fill(made, story())
    watch_list.save(made.watches_file, ["kind:callout #housing"])
    return made


async def test_a_watched_call_out_raises_a_toast_and_the_bell_on_another_screen(
    home: Home,
) -> None:
    app = app_for(home)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")  # the Contour screen
        await until(pilot, lambda: isinstance(app.screen, ContourScreen), "the contour screen")
        assert notes(app) == [] and bells == []  # what was there before is not news
        urgent = compose(ANA, kinds.CALLOUT, "URGENT eviction, 7am", now=NOW + 60, tags=["housing"])
        other = compose(ANA, kinds.CALLOUT, "a concert", now=NOW + 60, tags=["music"])
        muted = compose(BEN, kinds.CALLOUT, "muted voice", now=NOW + 60, tags=["housing"])
        mute_list.save(home.mutes_file, MuteList(authors=frozenset({BEN.public_key})))
        await fill(home, [other, urgent, muted])  # as another process (the mesh) stores them
        await until(pilot, lambda: any("URGENT" in n for n in notes(app)), "the toast")
        await settle(pilot)
        assert isinstance(app.screen, ContourScreen)
        assert [n for n in notes(app) if "callout" in n] == [
            "callout (kind:callout #housing): URGENT eviction, 7am"
        ]
        assert bells == [1]


async def test_the_bell_can_be_turned_off(home: Home) -> None:
    (home.root / "config.toml").write_text("[notify]\nbell = false\n")
    app = app_for(home)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await fill(home, [compose(ANA, kinds.CALLOUT, "again", now=NOW + 90, tags=["housing"])])
        await until(pilot, lambda: any("again" in n for n in notes(app)), "the toast")
        assert bells == []
