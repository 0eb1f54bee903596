"""Bytes, round trips and CPU of one reconciliation (stig/crdt/reconcile/, docs/sync.md).

    python benchmarks/sync.py --n 100000 --d 1000 [--dist uniform|recent] [--json]
    python benchmarks/sync.py --n 300000 --fresh [--frame-limit 262144]
    python benchmarks/sync.py [--table]        # the whole comparison grid (the default)

Two sets of N items each differ by D items, half held only by one side and half only by the
other (so the union has N + D/2 items). Timestamps of the shared items are uniform over 30 days
before T0; the differing items are uniform over the same 30 days (``uniform``) or all within the
last hour (``recent``: a node that was offline for an hour). Ids are random 32-byte strings from
a fixed seed. Both sides run to completion in memory with no frame limit (frames as large as
needed), and the result is checked: the initiator's ``have`` and ``need`` must describe the
difference exactly.

Reported: bytes initiator -> responder and back, round trips (frames the initiator sends), CPU
seconds of both sides together (``time.process_time``: building both reconcilers from the items
and every frame), and for comparison the figures published for Negentropy (v1, 16-byte ids and
fingerprints, 16 buckets) on the same grid, and a naive exchange of every id (32 x N bytes each
way). ``--fresh`` pulls N items into a node that holds none (``--d`` is ignored); it is run
with the default frame limit of 256 KiB unless ``--frame-limit`` says otherwise. With --json
the last line is
``{"bytes_sent": ..., "bytes_received": ..., "round_trips": ..., "cpu_s": ...}``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from stig.crdt.reconcile import MAX_FRAME_BYTES, Item, Reconciler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_table

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


@dataclass
class Result:
    n: int
    d: int
    dist: str
    bytes_sent: int  # initiator -> responder
    bytes_received: int  # responder -> initiator
    round_trips: int
    cpu_s: float
    first_frame: int

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


def run(a: list[Item], b: list[Item], *, frame_limit: int = UNLIMITED) -> tuple[Result, Reconciler]:
    t = time.process_time()
    initiator = Reconciler(a, initiator=True, frame_limit=frame_limit)
    responder = Reconciler(b, initiator=False, frame_limit=frame_limit)
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
    n: int, d: int, dist: str, *, fresh: bool = False, frame_limit: int = UNLIMITED
) -> Result:
    a, b = make_sets(n, d, dist)
    if fresh:
        a, b, d, dist = [], a, n, "fresh"
    result, initiator = run(a, b, frame_limit=frame_limit)
    check(initiator, a, b)
    result.n, result.d, result.dist = n, d, dist
    return result


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
                r.cpu_s,
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
            "CPU s",
            "negentropy B",
            "ratio",
            "neg RT",
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
    args = parser.parse_args()
    if args.table or args.n is None:
        table()
        return
    limit = args.frame_limit or (MAX_FRAME_BYTES if args.fresh else UNLIMITED)
    r = measure(args.n, args.d, args.dist, fresh=args.fresh, frame_limit=limit)
    print(
        f"n={r.n:,} d={r.d:,} dist={r.dist}: {r.bytes_sent:,} B sent, "
        f"{r.bytes_received:,} B received ({r.total:,} B total; naive id exchange "
        f"{32 * r.n:,} B each way), {r.round_trips} round trips, first frame "
        f"{r.first_frame:,} B, {r.cpu_s:.3f} s CPU"
    )
    neg = NEGENTROPY.get((r.dist, r.d)) if r.n == GRID_N else None
    if neg:
        print(f"negentropy: {neg[0]:,} B (ratio {r.total / neg[0]:.3f}), {neg[1] or '?'} RT")
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
