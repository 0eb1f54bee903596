"""Ingest throughput: stig's import path against the physical limit, measured in one run.

    python benchmarks/ingest.py --n 20000 [--authors 200] [--json]

1. Generate N valid traces of 1-2 KiB (benchmarks/tracegen.py; not timed).
2. LIMIT: bare PyNaCl verify of all N (``VerifyKey(author).verify(signing_message, signature)``,
   the verify work stig does, messages prepared beforehand) plus one batched SQLite insert of
   the N encoded traces (one transaction, executemany, WAL, synchronous=NORMAL) into a plain
   ``(id BLOB PRIMARY KEY, raw BLOB)`` table in a fresh file. limit/s = N / (verify + insert).
3. STIG: the same traces written to a bundle with stig.crdt.bundle, then
   ``LocalNode.import_bundle`` into a fresh home (Home, initialise, create_store, real SQLite
   file). stig/s = N / elapsed. stig's CPU is this process's (``process_time``: every thread)
   plus that of the child processes the import started and ended (``RUSAGE_CHILDREN``, counted
   once a child has exited and been waited for): a worker process's, start-up included.
   Both are run --repeat times, interleaved; the best time of each counts (the machine may be
   shared), and every run is printed.
4. Where stig's time goes: each phase timed on its own over the same traces (read bundle,
   decode, check_fields, the signature checks as Ingest makes them — and, for comparison,
   validate.check_signature on one thread —, check_times, SqliteStore.add in INGEST_BATCH
   batches with every SQL statement timed), then cProfile of import_bundle on a smaller run.

With --json the last line is ``{"limit_per_s": ..., "stig_per_s": ..., "ratio": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sqlean  # type: ignore[import-untyped]
from nacl.signing import VerifyKey

from stig.crdt.bundle import read_records, write_header, write_record
from stig.crdt.codec import decode
from stig.crdt.trace import Trace
from stig.crdt.validate import check_fields, check_signature, check_times, signing_message
from stig.node.home import Home
from stig.node.ingest import VERIFY_THREADS, IngestReport, check_signatures
from stig.node.local import INGEST_BATCH, LocalNode, create_store, initialise
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table
from sqlclock import SqlClock
from tracegen import TraceGenerator


def generate(n: int, authors: int, seed: int, now: int) -> list[Trace]:
    return TraceGenerator(total=n, now=now, authors=authors, seed=seed).batch(n)


# -- the limit ---------------------------------------------------------------------------------


def limit_verify(work: Sequence[tuple[bytes, bytes, bytes]]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    for author, message, signature in work:
        VerifyKey(author).verify(message, signature)
    return time.perf_counter() - start, time.process_time() - cpu


def limit_insert(rows: Sequence[tuple[bytes, bytes]], path: Path) -> tuple[float, float]:
    db = sqlean.connect(path, isolation_level=None)  # the SQLite the store runs on
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("CREATE TABLE traces (id BLOB PRIMARY KEY, raw BLOB)")
        start, cpu = time.perf_counter(), time.process_time()
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO traces VALUES (?, ?)", rows)
        db.execute("COMMIT")
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        db.close()


# -- stig --------------------------------------------------------------------------------------


def write_bundle(traces: Sequence[Trace], path: Path) -> None:
    with path.open("wb") as out:
        write_header(out)
        for trace in traces:
            write_record(out, trace.encoded)


async def fresh_home(root: Path) -> Home:
    home = Home(root)
    initialise(home)
    await create_store(home)
    return home


def children_cpu() -> float:
    """CPU seconds of the child processes that have ended (and been waited for) so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


