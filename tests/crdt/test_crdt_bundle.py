"""The bundle file (bundle.py): round trip, and damaged files that never stop an import."""

from __future__ import annotations

import io
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt.bounds import MAX_TRACE_BYTES
from stig.crdt.bundle import (
    HEADER,
    MAGIC,
    MAX_RECORD_BYTES,
    MIN_RECORD_BYTES,
    Record,
    read_records,
    write_header,
    write_record,
)
from stig.crdt.codec import decode
from stig.crdt.trace import Trace
from stig.crdt.validate import check_fields, validate
from stig.errors import InvalidBundle, InvalidTrace, Reason
from tests.crdt.strategies import forge, valid_traces


def bundle(raws: list[bytes]) -> bytes:
    out = io.BytesIO()
    write_header(out)
    for raw in raws:
        write_record(out, raw)
    return out.getvalue()


def read(data: bytes) -> list[Record]:
    return list(read_records(io.BytesIO(data)))


@settings(max_examples=60, deadline=None)
@given(st.lists(valid_traces(max_body=100), max_size=8))
def test_round_trip(traces: list[Trace]) -> None:
    data = bundle([t.encoded for t in traces])
    assert data.startswith(b"STIGBNDL\x01")
    records = read(data)
    assert [r.raw for r in records] == [t.encoded for t in traces]
    assert all(r.error is None for r in records)
    assert [validate(r.raw, t.created) for r, t in zip(records, traces, strict=True)] == traces
    offset = len(HEADER)
    for record, trace in zip(records, traces, strict=True):
        assert record.offset == offset
        offset += 4 + len(trace.encoded)
    assert offset == len(data)


def test_empty_bundle_has_no_records() -> None:
    assert read(HEADER) == []


# Each record of a damaged bundle is one of these.
GOOD, CORRUPT, OVERSIZE = "good", "corrupt", "oversize"


