"""Moderation with no moderator, in the terminal UI (Pilot over real homes): mute a row's author
(and undo), in the feed, search and a thread; follow a friend's published mutes; the Mutes
screen lists what is hidden and removes it; an anonymous group post names no one to mute.
Nothing of it is sent: it all lives in mutes.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.crdt.mutes import mute_body
from stig.crdt.trace import Trace
from stig.crypto.group import day_of
from stig.crypto.persona import Persona
from stig.node import mute_list
from stig.node.home import Home
from stig.node.local import Draft
from stig.node.mute_list import MuteList
from stig.tui.app import StigApp
from stig.tui.dialogs.ask import AskScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.mutes import MutesScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.screens.thread import ThreadScreen
from tests.tui.homes import ANA, BEN, ME, NOW, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, app_for, highlight, rows, settle, table, until

pytestmark = pytest.mark.timeout(180)

ABE = Persona("abe", bytes([3]) * 32)
"""Someone the friend (ana) mutes in public."""


def notes(app: StigApp) -> str:
    """Every notification shown so far, one a line."""
    return "\n".join(note.message for note in app._notifications)


def muted_here(home: Home) -> MuteList:
    return mute_list.load(home.mutes_file)


@pytest.fixture
async def home(tmp_path: Path) -> Home:
    made = make_home(tmp_path / "home")
    await fill(made, story())
    return made


def has_ben(app: StigApp) -> bool:
    return any(item.trace.author == BEN.public_key for item in table(app).items)


async def test_mute_from_the_feed_hides_the_author_undo_and_restart(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert has_ben(app)
        await highlight(pilot, "The march")  # ben's
        await pilot.press("m")
        await until(pilot, lambda: not has_ben(app), "ben's traces gone from the feed")
        assert rows(app) == [story()[0].body, story()[2].body]
        assert f"muted {BEN.public_key.hex()[:12]} — press u to undo" in notes(app)
        # ben's answer no longer counts towards the call-out, as shown here
        assert table(app).items[0].counts.answers == 0
        assert muted_here(home).authors == {BEN.public_key}

        await pilot.press("u")
        await until(pilot, lambda: has_ben(app), "ben's traces back")
        assert len(rows(app)) == 4
        assert table(app).items[0].counts.answers == 1
        assert not muted_here(home)

        await highlight(pilot, "Four of us")
        await pilot.press("m")
        await until(pilot, lambda: not has_ben(app), "ben muted again")

        # Never one of this device's own personas: it says so, and nothing changes.
        await highlight(pilot, "Soup kitchen")
        await pilot.press("m")
        await until(pilot, lambda: "your persona me" in notes(app), "the refusal")
        assert story()[2].body in rows(app)
        assert muted_here(home).authors == {BEN.public_key}

    # The mute survives a restart: it is in mutes.json, not in the session.
    again = app_for(home)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert rows(again) == [story()[0].body, story()[2].body]
        await pilot.press("u")  # undo is for the session's last mute
        await until(pilot, lambda: "no mute to undo" in notes(again), "nothing to undo")
        assert not has_ben(again)


async def test_mute_from_search_and_from_a_threads_answers(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search")
        await pilot.press(*"march", "enter")
        await until(pilot, lambda: bool(rows(app)), "the march found")
        await pilot.press("m")
        await until(pilot, lambda: rows(app) == [], "the search to hide ben")
        await pilot.press("u")
        await until(pilot, lambda: bool(rows(app)), "ben found again")

        await pilot.press("f")
        await settle(pilot)
        await highlight(pilot, "Eviction")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
        await until(pilot, lambda: rows(app) == [story()[3].body], "ben's answer")
        table(app).focus()  # the answers, not the trace itself
        await until(pilot, lambda: table(app).has_focus, "the answers focused")
        await pilot.press("m")
        await until(pilot, lambda: rows(app) == [], "ben's answer hidden")
        assert "press ctrl+z to undo" in notes(app)
        trace = str(app.screen.query_one("#trace", Static).render())
        assert "0 answers" in trace  # ana's call-out is still shown; ben's answer not counted
        await pilot.press("ctrl+z")
        await until(pilot, lambda: rows(app) == [story()[3].body], "ben's answer back")


def friend_mutes_abe() -> list[Trace]:
    """The story, plus an abuser's call-out and the friend's published mute of the abuser."""
    abuse = compose(ABE, kinds.CALLOUT, "hateful call-out", now=NOW - 4 * 3600, tags=("bait",))
    muted = compose(
        ANA, kinds.MUTE, mute_body(ABE.public_key, "threats"), now=NOW - 3600, refs=(abuse.id,)
    )
    return [*story(), abuse, muted]


async def test_follow_a_friends_mutes_and_the_abuser_vanishes(tmp_path: Path) -> None:
    mine = make_home(tmp_path / "mine")
    await fill(mine, friend_mutes_abe())
    app = app_for(mine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "hateful call-out" in rows(app)
        await highlight(pilot, "Eviction")  # ana's, the friend
        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the confirmation")
        await settle(pilot)
        question = str(app.screen.query_one("Label").render())
        assert "Nobody is told" in question and ANA.public_key.hex()[:12] in question
        await pilot.press("escape")  # not yet: nothing changes
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed")
        assert not muted_here(mine)

        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the confirmation again")
        await settle(pilot)
        await pilot.press(*"yes", "enter")
        await until(pilot, lambda: "hateful call-out" not in rows(app), "the abuser hidden")
        assert muted_here(mine) == MuteList(follows=frozenset({ANA.public_key}))
        assert "1 author hidden by the mutes you follow" in notes(app)
        assert story()[0].body in rows(app)  # the friend stays; only whom they muted goes

    # A third node that follows no one still shows the abuser.
    third = make_home(tmp_path / "third")
    await fill(third, friend_mutes_abe())
    other = app_for(third)
    async with other.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "hateful call-out" in rows(other)


def mutes_rows(app: StigApp) -> list[str]:
    found = app.screen.query_one("#mutes", DataTable)
    return [str(key.value) for key in found.rows]


async def test_the_mutes_screen_lists_and_removes(home: Home) -> None:
    mute_list.save(
        home.mutes_file,
        MuteList(
            authors=frozenset({BEN.public_key}),
            tags=frozenset({"food"}),
            follows=frozenset({ANA.public_key}),
        ),
    )
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert rows(app) == [story()[0].body]  # ben muted, the soup kitchen tagged #food
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, MutesScreen), "the mutes screen")
        await until(pilot, lambda: len(mutes_rows(app)) == 3, "three rows")
        assert mutes_rows(app) == [
            f"author:{BEN.public_key.hex()}",
            "tag:food",
            f"follows:{ANA.public_key.hex()}",
        ]
        summary = str(app.screen.query_one("#mutes-summary", Static).render())
        assert summary.startswith("1 author hidden here")

        await pilot.press("x")  # the first row: ben
        await until(pilot, lambda: len(mutes_rows(app)) == 2, "ben's row gone")
        assert BEN.public_key not in muted_here(home).authors
        await pilot.press("delete")  # now the tag
        await until(pilot, lambda: mutes_rows(app) == [f"follows:{ANA.public_key.hex()}"], "tag")
        await pilot.press("x")
        await until(pilot, lambda: mutes_rows(app) == [], "nothing left")
        assert not muted_here(home)
        assert "Nothing muted" in str(app.screen.query_one("#mutes-empty", Static).render())

        # add a tag, and try one's own persona
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the tag question")
        await settle(pilot)
        await pilot.press(*"#Housing", "enter")
        await until(pilot, lambda: mutes_rows(app) == ["tag:housing"], "the tag listed")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AskScreen), "the author question")
        await settle(pilot)
        await pilot.press(*ME.name, "enter")
        await until(pilot, lambda: "your persona me" in notes(app), "the refusal")
        assert muted_here(home) == MuteList(tags=frozenset({"housing"}))

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed")
        await until(
            pilot,
            lambda: set(rows(app)) == {story()[1].body, story()[2].body},
            "the feed without #housing",
        )


async def test_an_anonymous_group_post_names_no_one_to_mute(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.live.local.groups.new("crew", day_of(NOW))
        me = app.live.local.keyring.load("me")
        await app.live.post(Draft(kinds.NOTE, "Unsigned plan"), me, group="crew", anonymous=True)
        await pilot.press("g")  # the next space: crew
        await until(pilot, lambda: rows(app) == ["Unsigned plan"], "the group's feed")
        await pilot.press("m")
        await until(pilot, lambda: "anonymously" in notes(app), "the refusal")
        await pilot.press("F")
        await settle(pilot)
        assert not isinstance(app.screen, AskScreen)  # nothing to confirm
        assert rows(app) == ["Unsigned plan"]
        assert not muted_here(home)
