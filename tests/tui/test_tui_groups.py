"""Affinity groups in the terminal UI, driven by Pilot over real homes: make a group, post to it
(also as "a member of" it), read it only there; a second home joins with the invite code and
reads what was carried; a bad code, leaving, forking."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import segno
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Select, Static, TextArea

from stig.crdt import kinds
from stig.crypto.group import day_of, invite_code, read_invite
from stig.filter_words import FilterError
from stig.node.groups import Groups
from stig.node.local import Draft
from stig.store.port import ExportFilter
from stig.tui.app import StigApp
from stig.tui.dialogs.ask import AskScreen
from stig.tui.dialogs.invite import InviteScreen
from stig.tui.filters import split_group
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.groups import GroupsScreen
from stig.tui.screens.thread import ThreadScreen
from stig.tui.widgets.qr import QUIET, qr_text
from tests.tui.homes import BEN, NOW, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, WITHIN, app_for, highlight, rows

pytestmark = pytest.mark.timeout(180)

TODAY = day_of(NOW)


def text_of(app: StigApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def soon(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` in small steps (``settle`` waits on workers, and a worker
    waiting for a dialog holds it up)."""
    deadline = time.monotonic() + WITHIN
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def on(app: StigApp, screen: type) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, screen)


def says(app: StigApp, selector: str, words: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return words in text_of(app, selector)
        except NoMatches:
            return False

    return check


def listed(app: StigApp) -> list[str]:
    """The groups the Groups screen lists, by name."""
    if not isinstance(app.screen, GroupsScreen):
        return []
    table = app.screen.query_one("#groups", DataTable)
    return [str(key.value) for key in table.rows]


async def compose_in(pilot: Pilot[None], app: StigApp, body: str, anonymous: bool = False) -> None:
    """Post ``body`` from the compose screen to wherever it defaults to."""
    await pilot.press("c")
    await soon(pilot, on(app, ComposeScreen), "the compose screen")
    app.screen.query_one("#body", TextArea).load_text(body)  # typing is tested elsewhere
    if anonymous:
        app.screen.query_one("#anonymous", Checkbox).value = True
    await pilot.press("ctrl+s")
    await soon(pilot, on(app, FeedScreen), "the feed again")
    await soon(pilot, lambda: body in rows(app), "the post in the feed")


def test_qr_text_draws_the_code_module_for_module() -> None:
    code = invite_code(bytes(32), TODAY)
    drawn = qr_text(code).plain.split("\n")
    modules = [
        [bool(m) for m in row]
        for row in segno.make(code.upper(), micro=False).matrix_iter(scale=1, border=QUIET)
    ]
    top = {"█": True, "▀": True, "▄": False, " ": False}
    bottom = {"█": True, "▀": False, "▄": True, " ": False}
    back = []
    for line in drawn:
        back.append([top[c] for c in line])
        back.append([bottom[c] for c in line])
    assert back[: len(modules)] == modules
    assert read_invite(code.upper()) == read_invite(code)  # what a phone reads back works


def test_group_word_in_the_filter_line() -> None:
    assert split_group("#food group:crew @u09", ["crew"]) == ("crew", "#food @u09")
    assert split_group("group:public", ["crew"]) == ("", "")
    assert split_group("#food", ["crew"]) == (None, "#food")
    with pytest.raises(FilterError, match="no group by that name"):
        split_group("group:nope", ["crew"])


async def test_a_group_post_is_read_in_the_group_only(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, story())
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await soon(pilot, lambda: len(rows(app)) == 4, "the public feed")
        await pilot.press("G")
        await soon(pilot, on(app, GroupsScreen), "the groups screen")
        await pilot.press("n")
        await soon(pilot, on(app, AskScreen), "the name question")
        await pilot.press(*"crew", "enter")
        await soon(pilot, lambda: app.live.local.groups.names() == ["crew"], "the group")
        await soon(pilot, on(app, GroupsScreen), "the groups screen")
        await soon(pilot, lambda: "crew" in listed(app), "the group listed")
        await pilot.press("enter")  # show it in the feed
        await soon(pilot, on(app, FeedScreen), "the feed")
        assert app.session.group == "crew"
        await soon(pilot, says(app, "#status", "group crew"), "the space in the status line")
        assert app.screen.query_one("#space", Select).value == "crew"
        await soon(pilot, lambda: rows(app) == [], "the empty group feed")

        await compose_in(pilot, app, "Meet at the back door")
        await compose_in(pilot, app, "I can bring the keys", anonymous=True)
        assert len(rows(app)) == 2

        await highlight(pilot, "keys")
        await pilot.press("enter")
        await soon(pilot, says(app, "#trace", "a member of crew"), "the anonymous author")
        await pilot.press("escape")
        await soon(pilot, on(app, FeedScreen), "the feed")
        await highlight(pilot, "back door")
        await pilot.press("enter")
        await soon(pilot, says(app, "#trace", "by you (me)"), "the author")
        assert "in group crew" in text_of(app, "#trace")
        await pilot.press("x")  # no retraction inside a group, said before asking
        await soon(pilot, lambda: bool(app._notifications), "the refusal")
        assert on(app, ThreadScreen)()
        await pilot.press("escape")
        await soon(pilot, on(app, FeedScreen), "the feed")

        await pilot.press("g")  # back to the public space
        await soon(pilot, lambda: len(rows(app)) == 4, "the public feed")
        assert app.session.group is None
        assert not any("door" in body or "keys" in body for body in rows(app))
        await soon(pilot, says(app, "#status", "in public"), "the space in the status line")

        app.screen.query_one("#filter", Input).value = "group:crew"
        await pilot.press("ctrl+f", "enter")
        await soon(pilot, lambda: len(rows(app)) == 2, "the group feed by the filter line")
        assert app.session.group == "crew"


async def test_a_second_home_joins_with_the_invite_and_reads_what_was_carried(
    tmp_path: Path,
) -> None:
    ana = make_home(tmp_path / "ana")
    app = app_for(ana)
    bundle = tmp_path / "carried.stig"
    async with app.run_test(size=SIZE) as pilot:
        app.live.local.groups.new("crew", TODAY)
        me = app.live.local.keyring.load("me")
        await app.live.post(Draft(kinds.NOTE, "Signed plan"), me, group="crew")
        await app.live.post(Draft(kinds.NOTE, "Unsigned plan"), me, group="crew", anonymous=True)
        await pilot.press("G")
        await soon(pilot, lambda: "crew" in listed(app), "the group listed")
        await pilot.press("v")
        await soon(pilot, on(app, InviteScreen), "the invite")
        code = text_of(app, "#invite-code")
        assert code.startswith("stig-group1-")
        assert "█" in text_of(app, "#invite-qr")
        await app.live.local.export(bundle, ExportFilter())
    assert b"plan" not in bundle.read_bytes()  # only sealed envelopes travel

    ben = make_home(tmp_path / "ben", BEN)
    app = app_for(ben)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("G")
        await soon(pilot, on(app, GroupsScreen), "the groups screen")
        await pilot.press("j")
        await soon(pilot, on(app, AskScreen), "the code question")
        app.screen.query_one("#answer", Input).value = "stig-group1-aaaa"
        await pilot.press("enter")
        await soon(pilot, says(app, "#ask-error", "cut short"), "the bad code refused inline")
        app.screen.query_one("#answer", Input).value = code
        await pilot.press("enter")
        await soon(pilot, says(app, "Label", "Name it on this device"), "the name question")
        await pilot.press(*"friends", "enter")
        await soon(pilot, lambda: app.live.local.groups.names() == ["friends"], "joined")
        await app.live.local.import_bundle(bundle)  # as if from a USB stick or the mesh
        await soon(pilot, lambda: "friends" in listed(app), "the group listed")
        await pilot.press("enter")
        await soon(pilot, lambda: len(rows(app)) == 2, "the carried group posts")
        await highlight(pilot, "Unsigned")
        await pilot.press("enter")
        await soon(pilot, says(app, "#trace", "a member of friends"), "the anonymous author")
        await pilot.press("escape", "g")
        await soon(pilot, lambda: app.session.group is None, "the public space")
        await soon(pilot, lambda: rows(app) == [], "no readable trace in public")


async def test_leave_and_fork(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    groups = Groups(home.groups)
    groups.new("crew", TODAY)
    groups.new("old", TODAY)
    before = groups.invite("crew", TODAY)
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await soon(pilot, on(app, FeedScreen), "the feed")
        app.action_show_space("old")
        await pilot.press("G")
        await soon(pilot, lambda: "old" in listed(app), "the groups listed")
        await pilot.press("down", "l")  # the second row: old
        await soon(pilot, on(app, AskScreen), "the question")
        await pilot.press(*"no", "enter")
        await soon(pilot, on(app, GroupsScreen), "the groups screen")
        assert app.live.local.groups.names() == ["crew", "old"]  # only yes leaves
        await pilot.press("l")
        await soon(pilot, on(app, AskScreen), "the question")
        await pilot.press(*"yes", "enter")
        await soon(pilot, lambda: app.live.local.groups.names() == ["crew"], "old left")
        assert app.session.group is None  # the feed no longer shows what was left
        assert not (home.groups / "old").exists()

        await soon(pilot, lambda: listed(app) == ["crew"], "the list without it")
        await pilot.press("k")
        await soon(pilot, on(app, AskScreen), "the question")
        await pilot.press(*"yes", "enter")
        await soon(pilot, on(app, InviteScreen), "the new code")
        after = text_of(app, "#invite-code")
        assert after.startswith("stig-group1-") and after != before
        assert app.live.local.groups.invite("crew", TODAY) == after
        await pilot.press("escape")
        await soon(pilot, on(app, GroupsScreen), "the groups screen")

        await pilot.press("j")
        await soon(pilot, on(app, AskScreen), "the code question")
        app.screen.query_one("#answer", Input).value = before
        await pilot.press("enter")
        await soon(pilot, says(app, "Label", "Name it"), "the name question")
        await pilot.press(*"crew", "enter")  # a name in use: said in the dialog
        await soon(pilot, says(app, "#ask-error", "exists already"), "the name refused")
        await pilot.press("escape")
        await soon(pilot, on(app, GroupsScreen), "the groups screen")
        assert app.live.local.groups.names() == ["crew"]
