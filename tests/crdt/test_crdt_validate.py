"""validate(): one example per rejection reason, the edges of each bound, and fuzzing.

Traces that compose() would refuse are built with dataclasses.replace and signed by hand
(strategies.forge / resign), so the signature is right and only the targeted bound fails.
"""

from __future__ import annotations

import dataclasses
import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import (
    DAY,
    LIFE_CAP,
    MAX_BODY_BYTES,
    MAX_FUTURE_SKEW,
    MAX_KIND_CHARS,
    MAX_NONCE,
    MAX_REFS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TIMESTAMP,
    MAX_TRACE_BYTES,
    MAX_TTL,
)
from stig.crdt.codec import unsigned_bytes, unsigned_fields
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crdt.validate import validate
from stig.errors import InvalidTrace, Reason
from tests.crdt.strategies import (
    ANA,
    BEN,
    SET_KINDS,
    T0,
    UNKNOWN_KIND,
    forge,
    resign,
    valid_traces,
)

REF = bytes([7]) * 32


def refs(n: int) -> tuple[bytes, ...]:
    return tuple(bytes([i]) * 32 for i in range(n))


def reason_of(raw: bytes, now: int = T0, **kwargs: int) -> Reason:
    with pytest.raises(InvalidTrace) as caught:
        validate(raw, now, **kwargs)
    assert str(caught.value).startswith(caught.value.reason.value + ": ")
    return caught.value.reason


def packed(*fields: object) -> bytes:
    raw = msgpack.packb(list(fields), use_bin_type=True)
    assert isinstance(raw, bytes)
    return raw


def with_field(trace: Trace, index: int, value: object) -> bytes:
    fields = [*unsigned_fields(trace), trace.signature]
    fields[index] = value
    return packed(*fields)


# -- one example per reason -----------------------------------------------------------------