@st.composite
def damaged_records(draw: st.DrawFn) -> tuple[str, bytes, int]:
    """(what, the record's bytes, a time at which the trace it was made from is valid)."""
    what = draw(st.sampled_from((GOOD, CORRUPT, OVERSIZE)))
    trace = draw(valid_traces(max_body=50))
    if what == GOOD:
        return what, trace.encoded, trace.created
    if what == CORRUPT:
        flipped = bytearray(trace.encoded)
        flipped[draw(st.integers(0, len(flipped) - 1))] ^= draw(st.integers(1, 255))
        choices = [
            bytes(flipped),
            bytes(flipped[: len(flipped) // 2]),
            draw(st.binary(max_size=64)),
        ]
        return what, draw(st.sampled_from(choices)), trace.created
    size = draw(st.integers(MAX_RECORD_BYTES + 1, MAX_RECORD_BYTES + 300))
    # Bytes from a drawn seed, not drawn one by one: eight records of 8 KiB each would be more
    # than Hypothesis lets an example draw (its data_too_large health check failed at random).
    seed = draw(st.integers(0, 2**32 - 1))
    return what, random.Random(seed).randbytes(size), trace.created


@settings(max_examples=80, deadline=None)
@given(
    st.lists(damaged_records(), max_size=8),
    st.sampled_from(("", "in-length", "in-record", "in-oversize")),
    st.data(),
)
def test_damaged_bundle_yields_every_good_record_and_an_error_for_each_bad_one(
    records: list[tuple[str, bytes, int]], cut: str, data: st.DataObject
) -> None:
    body = bundle([raw for _, raw, _ in records])
    tail = b""
    if cut == "in-length":
        tail = struct.pack(">I", 100)[: data.draw(st.integers(1, 3))]
    elif cut == "in-record":
        raw = forge().encoded
        tail = struct.pack(">I", len(raw)) + raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif cut == "in-oversize":
        tail = struct.pack(">I", MAX_RECORD_BYTES + 100) + bytes(data.draw(st.integers(0, 99)))
    read_back = read(body + tail)

    # Consecutive records shorter than MIN_RECORD_BYTES come as one record with their count.
    runs: list[list[tuple[str, bytes, int]]] = []
    for item in records:
        short = len(item[1]) < MIN_RECORD_BYTES
        if short and runs and len(runs[-1][-1][1]) < MIN_RECORD_BYTES:
            runs[-1].append(item)
        else:
            runs.append([item])
    assert len(read_back) == len(runs) + (1 if cut else 0)
    offset = len(HEADER)
    for record, run in zip(read_back, runs, strict=False):
        assert record.offset == offset
        assert record.size == sum(4 + len(raw) for _, raw, _ in run)
        offset += record.size
        what, raw, now = run[0]
        if len(raw) < MIN_RECORD_BYTES:
            assert what == CORRUPT  # no valid trace is that short
            assert record.raw == b""
            assert record.error is not None
            assert record.error.reason is Reason.TOO_SMALL
            assert record.count == len(run)
            continue
        assert record.count == 1
        if what == OVERSIZE:
            assert record.raw == b""
            assert record.error is not None
            assert record.error.reason is Reason.TOO_LARGE
            continue
        assert record.error is None
        assert record.raw == raw
        if what == GOOD:
            assert validate(record.raw, now).encoded == raw
        else:
            with pytest.raises(InvalidTrace):  # the bundle reader passes it on; validate refuses
                validate(record.raw, now)
    if cut:
        last = read_back[-1]
        assert last.offset == offset
        assert last.raw == b""
        assert last.error is not None
        assert last.error.reason is Reason.TRUNCATED


def test_oversize_record_is_skipped_and_reading_goes_on() -> None:
    good = forge().encoded
    data = bundle([good, b"\x00" * (MAX_TRACE_BYTES + 1), good, b"x" * 70_000, good])
    records = read(data)
    assert [r.raw for r in records] == [good, b"", good, b"", good]
    assert [r.error.reason if r.error else None for r in records] == [
        None,
        Reason.TOO_LARGE,
        None,
        Reason.TOO_LARGE,
        None,
    ]


def test_record_of_exactly_the_limits_is_read() -> None:
    for size in (MAX_RECORD_BYTES, MIN_RECORD_BYTES):
        records = read(bundle([b"\x00" * size]))
        assert records == [Record(len(HEADER), raw=b"\x00" * size, size=4 + size)]


def test_the_smallest_trace_is_min_record_bytes() -> None:
    """MIN_RECORD_BYTES is the shortest encoding of each field: a trace that passes every check
    but the clock's and the signature's is that long, and none can be shorter."""
    smallest = Trace(kind="a", author=bytes(32), created=0, expires=1, signature=bytes(64))
    assert len(smallest.encoded) == MIN_RECORD_BYTES
    check_fields(decode(smallest.encoded))


@settings(max_examples=100, deadline=None)
@given(valid_traces(max_body=20))
def test_no_valid_trace_is_shorter_than_min_record_bytes(trace: Trace) -> None:
    assert len(trace.encoded) >= MIN_RECORD_BYTES


def test_short_records_are_refused_by_length_and_counted_together() -> None:
    """A record shorter than the smallest trace is refused without decoding (``too_small``);
    a run of them is one record with their count, and reading goes on after it."""
    good = forge().encoded
    short = [b"", b"\xc0", bytes(MIN_RECORD_BYTES - 1)]
    records = read(bundle([good, *short, good, b""]))
    assert [(r.error.reason if r.error else None, r.count) for r in records] == [
        (None, 1),
        (Reason.TOO_SMALL, 3),
        (None, 1),
        (Reason.TOO_SMALL, 1),
    ]
    assert records[1].offset == len(HEADER) + 4 + len(good)
    assert records[1].size == sum(4 + len(raw) for raw in short)
    assert records[2].raw == good


def test_a_long_run_of_short_records_is_counted_in_parts_across_buffers() -> None:
    """70,000 empty records (280 KB, more than one read buffer): every one counted, in runs of at
    most one buffer each, so that reading reports progress as it goes."""
    records = read(bundle([b""] * 70_000 + [forge().encoded]))
    assert all(r.error is not None and r.error.reason is Reason.TOO_SMALL for r in records[:-1])
    assert sum(r.count for r in records[:-1]) == 70_000
    assert len(records) - 1 <= 3
    assert records[-1].raw == forge().encoded
    assert records[-1].offset == len(HEADER) + 4 * 70_000


def test_huge_length_claim_at_the_end_is_truncated_without_reading_it_all() -> None:
    records = read(HEADER + struct.pack(">I", 2**32 - 1) + b"abc")
    assert len(records) == 1
    assert records[0].error is not None
    assert records[0].error.reason is Reason.TRUNCATED


@pytest.mark.parametrize(
    "data",
    [b"", b"STIG", MAGIC, MAGIC + b"\x00", MAGIC + b"\x02", b"STIGBNDX\x01", b"\x00" * 64],
    ids=["empty", "short", "magic-only", "version-0", "version-2", "bad-magic", "zeros"],
)
def test_bad_magic_or_version_is_invalid_bundle(data: bytes) -> None:
    with pytest.raises(InvalidBundle):
        read(data + bundle([forge().encoded])[len(HEADER) :])
    with pytest.raises(InvalidBundle):
        read(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_file_gives_records_or_invalid_bundle(data: bytes) -> None:
    for candidate in (data, HEADER + data):
        try:
            records = read(candidate)
        except InvalidBundle:
            assert not candidate.startswith(HEADER)
            continue
        for record in records:
            if record.error is not None:
                assert record.raw == b""
                assert record.error.reason in {Reason.TOO_LARGE, Reason.TOO_SMALL, Reason.TRUNCATED}
            else:
                with pytest.raises(InvalidTrace):
                    validate(record.raw, 0)
