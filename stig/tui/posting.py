"""Posting from the TUI: sign as the chosen persona, say what happened (and if it is queued)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stig.crdt.trace import Trace
from stig.errors import StigError
from stig.node.local import Draft

if TYPE_CHECKING:
    from stig.tui.app import StigApp


async def post(app: StigApp, draft: Draft) -> Trace:
    """Post a new trace; raises StigError (the compose screen shows it inline)."""
    persona = await app.signer()
    if persona is None:
        raise StigError("nothing was posted: no persona to sign with")
    trace = await app.live.post(draft, persona)
    app.notify(f"posted {trace.kind}{queued_note(app)}")
    app.changed()
    return trace


async def respond(app: StigApp, target: bytes, draft: Draft, done: str) -> bool:
    """Echo, confirm, dispute or retract ``target`` as the chosen persona; say what happened."""
    persona = await app.signer()
    if persona is None:
        return False
    try:
        await app.live.respond(target, draft, persona)
    except StigError as exc:
        app.notify(str(exc), severity="error", timeout=8)
        return False
    app.notify(done + queued_note(app))
    app.changed()
    return True


def queued_note(app: StigApp) -> str:
    if app.status.connected:
        return ""
    return " — queued: no peer is connected; it spreads at the next sync"
