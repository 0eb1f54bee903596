"""Mutes: what this device hides — authors and tags muted here, and the personas whose published
mutes it follows; remove any of them, mute an author or a tag by name, follow a persona by key."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from stig.crdt.normal_form import normalize_tag
from stig.errors import InvalidTrace, StigError
from stig.node.mute_list import MuteList
from stig.readable import SHORT_ID, plural
from stig.tui.dialogs.ask import AskScreen
from stig.tui.muting import change_list, follow, mute
from stig.tui.screens.page import Page

ABOUT = (
    "What this device does not show you. Muting hides an author's traces (or a tag's) from the "
    "feed, search, threads and contour here, and their support stops counting here; nothing is "
    "deleted and nobody is told. Following a persona's mutes hides the authors they mute in "
    "public, too. This list stays on this device; wipe erases it. On a row in the feed: m "
    "mutes its author, F follows their mutes."
)

AUTHOR, TAG, FOLLOW = "author", "tag", "follows"
KEY = 64
"""A key is shown whole (64 hex), to copy into `stig unmute` or to give to a friend."""


def check_tag(text: str) -> str | None:
    """Why ``text`` is not a tag, or None."""
    try:
        normalize_tag(text)
    except InvalidTrace as exc:
        return f"not a tag: {exc.detail}"
    return None


class MutesScreen(Page):
    BINDINGS = [
        Binding("x,delete", "remove", "Remove"),
        Binding("a", "mute_author", "Mute an author"),
        Binding("t", "mute_tag", "Mute a tag"),
        Binding("F", "follow", "Follow a persona's mutes"),
    ]

    def body(self) -> ComposeResult:
        yield Static(ABOUT, classes="hint", id="mutes-about")
        yield Static("", id="mutes-summary", classes="section")
        yield DataTable(id="mutes", cursor_type="row")
        yield Static("", id="mutes-empty", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # fixed widths: the first frame is drawn at its final layout
        for label, width in (("what", 7), ("who", KEY), ("so", 40)):
            table.add_column(label, key=label, width=width)
        self.reload()
        table.focus()

    @work(exclusive=True, group="mutes-list")
    async def reload(self) -> None:
        local = self.session.node
        summary = self.query_one("#mutes-summary", Static)
        try:
            listed = local.mute_list()
            hidden = (await local.mutes()).authors
        except StigError as exc:
            summary.update(str(exc))
            return
        by_follows = hidden - listed.authors
        summary.update(
            f"{plural(len(hidden), 'author', 'authors')} hidden here"
            + (f", {len(by_follows)} of them by the mutes you follow" if listed.follows else "")
            + f"; {plural(len(listed.tags), 'tag', 'tags')} muted"
        )
        self._show(listed)

    def _show(self, listed: MuteList) -> None:
        table = self.query_one(DataTable)
        keep = self._chosen()
        table.clear()
        rows: list[tuple[str, str, str, str]] = []
        authors = self.session.authors()

        def called(key: bytes, so: str) -> str:
            """``so``, after the author's name when they have one here (stig.node.authors)."""
            said = authors.describe(key)
            return so if said == key.hex()[:SHORT_ID] else f"{said}: {so}"

        for key in sorted(listed.authors):
            rows.append((AUTHOR, key.hex(), called(key, "hidden here"), f"{AUTHOR}:{key.hex()}"))
        for tag in sorted(listed.tags):
            rows.append((TAG, f"#{tag}", "hidden here", f"{TAG}:{tag}"))
        for key in sorted(listed.follows):
            rows.append(
                (
                    FOLLOW,
                    key.hex(),
                    called(key, "whom they mute is hidden"),
                    f"{FOLLOW}:{key.hex()}",
                )
            )
        for what, name, so, row_key in rows:
            table.add_row(what, name, so, key=row_key)
        keys = [row[3] for row in rows]
        if keep in keys:
            table.move_cursor(row=keys.index(keep), animate=False)
        self.query_one("#mutes-empty", Static).update(
            ""
            if rows
            else "Nothing muted, no one followed. a mutes an author, t a tag; F follows a "
            "persona's mutes (by key)."
        )

    def _chosen(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @work(group="mutes")
    async def action_remove(self) -> None:
        chosen = self._chosen()
        if chosen is None:
            return
        what, _, value = chosen.partition(":")
        if what == TAG:
            if change_list(self, self.session, lambda m: m.with_tag(value, muted=False)):
                self.app.notify(f"#{value} shows again")
            return
        key = bytes.fromhex(value)
        if what == AUTHOR:
            if change_list(self, self.session, lambda m: m.with_author(key, muted=False)):
                if self.session.last_mute == key:
                    self.session.last_mute = None
                self.app.notify(f"unmuted {self.session.describe(key)}")
        elif change_list(self, self.session, lambda m: m.with_follow(key, followed=False)):
            self.app.notify(f"no longer following the mutes of {self.session.describe(key)}")

    async def _author(self, question: str) -> bytes | None:
        typed = await self.app.push_screen_wait(
            AskScreen(question, placeholder="key, key prefix (as the feed shows it) or persona")
        )
        if not typed or not typed.strip():
            return None
        try:
            return await self.session.node.resolve_author(typed.strip())
        except StigError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            return None

    @work(group="mutes")
    async def action_mute_author(self) -> None:
        key = await self._author("Mute which author, on this device?")
        if key is not None:
            await mute(self, self.session, key, undo_key="ctrl+z")

    @work(group="mutes")
    async def action_mute_tag(self) -> None:
        typed = await self.app.push_screen_wait(
            AskScreen("Mute which tag, on this device?", placeholder="#tag", check=check_tag)
        )
        if not typed:
            return
        tag = normalize_tag(typed)
        if change_list(self, self.session, lambda m: m.with_tag(tag)):
            self.app.notify(f"muted #{tag} (x removes it here)")

    @work(group="mutes")
    async def action_follow(self) -> None:
        key = await self._author("Follow the published mutes of which persona?")
        if key is not None:
            await follow(self, self.session, key)
