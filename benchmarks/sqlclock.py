"""Per-statement timing of the SQL that SqliteStore sends through aiosqlite (benchmarks only).

``SqlClock`` patches ``aiosqlite.Connection._execute`` for the duration of a ``with`` block and
records, per statement shape, two times:

* ``inside`` — time spent in sqlite3 itself, measured in aiosqlite's worker thread;
* ``wall`` — from the moment the coroutine queues the call to the moment it has the result,
  i.e. ``inside`` plus the hop to the worker thread and back through the event loop.

Nothing in stig/ is changed; the patch is undone on exit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiosqlite

_MARKS = re.compile(r"\?(?:\s*,\s*\?)+")
_SPACE = re.compile(r"\s+")


def shape(sql: str, width: int = 72) -> str:
    """A statement with its ``?,?,...`` lists folded, so batches of any size group together."""
    text = _SPACE.sub(" ", _MARKS.sub("?…", sql)).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class Tally:
    sample: str = ""  # one full statement of this shape
    calls: int = 0
    wall: float = 0.0
    inside: float = 0.0


class SqlClock:
    def __init__(self) -> None:
        self.stats: dict[str, Tally] = {}
        self._original: Callable[..., Any] | None = None

    def __enter__(self) -> SqlClock:
        original = aiosqlite.Connection._execute
        self._original = original
        stats = self.stats

        async def timed(conn: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            sql = args[0] if args and isinstance(args[0], str) else getattr(fn, "__name__", "?")
            box = [0.0]

            def run(*a: Any, **k: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    box[0] = time.perf_counter() - start

            start = time.perf_counter()
            try:
                return await original(conn, run, *args, **kwargs)
            finally:
                tally = stats.setdefault(shape(sql), Tally(sample=sql))
                tally.calls += 1
                tally.wall += time.perf_counter() - start
                tally.inside += box[0]

        aiosqlite.Connection._execute = timed  # type: ignore[method-assign]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        aiosqlite.Connection._execute = self._original  # type: ignore[method-assign]

    @property
    def wall(self) -> float:
        return sum(t.wall for t in self.stats.values())

    @property
    def inside(self) -> float:
        return sum(t.inside for t in self.stats.values())

    def rows(self, per: int, top: int = 12) -> list[tuple[str, int, float, float]]:
        """(statement, calls, inside µs per trace, wall µs per trace), costliest first."""
        ranked = sorted(self.stats.items(), key=lambda item: -item[1].wall)[:top]
        return [(sql, t.calls, t.inside / per * 1e6, t.wall / per * 1e6) for sql, t in ranked]
