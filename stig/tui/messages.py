"""The terminal UI's own messages: screens post them, they bubble up to the app, which acts.

Data goes down as attributes (each screen holds the session, stig.tui.session) and method calls
(the app tells the page shown to ``reload``); what happened goes up as one of these.
"""

from __future__ import annotations

from textual.message import Message


class Stored(Message):
    """This terminal stored something (a post, an echo, a joined group): the app looks at the
    store now rather than at its next poll, and the page shown reloads."""


class ListsChanged(Message):
    """This device's mutes or names changed: the store's cursor did not move, so the poll would
    not notice; what is new is counted again and the page shown reloads."""


class SessionChanged(Message):
    """The session's persona, space or count of new traces changed: the app shows it (status
    line, title)."""

    def __init__(self, *, reload: bool = False) -> None:
        super().__init__()
        self.reload = reload
        """The page shown reloads too (it lists what depends on the change)."""


class ShowPage(Message):
    """Go to one of the app's pages (its modes: feed, search, peers, …)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
