"""Feed latency on a big store: SqliteStore.feed(now, filter, 50) over N stored traces.

    python benchmarks/feed.py --n 1000000 [--json] [--store PATH] [--repeat 200]

1. Fill a real SQLite store (SqliteStore.add, the ingest path, in batches of --batch) with N
   valid 1-2 KiB traces from benchmarks/tracegen.py (10 % echoes, 2 % confirms, actions, replies,
   a few retracts, so heat varies). Generation and storing are timed apart. If the fill runs
   past --fill-budget seconds it stops there and the rest runs on what was stored (said so).
   --store PATH keeps the store (and reuses it if it already holds traces).
2. Time ``feed(now, filter, 50)`` --repeat times per filter, the clock advancing one second per
   call as a refreshing screen would (so ``_refresh`` does its real work), and report p50/p99.
3. Break one more pass down: ``_refresh``, the feed statement, and ``_rank_rows`` (the
   referrers' rows and bytes of traces whose standing is not kept + ranking in Python), with
   the SQL inside sqlite3 timed apart; count the standings computed and the traces that had to be
   ranked on the exact neighbourhood path (``_ranked``; expected: none). Then the same with
   every kept standing forgotten before each call, and with another connection storing one
   new trace before each call (what a `stig post` beside a running node does): timed, then
   instrumented.

With --json the last line is ``{"n": ..., "p50_ms": ..., "p99_ms": ...}`` (unfiltered top 50).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stig.crdt.views import FeedFilter, Ranked
from stig.store.packed import unpack
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table
from sqlclock import SqlClock
from tracegen import TraceGenerator

FILTERS: tuple[tuple[str, FeedFilter], ...] = (
    ("top 50, no filter", FeedFilter()),
    ("tag housing", FeedFilter(tags=frozenset({"housing"}))),
    ("place u09 (prefix)", FeedFilter(place="u09")),
    ("tag + place", FeedFilter(tags=frozenset({"rent"}), place="gcp")),
    ("tag nobody uses", FeedFilter(tags=frozenset({"nosuchtag"}))),
    ("place nobody uses", FeedFilter(place="zzz")),
)
CASE_BUDGET_S = 30.0  # per filter: stop repeating early if one case is this slow


@dataclass
class Fill:
    n: int
    generate_s: float
    store_s: float
    complete: bool


async def fill(store: SqliteStore, gen: TraceGenerator, batch: int, budget: float) -> Fill:
    generate_s = store_s = 0.0
    stored = 0
    started = time.perf_counter()
    report_every = max(gen.total // 10, batch)
    while gen.made < gen.total:
        start = time.perf_counter()
        traces = gen.batch(batch)
        generate_s += time.perf_counter() - start
        start = time.perf_counter()
        await store.add(traces, gen.now)
        store_s += time.perf_counter() - start
        stored += len(traces)
        if stored % report_every < batch:
            print(
                f"  filled {stored:,} / {gen.total:,}: generate {generate_s:.0f} s, "
                f"store.add {store_s:.0f} s ({stored / store_s:,.0f} traces/s)",
                file=sys.stderr,
                flush=True,
            )
        if time.perf_counter() - started > budget and gen.made < gen.total:
            return Fill(stored, generate_s, store_s, complete=False)
    return Fill(stored, generate_s, store_s, complete=True)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def time_feed(
    store: SqliteStore, now: int, where: FeedFilter, repeat: int
) -> tuple[list[float], list[Ranked]]:
    samples: list[float] = []
    result: list[Ranked] = []
    spent = 0.0
    for i in range(repeat):
        start = time.perf_counter()
        result = await store.feed(now + i, where, 50)
        took = time.perf_counter() - start
        samples.append(took)
        spent += took
        if spent > CASE_BUDGET_S and i >= 4:
            break
    return samples, result


class Split:
    """Wall time of the parts of SqliteStore.feed, by wrapping three of its methods, and how
    the traces of each page were ranked."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.refresh = 0.0
        self.ranked = 0.0
        self.exact = 0  # traces ranked on the exact neighbourhood path (_ranked)
        self.computed = 0  # traces whose standing was computed from their referrers' rows

    def _wrap(self, name: str) -> Callable[..., Awaitable[Any]]:
        original = getattr(self.store, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            if name == "_ranked":
                self.exact += len(args[0])
                return await original(*args, **kwargs)
            kept = len(self.store._standings)
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                took = time.perf_counter() - start
                if name == "_refresh":
                    self.refresh += took
                else:
                    self.ranked += took
                    self.computed += max(0, len(self.store._standings) - kept)

        return timed

    def __enter__(self) -> Split:
        self.store._refresh = self._wrap("_refresh")  # type: ignore[method-assign, assignment]
        self.store._rank_rows = self._wrap("_rank_rows")  # type: ignore[method-assign, assignment]
        self.store._ranked = self._wrap("_ranked")  # type: ignore[method-assign, assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.store._refresh
        del self.store._rank_rows
        del self.store._ranked


async def breakdown(
    store: SqliteStore,
    now: int,
    where: FeedFilter,
    calls: int,
    *,
    cold: bool = False,
    before_each: Callable[[int], Awaitable[Any]] | None = None,
) -> list[tuple[str, float, float]]:
    """(part, ms per call, of which inside sqlite3 ms per call). ``cold``: forget every kept
    standing before each call, as a write by another process did before schema 4.
    ``before_each(i)``: run (untimed, uninstrumented) before call i: another connection's
    write."""
    split, clock = Split(store), SqlClock()
    total = 0.0
    for i in range(calls):
        if cold:
            store._forget_all()
        if before_each is not None:
            await before_each(i)
        with split, clock:
            start = time.perf_counter()
            await store.feed(now + i, where, 50)
            total += time.perf_counter() - start
    refresh_sql = sum(
        t.inside
        for t in clock.stats.values()
        # The feed statement reads refreshed_until too (_CATCH_UP): it is not _refresh's.
        if ("refreshed_until" in t.sample and not t.sample.startswith("WITH page"))
        or t.sample.startswith(("PRAGMA data_version", "SELECT min(source_expires)"))
        or t.sample.startswith(("SELECT DISTINCT target", "UPDATE traces SET hidden"))
        or t.sample in ("BEGIN IMMEDIATE", "COMMIT")
    )
    select_sql = sum(
        t.inside for t in clock.stats.values() if t.sample.startswith(("WITH page", "SELECT (SEL"))
    )
    ranked_sql = clock.inside - refresh_sql - select_sql
    select_wall = total - split.refresh - split.ranked
    per = 1e3 / calls
    return [
        (
            "_refresh (in memory; writes only if a supporter expired)",
            split.refresh * per,
            refresh_sql * per,
        ),
        (
            "feed statement (page, cut's neighbours; tag counts)",
            select_wall * per,
            select_sql * per,
        ),
        (
            "_rank_rows: referrers' rows and bytes if not kept + ranking",
            split.ranked * per,
            ranked_sql * per,
        ),
        ("total", total * per, clock.inside * per),
        (f"standings computed from referrers' rows: {split.computed / calls:.1f}/call", 0.0, 0.0),
        (f"traces ranked on the exact path (_ranked): {split.exact}", 0.0, 0.0),
    ] + [
        (f"  sql: {sql}", t.wall * per, t.inside * per)
        for sql, t in sorted(clock.stats.items(), key=lambda item: -item[1].wall)[:6]
    ]


def disk_size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def canonical_length(stored: bytes | None) -> int:
    return 0 if stored is None else len(unpack(stored))


def rss_mib() -> tuple[float, float]:
    current = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


async def run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    store = await SqliteStore.open(path)
    try:
        have = await store.count()
        now = int(time.time())
        filled: Fill | None = None
        if have < args.n:
            # A store left short (a fill stopped by its budget) is topped up with traces of
            # another seed, so they are new ones.
            gen = TraceGenerator(
                total=args.n - have,
                now=now,
                authors=args.authors,
                seed=args.seed + have,
                echo_share=0.10,
            )
            print(f"filling {path} with {args.n - have:,} traces (batches of {args.batch:,}) ...")
            filled = await fill(store, gen, args.batch, args.fill_budget)
            have = await store.count()
        else:
            print(f"reusing {path}: {have:,} rows already stored (no fill)")
        if filled is not None:
            note = "" if filled.complete else f"  (STOPPED by the {args.fill_budget:.0f} s budget)"
            print_table(
                "fill" + note,
                ["traces", "generate+sign s", "store.add s", "store.add traces/s", "overall /s"],
                [
                    [
                        filled.n,
                        filled.generate_s,
                        filled.store_s,
                        filled.n / filled.store_s,
                        filled.n / (filled.generate_s + filled.store_s),
                    ]
                ],
            )

        rows: list[list[Any]] = []
        headline: dict[str, float] = {}
        for name, where in FILTERS:
            await store.feed(now, where, 50)  # warm the cache for this filter
            samples, result = await time_feed(store, now + 10, where, args.repeat)
            ms = [s * 1e3 for s in samples]
            p50, p99 = statistics.median(ms), percentile(ms, 0.99)
            top = result[0] if result else None
            rows.append(
                [
                    name,
                    len(samples),
                    len(result),
                    p50,
                    p99,
                    max(ms),
                    f"{top.counts.echoes}" if top else "-",
                ]
            )
            if not headline:
                headline = {"p50_ms": p50, "p99_ms": p99}
            now += 10 + len(samples)
        print_table(
            f"SqliteStore.feed(now, filter, 50) on {have:,} stored traces; clock +1 s per call",
            ["filter", "calls", "results", "p50 ms", "p99 ms", "max ms", "top echoes"],
            rows,
        )

        calls = min(args.repeat, 100)
        for name, where, cold in (*((n, w, False) for n, w in FILTERS[:2]), (*FILTERS[0], True)):
            parts = await breakdown(store, now + 10, where, calls, cold=cold)
            now += 10 + calls
            state = "every standing forgotten before each call" if cold else "instrumented"
            print_table(
                f"where a feed call goes ({name}; mean of {calls} calls, {state})",
                ["part", "wall ms/call", "inside sqlite3 ms/call"],
                parts,
            )
        cold_ms = []
        for i in range(calls):
            store._forget_all()
            start = time.perf_counter()
            await store.feed(now + i, FeedFilter(), 50)
            cold_ms.append((time.perf_counter() - start) * 1e3)
        now += calls
        print(
            "\ntop 50 with every standing forgotten before each call (as after a write by "
            f"another process): p50 {statistics.median(cold_ms):.3f} ms, "
            f"p99 {percentile(cold_ms, 0.99):.3f} ms"
        )

        # The real case: another connection (as another process: a `stig post` beside the
        # node) stores one new trace before each call; only the reader's call is timed.
        writer = await SqliteStore.open(path)
        try:
            fresh = TraceGenerator(
                total=2 * calls, now=now, authors=args.authors, seed=args.seed + 10**9
            )
            written_ms = []
            written_cpu_ms = []  # this process's CPU during the call: the writer is idle then
            for i in range(calls):
                await writer.add(fresh.batch(1), now + i)
                start, cpu = time.perf_counter(), time.process_time()
                await store.feed(now + i, FeedFilter(), 50)
                written_ms.append((time.perf_counter() - start) * 1e3)
                written_cpu_ms.append((time.process_time() - cpu) * 1e3)
            # The same, instrumented: where the time of a call after a write goes.
            parts = await breakdown(
                store,
                now + calls,
                FeedFilter(),
                calls,
                before_each=lambda i: writer.add(fresh.batch(1), now + calls + i),
            )
            print_table(
                f"where a feed call goes (top 50, no filter; mean of {calls} calls, each right "
                "after another connection stored one trace)",
                ["part", "wall ms/call", "inside sqlite3 ms/call"],
                parts,
            )
        finally:
            await writer.close()
        now += 2 * calls
        after_write = {
            "after_write_p50_ms": statistics.median(written_ms),
            "after_write_p99_ms": percentile(written_ms, 0.99),
        }
        print(
            "\ntop 50 right after another connection stored one trace (each call): "
            f"p50 {statistics.median(written_ms):.3f} ms, "
            f"p99 {percentile(written_ms, 0.99):.3f} ms, max {max(written_ms):.3f} ms; "
            f"CPU of this process per call: mean {statistics.fmean(written_cpu_ms):.3f} ms, "
            f"p50 {statistics.median(written_cpu_ms):.3f} ms"
        )

        same_now = []
        for _ in range(min(args.repeat, 100)):
            start = time.perf_counter()
            await store.feed(now, FeedFilter(), 50)
            same_now.append((time.perf_counter() - start) * 1e3)
        print(
            f"\nsame call with the clock standing still (_refresh returns at once): "
            f"p50 {statistics.median(same_now):.3f} ms, p99 {percentile(same_now, 0.99):.3f} ms"
        )
        # The stored values are deflated (stig/store/packed.py): the reference is the
        # canonical bytes they hold, which is what a peer sends and receives.
        await store._db.create_function("canonical_length", 1, canonical_length)
        encoded, stored, page_size = await store._one(
            "SELECT total(canonical_length(raw)), total(length(raw)), "
            "(SELECT page_size FROM pragma_page_size) FROM traces"
        )
        await store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = disk_size(path)
        sizes = [["without the full-text index", size / 2**20, size / have, size / encoded]]
        if args.index:
            start = time.perf_counter()
            await store.search("kalo", now, 5)  # indexes every row not indexed yet
            took = time.perf_counter() - start
            await store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = disk_size(path)
            sizes.append(
                [
                    f"full-text indexed (took {took:.0f} s)",
                    size / 2**20,
                    size / have,
                    size / encoded,
                ]
            )
        print_table(
            f"disk: {have:,} traces, {encoded / have:,.0f} encoded bytes each on average "
            f"(stored compressed as {stored / have:,.0f}), "
            f"{page_size}-byte pages",
            ["store", "MiB", "bytes/trace", "x encoded"],
            sizes,
        )
    finally:
        await store.close()

    current, peak = rss_mib()
    print_table(
        "size",
        ["stored rows", "disk (db+wal+shm) MiB", "bytes/row", "RSS now MiB", "RSS peak MiB"],
        [[have, size / 2**20, size / max(have, 1), current, peak]],
    )
    return {"n": have, **headline, **after_write, "bytes_per_row": size / max(have, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="traces (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=10_000, help="traces per store.add")
    parser.add_argument("--repeat", type=int, default=200, help="feed calls per filter")
    parser.add_argument("--authors", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fill-budget", type=float, default=600.0, help="stop filling after this many seconds"
    )
    parser.add_argument("--store", type=Path, default=None, help="keep/reuse this store file")
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: tmp)")
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    parser.add_argument(
        "--index", action="store_true", help="at the end, index everything for search; sizes"
    )
    args = parser.parse_args(argv)

    print_machine()
    if args.store is not None:
        args.store.parent.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(args, args.store))
    else:
        with tempfile.TemporaryDirectory(prefix="stig-feed-", dir=args.dir) as scratch:
            result = asyncio.run(run(args, Path(scratch) / "store.db"))
    if args.json:
        print_json(
            {
                "n": result["n"],
                "p50_ms": round(result["p50_ms"], 3),
                "p99_ms": round(result["p99_ms"], 3),
                "after_write_p50_ms": round(result["after_write_p50_ms"], 3),
                "after_write_p99_ms": round(result["after_write_p99_ms"], 3),
                "bytes_per_row": round(result["bytes_per_row"]),
            }
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
