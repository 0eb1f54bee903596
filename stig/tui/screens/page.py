"""The template every page of the app shares (feed, thread, peers, …): the title bar, the page's
own widgets (``body``), the status line, the keys; Esc to go back; ``reload`` to read what it
shows again.

A page holds the session (stig.tui.session), handed down when it is made, and posts messages
(stig.tui.messages) up to the app. The app calls ``reload`` on the page shown when something
was stored or this device's lists changed; a page reloads itself when it is shown again (the
app's pages are Textual modes, kept while another is shown, so what they show may be old).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header

from stig.tui.messages import ShowPage
from stig.tui.session import Session
from stig.tui.widgets.key_footer import KeyFooter
from stig.tui.widgets.status_line import StatusLine

FEED = "feed"
"""The page Esc comes back to from another page."""


class Page(Screen[None]):
    """A place a person goes to; Esc comes back from it."""

    BINDINGS = [Binding("escape", "back", "Back")]
    STATUS = True
    """Whether the page shows the status line."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.body()
        if self.STATUS:
            yield StatusLine(self.session, id="status")
        yield KeyFooter()

    def body(self) -> ComposeResult:
        """The page's own widgets, between the title and the status line."""
        yield from ()

    def reload(self) -> object:
        """Read what the page shows again (from the node); a page may do it in a worker,
        which it returns."""
        return None

    def on_screen_resume(self) -> None:
        if self.is_mounted:  # else its on_mount reads it
            self.reload()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:  # a page of its own (peers, contour, …): back to the feed
            self.post_message(ShowPage(FEED))
