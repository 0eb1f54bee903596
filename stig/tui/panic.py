"""The panic buttons, from the terminal UI: burn a persona, wipe this device.

Both take effect at once and cannot be undone, so each asks for a typed word first (``burn``,
``wipe``) — not a yes, which a hand already typing answers by habit; any other answer does
nothing. What they do is what ``stig burn`` and ``stig wipe`` do: a burn is a trace that
retracts everything the persona posted up to it, on this node at once and on every node it
reaches; a wipe erases this device's keys (personas, groups, the transport key — overwritten
first), its stores and its mutes (``stig.node.local.wipe``). The app closes its node before
the wipe, so nothing it holds open is written again, and then exits.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.screen import Screen

from stig.crdt import kinds
from stig.errors import StigError
from stig.node.home import Home
from stig.node.local import Draft
from stig.tui.dialogs.ask import typed
from stig.tui.messages import Stored
from stig.tui.posting import queued_note, signer
from stig.tui.session import Session

BURN_WORD = "burn"
WIPE_WORD = "wipe"


async def burn(screen: Screen[Any], session: Session, name: str) -> bool:
    """Burn persona ``name`` after its word; True if burned. Call from a worker of ``screen``."""
    if not await typed(
        screen.app,
        f"Burn persona {name}? Every trace it has posted so far is retracted: hidden here at "
        "once, its text dropped, and the same on every node the burn reaches. The persona "
        f"stays and can post again. This cannot be undone. Type {BURN_WORD} to burn it.",
        BURN_WORD,
    ):
        return False
    persona = await signer(screen, session, name)
    if persona is None:
        return False
    try:
        await session.live.post(Draft(kind=kinds.BURN), persona)
    except StigError as exc:
        screen.notify(f"not burned — {exc}", severity="error", timeout=8)
        return False
    screen.notify(f"burned persona {name}: everything it posted is retracted{queued_note(session)}")
    screen.post_message(Stored())
    return True


async def ask_to_wipe(app: App[Any], home: Home) -> bool:
    """Ask for the wipe's word; True if it was typed. Call from a worker."""
    return await typed(
        app,
        f"Wipe this device? Every persona's key, every group's key, the transport key, the "
        f"stores and the mutes in {home.root} are erased now, and stig closes. Traces "
        "already sent stay on other nodes (burn a persona first to retract them). This cannot "
        f"be undone. Type {WIPE_WORD} to wipe.",
        WIPE_WORD,
    )
