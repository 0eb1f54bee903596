"""Contour: what is alive, not who — activity by tag and day, and by coarse place, computed
from what reached this node."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Label, Sparkline, Static

from stig.crdt.contour import Contour
from stig.readable import bar
from stig.tui.screens.page import Page

SHADES = " ░▒▓█"
DAYS = 14
TAG_WIDTH = 16


def heat_grid(contour: Contour) -> Text:
    """One row per tag, one cell per day (oldest left, today right), shaded by count."""
    text = Text()
    top = max((n for row in contour.by_tag.values() for n in row), default=0)
    days = [
        dt.datetime.fromtimestamp((contour.first_day + i) * 86400, dt.UTC)
        for i in range(contour.days)
    ]
    text.append(" " * (TAG_WIDTH + 1))
    text.append("".join(day.strftime("%a")[0] + " " for day in days) + "\n", style="dim")
    for tag, row in contour.by_tag.items():
        name = f"#{tag}"
        text.append(
            (name if len(name) <= TAG_WIDTH else name[: TAG_WIDTH - 1] + "…").ljust(TAG_WIDTH + 1)
        )
        for n in row:
            level = 0 if not n or not top else 1 + round((n / top) * (len(SHADES) - 2))
            text.append(SHADES[level] * 2, style="magenta")
        text.append(f"  {sum(row)}\n", style="dim")
    if not contour.by_tag:
        text.append("no tagged traces in these days\n", style="dim")
    return text


def place_bars(contour: Contour) -> Text:
    text = Text()
    top = max(contour.by_place.values(), default=0)
    for place, n in contour.by_place.items():
        text.append(f"@{place:<6}", style="bold")
        text.append(bar(n, top, width=20), style="cyan")
        text.append(f" {n}\n")
    if not contour.by_place:
        text.append("no traces with a place\n", style="dim")
    return text


class ContourScreen(Page):
    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(f"Traces per day, last {DAYS} days (all kinds)", classes="section")
            yield Sparkline([], id="total")
            yield Label("By tag and day", classes="section")
            yield Static("", id="grid")
            yield Label("By place (geohash, coarse)", classes="section")
            yield Static("", id="places")
            yield Label(
                "Counted from what reached this node; authors are not part of it.",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.reload()

    @work(exclusive=True, group="contour")
    async def reload(self) -> None:
        contour = await self.session.node.contour(DAYS)
        self.query_one("#total", Sparkline).data = list(contour.total)
        self.query_one("#grid", Static).update(heat_grid(contour))
        self.query_one("#places", Static).update(place_bars(contour))
