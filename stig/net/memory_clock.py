"""The in-memory twin's clock seam: what *now* is for the twin (the ``since`` of a route) and
the timers that move it on its own (a hole punch tried a while after a relayed connection
comes up, the relayed connection closed a while after the punch; stig.net.hole_punch).

``WallClock`` follows real time and fires timers on the running asyncio loop: the twin then
behaves as libp2p does, in real seconds. ``LoopClock`` reads a given asyncio loop's clock as
unix seconds and fires timers on it: on asyncio's own loop that is the wall clock again, on a
loop whose time is simulated (benchmarks/virtual_clock.py, the large simulations) the twin's
*now* and timers are the simulated time its links and nodes already run on, not real seconds
beside it. ``SteppedClock`` moves only when a test calls ``advance``: every timer due by then
fires, in order of time, with *now* set to its due time — deterministic, and no real waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

Timer = Callable[[], None]


class TwinClock(Protocol):
    def now(self) -> float: ...

    def call_later(self, delay: float, timer: Timer) -> None:
        """Run ``timer`` once, ``delay`` seconds from now (on this clock)."""


class WallClock:
    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, timer: Timer) -> None:
        asyncio.get_running_loop().call_later(delay, timer)


class LoopClock:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoch = time.time() - loop.time()  # unix seconds at the loop's time 0

    def now(self) -> float:
        return self._epoch + self._loop.time()

    def call_later(self, delay: float, timer: Timer) -> None:
        self._loop.call_later(delay, timer)


class SteppedClock:
    def __init__(self, start: float) -> None:
        self._now = start
        self._due: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # timers due at the same time fire as they were set

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, timer: Timer) -> None:
        heapq.heappush(self._due, (self._now + max(0.0, delay), next(self._order), timer))

    def advance(self, seconds: float) -> None:
        """Move ``seconds`` on, firing every timer due by then (also those that the fired ones
        set, if they fall due in time)."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds} s)")
        until = self._now + seconds
        while self._due and self._due[0][0] <= until:
            when, _, timer = heapq.heappop(self._due)
            self._now = when
            timer()
        self._now = until

    def pending(self) -> int:
        """Timers set and not yet fired."""
        return len(self._due)
