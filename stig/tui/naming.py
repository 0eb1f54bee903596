"""Names for people, kept on this device (stig.node.petnames): ``N`` on a row names its author.
How every screen then shows an author is stig.node.authors (``Session.author_of``)."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from stig.crdt.trace import Trace
from stig.errors import StigError, UsageError
from stig.node.authors import member_of
from stig.node.petnames import check_name
from stig.readable import SHORT_ID
from stig.tui.dialogs.ask import AskScreen
from stig.tui.messages import ListsChanged
from stig.tui.session import Session


def _checked(text: str) -> str | None:
    try:
        check_name(text.strip())
    except UsageError as exc:
        return str(exc)
    return None


async def name_author(
    screen: Screen[Any], session: Session, trace: Trace, group: str | None
) -> bool:
    """Ask for a name for ``trace``'s author and keep it (a worker: it waits for the dialog).
    Not for one of this device's personas (they have their names) or an anonymous post."""
    local = session.node
    if group is not None and local.rooms.is_anonymous(group, trace):
        screen.notify(
            f"this was posted by {member_of(group)}, anonymously: there is no author to name",
            severity="error",
        )
        return False
    own = local.keyring.owners().get(trace.author)
    if own is not None:
        screen.notify(f"that is your persona {own}: it has its name", severity="warning")
        return False
    key = trace.author
    current = local.petnames().name_of(key) or ""
    answer = await screen.app.push_screen_wait(
        AskScreen(
            f"A name for {key.hex()[:SHORT_ID]}, shown wherever this author is. It stays on "
            "this device: never sent, erased by wipe. An empty name forgets it.",
            value=current,
            placeholder="a name",
            check=lambda text: None if not text.strip() else _checked(text),
        )
    )
    if answer is None:
        return False
    name = answer.strip()
    try:
        if not name:
            if current:
                local.change_petnames(lambda names: names.unnamed(current))
            screen.notify(f"{key.hex()[:SHORT_ID]} has no name here now")
        else:
            local.change_petnames(lambda names: names.named(key, name))
            screen.notify(f"{key.hex()[:SHORT_ID]} is {name} here")
    except (StigError, OSError) as exc:
        screen.notify(f"not named: {exc}", severity="error", timeout=8)
        return False
    screen.post_message(ListsChanged())  # the page shown reads authors again
    return True
