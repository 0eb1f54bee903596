"""A table of ranked traces: the feed, search results, a thread's answers."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from stig.crdt import kinds
from stig.crdt.views import Ranked
from stig.readable import bar, span

BODY_PREVIEW = 72


def first_line(body: str, width: int = BODY_PREVIEW) -> str:
    line = next((part for part in body.splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


KIND_STYLES = {
    kinds.CALLOUT: "bold magenta",
    kinds.ACTION: "bold green",
    kinds.REPORT: "cyan",
    kinds.DISPUTE: "red",
}


def kind_label(kind: str) -> Text:
    """Known kinds in their colour; a kind from a newer version plainly, marked as unknown."""
    if kind in kinds.KNOWN_KINDS:
        return Text(kind, style=KIND_STYLES.get(kind, ""))
    return Text(f"{kind} (unknown)", style="italic")


class TraceTable(DataTable[str | Text]):
    """Rows keyed by the trace's hex id; the highlighted row survives a refresh."""

    COLUMNS = ("heat", "kind", "tags", "place", "age", "fades", "↩", "echo", "✓", "✗", "text")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.items: list[Ranked] = []

    def on_mount(self) -> None:
        for label in self.COLUMNS:
            self.add_column(label, key=label)

    def show(self, items: list[Ranked], now: int) -> None:
        keep = self.selected_id
        self.items = items
        top = max((item.intensity for item in items), default=0.0)
        self.clear()
        for item in items:
            t = item.trace
            c = item.counts
            self.add_row(
                Text(bar(item.intensity, top), style="bold"),
                kind_label(t.kind),
                " ".join(f"#{tag}" for tag in t.tags),
                t.place,
                span(now - t.created),
                span(item.effective_expiry - now),
                str(c.answers or ""),
                str(c.echoes or ""),
                str(c.confirms or ""),
                str(c.disputes or ""),
                first_line(t.body),
                key=t.hex_id,
            )
        if keep is not None:
            self.select(keep)

    @property
    def selected(self) -> Ranked | None:
        if not self.items or self.cursor_row < 0 or self.cursor_row >= len(self.items):
            return None
        return self.items[self.cursor_row]

    @property
    def selected_id(self) -> str | None:
        chosen = self.selected
        return chosen.trace.hex_id if chosen else None

    def select(self, hex_id: str) -> None:
        for row, item in enumerate(self.items):
            if item.trace.hex_id == hex_id:
                self.move_cursor(row=row, animate=False)
                return
