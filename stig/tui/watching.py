"""Watching from the TUI (stig.node.watch_list, the list `stig watch` keeps): ``w`` on a row
offers its kind, tags and place (and, in the feed, what the filter says) to watch; the palette's
"Watch…" takes the words as `stig watch add` does. Each is called from a worker (it waits for a
dialog); the app's next look at the store announces what matches (stig.node.notices).
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from stig.crdt import kinds
from stig.crdt.trace import Trace
from stig.errors import StigError
from stig.filter_words import FilterError
from stig.node import watch_list
from stig.node.watch_list import read_watch
from stig.tui.dialogs.ask import AskScreen
from stig.tui.dialogs.watch import WatchScreen
from stig.tui.session import Session


def row_words(trace: Trace, filter_text: str = "") -> list[tuple[str, str, bool]]:
    """What a row offers to watch, as (label, words, chosen at first): its kind (chosen, if a
    known kind), each tag (the first chosen), its place; and ``filter_text``, the words of the
    filter applied, as one choice (chosen then, alone). Pure."""
    offered: list[tuple[str, str, bool]] = []
    if filter_text:
        offered.append((f"what the filter says: {filter_text}", filter_text, True))
    first = not filter_text
    known = trace.kind in kinds.KNOWN_KINDS
    offered.append((f"its kind: {trace.kind}", f"kind:{trace.kind}", first and known))
    for index, tag in enumerate(trace.tags):
        offered.append((f"its tag #{tag}", f"#{tag}", first and index == 0))
    if trace.place:
        offered.append((f"its place @{trace.place}", f"@{trace.place}", False))
    return offered


def keep(screen: Screen[Any], session: Session, words: str) -> bool:
    """Watch ``words``; say so (or why not)."""
    node = session.node
    try:
        where = read_watch(words, node.author_named)
        text, new = watch_list.add(node.home.watches_file, where)
    except (FilterError, StigError, OSError) as exc:
        screen.notify(f"not watched: {exc}", severity="error", timeout=8)
        return False
    if new:
        screen.notify(f"watching {text}: a toast and the bell when a trace matching it arrives")
    else:
        screen.notify(f"already watching {text}")
    return new


async def watch_row(
    screen: Screen[Any], session: Session, trace: Trace, filter_text: str = ""
) -> bool:
    """Offer what ``trace`` (and the filter) says to watch; keep what is chosen."""
    words = await screen.app.push_screen_wait(WatchScreen(row_words(trace, filter_text)))
    return keep(screen, session, words) if words else False


def _problem(session: Session, text: str) -> str | None:
    """Why ``text`` is no watch, or None. A kind this version does not know is refused here: in
    a watch it is most often a typo, and a watch that never fires fails silently."""
    try:
        where = read_watch(text, session.node.author_named)
    except FilterError as exc:
        return str(exc)
    unknown = sorted(kind for kind in where.kinds if kind not in kinds.KNOWN_KINDS)
    if unknown:
        near = kinds.nearest_known(unknown[0])
        guess = f" — did you mean kind:{near}?" if near else ""
        return (
            f"kind:{unknown[0]} is not a known kind{guess} (known: {', '.join(kinds.KNOWN_KINDS)})"
        )
    return None


async def watch_words(screen: Screen[Any], session: Session) -> bool:
    """Ask for a watch's words (as `stig watch add` takes them); keep it."""
    words = await screen.app.push_screen_wait(
        AskScreen(
            "Watch for traces that match every word (a toast and the bell when one arrives):",
            placeholder="#housing @u09 kind:callout",
            check=lambda text: _problem(session, text),
        )
    )
    return keep(screen, session, words) if words and words.strip() else False
