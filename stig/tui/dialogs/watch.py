"""Choose what to watch (stig.node.watch_list): the words a row offers — its kind, its tags,
its place — and, in the feed, what the filter says; a watch matches a trace that matches every
word chosen."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList, Static
from textual.widgets.selection_list import Selection


class WatchScreen(ModalScreen[str | None]):
    """Dismissed with the words chosen, joined (None on Esc)."""

    BINDINGS = [
        Binding("enter", "watch", "Watch", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, words: list[tuple[str, str, bool]]) -> None:
        """``words``: (what it reads, the word, chosen at first)."""
        super().__init__()
        self.words = words

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                "Watch for traces that match every word chosen: a toast and the bell when one "
                "arrives, on any screen (`stig watch list` lists the watches)."
            )
            yield SelectionList[str](
                *(Selection(label, word, chosen) for label, word, chosen in self.words),
                id="watch-words",
            )
            yield Static("", id="watch-error", classes="error")
            yield Label("space chooses · Enter watches · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(SelectionList.SelectedChanged)
    def chosen(self) -> None:
        self.query_one("#watch-error", Static).update("")

    def action_watch(self) -> None:
        chosen = self.query_one(SelectionList).selected
        if not chosen:
            self.query_one("#watch-error", Static).update("choose at least one word (space)")
            return
        self.dismiss(" ".join(str(word) for word in chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)
