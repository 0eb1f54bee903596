"""Full-text search over what this node holds (offline)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from stig.errors import StigError
from stig.readable import plural
from stig.tui.screens.trace_list import TraceListPage
from stig.tui.session import Session
from stig.tui.widgets.trace_table import TraceTable


class SearchScreen(TraceListPage):
    BINDINGS = [
        Binding("slash", "focus_query", "New search", show=False),
        Binding("m", "mute", "Mute author"),
        Binding("u", "app.undo_mute", "Undo the last mute", show=False),
        Binding("F", "follow_mutes", "Follow the author's mutes", show=False),
        Binding("w", "watch", "Watch what it says", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.query_text = ""

    def body(self) -> ComposeResult:
        yield Input(placeholder="search words (all must match; prefix* works) — Enter", id="query")
        yield Static("", id="search-info", classes="hint")
        yield TraceTable(id="results")

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()

    def action_focus_query(self) -> None:
        self.query_one("#query", Input).focus()

    @on(Input.Submitted, "#query")
    def submitted(self, event: Input.Submitted) -> None:
        self.query_text = event.value
        self.run_search()
        self.query_one(TraceTable).focus()

    def reload(self) -> None:
        if self.query_text.strip():
            self.run_search()

    @work(exclusive=True, group="search")
    async def run_search(self) -> None:
        info = self.query_one("#search-info", Static)
        group = self.session.group
        try:
            found = await self.session.node.search(self.query_text, group=group)
        except StigError as exc:
            info.update(str(exc))
            return
        where = "" if group is None else f" in group {group}"
        info.update(
            plural(len(found), "trace found", "traces found") + where + " (Enter opens one)"
        )
        self.query_one(TraceTable).show(
            found, self.session.clock(), author=self.session.author_of(group)
        )
