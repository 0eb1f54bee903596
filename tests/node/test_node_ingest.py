"""The ingest path through LocalNode.import_bundle: a real SQLite store, a fixed clock.

Bad input — truncated, corrupted, oversize, badly signed, expired, future-dated, non-canonical
records and garbage — is reported one by one with its reason and byte offset, never raised, and
never costs a valid trace (DESIGN.md §5). Traces whose own expiry has passed are held back until
the whole bundle is in, so that support arriving later in the same bundle keeps them alive.
"""

from __future__ import annotations

import dataclasses
import random
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, LIFE_CAP, MAX_TRACE_BYTES, MINUTE
from stig.crdt.bundle import HEADER, MAGIC
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crdt.validate import signing_message
from stig.crdt.views import FeedFilter
from stig.crypto.persona import Persona
from stig.errors import InvalidBundle, Reason, UsageError
from stig.node.home import Home
from stig.node.ingest import IngestReport
from stig.node.local import LocalNode, create_store

NOW = 1_700_000_000
ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)
CY = Persona("cy", bytes([3]) * 32)

ALL_KINDS = FeedFilter(kinds=frozenset(kinds.KNOWN_KINDS))


def make(
    persona: Persona,
    kind: str = kinds.NOTE,
    body: str = "",
    *,
    created: int = NOW,
    ttl: int = 7 * DAY,
    tags: tuple[str, ...] = (),
    refs: tuple[bytes, ...] = (),
) -> Trace:
    return compose(persona, kind, body, now=created, ttl=ttl, tags=tags, refs=refs)


class Bundle:
    """Builds a bundle file record by record and remembers where each record starts."""

    def __init__(self) -> None:
        self.data = bytearray(HEADER)

    def record(self, raw: bytes) -> str:
        """Append a well-framed record; return its position as the report names it."""
        at = f"byte {len(self.data)}"
        self.data += struct.pack(">I", len(raw)) + raw
        return at

    def tail(self, raw: bytes) -> str:
        """Append raw bytes (a broken frame); return where they start."""
        at = f"byte {len(self.data)}"
        self.data += raw
        return at

    def write(self, path: Path) -> Path:
        path.write_bytes(bytes(self.data))
        return path


def rejected_at(report: IngestReport) -> dict[str, Reason]:
    return {r.at: r.reason for r in report.rejections}


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    home = Home(tmp_path / "home")
    home.create()
    await create_store(home)
    async with LocalNode.open(home, clock=lambda: NOW) as opened:
        yield opened


# -- the bad-input bundle ------------------------------------------------------------------


def non_canonical(trace: Trace) -> bytes:
    """The same values with the nonce (0) written as a uint8 instead of a positive fixint:
    a valid msgpack value whose signature still verifies, but not the one byte form."""
    raw = trace.encoded
    assert trace.nonce == 0 and raw[-67:-64] == b"\x00\xc4\x40"
    return raw[:-67] + b"\xcc\x00" + raw[-66:]


