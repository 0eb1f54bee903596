"""What shows while this device is wiped: nothing of what is being erased."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class WipingScreen(Screen[None]):
    BINDINGS = []  # no key reaches the screens below while their store goes

    def compose(self) -> ComposeResult:
        yield Static("Wiping this device…", classes="hint")
