"""Posting from the TUI: sign as the chosen persona (or, inside a group, anonymously), say what
happened, where, and if it is queued."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stig.crdt.trace import Trace
from stig.errors import StigError
from stig.node.local import Draft
from stig.tui.spaces import space_label

if TYPE_CHECKING:
    from stig.tui.app import StigApp


async def post(
    app: StigApp, draft: Draft, *, group: str | None = None, anonymous: bool = False
) -> Trace:
    """Post a new trace, in ``group`` if given; raises StigError (the compose screen shows it
    inline)."""
    persona = await app.signer()
    if persona is None:
        raise StigError("nothing was posted: no persona to sign with")
    trace = await app.live.post(draft, persona, group=group, anonymous=anonymous)
    where = "" if group is None else f" in group {group}" + (" as a member" if anonymous else "")
    app.notify(f"posted {trace.kind}{where}{queued_note(app)}")
    app.changed()
    return trace


async def respond(
    app: StigApp, target: bytes, draft: Draft, done: str, *, group: str | None = None
) -> bool:
    """Echo, confirm, dispute or retract ``target`` (in ``group``, where it was read) as the
    chosen persona; say what happened."""
    persona = await app.signer()
    if persona is None:
        return False
    try:
        await app.live.respond(target, draft, persona, group=group)
    except StigError as exc:
        app.notify(str(exc), severity="error", timeout=8)
        return False
    app.notify(done + ("" if group is None else f" in {space_label(group)}") + queued_note(app))
    app.changed()
    return True


def queued_note(app: StigApp) -> str:
    if app.status.connected:
        return ""
    return " — queued: no peer is connected; it spreads at the next sync"
