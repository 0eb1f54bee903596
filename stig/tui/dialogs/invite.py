"""An invite code shown to be given: as text to copy and as a QR code to scan."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from stig.tui.widgets.qr import qr_text


class InviteScreen(ModalScreen[None]):
    """An invite code, as text to copy and as a QR code to scan."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close"),
        Binding("c", "copy", "Copy the code"),
    ]

    def __init__(self, title: str, code: str, note: str) -> None:
        super().__init__()
        self.title_text = title
        self.code = code
        self.note = note

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="invite-box"):
            yield Label(self.title_text, classes="title")
            yield Static(self.code, id="invite-code")
            yield Static(qr_text(self.code), id="invite-qr")
            yield Static(self.note, classes="hint")
            yield Label(
                "c copies the code (where the terminal allows) · Esc closes", classes="hint"
            )

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.code)
        self.app.notify("invite code copied to the clipboard (if the terminal allows it)")

    def action_close(self) -> None:
        self.dismiss(None)
