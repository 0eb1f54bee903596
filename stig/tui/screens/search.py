"""Full-text search over what this node holds (offline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from stig.errors import StigError
from stig.readable import plural
from stig.tui.screens.trace_list import TraceListPage
from stig.tui.widgets.key_footer import KeyFooter
from stig.tui.widgets.status_line import StatusLine
from stig.tui.widgets.trace_table import TraceTable

if TYPE_CHECKING:
    pass


class SearchScreen(TraceListPage):
    BINDINGS = [
        Binding("slash", "focus_query", "New search", show=False),
        Binding("m", "mute", "Mute author"),
        Binding("u", "app.undo_mute", "Undo the last mute", show=False),
        Binding("F", "follow_mutes", "Follow the author's mutes", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="search words (all must match; prefix* works) — Enter", id="query")
        yield Static("", id="search-info", classes="hint")
        yield TraceTable(id="results")
        yield StatusLine(id="status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#query", Input).focus()

    def action_focus_query(self) -> None:
        self.query_one("#query", Input).focus()

    @on(Input.Submitted, "#query")
    def submitted(self, event: Input.Submitted) -> None:
        self.query_text = event.value
        self.run_search()
        self.query_one(TraceTable).focus()

    def on_changed(self) -> None:
        if self.query_text.strip():
            self.run_search()

    def on_screen_resume(self) -> None:
        # back from a thread where an author may have been muted
        self.on_changed()

    @work(exclusive=True, group="search")
    async def run_search(self) -> None:
        info = self.query_one("#search-info", Static)
        group = self.stig.group
        try:
            found = await self.stig.live.local.search(self.query_text, group=group)
        except StigError as exc:
            info.update(str(exc))
            return
        where = "" if group is None else f" in group {group}"
        info.update(
            plural(len(found), "trace found", "traces found") + where + " (Enter opens one)"
        )
        self.query_one(TraceTable).show(found, self.stig.clock())
