"""What the screens that list traces (the feed, search results) do with a row: open its thread,
mute its author, follow its author's mutes, watch what it says. Each screen keeps its own key
bindings."""

from __future__ import annotations

from textual import on, work

from stig.tui.muting import follow_mutes, mute_author
from stig.tui.screens.page import Page
from stig.tui.screens.thread import ThreadScreen
from stig.tui.watching import watch_row
from stig.tui.widgets.trace_table import TraceTable


class TraceListPage(Page):
    @on(TraceTable.RowSelected)
    def open_row(self, event: TraceTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(
                ThreadScreen(
                    self.session, bytes.fromhex(event.row_key.value), group=self.session.group
                )
            )

    @work(group="mutes")
    async def action_mute(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            await mute_author(self, self.session, chosen.trace, self.session.group, undo_key="u")

    @work(group="mutes")
    async def action_follow_mutes(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            await follow_mutes(self, self.session, chosen.trace, self.session.group)

    def filter_words(self) -> str:
        """The words of the filter applied ("" for none), offered to watch with a row."""
        return ""

    @work(group="watch")
    async def action_watch(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            await watch_row(self, self.session, chosen.trace, self.filter_words())
