"""Range-based set reconciliation (stig/crdt/reconcile/, docs/sync.md).

Properties over random sets (any ids, timestamps spread or heavily colliding, ids crafted to
share long prefixes, small frames): the initiator learns exactly both differences in a bounded
number of rounds. Fuzzing: whatever bytes arrive, ``receive()`` raises SyncError or answers,
nothing else. The example exchanges of docs/sync.md are recomputed and compared, and every
frame seen is re-encoded by an encoder written from docs/sync.md §2 alone.

After a deliberate protocol change, ``python tests/crdt/test_crdt_reconcile.py`` prints the
``sync-vector`` and ``sync-explain`` blocks of docs/sync.md afresh.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import reconcile
from stig.crdt.bounds import MAX_TIMESTAMP
from stig.crdt.reconcile import (
    FINGERPRINT_BYTES,
    MAX_FRAME_BYTES,
    MAX_ROUNDS,
    PROTOCOL_VERSION,
    Claim,
    Digest,
    Fingerprint,
    Found,
    IdList,
    IdReply,
    Item,
    Range,
    Reconciler,
    Skip,
    SyncError,
    SyncReason,
    decode_frame,
    encode_frame,
)

ROOT = Path(__file__).resolve().parents[2]
# docs/sync.md is to be merged into docs/protocol.md §8; read whichever holds the vectors.
DOC = next(
    (p for p in (ROOT / "docs" / "sync.md", ROOT / "docs" / "protocol.md") if p.exists()),
    ROOT / "docs" / "sync.md",
)
T0 = 1_790_000_000


# -- running a session --------------------------------------------------------------------------


@dataclass
class Session:
    initiator: Reconciler
    responder: Reconciler
    frames: list[bytes] = field(default_factory=list)  # i->r, r->i, i->r, ...

    @property
    def rounds(self) -> int:
        return (len(self.frames) + 1) // 2


def run(a: Sequence[Item], b: Sequence[Item], *, frame_limit: int = MAX_FRAME_BYTES) -> Session:
    """Pass frames back and forth until the initiator is done."""
    session = Session(
        Reconciler(a, initiator=True, frame_limit=frame_limit),
        Reconciler(b, initiator=False, frame_limit=frame_limit),
    )
    frame: bytes | None = session.initiator.initiate()
    while frame is not None:
        assert len(frame) <= frame_limit
        assert len(decode_frame(frame)) <= reconcile.MAX_FRAME_RANGES
        session.frames.append(frame)
        answer = session.responder.receive(frame)
        assert answer is not None, "the responder always answers"
        assert len(answer) <= frame_limit
        assert len(decode_frame(answer)) <= reconcile.MAX_FRAME_RANGES
        session.frames.append(answer)
        frame = session.initiator.receive(answer)
        assert session.rounds <= MAX_ROUNDS, "no end"
    assert session.initiator.done
    return session


def assert_reconciled(session: Session, a: Sequence[Item], b: Sequence[Item]) -> None:
    """What the initiator learns, defined exactly (docs/sync.md §1):

    - ``have`` is A - B, as full ids;
    - every id of B - A starts with some ``need`` entry;
    - every ``need`` entry (4 to 32 bytes) starts exactly one id of B, and that id is in B - A
      (so 'send me the item starting with p' names one item the initiator lacks).

    The responder's findings are never wrong: its ``have`` is within B - A, and each of its
    ``need`` entries starts some id of A - B."""
    a_ids = {x.id for x in a}
    b_ids = {x.id for x in b}
    initiator, responder = session.initiator, session.responder
    assert initiator.have == a_ids - b_ids
    need = initiator.need
    assert all(4 <= len(p) <= 32 for p in need)
    starting = _by_prefix(b_ids, {len(p) for p in need})
    for id_ in b_ids - a_ids:
        assert any(id_[:n] in need for n in range(4, 33)), id_.hex()
    for p in need:
        holders = starting[p]
        assert len(holders) == 1 and holders[0] not in a_ids, p.hex()
    assert responder.have <= b_ids - a_ids
    starting = _by_prefix(a_ids - b_ids, {len(p) for p in responder.need})
    assert all(starting[p] for p in responder.need)


def _by_prefix(ids: set[bytes], lengths: set[int]) -> defaultdict[bytes, list[bytes]]:
    """The ids that start with each prefix of the given lengths."""
    out: defaultdict[bytes, list[bytes]] = defaultdict(list)
    for id_ in ids:
        for n in lengths:
            out[id_[:n]].append(id_)
    return out


def round_bound(a: Sequence[Item], b: Sequence[Item]) -> int:
    """2 + log16(N): one round trip to compare, one to resolve, one more per hex digit of N
    (in practice it is 1 for small sets and 2 otherwise; a prefix collision adds one)."""
    return 2 + math.ceil(math.log(max(len(a), len(b)) + 1, 16))


# -- strategies -----------------------------------------------------------------------------------


def timestamps(spread: str) -> st.SearchStrategy[int]:
    if spread == "uniform":
        return st.integers(0, MAX_TIMESTAMP)
    return st.integers(T0, T0 + 3)  # heavily colliding: ranges are told apart by id prefixes


@st.composite
def two_sets(draw: st.DrawFn, max_size: int = 40) -> tuple[list[Item], list[Item]]:
    """A pool of items, each held by the initiator, the responder or both."""
    spread = draw(st.sampled_from(["uniform", "colliding"]))
    ids = draw(st.lists(st.binary(min_size=32, max_size=32), max_size=max_size, unique=True))
    pool = [Item(draw(timestamps(spread)), id_) for id_ in ids]
    where = draw(st.lists(st.sampled_from("ABC"), min_size=len(pool), max_size=len(pool)))
    a = [x for x, w in zip(pool, where, strict=True) if w in "AC"]
    b = [x for x, w in zip(pool, where, strict=True) if w in "BC"]
    return a, b


def generated_sets(
    seed: int, n: int, share_a: float, share_b: float, spread: str, crafted: bool
) -> tuple[list[Item], list[Item]]:
    """Larger sets from a seed: a pool of n items, each kept by each side with some share.
    ``crafted`` ids share their first 8 bytes (half of them) or 7 bytes (the other half), as an
    adversary who ground prefixes would make them."""
    rng = random.Random(seed)

    def new_id() -> bytes:
        if not crafted:
            return rng.randbytes(32)
        return (
            bytes(8) + rng.randbytes(24) if rng.random() < 0.5 else b"\x01" * 7 + rng.randbytes(25)
        )

    def stamp() -> int:
        return T0 + (rng.randrange(30 * 86_400) if spread == "uniform" else rng.randrange(4))

    pool = [Item(stamp(), new_id()) for _ in range(n)]
    a = [x for x in pool if rng.random() < share_a]
    b = [x for x in pool if rng.random() < share_b]
    return a, b


# -- convergence ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(two_sets())
def test_small_sets_converge(sets: tuple[list[Item], list[Item]]) -> None:
    a, b = sets
    session = run(a, b)
    assert_reconciled(session, a, b)
    assert session.rounds <= round_bound(a, b)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.sampled_from([50, 200, 1000, 3000]),
    share_a=st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]),
    share_b=st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]),
    spread=st.sampled_from(["uniform", "colliding"]),
)
def test_larger_sets_converge(
    seed: int, n: int, share_a: float, share_b: float, spread: str
) -> None:
    a, b = generated_sets(seed, n, share_a, share_b, spread, crafted=False)
    session = run(a, b)
    assert_reconciled(session, a, b)
    assert session.rounds <= min(3, round_bound(a, b))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.sampled_from([5, 40, 300, 1500]),
    share_a=st.sampled_from([0.3, 0.9, 1.0]),
    share_b=st.sampled_from([0.3, 0.9, 1.0]),
    spread=st.sampled_from(["uniform", "colliding"]),
)
def test_crafted_prefix_collisions_converge(
    seed: int, n: int, share_a: float, share_b: float, spread: str
) -> None:
    a, b = generated_sets(seed, n, share_a, share_b, spread, crafted=True)
    session = run(a, b)
    assert_reconciled(session, a, b)
    assert session.rounds <= round_bound(a, b)


def test_a_prefix_collision_is_caught_and_retried_with_full_ids() -> None:
    # x and y share their first 4 bytes and a timestamp; the initiator's 4-byte list makes
    # the responder believe both hold the same item. The check fingerprint in the reply
    # exposes it, and the range is listed again with full ids.
    a, b = collision_sets()
    session = run(a, b)
    assert_reconciled(session, a, b)
    assert session.rounds == 2
    retry = decode_frame(session.frames[2])
    assert any(isinstance(r.payload, IdList) and r.payload.width == 32 for r in retry)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n=st.sampled_from([10, 100, 400]),
    share_a=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    share_b=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    spread=st.sampled_from(["uniform", "colliding"]),
    crafted=st.booleans(),
    limit=st.sampled_from([reconcile.MIN_FRAME_BYTES, 512, 2048]),
)
def test_small_frames_converge(
    seed: int,
    n: int,
    share_a: float,
    share_b: float,
    spread: str,
    crafted: bool,
    limit: int,
) -> None:
    a, b = generated_sets(seed, n, share_a, share_b, spread, crafted)
    session = run(a, b, frame_limit=limit)  # run() checks every frame against the limit
    assert_reconciled(session, a, b)


@pytest.mark.parametrize("n", [0, 1, 10, 32, 33, 100, 10_000])
def test_identical_sets_take_one_round_trip_under_1_kb(n: int) -> None:
    a, _ = generated_sets(n, n, 1.0, 0.0, "uniform", crafted=False)
    session = run(a, list(reversed(a)))
    assert session.rounds == 1
    assert len(session.frames[0]) < 1024
    assert session.initiator.have == session.initiator.need == set()
    # Fingerprints that all match leave the responder nothing to say: an empty frame, after
    # which it knows the session is over. A small set is listed whole instead, and the
    # responder cannot know whether its reply will be accepted.
    assert session.responder.done == (n > reconcile.FIRST_LIST_MAX_ITEMS)


def test_answers_past_the_range_limit_are_deferred_to_the_next_round() -> None:
    """Many scattered differences: the responder's splits alone would take more than
    MAX_FRAME_RANGES ranges (every frame is checked by run()); what does not fit is deferred
    by a fingerprint of the rest, and the sets still converge."""
    a, b = generated_sets(7, 100_000, 0.9, 0.9, "uniform", crafted=False)
    session = run(a, b)
    assert_reconciled(session, a, b)
    counts = [len(decode_frame(f)) for f in session.frames]
    # The limit is what bound the responder's first answer (it stopped short by less than the
    # one split that did not fit), not the byte limit.
    assert max(counts) > reconcile.MAX_FRAME_RANGES - reconcile.MAX_BRANCHES, counts
    assert max(len(f) for f in session.frames[:2]) < MAX_FRAME_BYTES // 2


def test_a_single_difference_is_named_by_the_digest_arithmetic() -> None:
    a, b = generated_sets(3, 5000, 1.0, 1.0, "uniform", crafted=False)
    extra = Item(T0 + 1000, bytes(range(32)))
    for x, y in (([*a, extra], b), (a, [*b, extra])):
        session = run(x, y)
        assert_reconciled(session, x, y)
        assert session.rounds <= 2
        assert sum(map(len, session.frames)) < 2000


@pytest.mark.parametrize("shared_low_bits", [False, True])
def test_a_digest_over_a_large_range_is_decoded_by_lookup(shared_low_bits: bool) -> None:
    """One digest over a whole set of 5,000 that lacks one of them: the responder names the
    item (Found), looked up by its low 64 bits rather than by a scan; also when another id
    was ground to share those bits (both are checked against the fingerprint)."""
    ids = [hashlib.blake2b(i.to_bytes(4, "big"), digest_size=32).digest() for i in range(5_000)]
    if shared_low_bits:
        ids[10] = ids[20][:8] + ids[10][8:]
    items = [Item(T0 + i, id_) for i, id_ in enumerate(ids)]
    lacking = 20
    rest = [x for i, x in enumerate(items) if i != lacking]
    total = sum(int.from_bytes(x.id, "little") for x in rest)
    value = reconcile.fingerprint(total, len(rest))
    digest = Digest(value, len(rest), total & (2**64 - 1))
    responder = Reconciler(items, initiator=False)
    answer = responder.receive(encode_frame([Range(reconcile.INFINITY, digest)]))
    assert answer is not None
    (found,) = decode_frame(answer)
    assert isinstance(found.payload, Found) and ids[lacking].startswith(found.payload.prefix)
    assert responder.have == {ids[lacking]}


def test_a_new_node_pulls_a_full_frame_of_prefixes_per_round_trip() -> None:
    # An initiator that holds nothing lists nothing; the responder answers the empty list with
    # replies over consecutive parts of the range, as many as fit, then defers the rest.
    _, b = generated_sets(8, 20_000, 0.0, 1.0, "uniform", crafted=False)
    limit = 8192
    session = run([], b, frame_limit=limit)
    assert_reconciled(session, [], b)
    received = sum(len(f) for f in session.frames[1::2])
    assert received < 4.2 * len(b)
    assert session.rounds <= received // (limit - 2 * reconcile.FRAME_RESERVE) + 2
    replies = [r.payload for r in decode_frame(session.frames[1])]
    counts = [p.count for p in replies if isinstance(p, IdReply)]
    assert len(counts) > 1 and set(counts) == {0}


def test_responder_answers_and_finishes() -> None:
    a, b = generated_sets(5, 300, 0.9, 0.9, "uniform", crafted=False)
    session = run(a, b)
    assert not session.responder.done  # its last frame resolved ranges: the initiator ended
    empty = run(a, a)
    assert empty.responder.done and empty.frames[-1] == bytes([PROTOCOL_VERSION])


# -- the wire format ------------------------------------------------------------------------------
#
# An encoder written from docs/sync.md §2 alone: every frame of every session must be the
# bytes it gives for the decoded ranges (so the code and the document agree byte for byte).


def spec_varint(n: int) -> bytes:
    groups = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        groups.append(n & 0x7F)
    return bytes(g | (0x80 if i else 0) for i, g in reversed(list(enumerate(groups))))


def spec_fields(r: Range, prev_ts: int) -> list[tuple[str, bytes]]:
    """The fields of one range, in order, as (name, bytes)."""
    if r.upper.infinite:
        out = [("bound: infinity", b"\x00\x00")]
    else:
        delta = r.upper.timestamp - prev_ts
        out = [
            (f"bound: timestamp +{delta}", spec_varint(delta + 1)),
            (f"bound: prefix of {len(r.upper.prefix)} bytes", spec_varint(len(r.upper.prefix))),
        ]
        if r.upper.prefix:
            out.append(("bound: id prefix", r.upper.prefix))
    p = r.payload
    mode = {Skip: 0, Fingerprint: 1, IdList: 2, IdReply: 3, Digest: 4, Claim: 5, Found: 6}
    out.append((f"mode {type(p).__name__}", bytes([mode[type(p)]])))
    if isinstance(p, Fingerprint):
        out.append(("fingerprint", p.value))
    elif isinstance(p, Digest):
        out += [
            ("fingerprint", p.value),
            (f"count {p.count}", spec_varint(p.count)),
            ("sum mod 2^64, little-endian", p.sum.to_bytes(8, "little")),
        ]
    elif isinstance(p, Claim):
        out += [("claimed id prefix", p.prefix), ("claimer's fingerprint", p.value)]
    elif isinstance(p, Found):
        out += [(f"width {len(p.prefix)}", spec_varint(len(p.prefix))), ("id prefix", p.prefix)]
    elif isinstance(p, IdList):
        out += [
            (f"width {p.width}", spec_varint(p.width)),
            (f"count {len(p.ids)}", spec_varint(len(p.ids))),
        ]
        out += [("id prefix", id_) for id_ in p.ids]
    elif isinstance(p, IdReply):
        bitmap = sum(1 << i for i in p.missing).to_bytes((p.count + 7) // 8, "little")
        out += [
            (f"width {p.width}", spec_varint(p.width)),
            (f"count {p.count}", spec_varint(p.count)),
            (f"bitmap: missing {list(p.missing)}", bitmap),
            (f"extras width {p.extra_width}", spec_varint(p.extra_width)),
            (f"extras count {len(p.extras)}", spec_varint(len(p.extras))),
        ]
        out += [("extra id prefix", e) for e in p.extras]
        out.append(("check fingerprint", p.check))
    return out


def spec_encode(ranges: Sequence[Range]) -> bytes:
    out, prev_ts = bytearray([PROTOCOL_VERSION]), 0
    for r in ranges:
        out += b"".join(value for _, value in spec_fields(r, prev_ts))
        prev_ts = prev_ts if r.upper.infinite else r.upper.timestamp
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(two_sets(max_size=80))
def test_every_frame_is_the_documented_encoding(sets: tuple[list[Item], list[Item]]) -> None:
    a, b = sets
    for frame in run(a, b).frames:
        ranges = decode_frame(frame)
        assert spec_encode(ranges) == frame
        assert encode_frame(ranges) == frame


def test_fingerprint_definition() -> None:
    # docs/sync.md §3: BLAKE2b-64, personalised, over the sum mod 2^256 (32 bytes, little
    # endian) and the varint of the count.
    ids = [hashlib.blake2b(bytes([i]), digest_size=32).digest() for i in range(3)]
    total = sum(int.from_bytes(x, "little") for x in ids)
    h = hashlib.blake2b(digest_size=8, person=b"stig/sync/v1")
    h.update((total % 2**256).to_bytes(32, "little") + b"\x03")
    assert reconcile.fingerprint(total, 3) == h.digest()
    assert reconcile.fingerprint(total + 2**256, 3) == h.digest()
    assert len(h.digest()) == FINGERPRINT_BYTES


# -- strict decoding: every malformed frame is a SyncError with a precise reason ------------------

V = bytes([PROTOCOL_VERSION])
FP = bytes(8)
INF = b"\x00\x00"  # the infinite bound
TS_MAX_PLUS_ONE = reconcile.encode_varint(MAX_TIMESTAMP + 2)  # code = 1 + timestamp
# name: (frame, words of the detail). Every one is refused with reason bad_frame.
BAD_FRAMES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty frame"),
    "truncated varint": (V + b"\x81", "truncated varint (bound timestamp)"),
    "non-minimal varint": (V + b"\x80\x01\x00\x00", "non-minimal varint"),
    "long varint": (V + b"\xff" * 8 + b"\x01", "longer than 8 bytes"),
    "bound prefix > 32": (V + b"\x02\x21" + bytes(33), "bound prefix longer than 32"),
    "bound prefix cut": (V + b"\x02\x05\x01", "truncated bound prefix"),
    "bound prefix ends in 0": (V + b"\x02\x01\x00\x01" + FP, "non-minimal bound prefix"),
    "timestamp": (V + TS_MAX_PLUS_ONE + b"\x00\x01" + FP, "out of range"),
    "infinite with prefix": (V + b"\x00\x01\x07\x01" + FP, "the infinite bound has"),
    "out of order": (V + b"\x05\x00\x01" + FP + b"\x01\x00\x01" + FP, "out of order"),
    "empty first range": (V + b"\x01\x00\x01" + FP, "out of order"),
    "after infinity": (V + INF + b"\x01" + FP + b"\x02", "after the infinite bound"),
    "unknown mode": (V + INF + b"\x07", "unknown mode 7"),
    "missing mode": (V + INF, "truncated varint (mode)"),
    "short fingerprint": (V + INF + b"\x01" + bytes(7), "truncated fingerprint"),
    "list count": (V + INF + b"\x02\x04\x90\x00" + bytes(8), "count 2048 larger than"),
    "list width > 32": (V + INF + b"\x02\x21\x00", "prefix longer than 32 bytes: 33"),
    "list width < 4": (V + INF + b"\x02\x03\x00", "prefix shorter than 4 bytes: 3"),
    "reply count": (V + INF + b"\x03\x04\xff\x7f\x00", "count 16383 larger than"),
    "reply padding": (V + INF + b"\x03\x04\x01\x02\x04\x00" + FP, "bits set past"),
    "reply check cut": (V + INF + b"\x03\x04\x00\x04\x00" + bytes(3), "truncated id reply check"),
    "digest cut": (V + INF + b"\x04" + FP + b"\x05" + bytes(7), "truncated digest sum"),
    "claim cut": (V + INF + b"\x05" + bytes(15), "truncated claim fingerprint"),
    "found width": (V + INF + b"\x06\x02\x00\x00", "prefix shorter than 4"),
    "trailing skip": (V + b"\x05\x00\x01" + FP + INF + b"\x00", "trailing skip"),
    "adjacent skips": (V + b"\x05\x00\x00\x02\x00\x00" + INF + b"\x01" + FP, "adjacent skip"),
    "partial range": (V + b"\x05\x00\x01" + FP + b"\x05", "truncated varint"),
    "too many ranges": (
        V + (b"\x02\x00\x01" + FP) * (reconcile.MAX_FRAME_RANGES + 1),
        f"more than {reconcile.MAX_FRAME_RANGES} ranges",
    ),
}


def _refused(frame: bytes, reason: SyncReason, detail: str) -> None:
    with pytest.raises(SyncError) as caught:
        decode_frame(frame)
    assert caught.value.reason == reason
    assert detail in caught.value.detail, caught.value.detail
    responder = Reconciler([], initiator=False)
    with pytest.raises(SyncError) as again:
        responder.receive(frame)
    assert again.value.reason == reason
    with pytest.raises(RuntimeError):  # a failed session stays failed
        responder.receive(V)


@pytest.mark.parametrize("name", BAD_FRAMES)
def test_malformed_frames_are_refused_precisely(name: str) -> None:
    frame, detail = BAD_FRAMES[name]
    _refused(frame, SyncReason.BAD_FRAME, detail)


def test_unknown_version_is_refused() -> None:
    _refused(b"\x02" + INF + b"\x01" + FP, SyncReason.BAD_VERSION, "version 0x02")


def test_frame_too_large() -> None:
    responder = Reconciler([], initiator=False)
    with pytest.raises(SyncError) as caught:
        responder.receive(V + bytes(MAX_FRAME_BYTES))
    assert caught.value.reason == SyncReason.FRAME_TOO_LARGE
    # A side that sends larger frames also accepts them.
    Reconciler([], initiator=False, frame_limit=2 * MAX_FRAME_BYTES).receive(V)


def test_too_many_rounds() -> None:
    a, _ = generated_sets(1, 100, 1.0, 0.0, "uniform", crafted=False)
    responder = Reconciler(a, initiator=False)
    nonsense = encode_frame([Range(reconcile.INFINITY, Fingerprint(bytes(8)))])
    for _ in range(MAX_ROUNDS):
        assert responder.receive(nonsense) != V  # never settles: it keeps splitting
    with pytest.raises(SyncError) as caught:
        responder.receive(nonsense)
    assert caught.value.reason == SyncReason.TOO_MANY_ROUNDS


def _protocol_error(receiver: Reconciler, ranges: list[Range], detail: str) -> None:
    with pytest.raises(SyncError) as caught:
        receiver.receive(encode_frame(ranges))
    assert caught.value.reason == SyncReason.PROTOCOL
    assert detail in caught.value.detail


def test_protocol_errors() -> None:
    a, _ = generated_sets(2, 10, 1.0, 0.0, "uniform", crafted=False)
    inf = reconcile.INFINITY
    reply = IdReply(4, 0, b"", 4, (), bytes(8))
    _protocol_error(
        Reconciler(a, initiator=False), [Range(inf, reply)], "may not send IdReply ranges"
    )
    _protocol_error(
        Reconciler(a, initiator=False), [Range(inf, Found(bytes(4)))], "may not send Found"
    )
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    _protocol_error(initiator, [Range(inf, IdList(4, ()))], "id list of prefixes")
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    _protocol_error(initiator, [Range(inf, reply)], "id reply for 0 items, we hold 10 there")
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    full = IdReply(32, 10, bytes(2), 32, (), bytes(8))
    _protocol_error(initiator, [Range(inf, full)], "inconsistent with full ids")
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    assert initiator.receive(V) is None
    _protocol_error(initiator, [], "after the end")


def test_misuse_is_a_bug_not_a_peer_error() -> None:
    with pytest.raises(ValueError, match="frame_limit"):
        Reconciler([], initiator=True, frame_limit=100)
    with pytest.raises(ValueError, match="32 bytes"):
        Reconciler([Item(1, b"short")], initiator=True)
    with pytest.raises(ValueError, match="timestamps"):
        Reconciler([Item(MAX_TIMESTAMP + 1, bytes(32))], initiator=True)
    with pytest.raises(ValueError, match="timestamps"):
        Reconciler([Item(-1, bytes(32))], initiator=True)
    with pytest.raises(RuntimeError):
        Reconciler([], initiator=False).initiate()
    with pytest.raises(RuntimeError):
        Reconciler([], initiator=True).receive(V)
    started = Reconciler([], initiator=True)
    started.initiate()
    with pytest.raises(RuntimeError):
        started.initiate()


# -- hostile frames: work linear in the bytes received -------------------------------------------
#
# Not timing assertions: each case feeds the largest frame of its kind and checks the answer.
# The code they guard had steps quadratic in a peer's counts: on it the first test takes 44 s,
# which the suite counts as a failure. benchmarks/adversarial.py measures every such frame
# against its CPU budget (docs/performance.md, "Adversarial input").


def _reply_frame(reply: IdReply) -> bytes:
    return encode_frame([Range(reconcile.INFINITY, reply)])


def test_a_full_frame_of_reply_bits_is_decoded_in_linear_time() -> None:
    """A 256 KiB id reply with all of its 2 Mi bits set. The old decoder tested bit i of one
    2 Mi-bit integer for each i (``bits >> i & 1``), quadratic: 44 s of CPU for this frame;
    the bitmap is now kept as received and expanded once, linearly (well under a second)."""
    count = 8 * (MAX_FRAME_BYTES - 64)
    frame = _reply_frame(IdReply(4, count, b"\xff" * (count // 8), 4, (), FP))
    assert len(frame) <= MAX_FRAME_BYTES
    (decoded,) = decode_frame(frame)
    reply = decoded.payload
    assert isinstance(reply, IdReply) and reply.count == count
    assert reply.missing == tuple(range(count))
    # Neither side holds 2 Mi items there: both refuse the frame, before expanding the bitmap.
    a, _ = generated_sets(3, 100, 1.0, 0.0, "uniform", crafted=False)
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    for side, detail in ((initiator, "we hold 100 there"), (Reconciler(a, initiator=False), "")):
        with pytest.raises(SyncError) as caught:
            side.receive(frame)
        assert caught.value.reason == SyncReason.PROTOCOL
        assert detail in caught.value.detail


def test_an_initiator_takes_a_reply_that_lacks_all_its_items() -> None:
    """The largest reply an initiator accepts: every one of its items missing (here 20,000,
    so a 2,500-byte bitmap) and the rest of the frame filled with extras."""
    a, _ = generated_sets(4, 20_000, 1.0, 0.0, "uniform", crafted=False)
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    n = len(a)
    extras = tuple(hashlib.blake2b(bytes([i % 256, i // 256]), digest_size=4).digest()
                   for i in range((MAX_FRAME_BYTES - n // 8 - 64) // 4))  # fmt: skip
    reply = IdReply.of(4, n, range(n), 4, extras, reconcile.fingerprint(0, 0))
    frame = _reply_frame(reply)
    assert len(frame) <= MAX_FRAME_BYTES
    assert initiator.receive(frame) is None
    assert initiator.have == {x.id for x in a}
    assert initiator.need == set(extras)


def test_remembered_collisions_stay_bounded() -> None:
    """A responder that answers every range of every round with a wrong check (each one a
    'collision'): the initiator used to remember each range and scan them all for every list
    it wrote, quadratic in the rounds. Past MAX_COLLIDED_RANGES it lists everything in full."""
    a = [Item(T0 + i, hashlib.blake2b(i.to_bytes(4, "big")).digest()[:32]) for i in range(3_000)]
    initiator = Reconciler(a, initiator=True)
    initiator.initiate()
    # Every other item in a range of its own, answered as if listed: one entry, none missing,
    # a wrong check; skips between them, so that the ranges remembered cannot be merged.
    wrong = IdReply.of(4, 1, (), 4, (), FP)
    # Two rounds, each frame within MAX_FRAME_RANGES: the first over items 0..1999, the second
    # (a skip over those first) over items 2000..2999.
    replied = 0
    for start, end in ((0, 2_000), (2_000, 3_000)):
        ranges = [Range(reconcile.Bound(T0 + start), Skip())] if start else []
        ranges += [
            Range(reconcile.Bound(T0 + i + 1), wrong if (i - start) % 2 == 0 else Skip())
            for i in range(start, end - 1)  # an even count: the last range is a reply
        ]
        replied += sum(1 for r in ranges if r.payload is wrong)
        answer = initiator.receive(encode_frame(ranges))
        assert answer is not None
        # Every range listed again with full ids.
        lists = [r.payload for r in decode_frame(answer) if not isinstance(r.payload, Skip)]
        assert lists and all(isinstance(p, IdList) and p.width == 32 for p in lists)
    # And nothing more is remembered.
    assert replied > reconcile.MAX_COLLIDED_RANGES
    assert initiator._collided is None
    # From then on every short list is a full one (larger, never wrong).
    assert initiator._has_collided(reconcile.LOWEST.key, reconcile.LOWEST.key + b"\x01")


@st.composite
def _intervals(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    points = st.binary(min_size=1, max_size=2)
    out = []
    for _ in range(draw(st.integers(0, 12))):
        low, high = sorted(draw(st.lists(points, min_size=2, max_size=2, unique=True)))
        out.append((low, high))
    return out


@settings(max_examples=200, deadline=None)
@given(collided=_intervals(), queries=_intervals())
def test_remembered_collisions_agree_with_a_plain_list(
    collided: list[tuple[bytes, bytes]], queries: list[tuple[bytes, bytes]]
) -> None:
    """The sorted, merged intervals answer 'does [low, high) overlap a collided range' exactly
    as the plain scan they replaced."""
    side = Reconciler([], initiator=True)
    for low, high in collided:
        side._collide(low, high)
    for low, high in queries:
        expected = any(a < high and low < b for a, b in collided)
        assert side._has_collided(low, high) == expected


@settings(max_examples=300, deadline=None)
@given(count=st.integers(0, 80), data=st.data())
def test_reply_bitmaps_agree_with_bit_by_bit(count: int, data: st.DataObject) -> None:
    """Encoding, decoding and expanding a reply's bitmap agree with the plain definition (bit
    i of the little-endian bitmap set: entry i missing), and so does refusing stray bits."""
    bits = data.draw(st.integers(0, (1 << (count + 8 - count % 8 if count % 8 else count)) - 1))
    raw = bits.to_bytes((count + 7) // 8, "little")
    frame = V + INF + b"\x03\x04" + reconcile.encode_varint(count) + raw + b"\x04\x00" + FP
    if bits >> count:
        with pytest.raises(SyncError, match="bits set past its count"):
            decode_frame(frame)
        with pytest.raises(ValueError):
            IdReply(4, count, raw, 4, (), FP)
        return
    expected = tuple(i for i in range(count) if bits >> i & 1)
    (decoded,) = decode_frame(frame)
    assert decoded.payload == IdReply(4, count, raw, 4, (), FP)
    assert decoded.payload.missing == expected
    assert IdReply.of(4, count, expected, 4, (), FP).bitmap == raw
    assert encode_frame([decoded]) == frame


# -- fuzzing: arbitrary and mutated frames --------------------------------------------------------


def _corpus() -> list[tuple[bool, bytes]]:
    """(to_responder, frame) for every frame of a few varied sessions."""
    out: list[tuple[bool, bytes]] = []
    cases = [
        generated_sets(11, 2000, 0.99, 0.99, "uniform", crafted=False),
        generated_sets(12, 300, 0.5, 0.9, "colliding", crafted=True),
        generated_sets(13, 20, 0.7, 0.7, "uniform", crafted=False),
        collision_sets(),
    ]
    for a, b in cases:
        for i, frame in enumerate(run(a, b, frame_limit=2048).frames):
            out.append((i % 2 == 0, frame))
    return out


FUZZ_A, FUZZ_B = generated_sets(11, 2000, 0.99, 0.99, "uniform", crafted=False)
CORPUS: list[tuple[bool, bytes]] = []


def _receive_anything(to_responder: bool, frame: bytes) -> None:
    """receive() either answers or raises SyncError; any other exception fails the test."""
    if to_responder:
        side = Reconciler(FUZZ_B, initiator=False)
    else:
        side = Reconciler(FUZZ_A, initiator=True)
        side.initiate()
    try:
        answer = side.receive(frame)
    except SyncError as exc:
        assert isinstance(exc.reason, SyncReason) and exc.detail
        return
    if answer is not None:
        decode_frame(answer)  # whatever we send is itself a valid frame


@settings(max_examples=300, deadline=None)
@given(to_responder=st.booleans(), frame=st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(to_responder: bool, frame: bytes) -> None:
    _receive_anything(to_responder, frame)
    _receive_anything(to_responder, V + frame)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_fuzz_mutated_frames(data: st.DataObject) -> None:
    if not CORPUS:
        CORPUS.extend(_corpus())
    to_responder, frame = data.draw(st.sampled_from(CORPUS))
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, len(mutated)))
        if op == "flip" and at < len(mutated):
            mutated[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and at < len(mutated):
            mutated[at] = data.draw(st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]))
        elif op == "cut":
            del mutated[at:]
        elif op == "insert":
            mutated[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del mutated[at : at + data.draw(st.integers(1, 8))]
    _receive_anything(to_responder, bytes(mutated))


# -- docs/sync.md: the example exchanges ----------------------------------------------------------


def example_item(n: int) -> Item:
    """Item n of the examples: timestamp T0 + 60 n, id BLAKE2b-256 of the ASCII text
    'stig sync example n'."""
    return Item(T0 + 60 * n, hashlib.blake2b(b"stig sync example %d" % n, digest_size=32).digest())


def collision_sets() -> tuple[list[Item], list[Item]]:
    """The initiator holds x, the responder y: both start with c0111de5, at the same time."""
    x = Item(T0 + 60, bytes.fromhex("c0111de5") + example_item(1001).id[4:])
    y = Item(T0 + 60, bytes.fromhex("c0111de5") + example_item(1002).id[4:])
    return [example_item(0), x], [example_item(0), y]


def _items(spec: list[Any]) -> list[Item]:
    """Items from their description in a vector: a number n (item n), a string "a..b" (items
    a to b), or [timestamp, "id hex"]."""
    out = []
    for x in spec:
        if isinstance(x, int):
            out.append(example_item(x))
        elif isinstance(x, str):
            first, _, last = x.partition("..")
            out += [example_item(n) for n in range(int(first), int(last) + 1)]
        else:
            out.append(Item(x[0], bytes.fromhex(x[1])))
    return out


def _spec(items: list[Item], numbered: dict[bytes, int]) -> list[Any]:
    """The inverse of _items: runs of numbered items as "a..b", others as [timestamp, hex]."""
    out: list[list[Any]] = []
    run: list[Any] | None = None  # the [first, last] run being extended, already in out
    for x in items:
        n = numbered.get(x.id)
        if n is not None and run is not None and run[1] == n - 1:
            run[1] = n
        elif n is not None:
            run = [n, n]
            out.append(run)
        else:
            run = None
            out.append([x.timestamp, x.id.hex()])
    return [[a, b] if isinstance(b, str) else (a if a == b else f"{a}..{b}") for a, b in out]


def _ranges(numbers: range, *without: int) -> list[Item]:
    return [example_item(n) for n in numbers if n not in without]


def example_cases() -> list[tuple[str, list[Item], list[Item]]]:
    x, y = collision_sets()
    return [
        ("identical", _ranges(range(100)), _ranges(range(100))),
        ("small", _ranges(range(6), 3), _ranges(range(6), 4)),
        ("digests", _ranges(range(100), 17), _ranges(range(100), 60)),
        ("collision", x, y),
    ]


def build_vectors() -> list[dict[str, Any]]:
    numbered = {example_item(n).id: n for n in range(100)}
    vectors = []
    for name, a, b in example_cases():
        session = run(a, b)
        vector: dict[str, Any] = {
            "name": name,
            "initiator": _spec(a, numbered),
            "responder": _spec(b, numbered),
        }
        for i, frame in enumerate(session.frames, 1):
            vector[f"frame{i}_{'i2r' if i % 2 else 'r2i'}_hex"] = frame.hex()
        vector["have"] = sorted(x.hex() for x in session.initiator.have)
        vector["need"] = sorted(x.hex() for x in session.initiator.need)
        vectors.append(vector)
    return vectors


def explain(frame: bytes) -> str:
    """A frame field by field, as docs/sync.md shows the examples."""
    lines = [f"{frame[:1].hex():<18} version {frame[0]}"]
    prev_ts = 0
    for r in decode_frame(frame):
        for name, value in spec_fields(r, prev_ts):
            text = value.hex()
            shown = text if len(text) <= 16 else text[:14] + ".."
            lines.append(f"{shown:<18} {name}")
        prev_ts = prev_ts if r.upper.infinite else r.upper.timestamp
    return "\n".join(lines)


def build_explanations() -> list[str]:
    out = []
    for vector in build_vectors():
        for key, value in vector.items():
            if key.endswith("_hex"):
                out.append(f"{vector['name']} {key[:-4]}\n{explain(bytes.fromhex(value))}")
    return out


_VECTOR = re.compile(r"^```sync-vector\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_EXPLAIN = re.compile(r"^```sync-explain\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_HEX_WIDTH = 64


def render_vector(vector: dict[str, Any]) -> str:
    lines = ["```sync-vector"]
    for key, value in vector.items():
        if key.endswith("_hex"):
            chunks = [value[i : i + _HEX_WIDTH] for i in range(0, len(value), _HEX_WIDTH)] or [""]
            lines.append(f"{key}: {chunks[0]}")
            lines += [f"  {chunk}" for chunk in chunks[1:]]
        else:
            lines.append(f"{key}: {json.dumps(value)}")
    lines.append("```")
    return "\n".join(lines)


def parse_vectors(text: str) -> list[dict[str, Any]]:
    vectors = []
    for match in _VECTOR.finditer(text):
        vector: dict[str, Any] = {}
        key = ""
        for line in match.group(1).splitlines():
            if line.startswith("  "):
                vector[key] += line.strip()
                continue
            key, _, value = line.partition(": ")
            vector[key] = value.strip() if key.endswith("_hex") else json.loads(value)
        vectors.append(vector)
    return vectors


def test_document_holds_the_example_exchanges() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = parse_vectors(text)
    assert [v["name"] for v in found] == [name for name, _, _ in example_cases()]
    for vector, wanted in zip(found, build_vectors(), strict=True):
        assert vector == wanted, f"sync-vector {wanted['name']!r} is out of date"
    explained = [m.group(1).rstrip("\n") for m in _EXPLAIN.finditer(text)]
    assert explained == build_explanations()


def test_document_vectors_replay() -> None:
    # Another implementation's view: from the item lists alone, replay the exchange.
    for vector in parse_vectors(DOC.read_text(encoding="utf-8")):
        a, b = _items(vector["initiator"]), _items(vector["responder"])
        frames = [bytes.fromhex(v) for k, v in vector.items() if k.endswith("_hex")]
        initiator = Reconciler(a, initiator=True)
        responder = Reconciler(b, initiator=False)
        assert initiator.initiate() == frames[0]
        for i in range(0, len(frames), 2):
            assert responder.receive(frames[i]) == frames[i + 1]
            answer = initiator.receive(frames[i + 1])
            assert answer == (frames[i + 2] if i + 2 < len(frames) else None)
        assert sorted(x.hex() for x in initiator.have) == vector["have"]
        assert sorted(x.hex() for x in initiator.need) == vector["need"]


if __name__ == "__main__":
    for vector in build_vectors():
        print(render_vector(vector), end="\n\n")
    for block in build_explanations():
        print(f"```sync-explain\n{block}\n```\n")


def test_one_reconcile_set_serves_many_sessions() -> None:
    """The set a session reads is sorted and summed once (ReconcileSet): sessions that share
    one answer exactly as sessions that each build their own, and do not change it."""
    a, b = generated_sets(11, 3_000, 0.8, 0.8, "uniform", crafted=False)
    shared = reconcile.ReconcileSet(b)
    keys_before = shared.snapshot().keys(0, len(shared))
    for _ in range(2):
        own = run(a, b)
        initiator = Reconciler(a, initiator=True)
        responder = Reconciler(shared, initiator=False)
        frame: bytes | None = initiator.initiate()
        frames = []
        while frame is not None:
            answer = responder.receive(frame)
            assert answer is not None
            frames += [frame, answer]
            frame = initiator.receive(answer)
        assert frames == own.frames
        assert initiator.have == own.initiator.have and initiator.need == own.initiator.need
    assert shared.snapshot().keys(0, len(shared)) == keys_before
