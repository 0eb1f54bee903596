"""Muting from the TUI: hide a row's author on this device (with undo), or follow the mutes the
row's author publishes (stig.node.mute_list, docs/protocol.md §6.8).

Nothing here is sent: the list lives in ``<home>/mutes.json``. The node applies it at each read,
so after a change the visible screen is told to reload (``StigApp.mutes_changed``); the store's
cursor does not move, so the usual poll would not notice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stig.crdt.trace import Trace
from stig.errors import StigError
from stig.node.mute_list import MuteList
from stig.readable import SHORT_ID, plural
from stig.tui.dialogs.ask import confirmed
from stig.tui.spaces import member_of

if TYPE_CHECKING:
    from stig.tui.app import StigApp


def who(app: StigApp, key: bytes) -> str:
    """An author as the screens name one: the key's first characters, and the persona's name
    if it is one of this device's."""
    own = app.live.local.keyring.owners().get(key)
    return f"{key.hex()[:SHORT_ID]} (your persona {own})" if own else key.hex()[:SHORT_ID]


def change_list(app: StigApp, change: Callable[[MuteList], MuteList]) -> bool:
    """Change this device's list and reload the screen shown; False (and the reason shown) if
    the file cannot be read or written."""
    try:
        app.live.local.change_mutes(change)
    except (StigError, OSError) as exc:
        app.notify(f"mutes not changed: {exc}", severity="error", timeout=8)
        return False
    app.mutes_changed()
    return True


def _anonymous(app: StigApp, trace: Trace, group: str | None) -> bool:
    """Whether ``trace`` was posted anonymously in ``group``: its key is the group's, shared by
    every member who posts that way, so it names no one to mute or follow (says so)."""
    if group is None or not app.live.local.rooms.is_anonymous(group, trace):
        return False
    app.notify(
        f"this was posted by {member_of(group)}, anonymously: there is no author to name",
        severity="error",
        timeout=8,
    )
    return True


async def mute_author(app: StigApp, trace: Trace, group: str | None, undo_key: str) -> bool:
    """Hide ``trace``'s author on this device (see ``mute``)."""
    if _anonymous(app, trace, group):
        return False
    return await mute(app, trace.author, undo_key)


async def mute(app: StigApp, key: bytes, undo_key: str) -> bool:
    """Hide the author ``key`` on this device; the notification says ``undo_key`` undoes it.
    Never one of this device's own personas (says so instead)."""
    own = app.live.local.keyring.owners().get(key)
    if own is not None:
        app.notify(
            f"that is your persona {own}: your own traces cannot be muted", severity="warning"
        )
        return False
    if not change_list(app, lambda m: m.with_author(key)):
        return False
    app.last_mute = key
    app.notify(f"muted {who(app, key)} — press {undo_key} to undo (M lists your mutes)", timeout=8)
    return True


async def undo_mute(app: StigApp) -> None:
    """Show again the author muted last in this session."""
    key = app.last_mute
    if key is None:
        app.notify("no mute to undo (M lists your mutes; x there removes one)")
        return
    if not change_list(app, lambda m: m.with_author(key, muted=False)):
        return
    app.last_mute = None
    note = ""
    try:
        if key in (await app.live.local.mutes()).authors:
            note = ", but a persona whose mutes you follow muted them too: still hidden"
    except StigError:
        pass
    app.notify(f"unmuted {who(app, key)}{note}")


async def follow_mutes(app: StigApp, trace: Trace, group: str | None) -> bool:
    """Follow the mutes of ``trace``'s author (see ``follow``)."""
    if _anonymous(app, trace, group):
        return False
    return await follow(app, trace.author)


async def follow(app: StigApp, key: bytes) -> bool:
    """After a confirmation, hide here too the authors that the persona ``key`` mutes in public.
    Call from a worker (it waits for the dialog)."""
    try:
        listed = app.live.local.mute_list()
    except StigError as exc:
        app.notify(str(exc), severity="error", timeout=8)
        return False
    if key in listed.follows:
        app.notify(f"you already follow the mutes of {who(app, key)} (M lists them)")
        return False
    if not await confirmed(
        app,
        f"Follow the mutes of {who(app, key)}? The authors this persona mutes in public (the "
        "mutes they publish) are hidden here too, for as long as those mutes live. Nobody is "
        "told, not them either; M lists and stops what you follow. Type yes to follow.",
    ):
        return False
    if not change_list(app, lambda m: m.with_follow(key)):
        return False
    try:
        hidden = len((await app.live.local.mutes()).authors - listed.authors)
    except StigError:
        hidden = 0
    app.notify(
        f"following the mutes of {who(app, key)}: "
        + plural(hidden, "author hidden", "authors hidden")
        + " by the mutes you follow",
        timeout=8,
    )
    return True
