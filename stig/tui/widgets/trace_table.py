"""A table of ranked traces: the feed, search results, a thread's answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widgets import DataTable

from stig.crdt import kinds
from stig.crdt.trace import Trace
from stig.crdt.views import Counts, Ranked
from stig.readable import SHORT_ID, bar, span

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


@dataclass(frozen=True)
class Column:
    label: str
    width: int


HEAT = Column("heat", 5)
KIND = Column("kind", 8)
BY = Column("by", SHORT_ID)
TAGS = Column("tags", 22)
NARROW_TAGS = Column("tags", 12)
PLACE = Column("place", 5)
AGE = Column("age", 4)
FADES = Column("fades", 5)
COUNTS = Column("↩ echo ✓ ✗", 11)
TEXT = "text"
GAP = "  "
TEXT_MIN = 30
"""Cells the text keeps however narrow the terminal: columns go before it does (at 80 columns
the text had 3 cells once)."""

LAYOUTS = (
    (HEAT, KIND, BY, TAGS, PLACE, AGE, FADES, COUNTS),
    (HEAT, KIND, BY, NARROW_TAGS, PLACE, AGE, FADES, COUNTS),
    (HEAT, KIND, BY, NARROW_TAGS, AGE, FADES, COUNTS),
    (HEAT, KIND, BY, NARROW_TAGS, AGE, FADES),
    (HEAT, KIND, BY, NARROW_TAGS, AGE),
    (HEAT, KIND, BY, AGE),
    (HEAT, KIND, AGE),
    (HEAT, KIND),
)
"""The columns before the text, widest first: the first that leaves the text ``TEXT_MIN`` cells
is used. What goes first is what the thread view shows anyway (place, counts, when it fades);
who wrote it (``by``: a name given here, stig.node.authors) stays down to 80 columns."""


def key_prefix(trace: Trace) -> str:
    """An author with no name here: the first hex digits of their key."""
    return trace.author.hex()[:SHORT_ID]


def layout(width: int) -> tuple[Column, ...]:
    """The columns of a table ``width`` cells wide, the text last and taking what is left (at
    most ``BODY_PREVIEW``)."""
    for columns in LAYOUTS:
        used = sum(column.width + len(GAP) for column in columns)
        if width - used >= TEXT_MIN:
            return (*columns, Column(TEXT, min(width - used, BODY_PREVIEW)))
    return (*LAYOUTS[-1], Column(TEXT, TEXT_MIN))


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` terminal cells: cut with an ellipsis, or padded."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def counts_cell(counts: Counts) -> str:
    """Answers, echoes, confirms, disputes under the one heading ``↩ echo ✓ ✗``."""
    return " ".join(
        f"{n or '·':>{width}}"
        for n, width in (
            (counts.answers, 1),
            (counts.echoes, 4),
            (counts.confirms, 1),
            (counts.disputes, 1),
        )
    )


def header_line(columns: tuple[Column, ...]) -> str:
    return GAP.join(fit(column.label, column.width) for column in columns)


NEW_MARK = "● "
"""Before the text of a trace that arrived since the person last looked (stig.tui.unread)."""


def row_line(
    item: Ranked,
    now: int,
    top: float,
    columns: tuple[Column, ...],
    *,
    new: bool = False,
    author: str = "",
) -> Text:
    """One trace as one line of the table, in ``columns``, by ``author`` (as it reads here);
    a new one marked."""
    t = item.trace
    kind = kind_label(t.kind)
    cells = {
        HEAT.label: (bar(item.intensity, top), "bold"),
        KIND.label: (kind.plain, kind.style),
        BY.label: (author or key_prefix(t), ""),
        TAGS.label: (" ".join(f"#{tag}" for tag in t.tags), ""),
        PLACE.label: (t.place, ""),
        AGE.label: (span(now - t.created), ""),
        FADES.label: (span(item.effective_expiry - now), ""),
        COUNTS.label: (counts_cell(item.counts), ""),
        TEXT: (NEW_MARK + first_line(t.body), "bold") if new else (first_line(t.body), ""),
    }
    line = Text(no_wrap=True, overflow="crop")
    for index, column in enumerate(columns):
        if index:
            line.append(GAP)
        value, style = cells[column.label]
        line.append(fit(value, column.width), style=style)
    return line


class TraceTable(DataTable[Text]):
    """Rows keyed by the trace's hex id; the highlighted row survives a refresh.

    Each trace is one pre-formatted cell in fixed-width columns (``layout``): a row costs one
    cell to draw, not eight, and the first frame is drawn at its final layout. The columns are
    chosen by the table's width, so a narrow terminal loses columns, not the text; a resize
    that changes them formats the rows again. Lines are cached by whether they hold the
    cursor, not by where the cursor is (DataTable's own line cache is keyed by the cursor's
    position, so every move would redraw every visible line).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.items: list[Ranked] = []
        self._texts: list[Text] = []
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(2000)
        self._layout: tuple[Column, ...] = ()
        self._now = 0
        self.new: frozenset[bytes] = frozenset()
        """Ids of the traces marked as new."""
        self.author: Callable[[Trace], str] = key_prefix
        """How a row's author reads (handed down by the screen: names given here)."""

    def _layout_for_width(self) -> tuple[Column, ...]:
        # the vertical scrollbar's gutter is kept free, so that rows filling the screen (and
        # so showing it) do not change the layout
        free = self.size.width - 2 * self.cell_padding - self.styles.scrollbar_size_vertical
        return layout(free) if free > 0 else layout(200)

    def _set_columns(self) -> None:
        self._layout = self._layout_for_width()
        header = header_line(self._layout)
        self.add_column(header, key="trace", width=cell_len(header))

    def on_mount(self) -> None:
        self._set_columns()

    def on_resize(self) -> None:
        if self._layout_for_width() != self._layout:
            items, keep = self.items, self.selected_id
            self.items, self._texts = [], []
            self.clear(columns=True)
            self._set_columns()
            self.extend(items, self._now)
            if keep is not None:
                self.select(keep)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        try:
            row_key, _ = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        row = self._row_locations.get(row_key)
        if row is None or row >= len(self._texts):  # the header
            return super()._render_line(y, x1, x2, base_style)
        cursor = self.show_cursor and row == self.cursor_row
        hover = self.show_cursor and self._show_hover_cursor and row == self.hover_row
        key = (
            y,
            x1,
            x2,
            self.size.width,
            cursor,
            hover,
            base_style,
            self._update_count,
            self._pseudo_class_state,
        )
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw_row(row, x1, x2, base_style, cursor=cursor, hover=hover)
            self._lines[key] = strip
        return strip

    def _draw_row(
        self, row: int, x1: int, x2: int, base_style: Style, *, cursor: bool, hover: bool
    ) -> Strip:
        """One data row as DataTable would draw it (zebra, cursor and hover styles from the
        CSS, cursor colours over the text's, the row in the mouse metadata so clicks select
        it), but from the row's one pre-rendered Text instead of cell by cell."""
        row_style = base_style + self._get_row_style(row, base_style)
        over = Style.null()
        if hover:
            over += self.get_component_rich_style("datatable--hover")
        if cursor:
            over += self.get_component_rich_style("datatable--cursor")
        over = Style.from_color(over.color, over.bgcolor) + Style.from_meta(
            {"row": row, "column": 0}
        )
        pad = " " * self.cell_padding
        segments = [Segment(pad, row_style + over)]
        for part in self._texts[row].render(self.app.console, end=""):
            segments.append(Segment(part.text, row_style + (part.style or Style.null()) + over))
        segments.append(Segment(pad, row_style + over))
        return (
            Strip(segments).crop(x1, x2).adjust_cell_length(self.size.width, base_style).simplify()
        )

    def show(
        self,
        items: list[Ranked],
        now: int,
        new: frozenset[bytes] = frozenset(),
        author: Callable[[Trace], str] = key_prefix,
    ) -> None:
        """Show ``items`` (replacing the rows), keeping the highlighted trace if still there;
        those in ``new`` marked; their authors as ``author`` reads them."""
        keep = self.selected_id
        self.new = new
        self.author = author
        self.items = []
        self._texts = []
        self.clear()
        self.extend(items, now)
        if keep is not None:
            self.select(keep)

    def extend(self, items: list[Ranked], now: int) -> None:
        """Add rows below the present ones (the next page of the feed)."""
        everything = self.items + items
        top = max((item.intensity for item in everything), default=0.0)
        self.items = everything
        self._now = now
        for item in items:
            line = row_line(
                item,
                now,
                top,
                self._layout,
                new=item.trace.id in self.new,
                author=self.author(item.trace),
            )
            self._texts.append(line)
            self.add_row(line, key=item.trace.hex_id)

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
