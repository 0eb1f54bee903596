"""What a relay's stats cost: one measure (stig.node.stats) on a big store, part by part.

    python benchmarks/feed.py --n 200000 --store /tmp/s.db --repeat 1   # fill a store once
    python benchmarks/stats.py --store /tmp/s.db [--repeat 7] [--json]

A stats line, a `stig status` and each Prometheus scrape measure the node once: ``count()``,
``live_count(now)`` and the size of the store's files, on the connection the node ingests
through (so a slow measure stalls ingest). For comparison, the count a first version used:
``len(live_items(now))`` (what sync reconciles: it reads every row). Prints min / median / max
per part.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from stig.node.stats import disk_use
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - started)
    return times, result


async def run(path: Path, repeat: int) -> dict[str, Any]:
    store = await SqliteStore.open(path)
    now = int(time.time())
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]

    async def disk() -> int:
        return disk_use(files)

    async def live_items() -> int:
        return len(await store.live_items(now))

    parts: dict[str, Callable[[], Awaitable[Any]]] = {
        "count()": store.count,
        "live_count(now)": lambda: store.live_count(now),
        "disk_use(files)": disk,
        "len(live_items(now)) (not used)": live_items,
    }
    rows, summary = [], {}
    try:
        for name, call in parts.items():
            times, result = await timed(call, repeat)
            ms = [t * 1000 for t in times]
            rows.append([name, result, min(ms), statistics.median(ms), max(ms)])
            summary[name] = round(statistics.median(ms), 3)
    finally:
        await store.close()
    print_machine()
    print_table(
        f"one stats measure on {path} ({repeat} runs each)",
        ["part", "result", "min ms", "median ms", "max ms"],
        rows,
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store filled by feed.py")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)
    summary = asyncio.run(run(args.store, args.repeat))
    if args.json:
        print_json(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
