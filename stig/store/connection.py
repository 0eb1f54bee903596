"""One SQLite connection and the one thread that runs it: how the store reaches SQLite from the
event loop without blocking it.

SQLite's calls block, so the connection lives on a thread of its own and the loop sends it work.
Each hand-off is a *trip*: a future, a queue put, a wake-up of the thread, a
``call_soon_threadsafe`` back and a loop iteration — about 25 µs of CPU, more than most of the
store's statements cost (docs/performance.md, "One trip per store batch"). Two ways to use it:

* **a statement per trip**: ``execute``, ``fetchall``, ``executemany``, ``executescript``,
  ``create_function``, ``rows`` (what aiosqlite, which this replaces, offers);
* **a whole coroutine in one trip**: ``run(coroutine)`` runs it on the connection's thread, where
  each of the methods above runs its statement *at once* instead of making a trip, so the
  coroutine finishes without ever suspending. A store write (begin, read what is there, insert,
  recompute the derived columns, commit: six to nine statements) then costs one trip.

What ``run`` accepts: a coroutine that awaits nothing but this connection's methods (directly or
through coroutines that do the same). Anything else would suspend it on a thread without an event
loop; ``run`` then closes it (its ``finally`` blocks run, on the thread) and raises RuntimeError:
a bug of the caller, not bad input.

Cancellation: a trip that has started runs to its end on the thread whatever happens to the task
that awaits it (a thread cannot be interrupted); the caller decides whether to wait for it
(stig.store.sqlite does, so that a cancelled write still leaves its transaction closed).

Errors are sqlean's own (the sqlite3 API); the store maps them (stig.store.sqlite ``_mapped``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

THREAD_NAME = "stig-store"
"""Prefix of the connection threads' names (benchmarks/cpu_split.py groups threads by it)."""


class Connection:
    """A sqlite3-API connection served by its own thread. Open with ``await Connection.open``."""

    def __init__(self, db: Any, executor: ThreadPoolExecutor, thread: int) -> None:
        self._db = db
        self._executor = executor
        self._thread = thread  # threading.get_ident() of the connection's thread
        self._closed = False
        self.trips = 0
        """Hand-offs to the thread so far (statements run at once inside ``run`` are not)."""

    @classmethod
    async def open(cls, connect: Callable[[], Any]) -> Connection:
        """Call ``connect`` on a new thread; the connection it returns is used there only."""
        # One worker, never retired while the executor lives: every call runs on that thread.
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)

        def connected() -> tuple[Any, int]:
            return connect(), threading.get_ident()

        try:
            db, thread = await asyncio.get_running_loop().run_in_executor(executor, connected)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(db, executor, thread)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the connection's thread: at once if this is that thread (inside
        ``run``), else in a trip."""
        if threading.get_ident() == self._thread:
            return fn(*args)
        return await self._trip(fn, *args)

    def _trip(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Hand ``fn(*args)`` to the connection's thread now; the future is its result."""
        self.trips += 1
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coroutine`` to its end on the connection's thread, in one trip (module doc).
        The hand-off is made at once: what comes back is a future, not a coroutine, so the
        caller needs no task of its own to wait for it (a task costs a loop iteration)."""
        try:
            return self._trip(_drive, coroutine)
        except BaseException:  # not handed off (the connection is closed): never to run
            coroutine.close()
            raise

    @property
    def in_transaction(self) -> bool:
        return bool(self._db.in_transaction)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._call(self._execute, sql, params)

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        self._db.execute(sql, params).close()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._call(self._fetchall, sql, params)

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        cursor = self._db.execute(sql, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._call(self._executemany, sql, rows)

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows).close()

    async def executescript(self, script: str) -> None:
        await self._call(self._executescript, script)

    def _executescript(self, script: str) -> None:
        self._db.executescript(script).close()

    async def create_function(
        self, name: str, arguments: int, fn: Callable[..., Any], *, deterministic: bool = False
    ) -> None:
        await self._call(
            partial(self._db.create_function, deterministic=deterministic), name, arguments, fn
        )

    async def set_trace_callback(self, callback: Callable[[str], object] | None) -> None:
        await self._call(self._db.set_trace_callback, callback)

    async def rows(self, sql: str, params: Sequence[Any], chunk: int) -> AsyncIterator[Any]:
        """The rows of one query, ``chunk`` rows per trip (a large export never sits in
        memory whole). Other statements may run on the connection between two chunks."""
        cursor = await self._call(self._db.execute, sql, params)
        try:
            while True:
                rows = await self._call(cursor.fetchmany, chunk)
                if not rows:
                    return
                for row in rows:
                    yield row
        finally:
            await self._call(cursor.close)

    async def close(self) -> None:
        """Close the connection and let its thread end; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._call(self._db.close)
        finally:
            self._executor.shutdown(wait=False)


def _drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end (``Connection.run``)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError(
        "a coroutine run on the store's connection thread waited for something other than "
        "the connection"
    )
