"""The feed: traces ordered by intensity, live, with a filter line; public, or one affinity
group's (the space selector, ``g``, or ``group:NAME`` in the filter line)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Select, Static

from stig.crdt import kinds
from stig.crdt.views import FeedFilter
from stig.errors import StigError
from stig.filter_words import FilterError, describe, parse_filter
from stig.node.local import Draft
from stig.tui.filters import HINT, split_group
from stig.tui.messages import SessionChanged
from stig.tui.naming import name_author
from stig.tui.posting import respond
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.thread import ThreadScreen
from stig.tui.screens.trace_list import TraceListPage
from stig.tui.session import Session
from stig.tui.spaces import PUBLIC, as_group, space_label, space_options
from stig.tui.widgets.trace_table import TraceTable

PAGE = 200
"""Rows fetched at a time; reaching the last row fetches the next page."""


class FeedScreen(TraceListPage):
    BINDINGS = [
        Binding("c", "compose", "Compose"),
        Binding("enter", "open", "Open", show=False),
        Binding("a", "answer", "Answer"),
        Binding("e", "echo", "Echo"),
        Binding("b", "by_author", "By author"),
        Binding("t", "by_tag", "By tag", show=False),
        Binding("ctrl+f,full_stop", "filter", "Filter"),
        Binding("g", "next_space", "Space"),
        Binding("r", "all_read", "All read"),
        Binding("m", "mute", "Mute author"),
        Binding("u", "app.undo_mute", "Undo the last mute", show=False),
        Binding("F", "follow_mutes", "Follow the author's mutes", show=False),
        Binding("N", "name_author", "Name the author", show=False),
        Binding("w", "watch", "Watch what it (or the filter) says", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.where = FeedFilter()
        self.limit = PAGE
        self.groups: list[str] = []

    def body(self) -> ComposeResult:
        self.groups = self.session.node.groups.names()
        with Horizontal(id="feed-bar"):
            yield Select(
                space_options(self.groups),
                value=self.session.group or PUBLIC,
                allow_blank=False,
                id="space",
                tooltip="the space shown: public, or one of your groups (g cycles)",
            )
            yield Input(placeholder="filter: " + HINT, id="filter")
        yield Static("", id="filter-error", classes="error")
        yield TraceTable(id="feed")
        yield Static("", id="empty", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TraceTable).focus()
        self.reload()

    def reload(self) -> None:
        self._sync_spaces()  # the space may have been chosen elsewhere (the command palette)
        self._load()

    @work(exclusive=True, group="feed")
    async def _load(self) -> None:
        group = self.session.group
        try:
            items = await self.session.node.feed(self.where, self.limit, group=group)
        except StigError as exc:  # e.g. the group was left in another terminal
            self.query_one("#filter-error", Static).update(str(exc))
            return
        # What is new in this space (it may just have been chosen): looked for here, in the
        # same worker, rather than by another reload.
        if await self.session.catch_up_unread():
            self.post_message(SessionChanged())
        table = self.query_one(TraceTable)
        table.show(
            items,
            self.session.clock(),
            self.session.new_traces(),
            self.session.author_of(group),
        )
        empty = self.query_one("#empty", Static)
        if items:
            empty.update("")
        elif self.where != FeedFilter():
            empty.update(_nothing_matches(self.where))
        elif group is not None:
            empty.update(
                f"Nothing in group {group} yet. Press c to post to it; what members post "
                "appears here once its envelope reaches this node. G manages groups."
            )
        else:
            empty.update(
                "No traces here yet. Press c to leave one; traces from other nodes appear "
                "here as they arrive (p shows peers)."
            )

    def action_all_read(self) -> None:
        """No trace of the space shown is new any more (the marks go, here and after a
        restart)."""
        if self.session.saw_all():
            self.post_message(SessionChanged())
        self._load()

    # -- space -------------------------------------------------------------------------------

    def _sync_spaces(self) -> None:
        """The selector as the app has it: groups may have been made or left meanwhile."""
        names = self.session.node.groups.names()
        if self.session.group is not None and self.session.group not in names:
            self.session.choose_group(None)
            self.post_message(SessionChanged())
        select: Select[str] = self.query_one("#space", Select)
        if names != self.groups:
            self.groups = names
            with select.prevent(Select.Changed):
                select.set_options(space_options(names))
        with select.prevent(Select.Changed):
            select.value = self.session.group or PUBLIC

    def _show_space(self, group: str | None) -> None:
        if group == self.session.group:
            return
        self.session.choose_group(group)
        self.post_message(SessionChanged())
        self.limit = PAGE
        self.reload()

    @on(Select.Changed, "#space")
    def space_chosen(self, event: Select.Changed) -> None:
        self._show_space(as_group(event.value))
        self.query_one(TraceTable).focus()

    def action_next_space(self) -> None:
        spaces: list[str | None] = [None, *self.session.node.groups.names()]
        if len(spaces) == 1:
            self.app.notify("no groups on this device yet: G opens Groups (new, join)")
            return
        at = spaces.index(self.session.group) if self.session.group in spaces else 0
        chosen = spaces[(at + 1) % len(spaces)]
        self._show_space(chosen)
        self.app.notify(f"showing {space_label(chosen)}", timeout=2)

    # -- filter ------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    @on(Input.Submitted, "#filter")
    def apply_filter(self, event: Input.Submitted) -> None:
        error = self.query_one("#filter-error", Static)
        try:
            group, rest = split_group(event.value, self.session.node.groups.names())
            self.where = parse_filter(rest, self._author_of)
        except FilterError as exc:
            error.update(str(exc))
            return
        error.update("")
        self.limit = PAGE
        self.query_one(TraceTable).focus()
        if group is not None:
            # the selector shows the space from now on; the line keeps the other words
            self.query_one("#filter", Input).value = rest
            self._show_space(as_group(group))
        self._load()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one("#filter-error", Static).update("")
        self.where = FeedFilter()
        self.query_one(TraceTable).focus()
        self._load()

    def _author_of(self, text: str) -> bytes | None:
        keyring = self.session.node.keyring
        if text in keyring.names():
            return keyring.public_key(text)
        text = text.lower()
        for item in self.query_one(TraceTable).items:
            if item.trace.author.hex().startswith(text):
                return item.trace.author
        if len(text) == 64:
            try:
                return bytes.fromhex(text)
            except ValueError:
                return None
        return None

    def filter_words(self) -> str:
        # an author as the whole key: what a watch reads back (stig.node.watch_list)
        return "" if self.where == FeedFilter() else describe(self.where, lambda key: key.hex())

    def _name_of(self, author: bytes) -> str:
        return self.session.node.keyring.owners().get(author, author.hex()[:12])

    def _narrow(self, where: FeedFilter) -> None:
        self.where = where
        self.limit = PAGE
        self.query_one("#filter", Input).value = describe(where, self._name_of)
        self._load()

    def action_by_author(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            self._narrow(
                FeedFilter(self.where.kinds, self.where.tags, self.where.place, chosen.trace.author)
            )

    def action_by_tag(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None and chosen.trace.tags:
            tags = self.where.tags | {chosen.trace.tags[0]}
            self._narrow(FeedFilter(self.where.kinds, tags, self.where.place, self.where.author))

    # -- rows --------------------------------------------------------------------------------

    def action_open(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            self.app.push_screen(
                ThreadScreen(self.session, chosen.trace.id, group=self.session.group)
            )

    @on(TraceTable.RowHighlighted)
    def more_rows(self, event: TraceTable.RowHighlighted) -> None:
        table = self.query_one(TraceTable)
        if event.cursor_row == len(table.items) - 1 and len(table.items) >= self.limit:
            self.limit += PAGE
            self.load_more()

    @work(exclusive=True, group="feed")
    async def load_more(self) -> None:
        """The next page, added below the rows shown (not a rebuild of the whole table)."""
        items = await self.session.node.feed(self.where, self.limit, group=self.session.group)
        table = self.query_one(TraceTable)
        shown = {item.trace.id for item in table.items}
        table.extend([item for item in items if item.trace.id not in shown], self.session.clock())

    def action_compose(self) -> None:
        self.app.push_screen(ComposeScreen(self.session, group=self.session.group))

    def action_answer(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            self.app.push_screen(
                ComposeScreen(self.session, answering=chosen.trace, group=self.session.group)
            )

    @work(group="post")
    async def action_echo(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is None:
            return
        await respond(
            self,
            self.session,
            chosen.trace.id,
            Draft(kind=kinds.ECHO),
            "echoed",
            group=self.session.group,
        )

    @work(group="names")
    async def action_name_author(self) -> None:
        chosen = self.query_one(TraceTable).selected
        if chosen is not None:
            await name_author(self, self.session, chosen.trace, self.session.group)


def _nothing_matches(where: FeedFilter) -> str:
    """Why an applied filter shows nothing: a kind this version does not know is most often a
    typo (traces of new kinds from the network are still kept and shown when asked for)."""
    unknown = sorted(k for k in where.kinds if k not in kinds.KNOWN_KINDS)
    if not unknown:
        return "Nothing matches this filter. Esc clears it."
    word = unknown[0]
    near = kinds.nearest_known(word)
    guess = f" — did you mean kind:{near}?" if near else ""
    return (
        f"Nothing matches: kind:{word} is not a known kind{guess} "
        f"(known: {', '.join(kinds.KNOWN_KINDS)}). Esc clears the filter."
    )
