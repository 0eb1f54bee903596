"""The cost of a retract on a big store with a full-text index: the purging transaction.

    python benchmarks/purge.py --n 10000 100000 [--runs 5] [--keep DIR] [--json]

1. For each N, fill a real SQLite store (SqliteStore.add, batches of --batch) with N valid
   1-2 KiB traces from benchmarks/tracegen.py, then index them all for full-text search (one
   ``search``), so that every body is in the FTS5 index. Filling is not timed here (feed.py and
   ingest.py measure it). --keep DIR keeps the filled stores (``purge-N.db``) and reuses them.
2. Each run copies the filled store (synced to disk, so that the checkpoint's fsync does not
   write the whole copy), opens the copy, picks a stored, indexed note at random and times
   ``store.add([its author's retract], now)``: the whole purging transaction (the row's bytes,
   tags and place dropped, its FTS5 'delete', whatever the store does so that its words leave
   the file) and what follows its commit (the WAL checkpoint). Opening and picking are not
   timed. --runs runs per N; min / median / max are reported, with the WAL's size just before
   the checkpoint truncates it (its peak: what the transaction wrote).

With --json the last line is ``{"N": {"min_ms": ..., "median_ms": ..., "max_ms": ...}, ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table
from tracegen import TraceGenerator

NOW = 1_800_000_000
SEED = 1


async def filled(path: Path, n: int, batch: int) -> float:
    """Fill ``path`` with ``n`` traces and index them all (unless it holds them already);
    the seconds it took (0 when reused)."""
    gen = TraceGenerator(total=n, now=NOW, seed=SEED)
    store = await SqliteStore.open(path)
    try:
        (have,) = await store._one("SELECT count(*) FROM traces")
        if have:
            print(f"reusing {path}: {have:,} traces")
            return 0.0
        print(f"filling {path} with {n:,} traces ...", flush=True)
        start = time.perf_counter()
        while gen.made < n:
            await store.add(gen.batch(batch), NOW)
        await store.search("ka", NOW, 1)  # indexes every pending row
        took = time.perf_counter() - start
        print(f"  filled and indexed in {took:.0f} s", flush=True)
        return took
    finally:
        await store.close()


def remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fresh_copy(base: Path, work: Path) -> None:
    """A copy of ``base`` at ``work``, on disk: otherwise the checkpoint's fsync would write the
    whole copy (gigabytes at 1M traces) and be timed with the purge."""
    remove(work)
    shutil.copyfile(base, work)
    with work.open("rb+") as copy:
        os.fsync(copy.fileno())


def wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def one_run(base: Path, work: Path, n: int, run: int) -> tuple[float, int]:
    """(ms of add([retract]), peak WAL bytes) on a fresh copy of ``base``."""
    fresh_copy(base, work)
    personas = {p.public_key: p for p in TraceGenerator(total=n, now=NOW, seed=SEED).personas}
    store = await SqliteStore.open(work)
    try:
        (indexed,) = await store._one("SELECT value FROM meta WHERE key = 'search_indexed_until'")
        rng = random.Random(run)
        while True:
            rows = await store._rows(
                "SELECT id, author, created FROM traces WHERE rowid = ? AND kind = ? "
                "AND raw IS NOT NULL AND hidden = 0",
                (rng.randint(1, indexed), kinds.NOTE),
            )
            if rows:
                break
        target, author, created = rows[0]
        retract = compose(personas[author], kinds.RETRACT, now=NOW + 1 + run, refs=(target,))
        peak = 0
        scrub = store._scrub_wal

        async def measured_scrub() -> None:
            nonlocal peak
            peak = wal_size(work)
            await scrub()

        store._scrub_wal = measured_scrub  # type: ignore[method-assign]
        start = time.perf_counter()
        await store.add([retract], NOW + 1 + run)
        took = (time.perf_counter() - start) * 1000
        assert created <= NOW
        (gone,) = await store._one("SELECT raw IS NULL FROM traces WHERE id = ?", (target,))
        assert gone, "the retract did not purge its target"
        return took, peak
    finally:
        await store.close()


async def run(args: argparse.Namespace, keep: Path) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    rows = []
    for n in args.n:
        base = keep / f"purge-{n}.db"
        await filled(base, n, args.batch)
        work = keep / f"purge-{n}-run.db"
        times, peaks = [], []
        for i in range(args.runs):
            took, peak = await one_run(base, work, n, i)
            times.append(took)
            peaks.append(peak)
            print(f"  N={n:,} run {i + 1}: {took:.1f} ms, WAL peak {peak / 2**20:.1f} MiB")
        remove(work)
        stats = {
            "min_ms": min(times),
            "median_ms": statistics.median(times),
            "max_ms": max(times),
            "wal_peak_mib": statistics.median(peaks) / 2**20,
        }
        summary[str(n)] = stats
        rows.append(
            [
                n,
                base.stat().st_size / 2**20,
                args.runs,
                stats["min_ms"],
                stats["median_ms"],
                stats["max_ms"],
                stats["wal_peak_mib"],
            ]
        )
    print_table(
        "store.add([retract]) of an indexed note: the purging transaction and its checkpoint",
        ["traces", "store MiB", "runs", "min ms", "median ms", "max ms", "WAL peak MiB"],
        rows,
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the filled stores here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    print_machine()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        summary = asyncio.run(run(args, args.keep))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            summary = asyncio.run(run(args, Path(tmp)))
    if args.json:
        print_json(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
