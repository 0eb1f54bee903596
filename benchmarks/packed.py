"""What keeping a trace's bytes deflated costs (stig/store/packed.py, schema 5), in one run.

    python benchmarks/packed.py [--n 5000] [--repeat 5] [--json]

Over --n tracegen traces (1-2 KiB of pseudo-words, as benchmarks/feed.py stores): the bytes kept
per trace, and the CPU per trace of ``pack`` (paid by ``SqliteStore.add``) and of ``unpack``
(paid by every read that decodes a trace: a feed page whose standings are not kept, search,
get, sync's fetch), each beside the reference measured in the same run: ``SqliteStore.add``
of the same traces into a fresh file (batches of 1,000) for ``pack``, and ``decode_trusted``
(what a feed page already does per trace it ranks afresh) for ``unpack``. Each figure is the
min / median / max over --repeat rounds; the ratio is taken round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from stig.crdt.codec import decode_trusted
from stig.store.packed import pack, unpack
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table
from tracegen import TraceGenerator

NOW = 1_800_000_000
BATCH = 1000


def cpu_per_item(run: Callable[[], object], items: int) -> float:
    start = time.process_time()
    run()
    return (time.process_time() - start) / items * 1e6


async def add_all(path: Path, traces: Sequence, now: int) -> None:  # type: ignore[type-arg]
    store = await SqliteStore.open(path)
    try:
        for i in range(0, len(traces), BATCH):
            await store.add(traces[i : i + BATCH], now)
    finally:
        await store.close()


def spread(values: Sequence[float], digits: int = 1) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)
    print_machine()

    traces = TraceGenerator(total=args.n, now=NOW).batch(args.n)
    encoded = [t.encoded for t in traces]
    stored = [pack(raw) for raw in encoded]
    assert [unpack(value) for value in stored] == encoded
    mean_encoded = sum(map(len, encoded)) / len(encoded)
    mean_stored = sum(map(len, stored)) / len(stored)
    deflated = sum(1 for value, raw in zip(stored, encoded, strict=True) if value != raw)

    rounds: dict[str, list[float]] = {k: [] for k in ("pack", "add", "unpack", "decode")}
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(args.repeat):
            rounds["pack"].append(cpu_per_item(lambda: [pack(raw) for raw in encoded], args.n))
            path = Path(scratch) / f"store-{r}.db"
            rounds["add"].append(
                cpu_per_item(lambda path=path: asyncio.run(add_all(path, traces, NOW)), args.n)
            )
            rounds["unpack"].append(cpu_per_item(lambda: [unpack(v) for v in stored], args.n))
            rounds["decode"].append(
                cpu_per_item(
                    lambda: [
                        decode_trusted(raw, t.id) for raw, t in zip(encoded, traces, strict=True)
                    ],
                    args.n,
                )
            )
    pack_share = [p / a for p, a in zip(rounds["pack"], rounds["add"], strict=True)]
    unpack_share = [u / d for u, d in zip(rounds["unpack"], rounds["decode"], strict=True)]

    print_table(
        f"bytes kept per trace, {args.n:,} tracegen traces ({deflated:,} compressed)",
        ["encoded (canonical)", "stored", "stored / encoded"],
        [[f"{mean_encoded:,.0f}", f"{mean_stored:,.0f}", f"{mean_stored / mean_encoded:.3f}"]],
    )
    print_table(
        f"CPU µs per trace, min / median / max of {args.repeat} rounds "
        "(add: aiosqlite's thread included, as process time)",
        ["work", "µs per trace", "reference", "reference µs", "ratio (per round)"],
        [
            ["pack", spread(rounds["pack"]), "SqliteStore.add (which packs)",
             spread(rounds["add"]), spread(pack_share, 3)],
            ["unpack", spread(rounds["unpack"]), "decode_trusted",
             spread(rounds["decode"]), spread(unpack_share, 3)],
        ],
    )  # fmt: skip
    if args.json:
        print_json(
            {
                "n": args.n,
                "encoded_mean": mean_encoded,
                "stored_mean": mean_stored,
                **{f"{k}_us_median": statistics.median(v) for k, v in rounds.items()},
                "pack_over_add_median": statistics.median(pack_share),
                "unpack_over_decode_median": statistics.median(unpack_share),
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
