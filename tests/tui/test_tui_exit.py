"""How ``stig tui`` ends: a crash inside the terminal UI is a non-zero exit status (``make run``
and scripts see it), a normal quit is zero."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from textual.app import App

import stig.cli.tui
from stig.cli.root import cli
from stig.tui.app import StigApp
from stig.tui.screens.feed import FeedScreen

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``stig tui`` as in a terminal, the app run headless (no terminal to draw on here)."""
    monkeypatch.setattr(stig.cli.tui, "in_a_terminal", lambda: True)

    def run_headless(self: StigApp, **options: Any) -> Any:
        return App.run(self, headless=True, **options)

    monkeypatch.setattr(StigApp, "run", run_headless)
    yield


def test_a_crash_in_the_terminal_ui_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, headless: None
) -> None:
    def broken(self: FeedScreen) -> Any:
        raise RuntimeError("a bug in a screen")

    monkeypatch.setattr(FeedScreen, "compose", broken)
    done = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "tui", "--offline"])
    assert (tmp_path / "home" / "store.db").exists()  # it did run
    assert done.exit_code == 1, done.output


def test_quitting_exits_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, headless: None
) -> None:
    def quit_at_once(self: FeedScreen) -> None:
        self.app.exit()

    monkeypatch.setattr(FeedScreen, "on_mount", quit_at_once)
    done = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "tui", "--offline"])
    assert done.exit_code == 0, done.output
