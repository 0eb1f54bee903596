"""Bytes, round trips and CPU of one reconciliation (stig/crdt/reconcile/, docs/sync.md).

    python benchmarks/sync.py --n 100000 --d 1000 [--dist uniform|recent] [--json]
    python benchmarks/sync.py --n 300000 --fresh [--frame-limit 262144]
    python benchmarks/sync.py --n 1000000 --upkeep   # also: keeping the set current, memory
    python benchmarks/sync.py [--table]        # the comparison grids (the default)

Two sets of N items each differ by D items, half held only by one side and half only by the
other (so the union has N + D/2 items). Timestamps of the shared items are uniform over 30 days
before T0; the differing items are uniform over the same 30 days (``uniform``) or all within the
last hour (``recent``: a node that was offline for an hour). Ids are random 32-byte strings from
a fixed seed. Both sides run to completion in memory with no frame limit (frames as large as
needed), and the result is checked: the initiator's ``have`` and ``need`` must describe the
difference exactly.

Reported: bytes initiator -> responder and back, round trips (frames the initiator sends), CPU
seconds of both sides together (``time.process_time`` of every frame, each side reading a
snapshot of its ``ReconcileSet``: the set a node keeps current between sessions, built once
before the runs; min / median / max of ``--repeat`` sessions), the CPU of building both sets
once (what a node does at start-up, not per session), and for comparison the figures published
for Negentropy (v1, 16-byte ids and fingerprints, 16 buckets) on the same grid, and a naive
exchange of every id (32 x N bytes each way). ``--fresh`` pulls N items into a node that holds
none (``--d`` is ignored); it is run with the default frame limit of 256 KiB unless
``--frame-limit`` says otherwise. With --json the last line is
``{"bytes_sent": ..., "bytes_received": ..., "round_trips": ..., "cpu_s": ...}``.

``--upkeep`` also prints the cost of keeping one set of N current: microseconds per item added
and per item removed (10,000 random items, one at a time, as traces are stored and expire),
and the memory the set holds (``tracemalloc``, a separate build).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stig.crdt.reconcile import MAX_FRAME_BYTES, Item, Reconciler, ReconcileSet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_machine, print_table

T0 = 1_790_000_000
DAY = 86_400
HOUR = 3_600
UNLIMITED = 1 << 40  # frame limit for the grid: no frame is ever deferred
SEED = 20_240_601

# Negentropy's published figures at N = 100,000 (bytes both ways, round trips; None = not given).
NEGENTROPY: dict[tuple[str, int], tuple[int, int | None]] = {
    ("uniform", 10): (14_400, 2),
    ("uniform", 100): (109_000, None),
    ("uniform", 1_000): (786_000, 2),
    ("uniform", 10_000): (3_030_000, 3),
    ("recent", 1_000): (24_000, None),
}
GRID: tuple[tuple[str, int], ...] = (
    ("uniform", 0),
    ("uniform", 10),
    ("uniform", 100),
    ("uniform", 1_000),
    ("uniform", 10_000),
    ("recent", 1_000),
)
GRID_N = 100_000

# The reference at N = 1,000,000, measured side by side on this machine class on 2026-12-03
# (negentropy's C++ implementation, issue 13): bytes both ways, round trips, CPU s both sides.
NEGENTROPY_1M: dict[tuple[str, int], tuple[int, int, float]] = {
    ("uniform", 10): (18_900, 3, 0.40),
}
NEGENTROPY_CPU_100K: dict[tuple[str, int], float] = {("uniform", 1_000): 0.046}
GRID_1M: tuple[tuple[str, int], ...] = (("uniform", 0), ("uniform", 10), ("uniform", 1_000))
REPEAT = 3
UPKEEP_ITEMS = 10_000


@dataclass
class Result:
    n: int
    d: int
    dist: str
    bytes_sent: int  # initiator -> responder
    bytes_received: int  # responder -> initiator
    round_trips: int
    cpu_s: float  # the median session
    first_frame: int
    cpu_runs: list[float] = field(default_factory=list)
    build_s: float = 0.0  # building both sets once

    @property
    def cpu_range(self) -> str:
        runs = self.cpu_runs or [self.cpu_s]
        return f"{min(runs):.3f} / {statistics.median(runs):.3f} / {max(runs):.3f}"

    @property
    def total(self) -> int:
        return self.bytes_sent + self.bytes_received


def make_sets(n: int, d: int, dist: str, seed: int = SEED) -> tuple[list[Item], list[Item]]:
    """Two sets of n items (n + 1 for b if d is odd) whose symmetric difference has d items."""
    rng = random.Random(seed)
    a_only = d // 2

    def item(span: int) -> Item:
        return Item(T0 - rng.randrange(span), rng.randbytes(32))

    shared = [item(30 * DAY) for _ in range(n - a_only)]
    diff = [item(HOUR if dist == "recent" else 30 * DAY) for _ in range(d)]
    return shared + diff[:a_only], shared + diff[a_only:]


def run(
    a: ReconcileSet, b: ReconcileSet, *, frame_limit: int = UNLIMITED
) -> tuple[Result, Reconciler]:
    """One session between two kept sets (each side takes a snapshot, as a node does)."""
    t = time.process_time()
    initiator = Reconciler(a.snapshot(), initiator=True, frame_limit=frame_limit)
    responder = Reconciler(b.snapshot(), initiator=False, frame_limit=frame_limit)
    frame: bytes | None = initiator.initiate()
    first = len(frame or b"")
    sent = received = rounds = 0
    while frame is not None:
        rounds += 1
        sent += len(frame)
        answer = responder.receive(frame)
        assert answer is not None  # the responder always answers
        received += len(answer)
        frame = initiator.receive(answer)
    cpu = time.process_time() - t
    return Result(len(a), 0, "", sent, received, rounds, cpu, first), initiator


def check(initiator: Reconciler, a: list[Item], b: list[Item]) -> None:
    """have is exactly A - B; every id of B - A starts with a need prefix, and every need
    prefix starts exactly one id of B, which is in B - A."""
    a_ids = {x.id for x in a}
    b_ids = {x.id for x in b}
    if initiator.have != a_ids - b_ids:
        raise SystemExit("wrong result: have is not A - B")
    need = initiator.need
    lengths = {len(p) for p in need}

    def matches(x: bytes) -> bool:
        return any(x[:k] in need for k in lengths)

    missing = b_ids - a_ids
    prefixes = {x[:k] for x in missing for k in lengths}
    if not all(matches(x) for x in missing) or not need <= prefixes:
        raise SystemExit("wrong result: need does not match B - A")
    starts = Counter(x[:k] for x in b_ids for k in lengths)
    if any(starts[p] != 1 for p in need):
        raise SystemExit("wrong result: a need prefix starts more than one id of B")


def measure(
    n: int,
    d: int,
    dist: str,
    *,
    fresh: bool = False,
    frame_limit: int = UNLIMITED,
    repeat: int = REPEAT,
) -> Result:
    a, b = make_sets(n, d, dist)
    if fresh:
        a, b, d, dist = [], a, n, "fresh"
    t = time.process_time()
    set_a, set_b = ReconcileSet(a), ReconcileSet(b)
    build = time.process_time() - t
    runs: list[Result] = []
    for _ in range(repeat):
        result, initiator = run(set_a, set_b, frame_limit=frame_limit)
        runs.append(result)
    check(initiator, a, b)
    result.n, result.d, result.dist = n, d, dist
    result.cpu_runs = [r.cpu_s for r in runs]
    result.cpu_s = statistics.median(result.cpu_runs)
    result.build_s = build
    return result


@dataclass
class Upkeep:
    n: int
    build_s: float
    add_us: float
    remove_us: float
    memory_bytes: int


def upkeep(n: int, seed: int = SEED) -> Upkeep:
    """The cost of keeping a set of n items current: building it once, adding and removing
    UPKEEP_ITEMS items one at a time, and the memory it holds (a second build, traced)."""
    items, _ = make_sets(n, 0, "uniform", seed)
    t = time.process_time()
    kept = ReconcileSet(items)
    build = time.process_time() - t
    rng = random.Random(seed + 1)
    fresh = [Item(T0 - rng.randrange(30 * DAY), rng.randbytes(32)) for _ in range(UPKEEP_ITEMS)]
    kept.snapshot()  # as between sessions: blocks are shared with a snapshot, so copied
    t = time.process_time()
    for item in fresh:
        kept.add(item)
    added = time.process_time() - t
    t = time.process_time()
    for item in fresh:
        kept.remove(item)
    removed = time.process_time() - t
    del kept
    tracemalloc.start()
    held = ReconcileSet(items)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return Upkeep(n, build, 1e6 * added / UPKEEP_ITEMS, 1e6 * removed / UPKEEP_ITEMS, memory)


def print_upkeep(u: Upkeep) -> None:
    print_table(
        f"Keeping a set of N = {u.n:,} current ({UPKEEP_ITEMS:,} items added, then removed)",
        ["N", "build s (once)", "add us/item", "remove us/item", "memory MB", "B/item"],
        [[u.n, u.build_s, u.add_us, u.remove_us, u.memory_bytes / 1e6, u.memory_bytes // u.n]],
    )


def table() -> None:
    rows = []
    for dist, d in GRID:
        r = measure(GRID_N, d, dist)
        neg = NEGENTROPY.get((dist, d))
        rows.append(
            [
                dist,
                d,
                r.bytes_sent,
                r.bytes_received,
                r.total,
                r.round_trips,
                r.first_frame,
                r.cpu_range,
                r.build_s,
                neg[0] if neg else "-",
                f"{r.total / neg[0]:.3f}" if neg else "-",
                (neg[1] if neg[1] is not None else "?") if neg else "-",
            ]
        )
    print_table(
        f"Reconciliation of two sets of N = {GRID_N:,} items (naive id exchange: "
        f"{32 * GRID_N:,} bytes each way)",
        [
            "dist",
            "d",
            "i->r B",
            "r->i B",
            "total B",
            "RT",
            "frame 1 B",
            "CPU s min/med/max",
            "build s",
            "negentropy B",
            "ratio",
            "neg RT",
        ],
        rows,
    )
    neg_cpu = NEGENTROPY_CPU_100K[("uniform", 1_000)]
    print(f"negentropy C++ CPU at N = 100k, d = 1k (earlier run, 2026-12-03): {neg_cpu} s")
    rows = []
    for dist, d in GRID_1M:
        r = measure(1_000_000, d, dist)
        ref = NEGENTROPY_1M.get((dist, d))
        rows.append(
            [
                dist,
                d,
                r.total,
                r.round_trips,
                r.first_frame,
                r.cpu_range,
                r.build_s,
                f"{ref[0]:,} B, {ref[1]} RT, {ref[2]} s" if ref else "-",
                f"{r.total / ref[0]:.3f}" if ref else "-",
                f"{r.cpu_s / ref[2]:.3f}" if ref else "-",
            ]
        )
    print_table(
        "Reconciliation of two sets of N = 1,000,000 items (the reference: earlier run)",
        [
            "dist",
            "d",
            "total B",
            "RT",
            "frame 1 B",
            "CPU s min/med/max",
            "build s",
            "negentropy",
            "bytes ratio",
            "CPU ratio",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, help="items per side")
    parser.add_argument("--d", type=int, default=1_000, help="size of the symmetric difference")
    parser.add_argument("--dist", choices=("uniform", "recent"), default="uniform")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--table", action="store_true", help="run the comparison grid")
    parser.add_argument("--fresh", action="store_true", help="the initiator holds nothing")
    parser.add_argument("--frame-limit", type=int, help="largest frame either side sends")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="sessions per case")
    parser.add_argument("--upkeep", action="store_true", help="cost of keeping the set current")
    args = parser.parse_args()
    print_machine()
    if args.table or args.n is None:
        table()
        print_upkeep(upkeep(1_000_000))
        return
    limit = args.frame_limit or (MAX_FRAME_BYTES if args.fresh else UNLIMITED)
    r = measure(args.n, args.d, args.dist, fresh=args.fresh, frame_limit=limit, repeat=args.repeat)
    print(
        f"n={r.n:,} d={r.d:,} dist={r.dist}: {r.bytes_sent:,} B sent, "
        f"{r.bytes_received:,} B received ({r.total:,} B total; naive id exchange "
        f"{32 * r.n:,} B each way), {r.round_trips} round trips, first frame "
        f"{r.first_frame:,} B, CPU s min/median/max {r.cpu_range} (the sets kept; "
        f"building both once: {r.build_s:.2f} s)"
    )
    neg = NEGENTROPY.get((r.dist, r.d)) if r.n == GRID_N else None
    if neg:
        print(f"negentropy: {neg[0]:,} B (ratio {r.total / neg[0]:.3f}), {neg[1] or '?'} RT")
    if args.upkeep:
        print_upkeep(upkeep(args.n))
    if args.json:
        print(
            json.dumps(
                {
                    "bytes_sent": r.bytes_sent,
                    "bytes_received": r.bytes_received,
                    "round_trips": r.round_trips,
                    "cpu_s": round(r.cpu_s, 4),
                }
            )
        )


if __name__ == "__main__":
    main()
