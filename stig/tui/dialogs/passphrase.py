"""Unlock a persona whose key file has a passphrase (asked once per session)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from stig.crypto.persona import Persona
from stig.errors import PersonaError
from stig.node.keyring import Keyring


class PassphraseScreen(ModalScreen[Persona | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, keyring: Keyring) -> None:
        super().__init__()
        self.persona_name = name
        self.keyring = keyring

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Passphrase for persona {self.persona_name}")
            yield Input(password=True, id="passphrase")
            yield Static("", classes="error", id="passphrase-error")
            yield Label("Enter to unlock · Esc to cancel", classes="hint")

    @on(Input.Submitted)
    def unlock(self, event: Input.Submitted) -> None:
        try:
            persona = self.keyring.load(self.persona_name, event.value)
        except PersonaError as exc:
            self.query_one("#passphrase-error", Static).update(str(exc))
            event.input.value = ""
            return
        self.dismiss(persona)

    def action_cancel(self) -> None:
        self.dismiss(None)
