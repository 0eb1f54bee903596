"""Full-text search latency on a stored set: SqliteStore.search(query, now, limit).

    python benchmarks/search.py --store PATH [--repeat 30] [--limit 50] [--json]

PATH is a store filled by ``benchmarks/feed.py --store PATH --index`` (tracegen's pseudo-words;
every row indexed, so no call here indexes). Each query runs --repeat times, the clock standing
still (what the store keeps between calls stays), and once more with every kept standing
forgotten before each call (each result decoded and ranked afresh); p50 and p99 per query, and
the results (their number and a digest of their ids in order: the same stored set must give the
same ones whatever version of the store's code answers).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table

QUERIES = (
    "kalo",  # a common pseudo-word
    "tenants OR housing",  # tags
    '"ka lo"',  # a phrase
    "NEAR(mi ne, 5)",
    "tags : rent",  # a column filter
    "zzzqqq",  # nothing
)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(path: Path, repeat: int, limit: int) -> list[list[object]]:
    store = await SqliteStore.open(path)
    try:
        (now,) = await store._one("SELECT max(created) + 60 FROM traces")
        await store.search("kalo", now, 1)  # indexes anything not yet indexed, outside timing
        rows: list[list[object]] = []
        for query in QUERIES:
            kept: list[float] = []
            fresh: list[float] = []
            digest = ""
            for _ in range(repeat):
                start = time.perf_counter()
                found = await store.search(query, now, limit)
                kept.append((time.perf_counter() - start) * 1e3)
                digest = hashlib.blake2b(
                    b"".join(r.trace.id for r in found), digest_size=4
                ).hexdigest()
            for _ in range(repeat):
                store._forget_all()
                start = time.perf_counter()
                await store.search(query, now, limit)
                fresh.append((time.perf_counter() - start) * 1e3)
            rows.append(
                [query, len(found), digest, statistics.median(kept), percentile(kept, 0.99),
                 statistics.median(fresh), percentile(fresh, 0.99)]
            )  # fmt: skip
        return rows
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)
    print_machine()
    rows = asyncio.run(run(args.store, args.repeat, args.limit))
    print_table(
        f"search on {args.store.name}, top {args.limit}, {args.repeat} calls per query (ms)",
        ["query", "results", "their ids (digest)", "p50", "p99", "p50 afresh", "p99 afresh"],
        rows,
    )
    if args.json:
        print_json(
            {str(r[0]): {"results": r[1], "p50_ms": r[2], "p50_fresh_ms": r[4]} for r in rows}
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
