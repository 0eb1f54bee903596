"""A watched trace arriving while the terminal UI is open raises a toast and the bell, on any
screen (issue: people in a hurry, item 2); what does not match, what is muted, and what was
there before the UI opened do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.node import mute_list, watch_list
from stig.node.home import Home
from stig.node.mute_list import MuteList
from stig.tui.app import StigApp
from stig.tui.dialogs.ask import AskScreen
from stig.tui.dialogs.watch import WatchScreen
from stig.tui.screens.contour import ContourScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.watching import row_words
from tests.tui.homes import ANA, BEN, NOW, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, app_for, highlight, settle, until

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


@pytest.fixture
async def unwatched(tmp_path: Path) -> Home:
    made = make_home(tmp_path / "home")
    await fill(made, story())
    return made


async def test_w_on_a_row_watches_it_and_a_match_from_another_writer_toasts_on_contour(
    unwatched: Home,
) -> None:
    home = unwatched
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "Eviction")  # a callout tagged #eviction #housing, @u09t
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WatchScreen), "the watch dialog")
        await pilot.press("enter")  # what it offers first: its kind and its first tag
        await until(pilot, lambda: watch_list.load(home.watches_file) != [], "the watch kept")
        assert watch_list.load(home.watches_file) == ["kind:callout #eviction"]
        assert any("watching kind:callout #eviction" in n for n in notes(app))
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ContourScreen), "the contour screen")
        match = compose(ANA, kinds.CALLOUT, "eviction now", now=NOW + 60, tags=["eviction"])
        other = compose(ANA, kinds.REPORT, "eviction report", now=NOW + 60, tags=["eviction"])
        await fill(home, [other, match])  # another store handle on the same home
        await until(pilot, lambda: any("eviction now" in n for n in notes(app)), "the toast")
        assert isinstance(app.screen, ContourScreen)
        assert not any("eviction report" in n for n in notes(app))


async def test_the_filter_and_the_palette_add_watches(unwatched: Home) -> None:
    home = unwatched
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("full_stop", *"kind:report @u09", "enter")
        await settle(pilot)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WatchScreen), "the watch dialog")
        await pilot.press("enter")  # the filter's words, chosen alone
        await until(pilot, lambda: watch_list.load(home.watches_file) != [], "the watch kept")
        assert watch_list.load(home.watches_file) == ["kind:report @u09"]
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed")
        app.action_watch()  # what the palette's "Watch…" runs
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the question")
        await pilot.press(*"kind:calout", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AskScreen)  # refused in the dialog, with the reason
        why = str(app.screen.query_one("#ask-error", Static).render())
        assert "did you mean kind:callout?" in why
        app.screen.query_one(Input).value = "#j20"
        await pilot.press("enter")
        await until(pilot, lambda: len(watch_list.load(home.watches_file)) == 2, "the second")
        assert watch_list.load(home.watches_file)[1] == "#j20"


def test_a_row_offers_its_kind_tags_and_place_and_the_filter_alone() -> None:
    eviction = story()[0]
    assert row_words(eviction) == [
        ("its kind: callout", "kind:callout", True),
        ("its tag #eviction", "#eviction", True),
        ("its tag #housing", "#housing", False),
        ("its place @u09t", "@u09t", False),
    ]
    assert row_words(eviction, "#j20")[0] == ("what the filter says: #j20", "#j20", True)
    assert not any(chosen for _, _, chosen in row_words(eviction, "#j20")[1:])