async def stig_import(
    bundle: Path, root: Path, now: int
) -> tuple[float, float, float, IngestReport]:
    """(wall s, CPU s of this process — every thread — and of the child processes the import
    started and waited for, of which the children's alone, report). ``process_time`` does not
    count a child; ``RUSAGE_CHILDREN`` counts one once it has exited and been waited for, which
    import_bundle does before it returns (a checker's worker process)."""
    home = await fresh_home(root)
    async with LocalNode.open(home, clock=lambda: now) as node:
        start, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
        report = await node.import_bundle(bundle)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        child = children_cpu() - child
    return elapsed, cpu + child, child, report


async def store_phase(traces: list[Trace], root: Path, now: int) -> tuple[float, SqlClock]:
    """SqliteStore.add alone, in the batches import_bundle uses, every statement timed."""
    home = await fresh_home(root)
    store = await SqliteStore.open(home.store)
    try:
        with SqlClock() as clock:
            start = time.perf_counter()
            for at in range(0, len(traces), INGEST_BATCH):
                await store.add(traces[at : at + INGEST_BATCH], now)
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return elapsed, clock


async def check_in_batches(traces: list[Trace]) -> None:
    """Signature checks as Ingest.add makes them, batch by batch."""
    for at in range(0, len(traces), INGEST_BATCH):
        results = await check_signatures(traces[at : at + INGEST_BATCH])
        assert not any(results)


def phases(bundle: Path, now: int) -> tuple[list[tuple[str, float]], list[Trace]]:
    timings: list[tuple[str, float]] = []

    start = time.perf_counter()
    with bundle.open("rb") as stream:
        raws = [record.raw for record in read_records(stream)]
    timings.append(("read bundle (bundle.read_records)", time.perf_counter() - start))

    start = time.perf_counter()
    traces = [decode(raw) for raw in raws]
    timings.append(("decode (unpack + re-encode check)", time.perf_counter() - start))

    start = time.perf_counter()
    for trace in traces:
        check_fields(trace)
    timings.append(("check_fields", time.perf_counter() - start))

    start = time.perf_counter()
    asyncio.run(check_in_batches(traces))
    timings.append(
        (
            f"signatures as Ingest checks them ({VERIFY_THREADS} threads)",
            time.perf_counter() - start,
        )
    )
    start = time.perf_counter()
    for trace in traces:
        check_signature(trace)
    timings.append(("  for comparison: check_signature, 1 thread", time.perf_counter() - start))
    start = time.perf_counter()
    for trace in traces:
        signing_message(trace)
    timings.append(("    of which signing_message (packs again)", time.perf_counter() - start))

    start = time.perf_counter()
    for trace in traces:
        check_times(trace, now)
    timings.append(("check_times", time.perf_counter() - start))
    # Fresh objects for the store phase: the real path computes ids inside store.add.
    return timings, [decode(raw) for raw in raws]


