"""Identities: the personas on this device; create one, switch to one."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from stig.errors import StigError
from stig.tui.dialogs.ask import AskScreen
from stig.tui.messages import SessionChanged
from stig.tui.panic import burn
from stig.tui.screens.page import Page


class IdentitiesScreen(Page):
    BINDINGS = [
        Binding("n", "new", "New persona"),
        Binding("enter", "switch", "Use this one", show=False),
        Binding("d", "make_default", "Make default"),
        Binding("B", "burn", "Burn"),
        Binding("W", "app.wipe", "Wipe this device"),
    ]

    def body(self) -> ComposeResult:
        yield Static(
            "A persona is a signing key. Traces signed by different personas cannot be linked "
            "by their keys; the one in use signs what you post. Enter switches, n creates. "
            "B burns the highlighted persona (retracts all it posted), W wipes this device.",
            classes="hint",
        )
        yield DataTable(id="personas", cursor_type="row")

    def on_mount(self) -> None:
        self.show()
        self.query_one(DataTable).focus()

    def reload(self) -> None:  # e.g. a persona chosen in the palette
        self.show()

    def show(self) -> None:
        keyring = self.session.node.keyring
        table = self.query_one(DataTable)
        keep = self._chosen()
        names = keyring.names()
        # Columns of fixed widths, set anew each time: DataTable sizes columns by the rows it
        # was first given, so a longer name created later ran into the next column.
        table.clear(columns=True)
        widths = (1, max([len("persona"), *map(len, names)]), 25, 9, 7)
        for label, width in zip(
            ("", "persona", "public key", "protected", "default"), widths, strict=True
        ):
            table.add_column(label, key=label or "using", width=width)
        for name in names:
            table.add_row(
                "▶" if name == self.session.persona_name else "",
                name,
                keyring.public_key(name).hex()[:24] + "…",
                "passphrase" if keyring.is_locked(name) else "no",
                "yes" if name == keyring.default else "",
                key=name,
            )
        if keep in names:
            table.move_cursor(row=names.index(keep), animate=False)

    def _chosen(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowSelected)
    def action_switch(self) -> None:
        name = self._chosen()
        if name is not None:
            self._use(name)
            self.app.notify(f"now posting as {name}")

    def _use(self, name: str) -> None:
        self.session.persona_name = name
        self.post_message(SessionChanged())
        self.show()

    def action_make_default(self) -> None:
        name = self._chosen()
        if name is not None:
            self.session.node.keyring.set_default(name)
            self.show()

    @work(group="identities")
    async def action_new(self) -> None:
        name = await self.app.push_screen_wait(AskScreen("Name of the new persona (local only):"))
        if not name:
            return
        passphrase = await self.app.push_screen_wait(
            AskScreen("Passphrase to protect its key on this device (empty: none):", password=True)
        )
        if passphrase is None:
            return
        if passphrase:

            def same(again: str) -> str | None:
                return None if again == passphrase else "not the same: type it again (Esc cancels)"

            again = await self.app.push_screen_wait(
                AskScreen("The same passphrase again, to be sure of it:", password=True, check=same)
            )
            if again is None:
                return
        try:
            self.session.node.keyring.create(name.strip(), passphrase or None)
        except StigError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            return
        self._use(name.strip())
        self.app.notify(f"created persona {name.strip()}; posting as it now")

    @work(group="identities")
    async def action_burn(self) -> None:
        name = self._chosen()
        if name is not None:
            await burn(self, self.session, name)
