"""Muting from the TUI: hide a row's author on this device (with undo), or follow the mutes the
row's author publishes (stig.node.mute_list, docs/protocol.md §6.8).

Nothing here is sent: the list lives in ``<home>/mutes.json``. The node applies it at each read,
so after a change the app is told (``ListsChanged``) and the page shown reloads; the store's
cursor does not move, so the usual poll would not notice. Each function is called from a worker
of ``screen`` (dialogs wait).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from stig.crdt.trace import Trace
from stig.errors import StigError
from stig.node.authors import member_of
from stig.node.mute_list import MuteList
from stig.readable import plural
from stig.tui.dialogs.ask import confirmed
from stig.tui.messages import ListsChanged
from stig.tui.session import Session


def change_list(
    screen: Screen[Any], session: Session, change: Callable[[MuteList], MuteList]
) -> bool:
    """Change this device's list and reload the screen shown; False (and the reason shown) if
    the file cannot be read or written."""
    try:
        session.node.change_mutes(change)
    except (StigError, OSError) as exc:
        screen.notify(f"mutes not changed: {exc}", severity="error", timeout=8)
        return False
    screen.post_message(ListsChanged())
    return True


def _anonymous(screen: Screen[Any], session: Session, trace: Trace, group: str | None) -> bool:
    """Whether ``trace`` was posted anonymously in ``group``: its key is the group's, shared by
    every member who posts that way, so it names no one to mute or follow (says so)."""
    if group is None or not session.node.rooms.is_anonymous(group, trace):
        return False
    screen.notify(
        f"this was posted by {member_of(group)}, anonymously: there is no author to name",
        severity="error",
        timeout=8,
    )
    return True


async def mute_author(
    screen: Screen[Any], session: Session, trace: Trace, group: str | None, undo_key: str
) -> bool:
    """Hide ``trace``'s author on this device (see ``mute``)."""
    if _anonymous(screen, session, trace, group):
        return False
    return await mute(screen, session, trace.author, undo_key)


async def mute(screen: Screen[Any], session: Session, key: bytes, undo_key: str) -> bool:
    """Hide the author ``key`` on this device; the notification says ``undo_key`` undoes it.
    Never one of this device's own personas (says so instead)."""
    own = session.node.keyring.owners().get(key)
    if own is not None:
        screen.notify(
            f"that is your persona {own}: your own traces cannot be muted", severity="warning"
        )
        return False
    if not change_list(screen, session, lambda m: m.with_author(key)):
        return False
    session.last_mute = key
    screen.notify(
        f"muted {session.describe(key)} — press {undo_key} to undo (M lists your mutes)", timeout=8
    )
    return True


async def undo_mute(screen: Screen[Any], session: Session) -> None:
    """Show again the author muted last in this session."""
    key = session.last_mute
    if key is None:
        screen.notify("no mute to undo (M lists your mutes; x there removes one)")
        return
    if not change_list(screen, session, lambda m: m.with_author(key, muted=False)):
        return
    session.last_mute = None
    note = ""
    try:
        if key in (await session.node.mutes()).authors:
            note = ", but a persona whose mutes you follow muted them too: still hidden"
    except StigError:
        pass
    screen.notify(f"unmuted {session.describe(key)}{note}")


async def follow_mutes(
    screen: Screen[Any], session: Session, trace: Trace, group: str | None
) -> bool:
    """Follow the mutes of ``trace``'s author (see ``follow``)."""
    if _anonymous(screen, session, trace, group):
        return False
    return await follow(screen, session, trace.author)


async def follow(screen: Screen[Any], session: Session, key: bytes) -> bool:
    """After a confirmation, hide here too the authors that the persona ``key`` mutes in public.
    Call from a worker (it waits for the dialog)."""
    try:
        listed = session.node.mute_list()
    except StigError as exc:
        screen.notify(str(exc), severity="error", timeout=8)
        return False
    if key in listed.follows:
        screen.notify(f"you already follow the mutes of {session.describe(key)} (M lists them)")
        return False
    if not await confirmed(
        screen.app,
        f"Follow the mutes of {session.describe(key)}? The authors this persona mutes in public "
        "(the mutes they publish) are hidden here too, for as long as those mutes live. Nobody is "
        "told, not them either; M lists and stops what you follow. Type yes to follow.",
    ):
        return False
    if not change_list(screen, session, lambda m: m.with_follow(key)):
        return False
    try:
        hidden = len((await session.node.mutes()).authors - listed.authors)
    except StigError:
        hidden = 0
    screen.notify(
        f"following the mutes of {session.describe(key)}: "
        + plural(hidden, "author hidden", "authors hidden")
        + " by the mutes you follow",
        timeout=8,
    )
    return True
