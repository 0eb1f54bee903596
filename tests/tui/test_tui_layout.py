"""The feed's columns at any width: the text keeps its room, other columns go first; a resize
lays the rows out again."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.tui.app import StigApp
from stig.tui.widgets.trace_table import (
    BODY_PREVIEW,
    GAP,
    LAYOUTS,
    TEXT,
    TEXT_MIN,
    TraceTable,
    layout,
)
from tests.tui.homes import clock, fill, make_home, story
from tests.tui.test_tui_flows import settle, until

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("width", range(len(GAP) * 2 + 13 + TEXT_MIN, 240))
def test_the_text_keeps_its_room_and_the_line_fits(width: int) -> None:
    columns = layout(width)
    assert columns[-1].label == TEXT
    assert TEXT_MIN <= columns[-1].width <= BODY_PREVIEW
    used = sum(c.width for c in columns) + len(GAP) * (len(columns) - 1)
    assert used <= width
    if columns[:-1] != LAYOUTS[0]:  # a column went: the widest layout did not fit
        assert width < sum(c.width + len(GAP) for c in LAYOUTS[0]) + TEXT_MIN


async def test_a_resize_lays_the_feed_out_again(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, story())
    app = StigApp(home, offline=True, clock=clock)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(TraceTable)
        wide = str(table.columns["trace"].label)
        assert "place" in wide and "↩ echo" in wide
        table.move_cursor(row=2)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "place" not in str(table.columns["trace"].label), "new columns")
        narrow = str(table.columns["trace"].label)
        assert narrow.rstrip().endswith(TEXT)
        assert len(narrow) <= 80
        body = table.items[0].trace.body
        assert body[: TEXT_MIN - 1] in table.get_row_at(0)[0].plain  # the text, not 3 cells of it
        assert table.cursor_row == 2  # the highlighted trace stays highlighted
