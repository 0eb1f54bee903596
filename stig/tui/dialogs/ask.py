"""A one-line question: a confirmation, a reason, a file name, an invite code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class AskScreen(ModalScreen[str | None]):
    """Dismissed with the answer (None on Esc). With ``check``, an answer it finds wrong (it
    returns why) is not taken: the reason shows under the line, which keeps what was typed."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        question: str,
        *,
        value: str = "",
        placeholder: str = "",
        password: bool = False,
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.password = password
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Input(
                self.value, placeholder=self.placeholder, password=self.password, id="answer"
            )
            yield Static("", id="ask-error", classes="error")
            yield Label("Enter to go on · Esc to cancel", classes="hint")

    @on(Input.Submitted)
    def answered(self, event: Input.Submitted) -> None:
        why = self.check(event.value) if self.check is not None else None
        if why:
            self.query_one("#ask-error", Static).update(why)
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


async def confirmed(app: App[Any], question: str) -> bool:
    """Ask ``question`` (which ends by saying to type yes); True only if yes was typed. Call
    from a worker."""
    answer = await app.push_screen_wait(AskScreen(question, placeholder="yes"))
    return answer is not None and answer.strip().lower() in ("y", "yes")


async def typed(app: App[Any], question: str, word: str) -> bool:
    """Ask ``question``; True only if ``word`` was typed (a wrong word says nothing was done).
    For what cannot be undone: a typed word, not a yes, which a hand already typing answers by
    habit. Call from a worker."""
    answer = await app.push_screen_wait(AskScreen(question, placeholder=f"type {word}"))
    if answer is None:
        return False
    if answer.strip().lower() != word:
        app.notify(f"nothing was done: the word was {word!r}", severity="warning")
        return False
    return True
