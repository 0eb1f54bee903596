"""benchmarks/virtual_clock.py: the simulated clock that propagation.py --memory runs on.

Its figures are only worth something if the loop on it behaves as asyncio's own does, in
simulated time: timers run in the order of their times, and in the order they were set when
times are equal; time moves only when nothing is ready; work handed to a thread takes no
simulated time. No wall-clock time is asserted here.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import virtual_clock  # (benchmarks/ is not a package: found by the path above)

from stig.net.circuit import HopLimits
from stig.net.hole_punch import PORT_KEEPING, PUNCH_AFTER, PUNCH_TAKES
from stig.net.memory_clock import LoopClock
from stig.net.memory_net import MemoryHub
from stig.net.network import HOLE_PUNCHED, RELAYED, Route


def test_timers_set_in_one_instant_for_the_same_delay_run_in_the_order_set() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        order: list[int] = []
        for i in range(2000):
            loop.call_later(0.025, order.append, i)
        await asyncio.sleep(0.1)
        return order

    assert virtual_clock.run(main(), virtual=True) == list(range(2000))


def test_sleeps_move_the_simulated_clock_by_their_length_and_keep_their_order() -> None:
    async def main() -> tuple[float, list[str]]:
        loop = asyncio.get_running_loop()
        woke: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await asyncio.sleep(seconds)
            woke.append(name)

        began = loop.time()
        await asyncio.gather(sleeper("hour", 3600), sleeper("minute", 60), sleeper("day", 86400))
        return loop.time() - began, woke

    elapsed, woke = virtual_clock.run(main(), virtual=True)
    assert woke == ["minute", "hour", "day"]
    assert 86400 <= elapsed < 86400 + 0.001  # 1 ns a read of the clock, no more


def test_work_on_a_thread_takes_no_simulated_time() -> None:
    async def main() -> tuple[float, str]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        done = await asyncio.to_thread(lambda: time.sleep(0.05) or "done")
        return loop.time() - began, done

    elapsed, done = virtual_clock.run(main(), virtual=True)
    assert done == "done"
    assert elapsed < 0.001  # the 50 ms of real sleep on the worker did not move the clock


def test_a_timeout_fires_in_simulated_time() -> None:
    async def main() -> bool:
        try:
            async with asyncio.timeout(30):
                await asyncio.Event().wait()
        except TimeoutError:
            return True
        return False

    assert virtual_clock.run(main(), virtual=True)


def test_the_twins_clock_on_the_simulated_loop_is_the_simulated_time() -> None:
    """LoopClock over the simulated loop: the twin's *now* and its own timers (a hole punch
    tried PUNCH_AFTER seconds after a relayed pair meets) move with the loop's simulated time,
    which the links and nodes also read, not with real seconds."""

    async def main() -> tuple[float, float, Route | None]:
        loop = asyncio.get_running_loop()
        clock = LoopClock(loop)
        hub = MemoryHub(clock=clock)
        r = hub.network("r", hop=HopLimits())
        a = hub.network("a", nat=PORT_KEEPING)
        b = hub.network("b", nat=PORT_KEEPING)
        for net in (r, a, b):
            await net.start()
        await a.dial(r.addresses()[0], within=5)
        (circuit,) = [x for x in a.reach().advertised if r.peer_id in x]
        met = clock.now()
        await b.dial(circuit, within=5)
        route = b.route(a.peer_id)
        assert route is not None and route.kind == RELAYED
        await asyncio.sleep(PUNCH_AFTER + PUNCH_TAKES + 1)
        punched = b.route(a.peer_id)
        for net in (r, a, b):
            await net.stop()
        return met, clock.now(), punched

    met, now, punched = virtual_clock.run(main(), virtual=True)
    assert punched is not None and punched.kind == HOLE_PUNCHED
    # The route's start is on the twin's clock: the punch's simulated time, not a real second.
    assert PUNCH_AFTER + PUNCH_TAKES <= punched.since - met < PUNCH_AFTER + PUNCH_TAKES + 0.01
    assert PUNCH_AFTER + PUNCH_TAKES + 1 <= now - met < PUNCH_AFTER + PUNCH_TAKES + 1.01