async def test_bad_records_are_reported_and_every_valid_trace_is_kept(
    node: LocalNode, tmp_path: Path
) -> None:
    callout = make(ANA, kinds.CALLOUT, "eviction on rue X at 7", tags=("housing",))
    valid = [
        callout,
        make(BEN, kinds.ACTION, "we are on our way", refs=(callout.id,), created=NOW - HOUR),
        make(CY, kinds.ECHO, refs=(callout.id,), created=NOW - 2 * HOUR),
        make(BEN, kinds.REPORT, "police left", created=NOW + 5 * MINUTE),  # within the skew
        make(CY, kinds.NOTE, "a letter from prison", created=NOW - 29 * DAY, ttl=30 * DAY),
        make(ANA, kinds.NOTE, "ünïcode ✊", tags=("j20", "solidarity")),
    ]
    corrupted = bytearray(make(ANA, body="flip me").encoded)
    corrupted[0] ^= 0xFF  # the array header becomes an integer followed by junk
    body_flipped = bytearray(make(ANA, body="flip me too").encoded)
    body_flipped[body_flipped.index(b"flip me too")] ^= 0x01  # still UTF-8, no longer signed
    unsigned = make(ANA, body="signed by the wrong key")
    badly_signed = dataclasses.replace(unsigned, signature=BEN.sign(signing_message(unsigned)))
    expired = make(ANA, body="old news", created=NOW - 10 * DAY, ttl=DAY)
    future = make(ANA, body="from tomorrow", created=NOW + 11 * MINUTE)
    garbage = b"\xc1" + random.Random(7).randbytes(200)  # 0xc1 is never valid msgpack
    huge_body = Trace(
        kind=kinds.NOTE, author=ANA.public_key, created=NOW, expires=NOW + DAY, body="x" * 5000
    )
    huge_body = dataclasses.replace(huge_body, signature=ANA.sign(signing_message(huge_body)))

    bundle = Bundle()
    expected: dict[str, Reason] = {}
    bundle.record(valid[0].encoded)
    expected[bundle.record(bytes(corrupted))] = Reason.BAD_ENCODING
    bundle.record(valid[1].encoded)
    expected[bundle.record(bytes(body_flipped))] = Reason.BAD_SIGNATURE
    expected[bundle.record(b"\x00" * (MAX_TRACE_BYTES + 808))] = Reason.TOO_LARGE
    bundle.record(valid[2].encoded)
    expected[bundle.record(badly_signed.encoded)] = Reason.BAD_SIGNATURE
    bundle.record(valid[3].encoded)
    expected[bundle.record(expired.encoded)] = Reason.EXPIRED
    expected[bundle.record(future.encoded)] = Reason.FROM_FUTURE
    bundle.record(valid[4].encoded)
    expected[bundle.record(non_canonical(valid[0]))] = Reason.NON_CANONICAL
    expected[bundle.record(garbage)] = Reason.BAD_ENCODING
    # Two records shorter than any trace: refused by length, in one run (docs/protocol.md §7).
    expected[bundle.record(b"")] = Reason.TOO_SMALL
    bundle.record(msgpack.packb([1, "two", b"3"]))
    expected[bundle.record(msgpack.packb([1, "two", bytes(120)]))] = Reason.BAD_SHAPE
    expected[bundle.record(huge_body.encoded)] = Reason.BODY_TOO_LARGE
    bundle.record(valid[0].encoded)  # a duplicate: counted, not stored twice
    bundle.record(valid[5].encoded)
    expected[bundle.tail(struct.pack(">I", 500) + b"cut short")] = Reason.TRUNCATED

    report = await node.import_bundle(bundle.write(tmp_path / "mixed.stig"))

    assert report.accepted == len(valid)
    assert report.duplicates == 1
    assert rejected_at(report) == expected
    assert all(r.detail for r in report.rejections)
    assert report.rejected == {
        Reason.BAD_ENCODING.value: 2,
        Reason.TOO_SMALL.value: 2,
        Reason.BAD_SIGNATURE.value: 2,
        Reason.TOO_LARGE.value: 1,
        Reason.EXPIRED.value: 1,
        Reason.FROM_FUTURE.value: 1,
        Reason.NON_CANONICAL.value: 1,
        Reason.BAD_SHAPE.value: 1,
        Reason.BODY_TOO_LARGE.value: 1,
        Reason.TRUNCATED.value: 1,
    }
    assert report.seen == len(valid) + 1 + len(expected) + 1  # the run of two short records
    assert await node.store.count() == len(valid)
    shown = await node.feed(ALL_KINDS)
    assert {item.trace.id for item in shown} == {t.id for t in valid}
    for item in shown:
        assert await node.store.get(item.trace.id) == item.trace
    answered = next(item for item in shown if item.trace.id == callout.id)
    assert (answered.counts.answers, answered.counts.echoes) == (1, 1)


@pytest.mark.parametrize(
    ("tail", "why"),
    [
        (b"\x00\x01", "length cut short"),
        (struct.pack(">I", 500) + b"x" * 20, "record cut short"),
        (struct.pack(">I", MAX_TRACE_BYTES + 1) + b"x" * 100, "oversize and cut short"),
        (struct.pack(">I", 0xFFFFFFFF), "claims 4 GiB, nothing follows"),
    ],
    ids=["length", "record", "oversize", "4gib"],
)
async def test_a_cut_short_record_ends_reading_and_keeps_what_came_before(
    node: LocalNode, tmp_path: Path, tail: bytes, why: str
) -> None:
    bundle = Bundle()
    first = make(ANA, body=why)
    bundle.record(first.encoded)
    at = bundle.tail(tail)
    report = await node.import_bundle(bundle.write(tmp_path / "cut.stig"))
    assert report.accepted == 1
    assert rejected_at(report) == {at: Reason.TRUNCATED}
    assert [item.trace.id for item in await node.feed()] == [first.id]


