"""Groups: this device's affinity groups — make one, invite to it (code and QR), join one with
a code, leave one, fork one (a new secret, for those who get the new code); Enter shows one in
the feed."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from stig.crypto.group import day_of, read_invite
from stig.crypto.persona import valid_persona_name
from stig.errors import StigError
from stig.tui.dialogs.ask import AskScreen, confirmed
from stig.tui.dialogs.invite import InviteScreen
from stig.tui.messages import SessionChanged, ShowPage, Stored
from stig.tui.screens.page import FEED, Page

ABOUT = (
    "An affinity group shares one secret. Its traces travel the mesh sealed: only members read "
    "them, and nobody keeps a list of members — holding the key is membership. The names here "
    "stay on this device. Enter shows a group in the feed; there, c posts to it."
)
LIFE = 1000
"""Traces counted per group for the table (a hint, not an inventory)."""


def check_code(text: str) -> str | None:
    """Why ``text`` is not an invite code, or None."""
    if not text.strip():
        return "paste the invite code (it starts with stig-group1-)"
    try:
        read_invite(text)
    except StigError as exc:
        return str(exc)
    return None


class GroupsScreen(Page):
    BINDINGS = [
        Binding("enter", "show", "Show in the feed", show=False),
        Binding("n", "new", "New group"),
        Binding("v", "invite", "Invite"),
        Binding("j", "join", "Join"),
        Binding("l", "leave", "Leave"),
        Binding("k", "fork", "Fork"),
    ]

    def body(self) -> ComposeResult:
        yield Static(ABOUT, classes="hint", id="groups-about")
        yield DataTable(id="groups", cursor_type="row")
        yield Static("", id="groups-empty", classes="hint")
        yield Static("", id="groups-error", classes="error")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # Fixed widths (a name is at most 32 characters): the first frame is drawn at its final
        # layout, not re-laid out when the counts arrive (a snapshot could catch either).
        for label, width in (("", 1), ("group", 32), ("traces alive here", 17)):
            table.add_column(label, key=label or "shown", width=width)
        self.reload()
        table.focus()

    @property
    def today(self) -> int:
        return day_of(self.session.clock())

    @work(exclusive=True, group="groups")
    async def reload(self) -> None:
        local = self.session.node
        names = local.groups.names()
        table = self.query_one(DataTable)
        keep = self._chosen()
        counts = {}
        for name in names:
            try:
                counts[name] = len(await local.feed(limit=LIFE, group=name))
            except StigError:
                counts[name] = 0
        table.clear()
        for name in names:
            count = counts[name]
            table.add_row(
                "▶" if name == self.session.group else "",
                name,
                f"{count}+" if count >= LIFE else str(count),
                key=name,
            )
        if keep in names:
            table.move_cursor(row=names.index(keep), animate=False)
        self.query_one("#groups-empty", Static).update(
            ""
            if names
            else "No groups yet. n makes one (then v shows its invite); j joins one with a code."
        )

    def _chosen(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _say(self, error: str = "") -> None:
        self.query_one("#groups-error", Static).update(error)

    def _name_problem(self, text: str) -> str | None:
        name = text.strip()
        if not valid_persona_name(name):
            return "use 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit"
        if name in self.session.node.groups.names():
            return f"a group named {name!r} exists already here"
        return None

    @on(DataTable.RowSelected)
    def action_show(self) -> None:
        name = self._chosen()
        if name is not None:
            self.session.choose_group(name)
            self.post_message(SessionChanged())
            self.post_message(ShowPage(FEED))

    @work(group="groups-ask")
    async def action_new(self) -> None:
        self._say()
        name = await self.app.push_screen_wait(
            AskScreen(
                "Name of the new group (stays on this device):",
                placeholder="neighbours",
                check=self._name_problem,
            )
        )
        if not name:
            return
        try:
            self.session.node.groups.new(name.strip(), self.today)
        except StigError as exc:
            self._say(str(exc))
            return
        self.app.notify(f"made group {name.strip()}; v shows the invite for its first members")
        self.reload()

    def action_invite(self) -> None:
        self._say()
        name = self._chosen()
        if name is None:
            self._say("no group to invite to: n makes one, j joins one")
            return
        try:
            code = self.session.node.groups.invite(name, self.today)
        except StigError as exc:
            self._say(str(exc))
            return
        self.app.push_screen(
            InviteScreen(
                f"Invite to {name}",
                code,
                "Whoever has this code is in the group: they read what is posted in it from "
                "today on, and post to it. Give it in person or over a channel you trust. "
                "They join with j here, or `stig group join CODE`.",
            )
        )

    @work(group="groups-ask")
    async def action_join(self) -> None:
        self._say()
        code = await self.app.push_screen_wait(
            AskScreen(
                "Invite code of the group to join:",
                placeholder="stig-group1-…",
                check=check_code,
            )
        )
        if not code:
            return
        name = await self.app.push_screen_wait(
            AskScreen(
                "Name it on this device (only you see this name):",
                placeholder="neighbours",
                check=self._name_problem,
            )
        )
        if not name:
            return
        try:
            self.session.node.groups.join(name.strip(), code, self.today)
        except StigError as exc:
            self._say(f"not joined — {exc}")
            return
        self.app.notify(f"joined group {name.strip()}; Enter shows it in the feed")
        self.post_message(Stored())
        self.reload()

    @work(group="groups-ask")
    async def action_leave(self) -> None:
        self._say()
        name = self._chosen()
        if name is None:
            return
        if not await confirmed(
            self.app,
            f"Leave {name}? Its key and everything read in it are erased from this device; "
            "coming back takes a new invite. Type yes to leave.",
        ):
            return
        local = self.session.node
        try:
            async with self.session.rooms_lock:
                await local.rooms.forget(name)
                local.groups.leave(name)
        except (StigError, OSError) as exc:
            self._say(f"could not leave {name}: {exc}")
            return
        if self.session.group == name:
            self.session.choose_group(None)
            self.post_message(SessionChanged())
        self.app.notify(f"left group {name}: its key and traces are gone from this device")
        self.reload()

    @work(group="groups-ask")
    async def action_fork(self) -> None:
        self._say()
        name = self._chosen()
        if name is None:
            return
        if not await confirmed(
            self.app,
            f"Fork {name}? It gets a new secret: what is posted in it from now on is read "
            "only by those you give the new code to. What was read so far stays. "
            "Type yes to fork.",
        ):
            return
        try:
            code = self.session.node.groups.fork(name, self.today)
        except StigError as exc:
            self._say(str(exc))
            return
        self.reload()
        self.app.push_screen(
            InviteScreen(
                f"{name} forked: its new code",
                code,
                "Give this code to the members who should stay: they join it with j (as a "
                "new group name) and read what is posted here from now on. The old code no "
                "longer reads it.",
            )
        )
