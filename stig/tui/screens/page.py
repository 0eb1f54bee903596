"""What every screen of the app shares: a typed handle on the app, and Esc to go back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.screen import Screen

if TYPE_CHECKING:
    from stig.tui.app import StigApp


class OfTheApp:
    """Mixed into screens and dialogs: ``self.stig`` is the StigApp, typed."""

    app: Any

    @property
    def stig(self) -> StigApp:
        return self.app  # type: ignore[no-any-return]


class Page(OfTheApp, Screen[None]):
    """A place a person goes to (feed, thread, peers, …); Esc comes back from it."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def action_back(self) -> None:
        self.app.pop_screen()