async def test_a_header_only_bundle_imports_nothing(node: LocalNode, tmp_path: Path) -> None:
    report = await node.import_bundle(Bundle().write(tmp_path / "empty.stig"))
    assert (report.seen, report.rejections) == (0, [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a stig bundle"),
        (b"PK\x03\x04 a zip file", "not a stig bundle"),
        (MAGIC, "version missing"),
        (MAGIC + b"\x02" + b"\x00" * 8, "version 2"),
    ],
)
async def test_a_file_that_is_not_a_bundle_is_refused_whole(
    node: LocalNode, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    with pytest.raises(InvalidBundle, match=message):
        await node.import_bundle(path)
    assert await node.store.count() == 0


async def test_a_missing_bundle_is_a_usage_error(node: LocalNode, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        await node.import_bundle(tmp_path / "nowhere.stig")


# -- expired traces held back until their support is in ------------------------------------

OLD = NOW - 10 * DAY
"""``stale`` was created then and expired 3 days before NOW, unless reinforced."""


def stale() -> Trace:
    return make(ANA, kinds.CALLOUT, "still needed", created=OLD, ttl=7 * DAY)


@pytest.mark.parametrize(
    ("supporter", "kept"),
    [
        (BEN, True),  # another author's echo keeps it alive
        (ANA, False),  # an author cannot reinforce their own trace
    ],
)
async def test_a_later_echo_in_the_same_bundle_keeps_an_expired_trace_alive(
    node: LocalNode, tmp_path: Path, supporter: Persona, kept: bool
) -> None:
    target = stale()
    echo = make(supporter, kinds.ECHO, refs=(target.id,), created=NOW - HOUR)
    bundle = Bundle()
    at = bundle.record(target.encoded)
    bundle.record(echo.encoded)  # after the trace it keeps alive
    report = await node.import_bundle(bundle.write(tmp_path / "echoed.stig"))

    shown = {item.trace.id: item for item in await node.feed()}
    if kept:
        assert (report.accepted, report.rejections) == (2, [])
        assert shown[target.id].effective_expiry == echo.expires
        assert shown[target.id].counts.echoes == 1
    else:
        assert report.accepted == 1  # the echo itself is valid
        assert rejected_at(report) == {at: Reason.EXPIRED}
        assert target.id not in shown
        assert await node.store.get(target.id) is None


async def test_without_the_echo_the_expired_trace_is_rejected(
    node: LocalNode, tmp_path: Path
) -> None:
    bundle = Bundle()
    at = bundle.record(stale().encoded)
    report = await node.import_bundle(bundle.write(tmp_path / "alone.stig"))
    assert report.accepted == 0
    assert rejected_at(report) == {at: Reason.EXPIRED}
    assert "expired 259200 s ago" in report.rejections[0].detail
    assert await node.store.count() == 0


@pytest.mark.parametrize(
    ("kind", "echo_created", "echo_ttl", "kept"),
    [
        (kinds.ACTION, NOW - HOUR, DAY, True),  # an answering action supports too
        (kinds.CONFIRM, NOW - HOUR, DAY, True),
        (kinds.DISPUTE, NOW - HOUR, DAY, False),  # a dispute is no support
        (kinds.ECHO, NOW - 2 * DAY, DAY, False),  # the echo has expired itself
    ],
)
async def test_only_live_support_by_another_author_keeps_a_trace_alive(
    node: LocalNode, tmp_path: Path, kind: str, echo_created: int, echo_ttl: int, kept: bool
) -> None:
    target = stale()
    support = make(BEN, kind, "", refs=(target.id,), created=echo_created, ttl=echo_ttl)
    bundle = Bundle()
    bundle.record(target.encoded)
    bundle.record(support.encoded)
    await node.import_bundle(bundle.write(tmp_path / "support.stig"))
    assert (await node.store.get(target.id) is not None) is kept


async def test_support_already_stored_keeps_a_later_import_alive(
    node: LocalNode, tmp_path: Path
) -> None:
    target = stale()
    echo = make(BEN, kinds.ECHO, refs=(target.id,), created=NOW - HOUR)
    first = Bundle()
    first.record(echo.encoded)
    assert (await node.import_bundle(first.write(tmp_path / "1.stig"))).accepted == 1
    second = Bundle()
    second.record(target.encoded)
    second.record(target.encoded)
    report = await node.import_bundle(second.write(tmp_path / "2.stig"))
    assert (report.accepted, report.duplicates, report.rejections) == (1, 1, [])


@pytest.mark.parametrize(("age", "kept"), [(LIFE_CAP - DAY, True), (LIFE_CAP + DAY, False)])
async def test_support_never_extends_life_past_the_cap(
    node: LocalNode, tmp_path: Path, age: int, kept: bool
) -> None:
    target = make(ANA, kinds.CALLOUT, "old", created=NOW - age, ttl=7 * DAY)
    echo = make(BEN, kinds.ECHO, refs=(target.id,), created=NOW - HOUR)
    bundle = Bundle()
    at = bundle.record(target.encoded)
    bundle.record(echo.encoded)
    report = await node.import_bundle(bundle.write(tmp_path / "capped.stig"))
    assert (await node.store.get(target.id) is not None) is kept
    assert rejected_at(report) == ({} if kept else {at: Reason.EXPIRED})
