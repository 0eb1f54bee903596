"""stig's own CPU per gossip message: what a node does for one pushed trace, without py-libp2p.

    python benchmarks/push_cost.py [--n 1000] [--repeat 5] [--burst 1] [--json]

A node spends its CPU per gossip message in py-libp2p (the trio thread) and in stig: the
validator (``Admission.judge_push``: decode, bounds, signature, relay policy), then, on the
node's loop, the pushed ingest ``Session`` (policy, clock checks) and one store transaction
(``SqliteStore.add``, on the store connection's thread). ``propagation.py --real 10 --profile
3`` measures the whole node, but on a shared machine stig's part there is a small difference of
two noisy windows counted in 10 ms clock ticks. This script measures stig's part alone and
exactly: the same calls MeshNode makes, one push at a time (gossip at a low rate), into a real
SQLite store file that already holds PREFILL traces (so supports find their targets), with the
trace mix of benchmarks/tracegen.py. Per push it prints the process's CPU (every thread: the
loop's and the store connection's), the validator's share (CPU of ``judge_push``, on this
thread), the trips to the store's thread (counted by the store itself, or for a tree from before
stig.store.connection in one more round that is not timed: counting them there costs CPU), and
the wall time. Each round is a fresh store; the table has every round and min / median / max.

With --json the last line is ``{"cpu_us": median, "validator_us": median, "trips": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from stig.crdt.trace import Trace
from stig.node.admission import Admission, Session, Taken
from stig.node.config import RelayPolicy
from stig.node.ledger import Ledger
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table
from sqlclock import SqlClock
from tracegen import TraceGenerator

PREFILL = 2000
PEER = "12D3KooWbenchmarkpeer"


async def one_round(
    path: Path,
    prefill: Sequence[Trace],
    pushes: Sequence[bytes],
    now: int,
    *,
    count: bool,
    burst: int = 1,
) -> dict[str, float]:
    """One round; with ``count``, the trips to the store's thread are counted (SqlClock wraps
    each one, which costs CPU of its own: such a round's times are not reported)."""
    store = await SqliteStore.open(path)
    try:
        await store.add(list(prefill), now)
        admission = Admission(RelayPolicy(), store, Ledger(), lambda: float(now), lambda _: None)
        turn, taken = asyncio.Lock(), Taken()
        accepted = 0
        validator = 0.0
        trips_before = getattr(store._db, "trips", 0)
        with SqlClock() if count else contextlib.nullcontext() as clock:
            cpu, wall = time.process_time(), time.perf_counter()
            for at in range(0, len(pushes), burst):
                batch = pushes[at : at + burst]
                before = time.thread_time()
                for data in batch:
                    assert admission.judge_push(PEER, data)
                validator += time.thread_time() - before
                session = Session(admission, store, taken, turn, PEER, pushed=True, now=now)
                await session.add(list(batch))
                accepted += (await session.finish()).accepted
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if accepted != len(pushes):
            raise SystemExit(f"stored {accepted} of {len(pushes)} pushes")
        n = len(pushes)
        # The store's own count of hand-offs to its thread (stig.store.connection); a tree from
        # before it (aiosqlite: a statement per trip) is counted by SqlClock.
        counted = getattr(store._db, "trips", None)
        if counted is not None:
            trips = counted - trips_before
        else:
            trips = clock.calls if clock is not None else -1

        return {
            "cpu_us": cpu / n * 1e6,
            "validator_us": validator / n * 1e6,
            "rest_us": (cpu - validator) / n * 1e6,
            "trips": trips / n,
            "wall_us": wall / n * 1e6,
        }
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="pushes per round (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--burst",
        type=int,
        default=1,
        help="pushes per ingest (default 1: one at a time; K: K pushes from one peer within "
        "mesh.PUSH_BATCH_DELAY, which MeshNode ingests as one batch)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)

    print_machine()
    now = int(time.time())
    traces = TraceGenerator(total=PREFILL + args.n, now=now, seed=args.seed).batch(PREFILL + args.n)
    prefill, pushes = traces[:PREFILL], [t.encoded for t in traces[PREFILL:]]
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="stig-push-") as scratch:
        for r in range(args.repeat):
            path = Path(scratch) / f"{r}.db"
            rounds.append(
                asyncio.run(one_round(path, prefill, pushes, now, count=False, burst=args.burst))
            )
        if any(r["trips"] < 0 for r in rounds):
            # A tree without its own count (aiosqlite): one more round, with SqlClock, for the
            # trips alone (the same pushes into the same store make the same trips).
            path = Path(scratch) / "counted.db"
            counted = one_round(path, prefill, pushes, now, count=True, burst=args.burst)
            trips = asyncio.run(counted)["trips"]
            for r in rounds:
                r["trips"] = trips
    keys = ("cpu_us", "validator_us", "rest_us", "trips", "wall_us")
    headers = [
        "round",
        "CPU µs/push (all threads)",
        "validator µs",
        "ingest + store µs",
        "store trips/push",
        "wall µs/push",
    ]
    rows: list[list[object]] = [[f"#{i + 1}", *(r[k] for k in keys)] for i, r in enumerate(rounds)]
    for label, pick in (("min", min), ("median", statistics.median), ("max", max)):
        rows.append([label, *(pick([r[k] for r in rounds]) for k in keys)])
    print_table(
        f"stig's CPU per pushed trace ({args.n} pushes, {args.burst} per ingest, into a store "
        f"of {PREFILL})",
        headers,
        rows,
    )
    if args.json:
        print_json({k: round(statistics.median([r[k] for r in rounds]), 2) for k in keys})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
