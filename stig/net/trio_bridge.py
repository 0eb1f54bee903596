"""The one narrow bridge between the node's asyncio loop and a trio loop in its own thread.

py-libp2p runs only on trio (it uses trio internals throughout), and the node is asyncio.
``TrioBridge`` runs ``trio.run`` in a dedicated thread and is the *only* way across:

* asyncio → trio: ``await bridge.call(fn, *args)`` runs the trio coroutine function ``fn`` as a
  task in the trio thread and returns its result (or raises its exception) to the asyncio
  awaiter. Nothing blocks a thread while waiting: the request is handed over with
  ``TrioToken.run_sync_soon`` and the answer comes back with ``loop.call_soon_threadsafe`` into
  an asyncio future. (A thread-pool round trip through ``trio.from_thread.run`` would park one
  executor thread per pending call; a stream waiting for its next frame would starve the pool.)
  Cancelling the asyncio awaiter cancels the trio task. ``call_soon`` runs a plain function in
  the trio thread without waiting for it (safe from any thread). Measured on a 2-core machine:
  a call that does nothing takes ≈45 µs (p50; p99 ≈110 µs) and ≈45 µs of CPU.
* trio → asyncio: ``bridge.to_asyncio(fn, *args)`` schedules a plain function on the asyncio
  loop (events, handler hand-offs).

Errors cross as they are: a ``StigError`` raised on the trio side is raised again on the asyncio
side; a foreign exception (from libp2p, trio, multiaddr, ...) that reaches the bridge is mapped to
``NetworkError('failed', ...)`` with ``raise ... from``; anything else is our bug and surfaces
unchanged. A call that cannot run, or is cut short, because the trio side is not running raises
``NetworkError('down', ...)``.

Watchdog: when ``trio.run`` ends without ``stop()`` having been asked for (the root task
returned or raised), every pending call fails with ``NetworkError('down')`` and ``on_exit`` is
called on the asyncio loop with the exception (unwrapped from trio's single-member exception
groups; None if the root returned), so the owner can restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Generic, TypeVar, TypeVarTuple

import trio

from stig.errors import StigError
from stig.net.network import NetworkError

if TYPE_CHECKING:
    # trio-typing (a dependency of libp2p) ships stubs that shadow trio's own annotations for
    # mypy, and they name TaskStatus here.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

FOREIGN_MODULES = frozenset({"libp2p", "trio", "multiaddr", "anyio", "noise", "nacl", "google"})
"""Top-level packages whose exceptions are mapped to NetworkError when they reach the bridge."""

ExitCallback = Callable[[BaseException | None], None]


def is_foreign(exc: BaseException) -> bool:
    """Whether ``exc`` (or, for a group, every exception in it) comes from a foreign library."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_foreign(inner) for inner in exc.exceptions)
    return type(exc).__module__.split(".", 1)[0] in FOREIGN_MODULES


