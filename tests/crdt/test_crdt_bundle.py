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
    Record,
    read_records,
    write_header,
    write_record,
)
from stig.crdt.trace import Trace
from stig.crdt.validate import validate
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

    assert len(read_back) == len(records) + (1 if cut else 0)
    offset = len(HEADER)
    for record, (what, raw, now) in zip(read_back, records, strict=False):
        assert record.offset == offset
        offset += 4 + len(raw)
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


def test_record_of_exactly_the_limit_is_read() -> None:
    records = read(bundle([b"\x00" * MAX_RECORD_BYTES]))
    assert records == [Record(len(HEADER), raw=b"\x00" * MAX_RECORD_BYTES)]


def test_zero_length_record_is_a_record() -> None:
    records = read(bundle([b"", forge().encoded]))
    assert records[0] == Record(len(HEADER), raw=b"")
    with pytest.raises(InvalidTrace):
        validate(records[0].raw, 0)
    assert records[1].raw == forge().encoded


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
                assert record.error.reason in {Reason.TOO_LARGE, Reason.TRUNCATED}
            else:
                with pytest.raises(InvalidTrace):
                    validate(record.raw, 0)
