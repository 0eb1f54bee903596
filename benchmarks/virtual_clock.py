"""An asyncio event loop whose clock is simulated time: the in-memory simulation's clock when
one process runs thousands of nodes (``propagation.py --memory N --clock virtual``).

Why. On the wall clock, a simulated node's CPU work takes real time on the one core the simulator
has, and every node waits for every other: at 10,000 nodes a post's wave needs about 2–3 s of CPU
(docs/performance.md, "10,000 in-memory nodes"), so on a shared machine the loop fell 5–36 s behind
and time-to-all measured that backlog, not the 25 ms links. Here time moves only when the loop has
nothing left to run: ``loop.time()`` stands still while callbacks run and jumps to the next timer
when none is ready. Link latency (``call_later``), ``asyncio.sleep``, ``asyncio.timeout`` and the
nodes' own clock (``MeshNode(clock=...)``, given ``epoch + loop.time()``), the in-memory twin's
own clock (a route's start, a hole punch's timers: ``stig.net.memory_clock.LoopClock``) all read it,
so what is measured is the protocol's time: hops, link delays, batching delays, timers. What it does
not contain is the CPU time of a node's own work (zero simulated time here; on a real node about 1
ms of stig and 5–7 ms of py-libp2p per message: docs/performance.md, "Gossip CPU per message").
Discrete-event network simulators that run real application code (ns-3, Shadow) keep a loaded
simulator from reading as a slow network the same way.

How. ``BaseEventLoop._run_once`` asks the selector to wait ``timeout`` seconds (0 when callbacks
are ready, the time to the next timer otherwise, None when there is none) and then runs the
timers due by ``self.time()``. The selector here looks at the real file descriptors without
waiting; if none is ready it adds ``timeout`` to the clock instead of sleeping, so the next timer
is due. Work handed to a thread (``run_in_executor``, ``asyncio.to_thread``: the stores' sorts and
signature checks) takes no simulated time: while any is out, the selector waits for real (the
thread's result wakes the loop through its self-pipe) and the clock stands still.

The clock never stands quite still: every read of it moves it on by TICK (1 ns). asyncio keeps
its timers in a heap ordered by time alone, which does not keep equal times in the order they
were set; on a clock that stood still, two frames sent on one stream in the same instant were
due at the same time and could arrive swapped (sync sessions then failed with "expected DONE
after our traces" and peers were cut off). A clock that moves on each read, as a real one does,
gives later calls later times. What it adds is negligible: 10 million reads are 10 ms.

No public asyncio API sets a loop's clock; ``time()`` is the documented override point of
``AbstractEventLoop``, and the selector is a constructor argument of ``SelectorEventLoop``.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")

TICK = 1e-9
"""Simulated seconds each read of the clock moves it on (module docstring)."""


class _Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()  # start where a wall-clock loop would
        self.threads = 0  # executor jobs out: simulated time waits for them
        self.jumped = 0.0  # simulated seconds skipped (no work was ready)
        self.steps = 0  # turns of the loop (each runs the callbacks that were ready)


class _SimulatedWaitSelector(selectors.DefaultSelector):
    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._clock.steps += 1
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if self._clock.threads or timeout is None:
            # A thread's result (or, with no timer left, any event) is what comes next.
            waited: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
            return waited
        self._clock.now += timeout
        self._clock.jumped += timeout
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """A selector loop whose ``time()`` is simulated (module docstring)."""

    def __init__(self) -> None:
        self._clock = _Clock()
        super().__init__(_SimulatedWaitSelector(self._clock))

    def time(self) -> float:
        self._clock.now += TICK
        return self._clock.now

    @property
    def skipped(self) -> float:
        """Simulated seconds in which nothing was ready to run (the clock jumped over them)."""
        return self._clock.jumped

    @property
    def steps(self) -> int:
        """Turns of the loop so far: a count of the work done, whatever each piece cost."""
        return self._clock.steps

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self._clock.threads += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: asyncio.Future[Any]) -> None:
        self._clock.threads -= 1


def run(main: Any, *, virtual: bool) -> Any:
    """``asyncio.run(main)`` on a VirtualClockLoop (``virtual``) or asyncio's own loop."""
    factory = VirtualClockLoop if virtual else None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
