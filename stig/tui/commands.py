"""stig's own actions in the command palette (``ctrl+p``), beside Textual's (theme, quit, keys).

Each command is what a key does somewhere (the places, compose, undo a mute), or what has no key
of its own: connect to a peer, show a space, use a persona, and the panic buttons
(burn the persona in use, wipe this device — each still asks for its typed word). The list is
made when the palette opens, so it names this device's groups and personas as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from stig.tui.screens.page import Page
from stig.tui.session import Session
from stig.tui.spaces import space_label


@dataclass(frozen=True)
class StigCommand:
    title: str
    help: str
    action: str
    """The app's action that runs it, as a key binding names one (``show_space('crew')``)."""


def stig_commands(session: Session) -> list[StigCommand]:
    node = session.node
    commands = [
        StigCommand("Compose a trace", "in the space shown (c in the feed)", "compose"),
        StigCommand("Feed", "the traces alive here, most intense first (f)", "feed"),
        StigCommand("Search", "full text, offline, in the space shown (/)", "search"),
        StigCommand("Peers", "connected peers, this node's invite, adding a peer (p)", "peers"),
        StigCommand("Connect to a peer…", "add one by its code or address (Peers, a)", "connect"),
        StigCommand("Contour", "activity by tag and day, and by place (o)", "contour"),
        StigCommand("Identities", "personas: create, switch, burn (i)", "identities"),
        StigCommand("Groups", "new, invite, join, leave, fork (G)", "groups"),
        StigCommand("Mutes", "what this device hides (M)", "mutes"),
        StigCommand("Undo the last mute", "ctrl+z", "undo_mute"),
        StigCommand(
            "Watch…",
            "a toast and the bell when a trace matching words arrives (w on a row)",
            "watch",
        ),
        StigCommand("Help: every key", "?", "help"),
    ]  # fmt: skip
    for group in [None, *node.groups.names()]:
        if group != session.group:
            commands.append(
                StigCommand(
                    f"Show {space_label(group)}",
                    "switch the space shown (g in the feed)",
                    f"show_space({group!r})",
                )
            )
    for name in node.keyring.names():
        if name != session.persona_name:
            commands.append(
                StigCommand(
                    f"Use persona {name}",
                    "sign what you post with it from now on",
                    f"use_persona({name!r})",
                )
            )
    if session.persona_name:
        commands.append(
            StigCommand(
                f"Burn persona {session.persona_name}…",
                "retract everything it posted, everywhere the burn reaches (asks first)",
                "burn",
            )
        )
    commands.append(
        StigCommand(
            "Wipe this device…",
            "erase every key, group, store and mute here, then close (asks first)",
            "wipe",
        )
    )
    return commands


class StigCommands(Provider):
    """stig's commands, on the pages of the app (a dialog offers Textual's alone)."""

    def _commands(self) -> list[StigCommand]:
        screen = self.screen
        return stig_commands(screen.session) if isinstance(screen, Page) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(
                command.title, partial(self.app.run_action, command.action), help=command.help
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    partial(self.app.run_action, command.action),
                    help=command.help,
                )
