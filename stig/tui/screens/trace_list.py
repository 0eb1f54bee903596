"""What the screens that list traces (the feed, search results) do with a row: open its thread,
mute its author, follow its author's mutes. Each screen keeps its own key bindings."""

from __future__ import annotations

from textual import on, work

from stig.tui.muting import follow_mutes, mute_author
from stig.tui.screens.page import Page
from stig.tui.screens.thread import ThreadScreen
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