def map_error(exc: BaseException) -> BaseException:
    """The exception the asyncio side sees for ``exc`` raised on the trio side."""
    if isinstance(exc, StigError) or not is_foreign(exc):
        return exc
    error = NetworkError("failed", f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def root_cause(exc: BaseException) -> BaseException:
    """``exc`` without the single-member exception groups that trio nurseries wrap around it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _down() -> NetworkError:
    return NetworkError("down", "the network thread is not running")


class _Call(Generic[T]):
    """One asyncio → trio call in flight: the asyncio future and the trio task's cancel scope."""

    __slots__ = ("cancelled", "future", "scope")

    def __init__(self, future: asyncio.Future[T]) -> None:
        self.future = future
        self.scope: trio.CancelScope | None = None
        self.cancelled = False

    def cancel(self) -> None:
        # Runs in the trio thread.
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


class TrioBridge:
    """A trio loop in a dedicated thread, started and stopped from asyncio.

    One instance serves one run at a time; after ``stop()`` (or after the trio side died)
    ``start()`` may be called again and starts a fresh thread.
    """

    def __init__(self, name: str, on_exit: ExitCallback | None = None) -> None:
        self.name = name
        self.on_exit = on_exit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop_event: trio.Event | None = None
        self._started: asyncio.Future[Any] | None = None
        self._finished: asyncio.Future[None] | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._running = False
        self._stopping = False

    @property
    def running(self) -> bool:
        """True from the end of ``start()`` until the trio side ends or ``stop()`` begins."""
        return self._running

    # --- lifecycle (asyncio side) -------------------------------------------------------------

    async def start(self, root: Callable[[TaskStatus[T]], Awaitable[None]]) -> T:
        """Start the thread and run ``root`` in it; return what ``root`` passed to
        ``task_status.started(...)``. If ``root`` fails before that, its error is raised here
        (mapped like any call). ``root`` is expected to run until cancelled: if it returns or
        raises later, the trio side ends and the watchdog fires."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = False
        started: asyncio.Future[T] = loop.create_future()
        self._started = started
        self._finished = loop.create_future()
        thread = threading.Thread(
            target=self._thread_main, args=(root,), name=f"trio-{self.name}", daemon=True
        )
        self._thread = thread
        thread.start()
        try:
            value = await started
        except BaseException:
            await self.stop()
            raise
        self._running = True
        return value

    async def stop(self) -> None:
        """Cancel everything on the trio side, wait for ``trio.run`` to return, join the
        thread. Idempotent; pending calls fail with NetworkError('down')."""
        thread, finished = self._thread, self._finished
        if thread is None or finished is None:
            return
        self._stopping = True
        self._running = False
        if self._token is not None:
            with suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._request_stop)
        await asyncio.shield(finished)
        # The thread has reported its end; join() only waits for it to return from its target.
        thread.join()
        self._thread = None
        self._token = None

    # --- asyncio → trio -----------------------------------------------------------------------

    async def call(self, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """Run ``await fn(*args)`` in the trio thread; return its result here."""
        token = self._token
        if not self._running or token is None or self._loop is None:
            raise _down()
        future: asyncio.Future[T] = self._loop.create_future()
        call = _Call(future)
        self._pending.add(future)
        try:
            token.run_sync_soon(self._spawn_call, call, fn, args)
        except trio.RunFinishedError:
            self._pending.discard(future)
            raise _down() from None
        try:
            return await future
        except asyncio.CancelledError:
            # Cancel the trio task too; if the trio side is gone there is nothing to cancel.
            with suppress(trio.RunFinishedError):
                token.run_sync_soon(call.cancel)
            raise
        finally:
            self._pending.discard(future)

    def call_soon(self, fn: Callable[[*Ts], object], *args: *Ts) -> bool:
        """Run the plain function ``fn(*args)`` in the trio thread soon, without waiting.
        Returns False if the trio side is not running. An exception from ``fn`` is logged:
        one escaping a ``run_sync_soon`` callback would crash trio."""
        token = self._token
        if token is None:
            return False

        def guarded() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("%s: call_soon callback failed", self.name)

        try:
            token.run_sync_soon(guarded)
        except trio.RunFinishedError:
            return False
        return True

    # --- trio → asyncio -----------------------------------------------------------------------

    def to_asyncio(self, fn: Callable[[*Ts], object], *args: *Ts) -> None:
        """From the trio thread: run ``fn(*args)`` on the asyncio loop soon. Dropped if the loop
        is closed (the asyncio side is gone, nobody is left to tell)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            log.debug("%s: asyncio loop closed, dropping a callback", self.name)

    # --- trio side ----------------------------------------------------------------------------

    def _thread_main(self, root: Callable[[TaskStatus[Any]], Awaitable[None]]) -> None:
        error: BaseException | None = None
        try:
            trio.run(self._main, root)
        except BaseException as exc:
            error = root_cause(exc)
        self.to_asyncio(self._thread_ended, error)

    async def _main(self, root: Callable[[TaskStatus[Any]], Awaitable[None]]) -> None:
        self._stop_event = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()

            async def guarded_root(task_status: TaskStatus[Any]) -> None:
                try:
                    await root(task_status)
                finally:
                    # However root ends, the whole trio side ends with it (watchdog).
                    nursery.cancel_scope.cancel()

            value = await nursery.start(guarded_root)
            self.to_asyncio(self._resolve_started, value)
            await self._stop_event.wait()
            nursery.cancel_scope.cancel()

    def _request_stop(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        elif self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _spawn_call(
        self, call: _Call[T], fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
    ) -> None:
        # A run_sync_soon callback: runs in the trio thread, must not raise.
        nursery = self._nursery
        if nursery is None or nursery.cancel_scope.cancel_called:
            self.to_asyncio(self._settle, call.future, None, _down())
            return
        nursery.start_soon(self._run_call, call, fn, args)

    async def _run_call(
        self, call: _Call[T], fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]
    ) -> None:
        try:
            with trio.CancelScope() as scope:
                call.scope = scope
                if call.cancelled:
                    scope.cancel()
                result = await fn(*args)
                self.to_asyncio(self._settle, call.future, result, None)
                return
            # Only reached when the asyncio caller cancelled: its future is already cancelled.
        except trio.Cancelled:
            # The whole trio side is being torn down.
            self.to_asyncio(self._settle, call.future, None, _down())
            raise
        except Exception as exc:
            self.to_asyncio(self._settle, call.future, None, exc)

    # --- asyncio-side completions -------------------------------------------------------------

    @staticmethod
    def _settle(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(map_error(error))

    def _resolve_started(self, value: object) -> None:
        if self._started is not None and not self._started.done():
            self._started.set_result(value)

    def _thread_ended(self, error: BaseException | None) -> None:
        died = not self._stopping
        self._running = False
        self._token = None
        self._nursery = None
        self._stop_event = None
        for future in list(self._pending):
            self._settle(future, None, _down())
        self._pending.clear()
        if self._started is not None and not self._started.done():
            self._started.set_exception(map_error(error) if error is not None else _down())
            died = False  # start() reports it
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(None)
        if died:
            if self._thread is not None:
                self._thread.join()
                self._thread = None
            log.warning("%s: trio side ended unexpectedly: %r", self.name, error)
            if self.on_exit is not None:
                self.on_exit(error)
