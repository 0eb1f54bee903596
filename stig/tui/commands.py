"""stig's own actions in the command palette (``ctrl+p``), beside Textual's (theme, quit, keys).

Each command is what a key does somewhere (the places, compose, undo a mute), or what has no key
of its own: connect to a peer by address, show a space, use a persona, and the panic buttons
(burn the persona in use, wipe this device — each still asks for its typed word). The list is
made when the palette opens, so it names this device's groups and personas as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from stig.tui.spaces import space_label

if TYPE_CHECKING:
    from stig.tui.app import StigApp


@dataclass(frozen=True)
class StigCommand:
    title: str
    help: str
    run: Callable[[], object]


def stig_commands(app: StigApp) -> list[StigCommand]:
    local = app.live.local
    commands = [
        StigCommand("Compose a trace", "in the space shown (c in the feed)", app.action_compose),
        StigCommand("Feed", "the traces alive here, most intense first (f)", app.action_feed),
        StigCommand("Search", "full text, offline, in the space shown (/)", app.action_search),
        StigCommand("Peers", "connected peers, last sync, how to add one (p)", app.action_peers),
        StigCommand("Connect to a peer…", "dial a peer by its multiaddr", app.action_connect),
        StigCommand("Contour", "activity by tag and day, and by place (o)", app.action_contour),
        StigCommand("Identities", "personas: create, switch, burn (i)", app.action_identities),
        StigCommand("Groups", "new, invite, join, leave, fork (G)", app.action_groups),
        StigCommand("Mutes", "what this device hides (M)", app.action_mutes),
        StigCommand("Undo the last mute", "ctrl+z", app.action_undo_mute),
        StigCommand("Help: every key", "?", app.action_help),
    ]  # fmt: skip
    for group in [None, *local.groups.names()]:
        if group != app.group:
            commands.append(
                StigCommand(
                    f"Show {space_label(group)}",
                    "switch the space shown (g in the feed)",
                    lambda group=group: app.show_space(group),  # type: ignore[misc]
                )
            )
    for name in local.keyring.names():
        if name != app.persona_name:
            commands.append(
                StigCommand(
                    f"Use persona {name}",
                    "sign what you post with it from now on",
                    lambda name=name: app.use_persona(name),  # type: ignore[misc]
                )
            )
    if app.persona_name:
        commands.append(
            StigCommand(
                f"Burn persona {app.persona_name}…",
                "retract everything it posted, everywhere the burn reaches (asks first)",
                app.action_burn,
            )
        )
    commands.append(
        StigCommand(
            "Wipe this device…",
            "erase every key, group, store and mute here, then close (asks first)",
            app.action_wipe,
        )
    )
    return commands


class StigCommands(Provider):
    @property
    def stig(self) -> StigApp:
        return self.app  # type: ignore[return-value]

    async def discover(self) -> Hits:
        for command in stig_commands(self.stig):
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in stig_commands(self.stig):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
