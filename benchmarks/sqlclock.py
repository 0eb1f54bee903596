"""Per-statement timing of the SQL that SqliteStore sends to its connection's thread (benchmarks
only).

``SqlClock`` patches the trip to that thread for the duration of a ``with`` block —
``stig.store.connection.Connection._trip``, or ``aiosqlite.Connection._execute`` in a tree from
before stig.store.connection — and records, per trip's statement shape, two times:

* ``inside`` — time spent in sqlite3 itself, measured in aiosqlite's worker thread;
* ``wall`` — from the moment the coroutine queues the call to the moment it has the result,
  i.e. ``inside`` plus the hop to the worker thread and back through the event loop.

A write that runs its whole transaction in one trip (``Connection.run``) is one entry,
``_drive``: its statements run on the thread at once and are not seen one by one. Nothing in
stig/ is changed; the patch is undone on exit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiosqlite

try:
    from stig.store.connection import Connection
except ImportError:  # a tree from before it (aiosqlite only)
    Connection = None  # type: ignore[assignment,misc]

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
        self._target: tuple[Any, str] = (None, "")

    def __enter__(self) -> SqlClock:
        target: Any = Connection if Connection is not None else aiosqlite.Connection
        name = "_trip" if Connection is not None else "_execute"
        original = getattr(target, name)
        self._original = original
        self._target = (target, name)
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

        setattr(target, name, timed)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        target, name = self._target
        setattr(target, name, self._original)

    @property
    def calls(self) -> int:
        """Trips to the connection's thread."""
        return sum(t.calls for t in self.stats.values())

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
