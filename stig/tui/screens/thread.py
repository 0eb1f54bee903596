"""One trace in its thread: what it answers, what answers it, its counts; act on it from here.
A thread read in an affinity group stays in it: answers, echoes and the rest go to the group."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from stig.crdt import kinds
from stig.crdt.trace import Trace
from stig.crdt.views import Ranked
from stig.errors import StigError
from stig.node.local import Draft
from stig.readable import SHORT_ID, plural, span
from stig.store.port import Hidden, Thread
from stig.tui.dialogs.ask import AskScreen, confirmed
from stig.tui.messages import SessionChanged
from stig.tui.muting import follow_mutes, mute_author
from stig.tui.naming import name_author
from stig.tui.posting import respond
from stig.tui.screens.compose import ComposeScreen
from stig.tui.screens.page import Page
from stig.tui.session import Session
from stig.tui.widgets.trace_table import TraceTable, kind_label


def trace_text(item: Ranked, now: int, author: str, group: str | None = None) -> Text:
    t = item.trace
    c = item.counts
    text = Text()
    text.append_text(kind_label(t.kind))
    if t.tags:
        text.append("  " + " ".join(f"#{tag}" for tag in t.tags), style="bold")
    if t.place:
        text.append(f"  @{t.place}")
    if group is not None:
        text.append(f"  in group {group}", style="bold cyan")
    text.append(
        f"\nby {author} · {span(now - t.created)} ago · fades in "
        f"{span(item.effective_expiry - now)} · intensity {item.intensity:.2f}\n",
        style="dim",
    )
    text.append(
        ", ".join(
            (
                plural(c.answers, "answer", "answers"),
                plural(c.echoes, "echo", "echoes"),
                plural(c.confirms, "confirm", "confirms"),
                plural(c.disputes, "dispute", "disputes"),
            )
        )
        + "\n\n",
        style="dim",
    )
    text.append(t.body or "(no text)")
    text.append(f"\n\nid {t.hex_id}", style="dim")
    return text


def _file(typed: str) -> Path:
    return Path(typed).expanduser()


class ThreadScreen(Page):
    BINDINGS = [
        Binding("backspace", "back", "Back", show=False),
        Binding("a", "answer", "Answer"),
        Binding("e", "echo", "Echo"),
        Binding("y", "confirm", "Confirm"),
        Binding("n", "dispute", "Dispute"),
        Binding("x", "retract", "Retract"),
        Binding("s", "export", "Export"),
        Binding("m", "mute", "Mute author"),
        Binding("F", "follow_mutes", "Follow the author's mutes", show=False),
        Binding("N", "name_author", "Name the author", show=False),
        Binding("u", "up", "Answers to", show=False),
    ]

    def __init__(self, session: Session, trace_id: bytes, *, group: str | None = None) -> None:
        super().__init__(session)
        self.trace_id = trace_id
        self.group = group
        self.found: Thread | Hidden | None = None

    def body(self) -> ComposeResult:
        with VerticalScroll(id="thread"):
            yield Label("answers to", classes="section", id="up-label")
            yield Static("", id="up")
            yield Static("", id="trace", classes="trace")
            yield Label("answers", classes="section")
            yield TraceTable(id="answers")
            yield Static("", id="no-answers", classes="hint")

    def on_mount(self) -> None:
        self.reload()

    @work(exclusive=True, group="thread")
    async def reload(self) -> None:
        try:
            found = await self.session.node.thread(self.trace_id, group=self.group)
        except StigError as exc:
            self.query_one("#trace", Static).update(f"{exc}")
            self.found = None
            return
        self.found = found
        if self.session.saw(self.trace_id, self.group):  # opened: no longer new
            self.post_message(SessionChanged())
        now = self.session.clock()
        if isinstance(found, Hidden):
            self.query_one("#trace", Static).update(
                Text(
                    f"{found.kind} {found.id.hex()[:SHORT_ID]} was retracted by its author; "
                    "its text is gone from this node.",
                    style="italic",
                )
            )
            self.query_one("#up", Static).update("")
            self._show_answers([], now, open_to_answers=False)
            return
        self.query_one("#trace", Static).update(
            trace_text(found.ranked, now, self._author(found.ranked.trace), self.group)
        )
        up = Text()
        for ref, item in found.answers_to:
            if item is None:
                up.append(
                    f"{ref.hex()[:SHORT_ID]}  (not here: expired, retracted or not yet synced)\n",
                    style="dim",
                )
            else:
                first = (item.trace.body.splitlines() or [""])[0]
                up.append(f"{ref.hex()[:SHORT_ID]}  {item.trace.kind}  {first}\n")
        self.query_one("#up", Static).update(up or Text("nothing: it starts a thread", style="dim"))
        self._show_answers(found.answers, now)

    def _show_answers(
        self, answers: list[Ranked], now: int, *, open_to_answers: bool = True
    ) -> None:
        table = self.query_one(TraceTable)
        table.show(answers, now, author=self.session.author_of(self.group))
        table.display = bool(answers)  # not an empty table's header alone
        hint = "no answers yet" + (" — a answers it, e echoes it" if open_to_answers else "")
        self.query_one("#no-answers", Static).update("" if answers else hint)

    def _author(self, trace: Trace) -> str:
        return self.session.author_of(self.group)(trace)

    @property
    def _visible(self) -> Thread | None:
        return self.found if isinstance(self.found, Thread) else None

    @on(TraceTable.RowSelected)
    def open_answer(self, event: TraceTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(
                ThreadScreen(self.session, bytes.fromhex(event.row_key.value), group=self.group)
            )

    def action_up(self) -> None:
        thread = self._visible
        if thread is not None:
            for _, item in thread.answers_to:
                if item is not None:
                    self.app.push_screen(
                        ThreadScreen(self.session, item.trace.id, group=self.group)
                    )
                    return

    def action_answer(self) -> None:
        thread = self._visible
        if thread is not None:
            self.app.push_screen(
                ComposeScreen(self.session, answering=thread.ranked.trace, group=self.group)
            )

    @work(group="post")
    async def action_echo(self) -> None:
        await self._respond(kinds.ECHO, "echoed")

    @work(group="post")
    async def action_confirm(self) -> None:
        await self._respond(kinds.CONFIRM, "confirmed")

    @work(group="post")
    async def action_dispute(self) -> None:
        thread = self._visible
        if thread is None:
            return
        why = await self.app.push_screen_wait(
            AskScreen("Dispute: say why (optional), Enter to send", placeholder="why")
        )
        if why is not None:
            await self._respond(kinds.DISPUTE, "disputed", why)

    @work(group="post")
    async def action_retract(self) -> None:
        thread = self._visible
        if thread is None:
            return
        if self.group is not None:
            self.app.notify(
                "a trace inside a group cannot be retracted (it fades within 29 days); to stop "
                "sharing with the group, fork it (G)",
                severity="error",
                timeout=8,
            )
            return
        if await confirmed(
            self.app,
            "Retract this trace? Every node that gets the retraction hides it and drops its "
            "text. Type yes to retract.",
        ):
            await self._respond(kinds.RETRACT, "retracted")

    async def _respond(self, kind: str, done: str, body: str = "") -> None:
        if self._visible is not None:
            await respond(
                self,
                self.session,
                self.trace_id,
                Draft(kind=kind, body=body),
                done,
                group=self.group,
            )

    @work(group="export")
    async def action_export(self) -> None:
        if self._visible is None:
            return
        if self.group is not None:
            self.app.notify(
                "a group's thread is not exported: what is read in a group stays in it",
                severity="error",
                timeout=8,
            )
            return
        default = str(Path.home() / f"stig-thread-{self.trace_id.hex()[:SHORT_ID]}.stig")
        answer = await self.app.push_screen_wait(
            AskScreen("Export this thread as a bundle file to:", value=default)
        )
        if not answer:
            return
        path = _file(answer)
        try:
            count = await self.session.node.export_thread(self.trace_id, path)
        except StigError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            return
        self.app.notify(
            f"wrote {plural(count, 'trace', 'traces')} to {path} (stig import reads it)"
        )

    def _target(self) -> Trace | None:
        """The trace whose author ``m`` and ``F`` name: the highlighted answer when the answers
        have the focus, else the trace itself."""
        thread = self._visible
        if thread is None:
            return None
        answers = self.query_one(TraceTable)
        if answers.has_focus and answers.selected is not None:
            return answers.selected.trace
        return thread.ranked.trace

    @work(group="mutes")
    async def action_mute(self) -> None:
        target = self._target()
        if target is not None:
            # u is taken here (what this answers): the app's ctrl+z undoes everywhere
            await mute_author(self, self.session, target, self.group, undo_key="ctrl+z")

    @work(group="mutes")
    async def action_follow_mutes(self) -> None:
        target = self._target()
        if target is not None:
            await follow_mutes(self, self.session, target, self.group)

    @work(group="names")
    async def action_name_author(self) -> None:
        target = self._target()
        if target is not None:
            await name_author(self, self.session, target, self.group)
