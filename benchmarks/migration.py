"""What migrating an existing store to the current schema costs: time and disk, on a copy.

    python benchmarks/migration.py --store PATH [--json]

PATH is a store written by an older stig (for schema 5: one filled by ``benchmarks/feed.py
--store PATH`` on a commit before it). The file (with its -wal) is copied to a scratch
directory and opened there with ``SqliteStore.open``, which migrates it (schema 5: compresses
every stored trace, rebuilds the feed index, VACUUMs the file once); the copy's size is printed
before and after, against the canonical bytes it holds, and the time the open took.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sqlean  # type: ignore[import-untyped]

from stig.store.packed import unpack
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table


def disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def contents(path: Path) -> tuple[int, int, int]:
    """(schema version, traces, their canonical bytes) as a plain connection reads them."""
    db = sqlean.connect(path)
    try:
        db.create_function("canonical_length", 1, lambda v: 0 if v is None else len(unpack(v)))
        (version,) = db.execute("PRAGMA user_version").fetchone()
        count, encoded = db.execute(
            "SELECT count(*), total(canonical_length(raw)) FROM traces"
        ).fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(version), int(count), int(encoded)
    finally:
        db.close()


async def migrate(path: Path) -> float:
    start = time.perf_counter()
    store = await SqliteStore.open(path)
    took = time.perf_counter() - start
    await store.close()
    return took


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store of an older schema")
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)
    print_machine()
    with tempfile.TemporaryDirectory(dir=args.store.parent) as scratch:
        copy = Path(scratch) / args.store.name
        for suffix in ("", "-wal"):
            if Path(f"{args.store}{suffix}").exists():
                shutil.copyfile(f"{args.store}{suffix}", f"{copy}{suffix}")
        version_before, count, encoded = contents(copy)
        before = disk_size(copy)
        took = asyncio.run(migrate(copy))
        version_after, count_after, encoded_after = contents(copy)
        after = disk_size(copy)
    assert (count_after, encoded_after) == (count, encoded), "the migration lost something"
    print_table(
        f"migration of a store of {count:,} traces ({encoded / max(count, 1):,.0f} encoded "
        f"bytes each), schema {version_before} -> {version_after}; open took {took:.1f} s",
        ["", "MiB", "bytes/trace", "x encoded"],
        [
            [f"schema {version_before}", before / 2**20, before / count, before / encoded],
            [f"schema {version_after}", after / 2**20, after / count, after / encoded],
        ],
    )
    if args.json:
        print_json(
            {"n": count, "seconds": took, "before_ratio": before / encoded,
             "after_ratio": after / encoded}
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
