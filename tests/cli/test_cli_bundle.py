"""``stig import`` of hostile bundles: memory stays constant whatever the number of rejects, and
the output counts every reject while listing only the first few of each reason."""

from __future__ import annotations

import json
import struct
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from stig.cli.root import cli
from stig.crdt import bundle
from stig.node.ingest import DETAILS_PER_REASON
from tests.cli.running import stig

VECTORS = Path(__file__).resolve().parents[1] / "crdt" / "vectors.json"

JUNK = (b"\xc1" + bytes(bundle.MIN_RECORD_BYTES - 1), b"\xdc\x00\x6c" + bytes(108))
"""Two records of the smallest trace's size (shorter ones are refused by their length alone,
``too_small``) that are not traces: bad_encoding (a byte no msgpack header has) and bad_shape
(an array of 108 nils, not of 11 fields)."""


def junk_bundle(path: Path, records: int) -> Path:
    record = struct.pack(">I", bundle.MIN_RECORD_BYTES)
    with path.open("wb") as out:
        bundle.write_header(out)
        out.write(b"".join(record + JUNK[i % 2] for i in range(records)))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init", "--quiet")
    return root


def import_peak(home: Path, path: Path) -> tuple[int, dict[str, object]]:
    """The peak of traced memory while ``stig import --json`` runs in this process, and its
    report."""
    tracemalloc.start()
    try:
        done = CliRunner().invoke(cli, ["--home", str(home), "import", str(path), "--json"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.exit_code == 0, done.output
    return peak, json.loads(done.stdout)


@pytest.mark.timeout(600)  # tracemalloc slows the import: ~20 s of CPU, over 120 s at load 25
def test_import_memory_does_not_grow_with_rejects(home: Path, tmp_path: Path) -> None:
    """A bundle of 1-byte junk records once cost ~1.3 KB per reject (--json); now the report
    keeps DETAILS_PER_REASON details per reason and counts the rest, so 4x the records must not
    cost 4x the memory."""
    import_peak(home, junk_bundle(tmp_path / "warm.stig", 100))  # imports, caches, sqlite
    small, _ = import_peak(home, junk_bundle(tmp_path / "small.stig", 50_000))
    large, report = import_peak(home, junk_bundle(tmp_path / "large.stig", 200_000))
    assert report["rejected"] == {"bad_encoding": 100_000, "bad_shape": 100_000}
    assert report["omitted"] == {
        "bad_encoding": 100_000 - DETAILS_PER_REASON,
        "bad_shape": 100_000 - DETAILS_PER_REASON,
    }
    assert len(report["rejections"]) == 2 * DETAILS_PER_REASON  # type: ignore[arg-type]
    # ~15 MiB today, most of it garbage cycles (a reject's traceback holds the frame that holds
    # the batch) awaiting the collector; before, 200k rejects held ~260 MB.
    assert large < 24 << 20, f"peak {large / 2**20:.1f} MiB for 200k rejects"
    assert large < 1.5 * small + (1 << 20), (small, large)


def test_import_output_counts_and_says_how_many_more(home: Path, tmp_path: Path) -> None:
    path = junk_bundle(tmp_path / "junk.stig", 2 * DETAILS_PER_REASON + 10)
    done = stig(home, "import", str(path))
    assert done.stdout == "accepted 0, duplicate 0, rejected 50 (bad_encoding 25, bad_shape 25)\n"
    lines = done.stderr.splitlines()
    assert lines.count("  ... and 5 more bad_encoding not listed") == 1
    assert lines.count("  ... and 5 more bad_shape not listed") == 1
    listed = [line for line in lines if line.startswith("  rejected byte ")]
    assert len(listed) == 2 * DETAILS_PER_REASON
    # Grouped by reason, each group followed by its count of the unlisted ones.
    assert lines.index("  ... and 5 more bad_encoding not listed") == DETAILS_PER_REASON
    assert listed[0] == (
        "  rejected byte 9: bad_encoding: not one msgpack value (a byte that is no msgpack "
        "header (c1, or a reserved one)): 111 bytes, c1000000000000000000000000000000…"
    )
    assert listed[DETAILS_PER_REASON] == (
        "  rejected byte 124: bad_shape: not an array of 11 fields but an array of 108"
    )

    report = json.loads(stig(home, "import", str(path), "--json").stdout)
    assert report["rejected"] == {"bad_encoding": 25, "bad_shape": 25}
    assert report["omitted"] == {"bad_encoding": 5, "bad_shape": 5}
    assert len(report["rejections"]) == 2 * DETAILS_PER_REASON


def test_short_records_are_counted_in_runs(home: Path, tmp_path: Path) -> None:
    """100,000 empty records (docs/protocol.md §7, ``too_small``): all counted, each run of them
    listed once with its count, none left unaccounted as 'not listed'."""
    path = tmp_path / "empty.stig"
    with path.open("wb") as out:
        bundle.write_header(out)
        out.write(bytes(4 * 100_000))
    done = stig(home, "import", str(path))
    assert done.stdout == "accepted 0, duplicate 0, rejected 100000 (too_small 100000)\n"
    listed = [line for line in done.stderr.splitlines() if line.startswith("  rejected byte ")]
    assert listed[0].startswith("  rejected byte 9: too_small: ")
    assert "records in a row" in listed[0]
    assert 1 <= len(listed) <= 2  # one run per read buffer (256 KiB)
    assert "not listed" not in done.stderr


def test_every_listed_reject_says_what_was_found(home: Path, tmp_path: Path) -> None:
    """No detail ends in an empty message: each names what it found."""
    pad = bytes(bundle.MIN_RECORD_BYTES)
    records = [
        b"\xc1" + pad,
        b"\x91" * 2000,
        b"\x81\x00\xc4\x6b" + pad,
        b"\xda\x00\x6e\xff\xfe" + pad[:108],
        b"\x00" + pad,
        b"\x80" + pad,
        b"",  # the two short ones: one too_small detail for both
        b"\x00\x00",
    ]
    path = tmp_path / "varied.stig"
    with path.open("wb") as out:
        bundle.write_header(out)
        for raw in records:
            bundle.write_record(out, raw)
        out.write(b"\x00\x00")  # a length cut short
    report = json.loads(stig(home, "import", str(path), "--json").stdout)
    details = [r["detail"] for r in report["rejections"]]
    assert len(details) == len(records)  # two short records in one detail, and the cut length
    assert report["rejected"]["too_small"] == 2
    for detail in details:
        assert not detail.rstrip().endswith(":"), detail
        assert "()" not in detail, detail
    assert report["omitted"] == dict.fromkeys(report["rejected"], 0)


def test_stig_digest_is_the_documented_vector(tmp_path: Path) -> None:
    """docs/protocol.md §8.7 / §9.7: `stig digest` of the call-out, echo, retract and burn."""
    vectors = {v["name"]: v for v in json.loads(VECTORS.read_text(encoding="utf-8"))}
    wanted = vectors["digest"]
    path = tmp_path / "vector.stig"
    with path.open("wb") as out:
        bundle.write_header(out)
        for name in wanted["set"]:
            bundle.write_record(out, bytes.fromhex(vectors[name]["trace_hex"]))
    root = tmp_path / "home"
    env = {"STIG_CLOCK_OFFSET": str(wanted["now"] + 60 - time.time())}
    stig(root, "init", "--quiet", env=env)
    stig(root, "import", str(path), env=env)
    assert json.loads(stig(root, "digest", "--json", env=env).stdout) == {
        "count": wanted["count"],
        "digest": wanted["digest_hex"],
    }