# (reason, raw bytes, now). Every Reason that validate() can raise appears at least once;
# test_every_reason_has_an_example checks that.
EXAMPLES: list[tuple[str, Reason, bytes, int]] = [
    ("over the size limit", Reason.TOO_LARGE, bytes(MAX_TRACE_BYTES + 1), T0),
    (
        "valid but for its size",
        Reason.TOO_LARGE,
        forge(body="x" * MAX_TRACE_BYTES).encoded,
        T0,
    ),
    ("not msgpack", Reason.BAD_ENCODING, b"\xc1", T0),
    ("trailing bytes", Reason.BAD_ENCODING, forge().encoded + b"\x00", T0),
    ("a map", Reason.BAD_SHAPE, b"\x80", T0),
    ("ten fields", Reason.BAD_SHAPE, packed(*unsigned_fields(forge())), T0),
    ("kind is an integer", Reason.BAD_SHAPE, with_field(forge(), 1, 7), T0),
    ("author of 31 bytes", Reason.BAD_SHAPE, forge(author=ANA.public_key[:31]).encoded, T0),
    (
        "signature of 63 bytes, well framed",
        Reason.BAD_SHAPE,
        dataclasses.replace(forge(), signature=bytes(63)).encoded,
        T0,
    ),
    ("negative nonce", Reason.BAD_SHAPE, forge(nonce=-1).encoded, T0),
    ("ref of 31 bytes", Reason.BAD_SHAPE, forge(kind="echo", refs=(REF[:31],)).encoded, T0),
    ("unsorted tags", Reason.NON_CANONICAL, forge(tags=("b", "a")).encoded, T0),
    ("wider int", Reason.NON_CANONICAL, b"\x9b\xcc\x01" + forge().encoded[2:], T0),
    ("version 2", Reason.UNSUPPORTED_VERSION, forge(version=2).encoded, T0),
    ("version 0", Reason.UNSUPPORTED_VERSION, forge(version=0).encoded, T0),
    ("upper-case kind", Reason.BAD_KIND, forge(kind="Note").encoded, T0),
    ("empty kind", Reason.BAD_KIND, forge(kind="").encoded, T0),
    ("kind starting with a digit", Reason.BAD_KIND, forge(kind="2vote").encoded, T0),
    ("kind too long", Reason.BAD_KIND, forge(kind="k" * (MAX_KIND_CHARS + 1)).encoded, T0),
    ("kind with a space", Reason.BAD_KIND, forge(kind="call out").encoded, T0),
    ("tag not folded", Reason.BAD_TAG, forge(tags=("Housing",)).encoded, T0),
    ("tag with a hash", Reason.BAD_TAG, forge(tags=("#housing",)).encoded, T0),
    ("empty tag", Reason.BAD_TAG, forge(tags=("",)).encoded, T0),
    ("tag too long", Reason.BAD_TAG, forge(tags=("t" * (MAX_TAG_CHARS + 1),)).encoded, T0),
    ("tag with a space", Reason.BAD_TAG, forge(tags=("a b",)).encoded, T0),
    ("tag with a zero-width space", Reason.BAD_TAG, forge(tags=("a\u200bb",)).encoded, T0),
    (
        "too many tags",
        Reason.TOO_MANY_TAGS,
        forge(tags=tuple(f"t{i}" for i in range(MAX_TAGS + 1))).encoded,
        T0,
    ),
    ("place too fine", Reason.BAD_PLACE, forge(place="u09tv").encoded, T0),
    ("place not a geohash", Reason.BAD_PLACE, forge(place="a").encoded, T0),
    ("place upper case", Reason.BAD_PLACE, forge(place="U09").encoded, T0),
    ("too many refs", Reason.TOO_MANY_REFS, forge(refs=refs(MAX_REFS + 1)).encoded, T0),
    ("echo without a ref", Reason.MISSING_REF, forge(kind="echo").encoded, T0),
    ("confirm without a ref", Reason.MISSING_REF, forge(kind="confirm").encoded, T0),
    ("dispute without a ref", Reason.MISSING_REF, forge(kind="dispute").encoded, T0),
    (
        "retract without a ref",
        Reason.MISSING_REF,
        forge(kind="retract", expires=T0 + LIFE_CAP).encoded,
        T0,
    ),
    ("body too large", Reason.BODY_TOO_LARGE, forge(body="x" * (MAX_BODY_BYTES + 1)).encoded, T0),
    (
        "body too large in UTF-8 bytes",
        Reason.BODY_TOO_LARGE,
        forge(body="é" * (MAX_BODY_BYTES // 2 + 1)).encoded,
        T0,
    ),
    ("expires at created", Reason.BAD_TIMES, forge(expires=T0).encoded, T0),
    ("expires before created", Reason.BAD_TIMES, forge(expires=T0 - 1).encoded, T0),
    ("created negative", Reason.BAD_TIMES, forge(created=-1, expires=10).encoded, 0),
    (
        "expires out of range",
        Reason.BAD_TIMES,
        forge(created=MAX_TIMESTAMP - 1, expires=MAX_TIMESTAMP + 1).encoded,
        MAX_TIMESTAMP - 1,
    ),
    ("ttl too long", Reason.TTL_TOO_LONG, forge(expires=T0 + MAX_TTL + 1).encoded, T0),
    (
        "retract living too little",
        Reason.BAD_TTL,
        forge(kind="retract", refs=(REF,), expires=T0 + MAX_TTL).encoded,
        T0,
    ),
    (
        "burn living too long",
        Reason.BAD_TTL,
        forge(kind="burn", expires=T0 + LIFE_CAP + 1).encoded,
        T0,
    ),
    (
        "signature by someone else",
        Reason.BAD_SIGNATURE,
        resign(forge(), BEN).encoded,
        T0,
    ),
    (
        "author swapped after signing",
        Reason.BAD_SIGNATURE,
        dataclasses.replace(forge(), author=BEN.public_key).encoded,
        T0,
    ),
    (
        "body changed after signing",
        Reason.BAD_SIGNATURE,
        dataclasses.replace(forge(body="a"), body="b").encoded,
        T0,
    ),
    (
        "signed without the context string",
        Reason.BAD_SIGNATURE,
        dataclasses.replace(forge(), signature=ANA.sign(unsigned_bytes(forge()))).encoded,
        T0,
    ),
    (
        "all-zero author and signature",
        Reason.BAD_SIGNATURE,
        dataclasses.replace(forge(), author=bytes(32), signature=bytes(64)).encoded,
        T0,
    ),
    ("from the future", Reason.FROM_FUTURE, forge().encoded, T0 - MAX_FUTURE_SKEW - 1),
    ("expired", Reason.EXPIRED, forge().encoded, T0 + 7 * DAY),
    ("long expired", Reason.EXPIRED, forge().encoded, T0 + 365 * DAY),
    (
        "sealed trace that is not an envelope",
        Reason.BAD_ENVELOPE,
        forge(kind="sealed", body="hello", expires=T0 - T0 % DAY + 2 * DAY).encoded,
        T0,
    ),
]

VALIDATE_REASONS = set(Reason) - {Reason.TRUNCATED, Reason.TOO_SMALL}  # the bundle reader's


def test_every_reason_has_an_example() -> None:
    assert {reason for _, reason, _, _ in EXAMPLES} == VALIDATE_REASONS


@pytest.mark.parametrize(
    ("reason", "raw", "now"),
    [(reason, raw, now) for _, reason, raw, now in EXAMPLES],
    ids=[name for name, *_ in EXAMPLES],
)
def test_rejected_with_the_precise_reason(reason: Reason, raw: bytes, now: int) -> None:
    assert reason_of(raw, now) is reason


# -- the edges: the last value accepted ----------------------------------------------------


@pytest.mark.parametrize(
    "trace",
    [
        forge(kind="k" * MAX_KIND_CHARS),
        forge(kind="a"),
        forge(kind="x-1_y"),
        forge(tags=tuple(sorted(f"t{i}" for i in range(MAX_TAGS)))),
        forge(tags=("t" * MAX_TAG_CHARS,)),
        forge(tags=("ünïcode", "日本")),
        forge(place=""),
        forge(place="u09t"),
        forge(refs=refs(MAX_REFS)),
        forge(body="x" * MAX_BODY_BYTES),
        forge(body="é" * (MAX_BODY_BYTES // 2)),
        forge(expires=T0 + 1),
        forge(expires=T0 + MAX_TTL),
        forge(kind="retract", refs=(REF,), expires=T0 + LIFE_CAP),
        forge(kind="burn", expires=T0 + LIFE_CAP),
        forge(nonce=MAX_NONCE),
        forge(created=0, expires=1),
        forge(kind=UNKNOWN_KIND),
        forge(kind=UNKNOWN_KIND, refs=(REF,)),
        forge(kind="note", refs=(REF,)),
    ],
    ids=lambda t: f"{t.kind}-{len(t.encoded)}",
)
def test_edges_that_are_still_valid(trace: Trace) -> None:
    assert validate(trace.encoded, trace.created) == trace


def test_largest_possible_trace_is_within_the_size_bound() -> None:
    # Every field at its bound still fits MAX_TRACE_BYTES: TOO_LARGE is only ever about bytes
    # that are not a valid trace anyway.
    widest_tags = tuple(sorted(chr(0x4E00 + i) * MAX_TAG_CHARS for i in range(MAX_TAGS)))
    trace = forge(
        kind="k" * MAX_KIND_CHARS,
        tags=widest_tags,
        place="u09t",
        refs=refs(MAX_REFS),
        body="€" * (MAX_BODY_BYTES // 3),
        nonce=MAX_NONCE,
        created=MAX_TIMESTAMP - MAX_TTL,
        expires=MAX_TIMESTAMP,
    )
    assert len(trace.encoded) <= MAX_TRACE_BYTES
    assert validate(trace.encoded, trace.created) == trace


def test_clock_skew_edge() -> None:
    raw = forge().encoded
    assert validate(raw, T0 - MAX_FUTURE_SKEW).created == T0
    assert reason_of(raw, T0 - MAX_FUTURE_SKEW - 1) is Reason.FROM_FUTURE


def test_expiry_edge_and_extension() -> None:
    trace = forge(expires=T0 + DAY)
    assert validate(trace.encoded, T0 + DAY - 1) == trace
    assert reason_of(trace.encoded, T0 + DAY) is Reason.EXPIRED
    # Reinforcement keeps it alive (and valid) past its own expiry, up to the life cap only.
    assert validate(trace.encoded, T0 + 5 * DAY, extended_until=T0 + 6 * DAY) == trace
    assert reason_of(trace.encoded, T0 + 6 * DAY, extended_until=T0 + 6 * DAY) is Reason.EXPIRED
    late = T0 + LIFE_CAP
    assert validate(trace.encoded, late - 1, extended_until=late + DAY) == trace
    assert reason_of(trace.encoded, late, extended_until=late + DAY) is Reason.EXPIRED


def test_cheap_checks_come_before_the_signature() -> None:
    # A forged (unsigned) trace that breaks a bound reports the bound, not the signature:
    # junk costs the least it can.
    unsigned = dataclasses.replace(forge(kind="Bad"), signature=bytes(64))
    assert reason_of(unsigned.encoded) is Reason.BAD_KIND
    unsigned = dataclasses.replace(forge(), signature=bytes(64))
    assert reason_of(unsigned.encoded, T0 + 365 * DAY) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("kind", [*SET_KINDS, "a", "z-9_"])
def test_every_kind_composes_and_validates(kind: str) -> None:
    """Every kind but ``sealed``, whose envelope shape has tests of its own (test_crdt_sealed)."""
    trace = compose(ANA, kind, "hi", now=T0, refs=[REF])
    assert validate(trace.encoded, T0) == trace
    assert trace.ttl == (LIFE_CAP if kind in kinds.PINNED_LIFE_KINDS else 7 * DAY)


@settings(max_examples=100, deadline=None)
@given(valid_traces())
def test_generated_traces_are_valid(trace: Trace) -> None:
    assert validate(trace.encoded, trace.created) == trace
    assert validate(trace.encoded, trace.expires - 1) == trace
    assert reason_of(trace.encoded, trace.expires) is Reason.EXPIRED


@pytest.mark.parametrize("field", ["body", "kind", "tags", "place"])
def test_compose_refuses_text_that_is_not_unicode(field: str) -> None:
    # A lone surrogate (what surrogateescape makes of non-UTF-8 input) cannot be encoded: compose
    # must say so with InvalidTrace, like for every other trace it cannot make.
    lone = "a\udc80"
    args: dict[str, object] = {"body": "", "kind": "note", "tags": (), "place": ""}
    args[field] = (lone,) if field == "tags" else lone
    with pytest.raises(InvalidTrace) as caught:
        compose(
            ANA,
            str(args["kind"]),
            str(args["body"]),
            now=T0,
            tags=args["tags"],  # type: ignore[arg-type]
            place=str(args["place"]),
        )
    assert caught.value.reason in {
        Reason.BAD_ENCODING,
        Reason.BAD_KIND,
        Reason.BAD_TAG,
        Reason.BAD_PLACE,
    }


# -- fuzzing: only InvalidTrace, never anything else ---------------------------------------


def only_invalid_trace(raw: bytes, now: int = T0) -> None:
    """validate() either returns a Trace whose canonical bytes are ``raw`` or raises
    InvalidTrace; any other exception fails the test (pytest shows it)."""
    try:
        trace = validate(raw, now)
    except InvalidTrace as exc:
        assert isinstance(exc.reason, Reason)
        assert exc.reason is not Reason.TRUNCATED
    else:
        assert trace.encoded == raw


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=MAX_TRACE_BYTES + 16))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    only_invalid_trace(raw)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_bytes_after_an_array_header(tail: bytes) -> None:
    only_invalid_trace(b"\x9b" + tail)
    only_invalid_trace(b"\x9b\x01" + tail)


MUTATIONS = ("flip", "set", "insert", "delete", "truncate", "append", "swap")


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        op = data.draw(st.sampled_from(MUTATIONS), label="op")
        at = data.draw(st.integers(0, max(0, len(out) - 1)), label="at")
        byte = data.draw(st.integers(0, 255), label="byte")
        if op == "flip" and out:
            out[at] ^= 1 << (byte % 8)
        elif op == "set" and out:
            out[at] = byte
        elif op == "insert":
            out.insert(at, byte)
        elif op == "delete" and out:
            del out[at]
        elif op == "truncate":
            del out[at:]
        elif op == "append":
            out += bytes([byte]) * data.draw(st.integers(1, 8), label="n")
        elif op == "swap" and len(out) > 1:
            other = data.draw(st.integers(0, len(out) - 1), label="other")
            out[at], out[other] = out[other], out[at]
    return bytes(out)


@settings(max_examples=500, deadline=None)
@given(valid_traces(max_body=60), st.data())
def test_fuzz_mutations_of_valid_traces(trace: Trace, data: st.DataObject) -> None:
    mutated = mutate(trace.encoded, data)
    if mutated == trace.encoded:
        return  # a swap of equal bytes
    with pytest.raises(InvalidTrace):  # never another exception, and never valid
        validate(mutated, trace.created)


msgpack_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(),
        st.text(max_size=40),
        st.binary(max_size=70),
    ),
    lambda children: st.lists(children, max_size=12),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(valid_traces(max_body=20), st.data())
def test_fuzz_fields_of_any_msgpack_type(trace: Trace, data: st.DataObject) -> None:
    """Well-formed msgpack arrays of 11 fields, some fields replaced by any msgpack value: this
    reaches the field checks, which random bytes rarely do."""
    fields: list[object] = [*unsigned_fields(trace), trace.signature]
    for index in data.draw(st.sets(st.integers(0, 10), min_size=1, max_size=4), label="fields"):
        fields[index] = data.draw(msgpack_values, label=f"field {index}")
    only_invalid_trace(packed(*fields), trace.created)


def test_fuzz_deep_nesting() -> None:
    for depth in (100, 1000, 5000, MAX_TRACE_BYTES):
        only_invalid_trace(b"\x91" * depth + b"\x00")
        only_invalid_trace(b"\x9b" + b"\x91" * depth)


def test_fuzz_length_prefixes_that_lie() -> None:
    for prefix in (b"\xdd", b"\xdb", b"\xc6", b"\xdf", b"\xc9"):
        only_invalid_trace(prefix + struct.pack(">I", 2**32 - 1) + b"\x00" * 16)
    only_invalid_trace(b"\x9b\xdb" + struct.pack(">I", MAX_TRACE_BYTES + 1) + b"x" * 100)