def profile_import(bundle: Path, root: Path, now: int, top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(stig_import(bundle, root, now))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="traces (default 20000)")
    parser.add_argument("--authors", type=int, default=200, help="personas (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved runs of limit and stig; best counts"
    )
    parser.add_argument(
        "--profile-n", type=int, default=5000, help="traces in the cProfile run (0: skip)"
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: tmp)")
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)
    n = args.n

    print_machine()
    now = int(time.time())
    start = time.perf_counter()
    traces = generate(n, args.authors, args.seed, now)
    sizes = [len(t.encoded) for t in traces]
    print(
        f"generated {n} traces by {args.authors} authors in {time.perf_counter() - start:.1f} s "
        f"(not timed below): {min(sizes)}..{max(sizes)} bytes, mean {sum(sizes) / n:.0f}"
    )

    with tempfile.TemporaryDirectory(prefix="stig-bench-", dir=args.dir) as scratch:
        work = Path(scratch)
        bundle = work / "bundle.stig"
        write_bundle(traces, bundle)

        # (a) the limit and (b) stig, interleaved --repeat times; the best of each counts
        verify_work = [(t.author, signing_message(t), t.signature) for t in traces]
        rows = [(t.id, t.encoded) for t in traces]
        # Each run: wall and CPU seconds of verify, insert, stig. CPU time is printed beside
        # wall time because the machine may be shared: wall >> CPU means the run waited.
        runs: list[tuple[float, ...]] = []
        for r in range(args.repeat):
            verify_s, verify_cpu = limit_verify(verify_work)
            insert_s, insert_cpu = limit_insert(rows, work / f"limit-{r}.db")
            stig_s, stig_cpu, child_cpu, report = asyncio.run(
                stig_import(bundle, work / f"home-run-{r}", now)
            )
            if report.accepted != n:
                print(f"!! stig accepted {report.accepted} of {n}: {dict(report.rejected)}")
                return 1
            runs.append((verify_s, insert_s, stig_s, verify_cpu + insert_cpu, stig_cpu, child_cpu))
        del verify_work, rows
        best = tuple(min(run[i] for run in runs) for i in range(6))
        verify_s, insert_s, stig_s = best[:3]
        limit_per_s = n / (verify_s + insert_s)
        stig_per_s = n / stig_s
        ratio = stig_per_s / limit_per_s

        def row(label: str, values: tuple[float, ...]) -> list[object]:
            verify, insert, stig, limit_cpu, stig_cpu, child_cpu = values
            limit = n / (verify + insert)
            return [
                label,
                n,
                verify / n * 1e6,
                insert / n * 1e6,
                limit,
                stig / n * 1e6,
                n / stig,
                f"{(n / stig) / limit:.2f}",
                limit_cpu / n * 1e6,
                stig_cpu / n * 1e6,
                child_cpu / n * 1e6,
                f"{limit_cpu / stig_cpu:.2f}",
            ]

        print_table(
            "ingest: stig import_bundle vs the limit (verify + plain batched insert), same run",
            [
                "run",
                "N",
                "limit verify µs/trace",
                "limit insert µs/trace",
                "limit/s",
                "stig µs/trace",
                "stig/s",
                "ratio stig/limit",
                "limit CPU µs",
                "stig CPU µs",
                "of which child µs",
                "CPU ratio",
            ],
            [row(f"#{i + 1}", r) for i, r in enumerate(runs)] + [row("best of each", best)],
        )

        # where stig's time goes
        timings, fresh = phases(bundle, now)
        store_s, clock = asyncio.run(store_phase(fresh, work / "home-phases", now))
        timings.append((f"SqliteStore.add ({INGEST_BATCH}/batch)", store_s))
        timings.append(("  of which SQL inside sqlite3", clock.inside))
        timings.append(("  of which aiosqlite hop (wall - inside)", clock.wall - clock.inside))
        timings.append(("  of which Python in the store", store_s - clock.wall))
        measured = sum(s for name, s in timings if not name.startswith("  "))
        timings.append(("sum of the phases above", measured))
        timings.append(("import_bundle end to end", stig_s))
        print_table(
            f"stig ingest, phase by phase (same {n} traces, each phase timed alone)",
            ["phase", "total s", "µs/trace", "share of end-to-end"],
            [[name, s, s / n * 1e6, f"{s / stig_s:.0%}"] for name, s in timings],
        )
        print_table(
            "SqliteStore.add: SQL statements (µs per trace; 'inside' = in sqlite3, 'wall' adds "
            "the aiosqlite thread hop)",
            ["statement", "calls", "inside µs", "wall µs"],
            clock.rows(n),
        )

        if args.profile_n:
            small = work / "small.stig"
            write_bundle(traces[: args.profile_n], small)
            print(
                f"\ncProfile of import_bundle, {args.profile_n} traces (main thread only: "
                "SQLite runs in aiosqlite's thread and shows here as waiting in select/epoll)"
            )
            print(profile_import(small, work / "home-profile", now, args.profile_top))

    if args.json:
        print_json(
            {
                "limit_per_s": round(limit_per_s, 1),
                "stig_per_s": round(stig_per_s, 1),
                "ratio": round(ratio, 3),
            }
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
