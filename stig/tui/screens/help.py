"""Help: every key, screen by screen, read from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.feed import FeedScreen
from stig.tui.screens.groups import GroupsScreen
from stig.tui.screens.identities import IdentitiesScreen
from stig.tui.screens.mutes import MutesScreen
from stig.tui.screens.page import Page
from stig.tui.screens.peers import PeersScreen
from stig.tui.screens.search import SearchScreen
from stig.tui.screens.thread import ThreadScreen
from stig.tui.session import Session

INTRO = (
    "stig keeps traces: call-outs, actions, reports, notes. Each fades when its time is up; "
    "echoes, actions and confirms by others keep it alive and make it more intense. "
    "Everything works offline; what you post spreads when a peer is reached. The mouse works "
    "too: click a row to open it. Affinity groups (G) share traces sealed, among members only; "
    "g in the feed switches between the public space and your groups. m hides the author of "
    "a row on this device (nobody is told); M lists what you hide; N gives its author a name "
    "that stays on this device."
)

COLUMNS = (
    "Intensity (the heat bar): how alive a trace is now — one share for its author and one for "
    "each other person who echoed, confirmed or acted on it, each share halving with every "
    "day since it was given. The feed is ordered by it; only other people's support counts "
    "(your own echo or confirm of your own trace is refused).\n"
    "The ↩ echo ✓ ✗ columns count answers (traces that answer it), echoes, confirms and "
    "disputes — echoes, confirms and disputes by distinct other people, each person's latest "
    "word only. A dispute says a trace is false; it does not shorten its life."
)


def _key(binding: Binding) -> str:
    names = {
        "slash": "/",
        "question_mark": "?",
        "full_stop": ".",
        "escape": "esc",
        "delete": "del",
    }
    return " ".join(names.get(k, k) for k in binding.key.split(","))


def key_table(everywhere: list[BindingType]) -> Table:
    """Every key: ``everywhere`` (the app's own, handed down), then each screen's."""
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("where")
    table.add_column("key")
    table.add_column("does")
    for place, bindings in (
        ("everywhere", everywhere),
        ("any screen", Page.BINDINGS),
        ("feed", FeedScreen.BINDINGS),
        ("trace", ThreadScreen.BINDINGS),
        ("search", SearchScreen.BINDINGS),
        ("peers", PeersScreen.BINDINGS),
        ("compose", ComposeScreen.BINDINGS),
        ("identities", IdentitiesScreen.BINDINGS),
        ("groups", GroupsScreen.BINDINGS),
        ("mutes", MutesScreen.BINDINGS),
    ):
        for index, binding in enumerate(bindings):
            assert isinstance(binding, Binding)
            where = place if index == 0 else ""
            table.add_row(where, _key(binding), binding.description or binding.action)
    table.add_row("", "ctrl+p", "commands: stig's actions by name (burn and wipe among them)")
    table.add_row("", "↑ ↓ pgup pgdn", "move in lists")
    table.add_row("", "tab", "next field")
    return table


class HelpScreen(Page):
    BINDINGS = [Binding("q", "back", "Back", show=False)]
    STATUS = False

    def __init__(self, session: Session, everywhere: list[BindingType]) -> None:
        super().__init__(session)
        self.everywhere = everywhere

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(INTRO, classes="hint")
            yield Static(COLUMNS, classes="hint")
            yield Static(key_table(self.everywhere))
