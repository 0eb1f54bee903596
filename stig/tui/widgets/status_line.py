"""The always-visible status line: online or not, peers, last sync, queued posts, how many
traces are new in the space shown, the space shown (public or a group), persona."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from stig.node.live import ELSEWHERE, FAILED, OFFLINE, ONLINE, STARTING, LiveStatus
from stig.readable import plural, span
from stig.tui.session import Session


def status_text(
    status: LiveStatus, persona: str, now: float, group: str | None = None, new: int = 0
) -> Text:
    text = Text()
    if status.on_mesh and not status.connected:
        # On the mesh but alone: never a green "online" then (p opens the Peers screen).
        text.append("○ 0 peers", style="bold yellow")
        if status.failing:
            failing = plural(status.failing, "address", "addresses")
            text.append(f" — {failing} failing (p for details)", style="bold yellow")
        else:
            text.append(" — nobody to dial yet (p to add a peer)")
    elif status.mode == ONLINE:
        text.append("● online", style="bold green")
        text.append(f" · {plural(status.connected, 'peer', 'peers')}")
        if status.failing:
            failing = plural(status.failing, "address", "addresses")
            text.append(f" · {failing} failing (p)", style="yellow")
    elif status.mode == ELSEWHERE:
        text.append("● online", style="bold green")
        text.append(f" (node in another process) · {plural(status.connected, 'peer', 'peers')}")
    elif status.mode == STARTING:
        text.append("◌ joining the mesh…", style="yellow")
    elif status.mode == FAILED:
        text.append("○ offline", style="bold red")
        text.append(f" · network failed: {status.problem}")
    else:
        assert status.mode == OFFLINE
        text.append("○ offline", style="bold")
    if status.on_mesh:
        last = status.last_sync
        text.append(f" · synced {span(int(now - last))} ago" if last else " · not synced yet")
    if status.queued:
        text.append(
            f" · {plural(status.queued, 'post', 'posts')} queued (sent at the next sync)",
            style="bold yellow",
        )
    if new:
        text.append(" · ")
        text.append(f"{new} new", style="bold")
    if group:
        text.append(" · in ")
        text.append(f"group {group}", style="bold cyan")
    else:
        text.append(" · in public")
    text.append(f" · persona {persona}")
    return text


class StatusLine(Static):
    """The status line of the session it is given (time from the session's clock)."""

    def __init__(self, session: Session, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session

    def on_mount(self) -> None:
        # What the session knows now, not blank until the app's next look at the node.
        self.show_session()

    _shown: Text | None = None

    def show_session(self) -> None:
        session = self.session
        self.show(
            session.status,
            session.persona_name or "(none)",
            session.clock(),
            session.group,
            session.new_count,
        )

    def show(
        self, status: LiveStatus, persona: str, now: float, group: str | None, new: int = 0
    ) -> None:
        text = status_text(status, persona, now, group, new)
        if text != self._shown:  # an update lays the screen out again: only when it changed
            self._shown = text
            self.update(text)
