"""Posting from the TUI: sign as the chosen persona (or, inside a group, anonymously), say what
happened, where, and if it is queued.

Each function is called from a worker of ``screen`` (it may wait for the passphrase dialog),
tells the person on it, and posts ``Stored`` up so that the app looks at the store at once.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.errors import StigError
from stig.node.local import Draft
from stig.tui.dialogs.passphrase import PassphraseScreen
from stig.tui.messages import Stored
from stig.tui.session import Session
from stig.tui.spaces import space_label


async def signer(screen: Screen[Any], session: Session, name: str | None = None) -> Persona | None:
    """The chosen persona (or persona ``name``), asking for its passphrase once per session if
    it has one."""
    name = session.persona_name if name is None else name
    if not name:
        screen.notify("no persona yet: press i to create one", severity="error")
        return None
    persona = session.unlocked(name)
    if persona is not None:
        return persona
    keyring = session.node.keyring
    if keyring.is_locked(name):
        persona = await screen.app.push_screen_wait(PassphraseScreen(name, keyring))
        if persona is None:
            return None
    else:
        persona = keyring.load(name)
    session.keep_unlocked(persona)
    return persona


async def post(
    screen: Screen[Any],
    session: Session,
    draft: Draft,
    *,
    group: str | None = None,
    anonymous: bool = False,
) -> Trace:
    """Post a new trace, in ``group`` if given; raises StigError (the compose screen shows it
    inline)."""
    persona = await signer(screen, session)
    if persona is None:
        raise StigError("nothing was posted: no persona to sign with")
    trace = await session.live.post(draft, persona, group=group, anonymous=anonymous)
    where = "" if group is None else f" in group {group}" + (" as a member" if anonymous else "")
    screen.notify(f"posted {trace.kind}{where}{queued_note(session)}")
    screen.post_message(Stored())
    return trace


async def respond(
    screen: Screen[Any],
    session: Session,
    target: bytes,
    draft: Draft,
    done: str,
    *,
    group: str | None = None,
) -> bool:
    """Echo, confirm, dispute or retract ``target`` (in ``group``, where it was read) as the
    chosen persona; say what happened."""
    persona = await signer(screen, session)
    if persona is None:
        return False
    try:
        await session.live.respond(target, draft, persona, group=group)
    except StigError as exc:
        screen.notify(str(exc), severity="error", timeout=8)
        return False
    screen.notify(
        done + ("" if group is None else f" in {space_label(group)}") + queued_note(session)
    )
    screen.post_message(Stored())
    return True


def queued_note(session: Session) -> str:
    if session.status.connected:
        return ""
    return " — queued: no peer is connected; it spreads at the next sync"
