"""The terminal UI driven by Textual's Pilot, over a real SQLite home: each screen's main flow.

A trace arriving from another node comes over the in-memory network from a real MeshNode (the
real-libp2p path is the same MeshNode, tested in tests/mesh).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static, TextArea

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.net.memory_net import MemoryHub
from stig.node.clock import wall_clock
from stig.node.config import Config, NetworkConfig
from stig.node.home import Home
from stig.node.mesh import MeshNode
from stig.store.sqlite import SqliteStore
from stig.tui.app import StigApp
from stig.tui.dialogs.ask import AskScreen
from stig.tui.dialogs.passphrase import PassphraseScreen
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.contour import ContourScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.help import HelpScreen
from stig.tui.screens.identities import IdentitiesScreen
from stig.tui.screens.peers import PeersScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.screens.thread import ThreadScreen
from stig.tui.widgets.trace_table import TraceTable
from tests.tui.homes import ANA, NOW, clock, fill, make_home, story

pytestmark = pytest.mark.timeout(180)

SIZE = (140, 40)
WITHIN = 30.0
"""Seconds a screen may take to settle or show what a test waits for, on a loaded machine."""


@pytest.fixture
async def home(tmp_path: Path) -> Home:
    made = make_home(tmp_path / "home")
    await fill(made, story())
    return made


def app_for(home: Home, **options: object) -> StigApp:
    return StigApp(home, offline=True, clock=clock, **options)  # type: ignore[arg-type]


def dialog_waits(app: App[None]) -> int:
    """How many workers wait for a dialog: each ``push_screen_wait`` leaves an unresolved future
    on the screen it pushed (Textual keeps them in ``Screen._result_callbacks``, with no public
    view)."""
    return sum(
        1
        for screen in app.screen_stack
        for callback in screen._result_callbacks
        if callback.future is not None and not callback.future.done()
    )


async def settle(pilot: Pilot[None]) -> None:
    """Let pending work finish, however long it takes on a loaded machine: twice in a row the
    same screen has handled its messages and every worker still running waits for a dialog
    (those are left waiting). Fails after WITHIN s, naming the workers."""
    deadline = time.monotonic() + WITHIN
    quiet = 0
    while quiet < 2:
        screen = pilot.app.screen
        await pilot.pause()
        busy = [w for w in pilot.app.workers if not w.is_finished]
        if len(busy) <= dialog_waits(pilot.app) and pilot.app.screen is screen:
            quiet += 1
            continue
        quiet = 0
        names = [w.name for w in busy]
        assert time.monotonic() < deadline, f"{screen} still busy after {WITHIN} s: {names}"
        await pilot.pause(0.02)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await settle(pilot)


def rows(app: StigApp) -> list[str]:
    """The bodies in the current screen's trace table; none while a screen without one (the
    composer, a dialog) is on top, as it still is while a slow machine posts."""
    tables = list(app.screen.query(TraceTable))
    return [item.trace.body for item in tables[0].items] if tables else []


def table(app: StigApp) -> TraceTable:
    return app.screen.query_one(TraceTable)


async def highlight(pilot: Pilot[None], text: str) -> None:
    found = table(pilot.app)  # type: ignore[arg-type]
    for row, item in enumerate(found.items):
        if text in item.trace.body:
            found.move_cursor(row=row)
            await settle(pilot)
            return
    raise AssertionError(f"no row with {text!r}")


async def test_feed_opens_on_the_stored_traces_by_intensity(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, FeedScreen)
        bodies = rows(app)
        assert len(bodies) == 4  # the echo is a meta kind: counted, not listed
        assert bodies[0].startswith("Eviction")  # echoed and answered: the most intense
        intensities = [item.intensity for item in table(app).items]
        assert intensities == sorted(intensities, reverse=True)


async def test_compose_posts_and_the_trace_appears_in_the_feed(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        await pilot.press(*"Van needed")
        app.screen.query_one("#tags", Input).value = "food, Logistics"
        app.screen.query_one("#place", Input).value = "u09"
        app.screen.query_one("#ttl", Input).value = "2d"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed again")
        await until(pilot, lambda: "Van needed" in rows(app), "the new trace in the feed")
        posted = next(i.trace for i in table(app).items if i.trace.body == "Van needed")
        assert posted.kind == kinds.CALLOUT
        assert posted.tags == ("food", "logistics")
        assert posted.place == "u09"
        assert posted.expires - posted.created == 2 * 86400
        assert "queued" in str(app.screen.query_one("#status", Static).render())


async def test_compose_shows_a_bad_tag_inline_and_keeps_the_form(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"hello")
        app.screen.query_one("#tags", Input).value = "ok no!good"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        error = str(app.screen.query_one("#compose-error", Static).render())
        assert "bad_tag" in error and "no!good" in error
        assert app.screen.query_one("#body", TextArea).text == "hello"
        await pilot.press("escape", *"yes", "enter")
        await settle(pilot)
        assert "hello" not in rows(app)


async def test_esc_in_compose_with_text_asks_before_discarding(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"half a thought", "escape")
        await settle(pilot)
        assert isinstance(app.screen, AskScreen)  # asked, not gone
        await pilot.press("escape")  # changed my mind: back to the text
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.query_one("#body", TextArea).text == "half a thought"
        await pilot.press("escape", *"no", "enter")  # anything but yes keeps it too
        await settle(pilot)
        assert isinstance(app.screen, ComposeScreen)
        await pilot.press("escape", *"yes", "enter")
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed again")
        assert "half a thought" not in rows(app)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("escape")  # nothing written: nothing to ask
        await until(pilot, lambda: isinstance(app.screen, FeedScreen), "the feed again")


async def test_answer_from_the_thread(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "Eviction")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ThreadScreen)
        assert [item.trace.body for item in table(app).items] == [
            "Four of us will be there at 6:45"
        ]
        await pilot.press("a")
        await settle(pilot)
        compose_screen = app.screen
        assert isinstance(compose_screen, ComposeScreen)
        assert compose_screen.query_one("#kind", Select).value == kinds.ACTION  # answers a call-out
        await pilot.press(*"Coming with two")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread again")
        await until(
            pilot,
            lambda: "Coming with two" in [i.trace.body for i in table(app).items],
            "the answer in the thread",
        )
        answer = next(i.trace for i in table(app).items if i.trace.body == "Coming with two")
        assert answer.refs == (story()[0].id,)
        assert set(answer.tags) == {"housing", "eviction"}


async def test_echo_raises_intensity(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "The march")

        def march() -> float:
            return next(i.intensity for i in table(app).items if "march" in i.trace.body)

        before = march()
        await pilot.press("e")
        await until(pilot, lambda: march() > before, "a higher intensity")
        echoes = next(i.counts.echoes for i in table(app).items if "march" in i.trace.body)
        assert echoes == 1


async def test_retract_hides_an_own_trace(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "Soup kitchen")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press(*"yes", "enter")
        await until(
            pilot,
            lambda: "retracted" in str(app.screen.query_one("#trace", Static).render()),
            "the thread to show the retraction",
        )
        await pilot.press("escape")
        await until(pilot, lambda: not any("Soup" in b for b in rows(app)), "the feed to hide it")


async def test_retracting_someone_elses_trace_is_refused(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await highlight(pilot, "The march")
        await pilot.press("enter", "x")
        await settle(pilot)
        await pilot.press(*"yes", "enter")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert any("march" in body for body in rows(app))


async def test_search_finds(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"onions", "enter")
        await until(pilot, lambda: bool(rows(app)), "results")
        assert rows(app) == ["Soup kitchen needs onions and a van on Thursday"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ThreadScreen)


async def test_filters_narrow_and_a_bad_word_is_explained(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f", *"#housing", "enter")
        await until(pilot, lambda: len(rows(app)) == 2, "two housing traces")
        assert all("housing" in i.trace.tags for i in table(app).items)
        app.screen.query_one("#filter", Input).value = "kind:report @u09"
        await pilot.press("ctrl+f", "enter")
        await until(pilot, lambda: len(rows(app)) == 1, "the report")
        app.screen.query_one("#filter", Input).value = "by:me"
        await pilot.press("ctrl+f", "enter")
        await until(pilot, lambda: rows(app) == [story()[2].body], "my own note")
        app.screen.query_one("#filter", Input).value = "colour:red"
        await pilot.press("ctrl+f", "enter")
        await settle(pilot)
        assert "not a filter word" in str(app.screen.query_one("#filter-error", Static).render())
        assert rows(app) == [story()[2].body]  # the last good filter stays
        await pilot.press("escape")
        await until(pilot, lambda: len(rows(app)) == 4, "everything again")
        # A kind this version does not know is most often a typo: said, with the nearest.
        app.screen.query_one("#filter", Input).value = "kind:calout"
        await pilot.press("ctrl+f", "enter")
        await until(pilot, lambda: rows(app) == [], "nothing to show")
        empty = str(app.screen.query_one("#empty", Static).render())
        assert "kind:calout is not a known kind — did you mean kind:callout?" in empty


async def test_peers_offline_says_how_to_connect(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PeersScreen)
        text = str(app.screen.query_one("#guidance", Static).render())
        assert "offline" in text and "bootstrap" in text and "lan = true" in text


async def test_contour_counts_by_tag_and_place(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, ContourScreen)
        grid = str(app.screen.query_one("#grid", Static).render())
        places = str(app.screen.query_one("#places", Static).render())
        assert "#housing" in grid and "#j20" in grid
        assert "@u09" in places
        assert ANA.public_key.hex()[:8] not in grid + places  # what, not who


async def test_identities_create_and_switch(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, IdentitiesScreen)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"ren", "enter")
        await settle(pilot)
        await pilot.press("enter")  # no passphrase
        await until(pilot, lambda: app.session.persona_name == "ren", "the new persona in use")
        assert "ren" in app.live.local.keyring.names()
        await pilot.press("f", "c")
        await settle(pilot)
        await pilot.press(*"as ren", "ctrl+s")
        await until(pilot, lambda: "as ren" in rows(app), "the post")
        posted = next(i.trace for i in table(app).items if i.trace.body == "as ren")
        assert posted.author == app.live.local.keyring.public_key("ren")


async def test_a_new_persona_with_a_long_name_keeps_the_table_aligned(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i", "n")
        await settle(pilot)
        await pilot.press(*"solidarity-kitchen-crew", "enter", "enter")
        await until(
            pilot, lambda: app.session.persona_name == "solidarity-kitchen-crew", "the persona"
        )
        personas = app.screen.query_one("#personas", DataTable)
        # its column is as wide as the longest name: the next column starts after it
        assert personas.columns["persona"].width >= len("solidarity-kitchen-crew")
        assert personas.get_row("solidarity-kitchen-crew")[0] == "▶"  # in use


async def test_a_passphrase_is_typed_twice_when_set(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i", "n")
        await settle(pilot)
        await pilot.press(*"ren", "enter")
        await settle(pilot)
        await pilot.press(*"one two three", "enter")
        await settle(pilot)
        await pilot.press(*"one two thre", "enter")  # a slip: not taken
        await settle(pilot)
        assert "not the same" in str(app.screen.query_one("#ask-error", Static).render())
        assert "ren" not in app.live.local.keyring.names()
        app.screen.query_one("#answer", Input).value = "one two three"
        await pilot.press("enter")
        await until(pilot, lambda: app.session.persona_name == "ren", "the persona in use")
        assert app.live.local.keyring.is_locked("ren")
        app.live.local.keyring.load("ren", "one two three")  # the passphrase typed twice


async def test_help_lists_the_keys(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, FeedScreen)


async def test_a_trace_from_another_node_appears_by_itself(tmp_path: Path) -> None:
    hub = MemoryHub()
    other_home = Home(tmp_path / "other")
    other_home.create()
    other_store = await SqliteStore.open(other_home.store)
    quiet = NetworkConfig(sync_interval=3600)
    other = MeshNode(other_home, other_store, hub.network("other"), Config(quiet))
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(other.run(stop))
    try:
        await asyncio.wait_for(other.started.wait(), WITHIN)
        home = make_home(tmp_path / "home")
        config = Config(NetworkConfig(bootstrap=(other.addresses[0],), sync_interval=3600))
        app = StigApp(home, network=hub.network("tui"), config=config)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.session.status.connected == 1, "a connected peer")
            assert "1 peer" in str(app.screen.query_one("#status", Static).render())
            trace = compose(ANA, kinds.CALLOUT, "Banner drop at noon", now=wall_clock())
            await other_store.add_durable(trace, wall_clock())
            await until(pilot, lambda: "Banner drop at noon" in rows(app), "the pushed trace")
    finally:
        stop.set()
        await asyncio.wait_for(task, WITHIN)
        await other_store.close()
    assert NOW  # the fixed clock is not used here: the mesh validates against real time


async def test_a_protected_persona_is_unlocked_once(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", passphrase="right horse")
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c", *"first")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PassphraseScreen), "the question")
        await pilot.press(*"wrong", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PassphraseScreen)
        assert "passphrase" in str(app.screen.query_one("#passphrase-error", Static).render())
        await pilot.press(*"right horse", "enter")
        await until(pilot, lambda: "first" in rows(app), "the post")
        await pilot.press("c", *"second", "ctrl+s")
        await until(pilot, lambda: "second" in rows(app), "a second post, not asked again")


async def test_the_mouse_picks_a_row(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).cursor_row == 0
        await pilot.click(TraceTable, offset=(20, 3))  # the header, then rows 0, 1, 2
        await settle(pilot)
        assert table(app).cursor_row == 2
        await pilot.click(TraceTable, offset=(20, 3))  # a second click opens it
        await until(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
