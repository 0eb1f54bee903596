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
