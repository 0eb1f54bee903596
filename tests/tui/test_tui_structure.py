"""The terminal UI's shape, checked on its source: no import cycle among its modules (imports
under TYPE_CHECKING and inside functions count: they hide a cycle, they do not break it), and
no clock read in screens, dialogs or widgets (time comes from the session, so that snapshots
are the same on every run)."""

from __future__ import annotations

import ast
from pathlib import Path

import stig.tui

TUI = Path(stig.tui.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(TUI.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every stig.tui module (or name in one) that ``path`` imports, wherever it does."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(path): path for path in TUI.rglob("*.py")}
    return {
        name: {m for m in _imports(path) if m in files and m != name}
        for name, path in files.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, or None (depth-first search, colouring the path)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for target in sorted(graph[name]):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name)
        if found:
            return found
    return None


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "stig.tui.session" in graph["stig.tui.screens.page"]
    assert "stig.tui.screens.feed" in graph["stig.tui.app"]


def test_no_import_cycle_in_the_terminal_ui() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_screens_dialogs_and_widgets_read_no_clock() -> None:
    clocks = {"time", "stig.node.clock", "datetime.datetime.now"}
    for folder in ("screens", "dialogs", "widgets"):
        for path in (TUI / folder).glob("*.py"):
            assert not _imports(path) & clocks, path.name
            assert "time.time(" not in path.read_text(), path.name
